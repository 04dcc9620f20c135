/**
 * A Go dependency bump across the gRPC fleet (tests/fixtures/grpc-fleet), end to end through
 * Temporal, Docker and git: the change `bump: { ecosystem: go, package: google.golang.org/grpc,
 * to: v1.85.0 }` moves greeter and gateway from v1.81.1 to v1.85.0 (`go get` then `go mod tidy`,
 * through the egress proxy to the Go module proxy this machine's go uses), both go green with
 * their tests offline, each commit holds go.mod and go.sum only, and the bump's egress (its
 * connections and bytes to the module proxy) is logged.
 *
 * The bump command runs under the steps phase's egress: the proxy opens TLS, so the log names
 * every request go made (method, path, status), the new module archives among them.
 *
 * Then a crash mid-bump: `to: latest` on a `lockstep worker` process of its own queue, killed
 * with SIGKILL while a repo is in its bump or tests, and a fresh worker on the same host: the
 * change ends succeeded at the version the first worker resolved, resolved once, one PR per
 * repo, nothing of the change left behind; a `run --rerun` of it keeps that version, unasked.
 */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { egressDir } from '../../activities/egress/sandbox.ts';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { ResolvedBump } from '../../core/bump.ts';
import {
  expectOnePullRequestPerRepo,
  killWorker,
  leftoversAfterEnd,
  NOTHING_LEFT,
  removeSandboxesOf,
  startWorker,
  stopWorker,
  waitForStatus,
  type WorkerProcess,
} from '../helpers/durable.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { goProxyHost, placeGoRecipe } from '../helpers/go-fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { fleetReaders, lines } from '../helpers/remotes.ts';

const GRPC = 'google.golang.org/grpc';
const FROM = 'v1.81.1';
const TO = 'v1.85.0';
const REPOS = ['gateway', 'greeter'];
let h: Harness;
const { git, egressLog } = fleetReaders(() => h);
let proxyHost = '';
/** Figures for the closing note, printed once at the end. */
const figures: Record<string, unknown> = {};

const described = (l: EgressRecord): string => `${l.method ?? '?'} ${l.path ?? '?'} ${String(l.status)}`;

/** How many `type` activities the change's coordinator scheduled, in the history of its latest run. */
async function scheduled(changeId: string, type: string): Promise<number> {
  const history = await h.env.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
    .length;
}

beforeAll(async () => {
  h = await startHarness('bump-go', { fleet: fixtureFleet('grpc-fleet') });
  proxyHost = goProxyHost();
  await placeGoRecipe(h.fleet.root);
  // The bump runs go under the steps phase (GET, HEAD, OPTIONS to the proxy host), setup under its own.
  await allowEgress(h.fleet.configFile, [proxyHost], { steps: {} });
  const loaded = await loadReposConfig(h.fleet.configFile);
  await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    h.fleet.stateDir,
    () => undefined,
  );
}, 600_000);
afterAll(async () => {
  console.log(`bump-go figures: ${JSON.stringify(figures, null, 2)}`);
  await h?.close();
});

