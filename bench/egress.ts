/**
 * Bench part `egress`: what the egress proxy costs a cold install. The same `npm ci` of the
 * egress fixture (tests/fixtures/egress-npm), with an empty cache each time, once straight from
 * this machine and once through the proxy and the forwarder, exactly as a sandbox's setup
 * reaches it (forwarder on a loopback port, proxy on a unix socket). Both run on the host, so
 * the only difference is the egress path; the order alternates between repetitions.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEgressProxy } from '../client/machine/libraries.ts';
import { projectRoot } from '../config/paths.ts';
import { freePort } from '../workers/dev-server.ts';

const exec = promisify(execFile);

export interface EgressSamples {
  directMs: number[];
  proxiedMs: number[];
  /** Bytes down through the proxy per proxied install. */
  proxiedBytes: number[];
}

/**
 * One `npm ci` in `dir`, in ms: with an empty cache of its own (removed afterwards), or with
 * `options.cache` kept and preferred, as a sandbox's setup uses its repo's cache.
 */
export async function install(
  dir: string,
  viaProxy: { forwarder: string; socket: string; port: number } | null,
  options: { cache?: string; extraArgs?: string[] } = {},
): Promise<number> {
  await rm(join(dir, 'node_modules'), { recursive: true, force: true });
  const cache = options.cache ?? join(dir, `.cache-${Date.now()}`);
  const args = [
    'ci',
    '--no-audit',
    '--no-fund',
    options.cache ? '--prefer-offline' : '--prefer-online',
    `--cache=${cache}`,
    '--fetch-retries=0',
    ...(options.extraArgs ?? []),
  ];
  const started = Date.now();
  if (viaProxy) {
    const url = `http://127.0.0.1:${viaProxy.port}`;
    await exec(
      viaProxy.forwarder,
      ['-listen', `127.0.0.1:${viaProxy.port}`, '-socket', viaProxy.socket, '--', 'npm', ...args],
      {
        cwd: dir,
        env: {
          ...process.env,
          HTTPS_PROXY: url,
          HTTP_PROXY: url,
          npm_config_proxy: url,
          npm_config_https_proxy: url,
          NO_PROXY: '',
        },
      },
    );
  } else {
    await exec('npm', args, {
      cwd: dir,
      env: { ...process.env, HTTPS_PROXY: '', HTTP_PROXY: '', npm_config_proxy: '', npm_config_https_proxy: '' },
    });
  }
  const ms = Date.now() - started;
  if (!options.cache) await rm(cache, { recursive: true, force: true });
  return ms;
}

export async function egressOverhead(reps: number, log: (line: string) => void): Promise<EgressSamples> {
  const forwarder = join(projectRoot, '.tools', 'egress', 'bin', 'egress-forwarder');
  const registryHost = new URL((await exec('npm', ['config', 'get', 'registry'])).stdout.trim()).hostname;
  const root = await mkdtemp(join(tmpdir(), 'lockstep-bench-egress-'));
  const out: EgressSamples = { directMs: [], proxiedMs: [], proxiedBytes: [] };
  try {
    const dir = join(root, 'repo');
    await cp(join(projectRoot, 'tests', 'fixtures', 'egress-npm'), dir, { recursive: true });
    // One warm-up of each, uncounted: the first npm start of a run pays for loading npm itself.
    for (let rep = 0; rep <= reps; rep++) {
      const socket = join(root, `egress-${rep}.sock`);
      const proxy = await startEgressProxy({
        socketPath: socket,
        logPath: join(root, `egress-${rep}.jsonl`),
        logName: `egress-${rep}.jsonl`,
        policy: { allow: [registryHost], ports: [443, 80], maxBytes: 1024 ** 3, maxConnections: 10_000 },
      });
      let proxied = 0;
      let direct = 0;
      try {
        const via = { forwarder, socket, port: await freePort() };
        if (rep % 2 === 0) {
          direct = await install(dir, null);
          proxied = await install(dir, via);
        } else {
          proxied = await install(dir, via);
          direct = await install(dir, null);
        }
      } finally {
        const summary = await proxy.close();
        if (rep > 0) out.proxiedBytes.push(summary.bytesDown);
      }
      if (rep === 0) continue;
      out.directMs.push(direct);
      out.proxiedMs.push(proxied);
      log(`egress rep ${rep}: direct ${direct} ms, through the proxy ${proxied} ms`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}
