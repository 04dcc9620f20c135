/**
 * Bench part `pact-setup`: the setup of the Node pair of the Pact fixture fleet
 * (tests/fixtures/pact-fleet: catalog and storefront, real lockfiles), as their sandboxes run it
 * (`npm ci --ignore-scripts`). Per repetition and repo: a cold install straight from this
 * machine, a cold install through the egress proxy and forwarder, then a warm one through the
 * proxy with the cache the cold one filled (preferred, as the sandbox's npm_config_prefer_offline
 * does). The pair's times are summed; the order of direct and proxied alternates.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEgressProxy } from '../client/machine/libraries.ts';
import { projectRoot } from '../config/paths.ts';
import { freePort } from '../workers/dev-server.ts';
import { npmRegistryHost } from '../tests/helpers/pact-fleet.ts';
import { install } from './egress.ts';

export interface PactSetupSamples {
  /** The pair's cold install, straight from this machine, ms. */
  directColdMs: number[];
  /** The pair's cold install through the proxy, ms. */
  proxiedColdMs: number[];
  /** The pair's install through the proxy with a warm cache, ms. */
  proxiedWarmMs: number[];
  /** Bytes down through the proxy, per repetition: cold and warm. */
  coldBytes: number[];
  warmBytes: number[];
  registryHost: string;
}

const REPOS = ['catalog', 'storefront'];
const ARGS = ['--ignore-scripts'];

export async function pactSetup(reps: number, log: (line: string) => void): Promise<PactSetupSamples> {
  const forwarder = join(projectRoot, '.tools', 'egress', 'bin', 'egress-forwarder');
  const registryHost = npmRegistryHost();
  const root = await mkdtemp(join(tmpdir(), 'lockstep-bench-pact-setup-'));
  const out: PactSetupSamples = {
    directColdMs: [],
    proxiedColdMs: [],
    proxiedWarmMs: [],
    coldBytes: [],
    warmBytes: [],
    registryHost,
  };
  const proxied = async (
    name: string,
    run: (via: { forwarder: string; socket: string; port: number }) => Promise<number>,
  ): Promise<{ ms: number; bytes: number }> => {
    const socket = join(root, `${name}.sock`);
    const proxy = await startEgressProxy({
      socketPath: socket,
      logPath: join(root, `${name}.jsonl`),
      logName: `${name}.jsonl`,
      policy: { allow: [registryHost], ports: [443, 80], maxBytes: 1024 ** 3, maxConnections: 10_000 },
    });
    const ms = await run({ forwarder, socket, port: await freePort() }).catch(async (err: unknown) => {
      await proxy.close();
      throw err;
    });
    return { ms, bytes: (await proxy.close()).bytesDown };
  };
  try {
    for (const repo of REPOS)
      await cp(join(projectRoot, 'tests', 'fixtures', 'pact-fleet', repo), join(root, repo), { recursive: true });
    // Repetition 0 is a warm-up, uncounted: the first npm start pays for loading npm itself.
    for (let rep = 0; rep <= reps; rep++) {
      let direct = 0;
      let cold = 0;
      let warm = 0;
      let coldBytes = 0;
      let warmBytes = 0;
      for (const repo of REPOS) {
        const dir = join(root, repo);
        const cache = join(root, `cache-${repo}-${rep}`);
        const directRun = async (): Promise<void> => {
          direct += await install(dir, null, { extraArgs: ARGS });
        };
        // The cold install fills `cache` (empty before it), the warm one then reads it.
        const coldRun = async (): Promise<void> => {
          const r = await proxied(`${repo}-${rep}-cold`, (via) => install(dir, via, { cache, extraArgs: ARGS }));
          cold += r.ms;
          coldBytes += r.bytes;
        };
        if (rep % 2 === 0) {
          await directRun();
          await coldRun();
        } else {
          await coldRun();
          await directRun();
        }
        const r = await proxied(`${repo}-${rep}-warm`, (via) => install(dir, via, { cache, extraArgs: ARGS }));
        warm += r.ms;
        warmBytes += r.bytes;
        await rm(cache, { recursive: true, force: true });
      }
      if (rep === 0) continue;
      out.directColdMs.push(direct);
      out.proxiedColdMs.push(cold);
      out.proxiedWarmMs.push(warm);
      out.coldBytes.push(coldBytes);
      out.warmBytes.push(warmBytes);
      log(
        `pact-setup rep ${rep}: cold direct ${direct} ms, cold through the proxy ${cold} ms (${coldBytes} B down), warm through the proxy ${warm} ms (${warmBytes} B down)`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}