describe('a gRPC bump across the Go fleet', () => {
  it(`moves both services from ${FROM} to ${TO}: green offline, go.mod and go.sum alone committed, the bump's downloads logged`, async () => {
    for (const repo of REPOS) expect(await git(repo, 'show', 'main:go.mod')).toContain(`${GRPC} ${FROM}`);
    const file = join(h.fleet.root, 'bump-grpc.yaml');
    await writeFile(
      file,
      stringify({
        id: 'bump-grpc',
        title: `Bump gRPC to ${TO}`,
        description: 'bump fixture change',
        bump: { ecosystem: 'go', package: GRPC, to: TO },
      }),
    );
    const result: ChangeResult = await h.run(await h.changeInput(file));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.repos.map((r) => r.repo).sort()).toEqual(REPOS);
    for (const repo of REPOS) {
      const outcome = result.repos.find((r) => r.repo === repo);
      expect({ status: outcome?.status, error: outcome?.error }).toEqual({ status: 'green', error: null });
      expect(outcome?.tests?.passed).toBe(true);
      expect(outcome?.tests?.outputTail).toMatch(new RegExp(`^ok\\s+example\\.com/${repo}\\s`, 'm'));
      expect(lines(await git(repo, 'diff', '--name-only', 'main', 'lockstep/bump-grpc'))).toEqual(['go.mod', 'go.sum']);
      const goMod = await git(repo, 'show', 'lockstep/bump-grpc:go.mod');
      expect(goMod).toContain(`${GRPC} ${TO}`);
      expect(await git(repo, 'show', 'lockstep/bump-grpc:go.sum')).toContain(`${GRPC} ${TO} h1:`);

      // The bump reached the module proxy, and only it, through the egress: the new modules' archives.
      const bump = outcome?.steps.find((st) => st.kind === 'bump');
      expect(bump?.exitCode).toBe(0);
      expect(bump?.egress).toMatchObject({ phase: 'steps', denied: 0, hosts: [proxyHost] });
      expect(bump?.egress?.bytesDown).toBeGreaterThan(1_000_000);
      const log = await egressLog('bump-grpc', repo);
      expect(log.length).toBeGreaterThan(0);
      expect(log.every((l) => l.host === proxyHost && l.allowed)).toBe(true);
      const requests = log.filter((l) => l.phase === 'steps' && l.path !== undefined);
      expect(requests.length).toBe(bump?.egress?.requests);
      expect(requests.filter((l) => l.method !== 'GET').map(described)).toEqual([]);
      // go looks up every path prefix of a module it resolves (google.golang.org itself for
      // grpc, the parents of genproto's sub-modules): the proxy's "not found" (404, 410, or 403
      // "not available") to such a version or query lookup is how go finds the module's path.
      // Anything else that failed (an archive, a go.mod, a checksum) is not.
      const misses = requests.filter((l) => (l.status ?? 0) >= 400);
      expect(
        misses
          .filter(
            (l) =>
              !/^\/[^@]+\/(@v\/[^/]+\.info|@latest|@v\/list)$/.test(l.path ?? '') ||
              ![403, 404, 410].includes(l.status ?? 0),
          )
          .map(described),
      ).toEqual([]);
      expect(requests.filter((l) => /\.(zip|mod)$/.test(l.path ?? '')).every((l) => l.status === 200)).toBe(true);
      expect(requests.map((l) => l.path)).toContain(`/${GRPC}/@v/${TO}.zip`);
      figures[`${repo} archives`] = requests
        .filter((l) => l.path?.endsWith('.zip'))
        .map((l) => `${l.method} ${l.path} ${l.status} ${l.bytesDown} B`);
      figures[repo] = {
        misses: misses.map(described),
        bump: bump?.egress,
        bumpSeconds: (bump?.durationMs ?? 0) / 1000,
        testSeconds: (outcome?.tests?.durationMs ?? 0) / 1000,
      };
    }
  }, 900_000);

  it('a worker killed mid-bump: the fresh worker ends it at the version the first resolved, resolved once, one PR per repo, nothing left', async () => {
    const id = 'bump-grpc-kill';
    const file = join(h.fleet.root, `${id}.yaml`);
    await writeFile(
      file,
      stringify({
        id,
        title: 'Bump gRPC to the latest',
        description: 'bump fixture change, its worker killed',
        bump: { ecosystem: 'go', package: GRPC, to: 'latest' },
      }),
    );
    const input = await h.changeInput(file);
    // A queue and host of its own, served by `lockstep worker` processes only (not this file's worker).
    const options = {
      address: h.env.address,
      queue: `${h.queue}-kill`,
      stateDir: h.fleet.stateDir,
      hostId: `${h.hostId}-kill`,
      args: ['-c', h.fleet.configFile],
    };
    let worker: WorkerProcess | null = null;
    try {
      worker = await startWorker(options);
      const handle = await h.env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
        workflowId: changeWorkflowId(id),
        taskQueue: options.queue,
        args: [input],
      });
      const atKill = await waitForStatus(
        handle,
        'a repo is in its bump or its tests',
        (v) => v.repos.some((r) => r.status === 'running' && (r.phase === 'bump' || r.phase === 'tests')),
        600_000,
      );
      // What the first worker resolved, as the memo records it before any repo started.
      const resolved = (await handle.describe()).memo?.bump as ResolvedBump | undefined;
      await killWorker(worker);
      expect(worker.child.signalCode).toBe('SIGKILL');
      expect(resolved).toMatchObject({ ecosystem: 'go', package: GRPC, to: 'latest' });
      const version = resolved?.version ?? '';
      expect(version).toMatch(/^v\d+\.\d+\.\d+$/);
      // The running change's status view carries the resolved version (what `lockstep status` shows).
      expect(atKill.bump).toEqual(resolved);
      expect(await scheduled(id, 'resolveBump')).toBe(1);

      worker = await startWorker(options);
      const result = await handle.result();
      const left = await leftoversAfterEnd(id, h.fleet.stateDir);
      expect(result.status, result.summary).toBe('succeeded');
      expect(result.bump).toEqual({ ecosystem: 'go', package: GRPC, to: 'latest', version });
      expect(await scheduled(id, 'resolveBump')).toBe(1);
      expect(result.repos.map((r) => r.repo).sort()).toEqual(REPOS);
      for (const repo of REPOS) {
        const outcome = result.repos.find((r) => r.repo === repo);
        expect({ status: outcome?.status, error: outcome?.error, bump: outcome?.bump }).toEqual({
          status: 'green',
          error: null,
          bump: { package: GRPC, version, from: FROM, outcome: 'bumped' },
        });
        expect(lines(await git(repo, 'diff', '--name-only', 'main', `lockstep/${id}`))).toEqual(['go.mod', 'go.sum']);
        expect(await git(repo, 'show', `lockstep/${id}:go.mod`)).toContain(`${GRPC} ${version}\n`);
        expect(await git(repo, 'show', `lockstep/${id}:go.sum`)).toContain(`${GRPC} ${version} h1:`);
      }
      const pulls = await expectOnePullRequestPerRepo(h.fleet, result);
      expect(left, 'containers and work trees of the change when it ended, and one reconciler interval later').toEqual(
        NOTHING_LEFT,
      );
      // Nor the sandboxes' egress folders (socket, CA bundle) in the workers' state.
      for (const repo of REPOS)
        await expect(
          access(egressDir({ dir: join(h.fleet.stateDir, 'egress') }, { changeId: id, repo })),
        ).rejects.toThrow(/ENOENT/);

      // `lockstep run --rerun` of the finished change (on this file's queue and worker) takes the
      // version from the memo: its run asks the module proxy nothing, and the repos stay at it.
      const rerunStarted = Date.now();
      const out = await h.cli(['run', file, '--rerun', '--json']);
      expect(out.stderr).toContain(`bump: ${GRPC} ${version}, as resolved by the earlier run of ${id}`);
      const rerun = JSON.parse(out.stdout) as ChangeResult;
      expect({ status: rerun.status, bump: rerun.bump }).toEqual({
        status: 'succeeded',
        bump: { ecosystem: 'go', package: GRPC, to: 'latest', version },
      });
      expect(await scheduled(id, 'resolveBump')).toBe(0);
      expect(rerun.repos.map((r) => [r.repo, r.status, r.bump?.version]).sort()).toEqual(
        REPOS.map((repo) => [repo, 'green', version]),
      );
      for (const repo of REPOS)
        expect(await git(repo, 'show', `lockstep/${id}:go.mod`)).toContain(`${GRPC} ${version}\n`);
      await expectOnePullRequestPerRepo(h.fleet, rerun);
      figures.kill = {
        atKill: atKill.repos.map((r) => `${r.repo}:${r.status}:${r.phase}`),
        version,
        pulls,
        attempts: Object.fromEntries(result.repos.map((r) => [r.repo, r.attempts])),
        seconds: result.metrics.durationMs / 1000,
        rerunSeconds: (Date.now() - rerunStarted) / 1000,
      };
    } finally {
      if (worker) await stopWorker(worker, 'SIGTERM');
      // Also on failure: nothing of this change outlives the file.
      await removeSandboxesOf([id]);
    }
  }, 1_200_000);
});
