/**
 * Bench part `bump`: a Go dependency bump across the gRPC fixture fleet (tests/fixtures/grpc-fleet:
 * greeter and gateway, google.golang.org/grpc v1.81.1 → v1.85.0), Lockstep's run of the change
 * `bump: { ecosystem: go, package: google.golang.org/grpc, to: v1.85.0 }` against a plain script
 * that runs the same package-manager commands and tests a bump runs, cold (empty module and build
 * caches) and warm (the caches the cold run filled), ratio Lockstep / plain, goal ≤ 1.15.
 *
 * The plain script, per repo, both repos at once (the fleet's concurrency): `git clone`, one
 * container through the egress proxy and forwarder (`go mod download`, then `go get <mod>@<v>`,
 * `go mod tidy`, `go mod download` again), one container offline for `go test ./...`, commit
 * go.mod and go.sum, push. Its containers are made as a Lockstep sandbox is: the repo's image
 * (the example Go recipe), user, limits, hardening, cache mount at /cache and the cache
 * environment, the egress folder and forwarder mounted read-only, the proxy from
 * activities/egress with the fleet's allowlist (the host of this machine's GOPROXY).
 */
import type { Client } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { CACHE_ENV, egressDepsFor, egressForSandbox, openEgress } from '../client/machine/libraries.ts';
import { withBumpTargets } from '../client/machine/bump.ts';
import { buildRecipeImages } from '../client/machine/images.ts';
import { changeInput } from '../core/inputs.ts';
import { loadChange, loadReposConfig, type LoadedConfig } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import { projectRoot } from '../config/paths.ts';
import type { SandboxConfig } from '../config/repos.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeWorkflowId } from '../core/ids.ts';
import type { ChangeInput } from '../core/change.ts';
import { allowEgress, fixtureFleet, seedTestFleet, type TestFleet } from '../tests/helpers/fleet.ts';
import { goProxyHost, placeGoRecipe } from '../tests/helpers/go-fleet.ts';
import { dockerRunArgs, gitIdentity, inPool, sandboxUser } from './baseline.ts';

const exec = promisify(execFile);

/** The bump both sides make. */
export const BUMP = { ecosystem: 'go', package: 'google.golang.org/grpc', to: 'v1.85.0' } as const;
/** The package-manager commands of a Go bump, as the issue names them: the tool, then setup again from the cache. */
export const PLAIN_BUMP_COMMAND = `go mod download && go get ${BUMP.package}@${BUMP.to} && go mod tidy && go mod download`;

export interface BumpSamples {
  bump: typeof BUMP;
  image: string;
  /** Building the recipe's image, ms (null: it was on the engine already). */
  imageBuildMs: number | null;
  proxyHost: string;
  plainColdMs: number[];
  plainWarmMs: number[];
  /** Bytes down through the proxy per plain run (both repos): cold, warm. */
  plainColdBytes: number[];
  plainWarmBytes: number[];
  lockstepColdMs: number[];
  lockstepWarmMs: number[];
  /** Why Lockstep's side did not run (its build does not accept the change yet), or null. */
  lockstepPending: string | null;
}

export interface BumpCtx {
  client: Client;
  queue: string;
  startWorker(env: Record<string, string>): Promise<{ stop(): Promise<void> }>;
  /** The worker's environment but its state folder, which is the bump fleet's. */
  workerEnv: Record<string, string>;
}

/** The fleet: the fixture seeded with bare remotes, the recipe placed and built, the proxy host allowed. */
async function bumpFleet(
  log: (line: string) => void,
): Promise<{ fleet: TestFleet; loaded: LoadedConfig; proxyHost: string; imageBuildMs: number | null }> {
  const fleet = await seedTestFleet(fixtureFleet('grpc-fleet'));
  const proxyHost = goProxyHost();
  await placeGoRecipe(fleet.root);
  await allowEgress(fleet.configFile, [proxyHost], { steps: {} });
  const loaded = await loadReposConfig(fleet.configFile);
  const started = performance.now();
  const built = await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    fleet.stateDir,
    log,
  );
  return { fleet, loaded, proxyHost, imageBuildMs: built.length > 0 ? performance.now() - started : null };
}

