/**
 * A test host: a network namespace of its own (only `lo`, no route out) whose processes reach
 * the cluster's frontend through a link the test controls. Inside, a forwarder listens on
 * 127.0.0.1:<the frontend's port> and hands each connection to a unix socket on the filesystem;
 * outside, a forwarder in the test process takes that socket to the frontend's real port. TLS
 * runs end to end through both, and the worker dials the same `127.0.0.1:<port>` the server's
 * certificate names. The Docker engine's unix socket is reachable from the namespace as well,
 * so every host shares it. Needs root (`unshare --net`, `nsenter`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { alive } from './durable.ts';
import { startForwarder, type Forwarder } from './link.ts';

const exec = promisify(execFile);
const LINK_SCRIPT = new URL('./link.ts', import.meta.url).pathname;

export interface TestHost {
  name: string;
  /** Prefix of a command run in the namespace: `nsenter --net=/proc/<pid>/ns/net --`. */
  enter: string[];
  /**
   * What the namespace had before its link existed: its interfaces and routes (`ip -o link`,
   * `ip route`, `ip -6 route`), and a TCP connect to the frontend's address from inside.
   */
  isolation: { links: string[]; routes: string; direct: { ok: boolean; output: string } };
  /** The host side of its link to the frontend. */
  link(): Forwarder;
  /** Cuts the link: stops the host side and resets its open connections. */
  cut(): Promise<void>;
  /** Brings the link back (a new host side on the same socket). */
  restore(): Promise<void>;
  /** Runs a command in the namespace; its output, or the error it failed with. */
  run(command: string[]): Promise<{ ok: boolean; output: string }>;
  stop(): Promise<void>;
}

/** Starts a child and resolves when it prints `ready`; rejects if it exits first. */
function startUntil(command: string, args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) resolve(child);
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) =>
      reject(new Error(`${command} ${args.join(' ')} exited (${signal ?? code}) before "${ready}": ${output}`)),
    );
  });
}

async function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || !alive(child)) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

/**
 * A namespace named `name` whose link goes through `<dir>/<name>.sock` to the frontend at
 * 127.0.0.1:`frontendPort`.
 */
export async function startTestHost(name: string, dir: string, frontendPort: number): Promise<TestHost> {
  if (process.getuid?.() !== 0)
    throw new Error(`test host ${name}: network namespaces need root (unshare --net, nsenter); run the test as root`);
  let holder: ChildProcess | null = null;
  let inner: ChildProcess | null = null;
  let outer: Forwarder | null = null;
  const socket = join(dir, `${name}.sock`);
  const stop = async () => {
    await outer?.cut();
    await stopChild(inner);
    await stopChild(holder);
  };
  try {
    // The namespace lives as long as this process; it brings its loopback up and says so.
    holder = await startUntil(
      'unshare',
      ['--net', '--', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep infinity'],
      'ready',
    );
    const enter = ['nsenter', `--net=/proc/${holder.pid}/ns/net`, '--'];
    const run = async (command: string[]): Promise<{ ok: boolean; output: string }> => {
      try {
        const { stdout, stderr } = await exec(enter[0] ?? 'nsenter', [...enter.slice(1), ...command]);
        return { ok: true, output: stdout + stderr };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
      }
    };
    const [links, v4, v6, direct] = await Promise.all([
      run(['ip', '-o', 'link', 'show']),
      run(['ip', 'route', 'show']),
      run(['ip', '-6', 'route', 'show']),
      run(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${frontendPort}`]),
    ]);
    const isolation = {
      links: links.output
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':')[1]?.trim() ?? l),
      routes: (v4.output + v6.output).trim(),
      direct,
    };
    const openLink = () => startForwarder({ path: socket }, { port: frontendPort, host: '127.0.0.1' });
    outer = await openLink();
    inner = await startUntil(
      enter[0] ?? 'nsenter',
      [...enter.slice(1), process.execPath, '--import', 'tsx', LINK_SCRIPT, String(frontendPort), socket],
      'listening',
    );
    return {
      name,
      enter,
      isolation,
      link: () => {
        if (!outer) throw new Error(`${name}: no link`);
        return outer;
      },
      async cut() {
        await outer?.cut();
      },
      async restore() {
        outer = await openLink();
      },
      run,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
