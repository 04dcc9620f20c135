/**
 * Git commands started by a small helper process instead of the worker itself.
 *
 * Node starts a child by forking the calling process, and a fork costs in proportion to the
 * caller's memory: from a worker of about 450 MB each git call took about 18 ms of CPU and held
 * the worker's event loop for 60–80 ms (measured in bench/, docs/performance.md "Fleet scale"),
 * and a repo's change makes about ten of them. Workflow tasks, heartbeats and status queries
 * waited behind every one. The helper (spawner-child.js) is a plain Node process of a few tens of
 * MB that forks git for the worker and streams its output back over an IPC channel.
 *
 * simple-git starts git with `child_process.spawn` and offers no way to pass another one, so a
 * worker process (unless LOCKSTEP_GIT_HELPER=0, workers/worker.ts) routes that function's `git`
 * calls (and only those: other commands, other stdio set-ups and `execFile` keep Node's own) to
 * the helper; see useGitSpawner().
 */
import { fork, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type * as ChildProcessModule from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

type HelperEvent =
  | { id: number; event: 'spawn'; pid?: number }
  | { id: number; event: 'stdout' | 'stderr'; data: Uint8Array }
  | {
      id: number;
      event: 'error';
      error: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
    }
  | { id: number; event: 'exit' | 'close'; code: number | null; signal: NodeJS.Signals | null };

/** A git command run by the helper, with the parts of a ChildProcess that simple-git uses. */
export class HelperChild extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin = null;
  pid: number | undefined = undefined;
  killed = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private closed = false;

  constructor(private readonly signal: (signal: NodeJS.Signals) => boolean) {
    super();
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.closed) return false;
    const name = typeof signal === 'number' ? (signalName(signal) ?? 'SIGTERM') : signal;
    this.killed = this.signal(name);
    return this.killed;
  }

  /** Applies one event from the helper, as Node's ChildProcess would emit it. */
  receive(message: HelperEvent): void {
    if (this.closed) return;
    switch (message.event) {
      case 'spawn':
        this.pid = message.pid;
        this.emit('spawn');
        return;
      case 'stdout':
      case 'stderr':
        this[message.event].write(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
        return;
      case 'error':
        this.emit('error', Object.assign(new Error(message.error.message), message.error));
        return;
      case 'exit':
        this.exitCode = message.code;
        this.signalCode = message.signal;
        this.emit('exit', message.code, message.signal);
        return;
      case 'close':
        this.closed = true;
        this.stdout.end();
        this.stderr.end();
        // After the streams' 'end', as Node closes a child only once its output is read.
        setImmediate(() => this.emit('close', message.code, message.signal));
        return;
    }
  }
}

const signalName = (n: number): NodeJS.Signals | undefined =>
  (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];

/** One helper process per worker process, started on the first git call and again after it dies. */
export class GitSpawner {
  private helper: ChildProcess | null = null;
  private readonly live = new Map<number, HelperChild>();
  private nextId = 0;
  private stopped = false;

  /** Commands started through the helper so far. */
  get started(): number {
    return this.nextId;
  }

  /** The helper's pid while it runs. */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  spawn(command: string, args: readonly string[], options: SpawnOptions): HelperChild {
    const id = ++this.nextId;
    const helper = this.stopped ? null : this.ensure();
    const child = new HelperChild((signal) => helper?.send({ id, kill: signal }) ?? false);
    if (!helper) {
      queueMicrotask(() => this.fail(child, 'the git helper was stopped'));
      return child;
    }
    this.live.set(id, child);
    this.reference();
    // Without its own env a command gets this process's environment as it is now, as from Node's
    // spawn; the helper's own is a copy from when it started.
    const env = options.env ?? process.env;
    helper.send({ id, command, args: [...args], cwd: options.cwd?.toString(), env }, (err) => {
      if (err) this.settle(id, `the git helper did not take the command: ${err.message}`);
    });
    return child;
  }

  /** Ends the helper; commands still running there get SIGTERM. */
  stop(): void {
    this.stopped = true;
    this.helper?.disconnect();
    this.helper = null;
  }

  private ensure(): ChildProcess {
    if (this.helper) return this.helper;
    const env = { ...process.env };
    // The helper is plain JavaScript: no loader (tsx) or debugger from this process's options.
    delete env.NODE_OPTIONS;
    const helper = fork(fileURLToPath(new URL('./spawner-child.js', import.meta.url)), [], {
      execArgv: [],
      env,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    helper.on('message', (message: HelperEvent) => {
      const child = this.live.get(message.id);
      if (!child) return;
      child.receive(message);
      if (message.event === 'close') {
        this.live.delete(message.id);
        this.reference();
      }
    });
    helper.on('error', () => undefined);
    helper.once('exit', (code, signal) => {
      if (this.helper === helper) this.helper = null;
      for (const id of [...this.live.keys()]) this.settle(id, `the git helper exited (${signal ?? code})`);
    });
    this.helper = helper;
    this.reference();
    return helper;
  }

  /** The helper keeps this process alive only while a command runs there. */
  private reference(): void {
    const helper = this.helper;
    if (!helper) return;
    if (this.live.size > 0) {
      helper.ref();
      helper.channel?.ref();
    } else {
      helper.unref();
      helper.channel?.unref();
    }
  }

  private settle(id: number, message: string): void {
    const child = this.live.get(id);
    this.live.delete(id);
    if (child) this.fail(child, message);
    this.reference();
  }

  private fail(child: HelperChild, message: string): void {
    child.receive({ id: 0, event: 'error', error: { message } });
    child.receive({ id: 0, event: 'close', code: null, signal: null });
  }
}

let installed: GitSpawner | null = null;

/**
 * Routes this process's `child_process.spawn('git', …)` with piped stdio (simple-git's calls)
 * to a helper process. Once per process; a worker process calls it when it starts.
 */
export function useGitSpawner(): GitSpawner {
  if (installed) return installed;
  const spawner = new GitSpawner();
  const cjs = createRequire(import.meta.url)('node:child_process') as typeof ChildProcessModule;
  const own = cjs.spawn;
  const routed = function (this: unknown, command: string, ...rest: unknown[]): ChildProcess {
    const [args, options] = Array.isArray(rest[0])
      ? [rest[0] as string[], (rest[1] ?? {}) as SpawnOptions]
      : [[], (rest[0] ?? {}) as SpawnOptions];
    if (command === 'git' && options.stdio === undefined && !options.detached && !options.shell)
      return spawner.spawn(command, args, options) as unknown as ChildProcess;
    return (own as (...a: unknown[]) => ChildProcess).call(this, command, ...rest);
  };
  cjs.spawn = routed as typeof cjs.spawn;
  // The ES module view of the builtin (simple-git's `import { spawn }`) follows the change.
  syncBuiltinESMExports();
  installed = spawner;
  return spawner;
}