/** One repo of the plain script; returns the bytes its network container brought down. */
async function plainRepo(
  fleet: TestFleet,
  repo: string,
  sandbox: SandboxConfig,
  cacheDir: string,
  runId: string,
): Promise<number> {
  const workspace = join(fleet.stateDir, 'plain', runId, repo);
  await mkdir(join(fleet.stateDir, 'plain', runId), { recursive: true });
  const { user, chownTo } = sandboxUser();
  const deps = await egressDepsFor(fleet.stateDir, join(projectRoot, '.tools', 'egress', 'bin'), process.env);
  const ref = { changeId: `plain-${runId}`, repo };
  try {
    await exec('git', [
      'clone',
      '--quiet',
      '--no-hardlinks',
      '--single-branch',
      '--branch',
      'main',
      fleet.remote(repo),
      workspace,
    ]);
    const branch = `plain/${runId}`;
    await exec('git', ['checkout', '--quiet', '-B', branch], { cwd: workspace });
    if (chownTo) await exec('chown', ['-R', chownTo, workspace, cacheDir]);
    const base = { image: sandbox.image, limits: sandbox.limits, cacheDir, env: { ...CACHE_ENV, ...sandbox.env } };
    const { mounts, labels } = await egressForSandbox(deps, ref, sandbox.egress);
    // The same phase Lockstep's bump runs under: steps, with TLS opened and each request checked.
    const egress = await openEgress(deps, ref, labels, join(fleet.stateDir, 'logs'), user, 'bump', {
      steps: true,
      agent: false,
    });
    if (!egress) throw new Error(`repo ${repo}: the bump fleet has no sandbox.egress`);
    let bytes = 0;
    try {
      const env = Object.fromEntries(
        egress.env.map((kv: string) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      await exec(
        'docker',
        dockerRunArgs(workspace, PLAIN_BUMP_COMMAND, runId, {
          ...base,
          env: { ...base.env, ...env },
          readOnly: mounts,
          prefix: egress.prefix,
        }),
        { maxBuffer: 16 * 1024 * 1024 },
      );
    } finally {
      bytes = (await egress.proxy.close()).bytesDown;
    }
    await exec('docker', dockerRunArgs(workspace, sandbox.test, runId, base), { maxBuffer: 16 * 1024 * 1024 });
    const safe = ['-c', `safe.directory=${workspace}`];
    await exec('git', [...gitIdentity, ...safe, 'add', 'go.mod', 'go.sum'], { cwd: workspace });
    await exec(
      'git',
      [...gitIdentity, ...safe, 'commit', '--quiet', '--no-verify', '-m', `Bump ${BUMP.package} to ${BUMP.to}`],
      { cwd: workspace },
    );
    await exec(
      'git',
      [...gitIdentity, ...safe, 'push', '--force', '--quiet', fleet.remote(repo), `HEAD:refs/heads/${branch}`],
      { cwd: workspace },
    );
    return bytes;
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

/** The plain script over the fleet, both repos at once; returns wall ms and bytes down. */
async function plainRun(
  fleet: TestFleet,
  loaded: LoadedConfig,
  caches: string,
  runId: string,
): Promise<{ ms: number; bytes: number }> {
  let bytes = 0;
  const started = performance.now();
  await inPool(loaded.config.repos, loaded.config.concurrency, async (repo) => {
    const cacheDir = join(caches, repo.name);
    await mkdir(cacheDir, { recursive: true });
    bytes += await plainRepo(fleet, repo.name, repo.sandbox, cacheDir, runId);
  });
  return { ms: performance.now() - started, bytes };
}

/** The bump change file, or why this build does not accept it (the `bump` key comes with the bump work). */
async function bumpChange(fleet: TestFleet, changeId: string): Promise<{ input: ChangeInput } | { refused: string }> {
  const file = join(fleet.root, `${changeId}.yaml`);
  await writeFile(
    file,
    stringify({
      id: changeId,
      title: `Bump ${BUMP.package} to ${BUMP.to}`,
      description: 'bench: a Go bump across the gRPC fleet',
      bump: BUMP,
    }),
  );
  const loaded = await loadReposConfig(fleet.configFile);
  try {
    // The targets are the repos whose manifests declare the package, as `lockstep run` finds them.
    const { change } = await withBumpTargets(loaded, await loadChange(file, loaded), file);
    return {
      input: changeInput(loaded, change, resolveTasks(loaded, change), { concurrency: loaded.config.concurrency }),
    };
  } catch (err) {
    // Without this run's temporary folder: the message goes into the results file.
    return { refused: (err instanceof Error ? err.message : String(err)).split(fleet.root).join('<fleet>') };
  }
}

/** Lockstep's run of the bump change to its result, in ms; throws unless it succeeded. */
async function lockstepRun(
  ctx: BumpCtx,
  input: ChangeInput,
  repos: number,
  log: (line: string) => void,
): Promise<number> {
  const started = performance.now();
  const result = await ctx.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
    workflowId: changeWorkflowId(input.changeId),
    taskQueue: ctx.queue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  const ms = performance.now() - started;
  // Both repos moved and tested: a run that bumped nothing must not count as a fast one.
  const moved = result.repos.filter((r) => r.status === 'green' && r.tests?.passed === true).map((r) => r.repo);
  if (result.status !== 'succeeded' || moved.length !== repos) {
    throw new Error(
      `the bump change ${input.changeId} ended ${result.status} with ${moved.length} of ${repos} repos bumped and tested (${result.repos.map((r) => `${r.repo} ${r.status}`).join(', ') || 'no repo in the result'}): ${result.summary}`,
    );
  }
  // Where the time went, per repo: its commands, then the rest of its workflow (clone, sandbox, push).
  for (const r of result.repos) {
    const commands = r.steps.reduce((sum, st) => sum + st.durationMs, 0);
    log(
      `  ${input.changeId} ${r.repo}: ${r.steps.map((st) => `${st.name} ${(st.durationMs / 1000).toFixed(1)} s`).join(', ')}; repo workflow ${(r.durationMs / 1000).toFixed(1)} s (${((r.durationMs - commands) / 1000).toFixed(1)} s outside commands)`,
    );
  }
  return ms;
}

export async function bumpBench(ctx: BumpCtx, reps: number, log: (line: string) => void): Promise<BumpSamples> {
  const { fleet, loaded, proxyHost, imageBuildMs } = await bumpFleet((line) => log(line));
  const image = loaded.config.repos[0]?.sandbox.image ?? '';
  const out: BumpSamples = {
    bump: BUMP,
    image,
    imageBuildMs,
    proxyHost,
    plainColdMs: [],
    plainWarmMs: [],
    plainColdBytes: [],
    plainWarmBytes: [],
    lockstepColdMs: [],
    lockstepWarmMs: [],
    lockstepPending: null,
  };
  try {
    for (let rep = 1; rep <= reps; rep++) {
      // Cold, then warm with the caches the cold run filled; the next repetition starts empty again.
      const caches = join(fleet.stateDir, 'plain-caches', String(rep));
      const cold = await plainRun(fleet, loaded, caches, `${rep}-cold`);
      const warm = await plainRun(fleet, loaded, caches, `${rep}-warm`);
      await rm(caches, { recursive: true, force: true });
      out.plainColdMs.push(cold.ms);
      out.plainWarmMs.push(warm.ms);
      out.plainColdBytes.push(cold.bytes);
      out.plainWarmBytes.push(warm.bytes);
      log(
        `bump rep ${rep}: plain cold ${cold.ms.toFixed(0)} ms (${cold.bytes} B down), warm ${warm.ms.toFixed(0)} ms (${warm.bytes} B down)`,
      );
    }
    const probe = await bumpChange(fleet, 'bump-probe');
    if ('refused' in probe) {
      out.lockstepPending = probe.refused;
      log(`bump: Lockstep's side cannot run in this build: ${probe.refused}`);
      return out;
    }
    const worker = await ctx.startWorker({ ...ctx.workerEnv, LOCKSTEP_STATE_DIR: fleet.stateDir });
    try {
      for (let rep = 1; rep <= reps; rep++) {
        // Cold: the fleet's caches removed; warm: the same change again, with what the cold run cached.
        await rm(join(fleet.stateDir, 'caches'), { recursive: true, force: true });
        const runs: number[] = [];
        for (const kind of ['cold', 'warm']) {
          const change = await bumpChange(fleet, `bump-${rep}-${kind}`);
          if ('refused' in change) throw new Error(change.refused);
          runs.push(await lockstepRun(ctx, change.input, loaded.config.repos.length, log));
        }
        const [cold = NaN, warm = NaN] = runs;
        out.lockstepColdMs.push(cold);
        out.lockstepWarmMs.push(warm);
        log(`bump rep ${rep}: Lockstep cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms`);
      }
    } finally {
      await worker.stop();
    }
  } finally {
    await fleet.cleanup();
  }
  return out;
}
