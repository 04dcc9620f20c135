/**
 * Worker crash, seeded: in each run a five-repo change starts on a `lockstep worker` process,
 * which is killed with SIGKILL at a point drawn from the seed (70 %: after the k-th progress
 * point of the repos' work the test sees, plus up to 1.5 s; 30 %: as soon as it publishes;
 * like durability.test.ts before them, these changes run without the contract gate). A new
 * worker on the same host (same sandbox queue) starts at once, its start-up sweep removes the
 * dead worker's sandboxes, and the run must end succeeded with exactly one PR per repo, no
 * container of the change left, and no repo that had finished before the kill done again.
 *
 * LOCKSTEP_FAULT_RUNS (default 2) runs, LOCKSTEP_FAULT_SEED picks the kill points. Figures:
 * `.lockstep/reliability/worker-kill.json`.
 */
import Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { changeWorkflow } from '../../workflows/change.ts';
import { liveStatus } from '../../client/live-status.ts';
import { changeWorkflowId, repoWorkflowId } from '../../core/ids.ts';
import type { ChangeStatusView } from '../../core/change.ts';
import {
  alive,
  cpuLoad,
  expectOnePullRequestPerRepo,
  FIVE_REPOS,
  killWorker,
  leftoversAfterEnd,
  NOTHING_LEFT,
  removeSandboxesOf,
  seedFiveRepoFleet,
  startWorker,
  stopWorker,
  type FiveRepoFleet,
  type WorkerProcess,
} from '../helpers/durable.ts';
import {
  between,
  faultSettings,
  foldLeftovers,
  loopTimeout,
  foldPrs,
  seededRandom,
  writeFaultFigures,
  type FaultFigures,
} from '../helpers/reliability.ts';
import { watchCreations } from '../helpers/sandboxes.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const { runs, seed } = faultSettings('worker-kill', 2);
const docker = new Docker();
const suffix = uniqueSuffix();
const hostId = `fault-kill-host-${suffix}`;
const queue = `fault-kill-${suffix}`;

let env: TestWorkflowEnvironment | undefined;
let fleet: FiveRepoFleet | undefined;
let worker: WorkerProcess | null = null;

beforeAll(async () => {
  [env, fleet] = await Promise.all([startTestTemporal(), seedFiveRepoFleet()]);
});

afterAll(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM');
  await env?.teardown();
  // Also on failure: nothing of ours outlives the file.
  await removeSandboxesOf(fleet?.changeIds ?? [], docker);
  await fleet?.cleanup();
});

/** Distinct progress points (change phase, and each repo's phase and step) seen so far. */
function progressPoints(view: ChangeStatusView, seen: Set<string>): number {
  seen.add(`change:${view.phase}`);
  for (const r of view.repos) seen.add(`${r.repo}:${r.status}:${r.phase}:${r.step ?? ''}`);
  return seen.size;
}

/** How many of the change's sandboxes the restarted worker's sweep says it removed. */
function sweptSandboxes(output: string, changeId: string): number {
  const line = output.split('\n').find((l) => l.includes('orphaned sandbox')) ?? '';
  return line.split(/[:,]\s*/).filter((name) => name.startsWith(`lockstep-${changeId}-`)).length;
}

describe('faults: worker killed with SIGKILL at a seeded point', () => {
  it(
    `${runs} run(s) of a five-repo change end with one PR per repo and no orphan container`,
    async () => {
      if (!env || !fleet) throw new Error('set-up failed');
      const random = seededRandom(seed);
      const started = Date.now();
      const figures: Omit<FaultFigures, 'recordedAt'> = {
        part: 'worker-kill',
        seed,
        runs,
        completed: 0,
        prsPerRepo: null,
        duplicates: 0,
        orphans: 0,
        details: {},
        durationMs: 0,
      };
      const killPoints: {
        run: number;
        point: number | string;
        delayMs: number;
        phase: string;
        green: string[];
        inFlight: string[];
        killed: boolean;
      }[] = [];
      const reaped: number[] = [];
      let load: { stop(): void } | null = null;

      for (let run = 1; run <= runs; run++) {
        // The kill point: mostly during the repos' work (after the k-th distinct progress point
        // the test sees, then a drawn delay); else in the contract gate (a change that runs it,
        // after a drawn delay) or as soon as the change publishes (publishing on the local forge
        // lasts well under a second). The last run of a loop always kills in the gate or in
        // publishing, so the short CI count has one: publishing, as a gate run under load takes
        // about 2.5 minutes on two cores (its scans), too long for CI.
        const draw = random();
        const late = run === runs && draw < 0.6 ? 0.6 + draw / 3 : draw;
        const target: { point: number } | { phase: 'publishing' | 'gate' } =
          late < 0.6 ? { point: between(random, 1, 24) } : { phase: late < 0.8 ? 'publishing' : 'gate' };
        const input = await fleet.changeInput(`wk-${suffix}-${run}`, {
          gate: 'phase' in target && target.phase === 'gate',
        });
        const creations = await watchCreations(input.changeId, docker);
        try {
          worker ??= await startWorker({ address: env.address, queue, stateDir: fleet.stateDir, hostId });
          const handle = env.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(input.changeId));
          // The gate and publishing under load, where a leak was seen: a CPU-heavy process beside the loop.
          load = 'phase' in target ? cpuLoad(90) : null;
          await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
            workflowId: changeWorkflowId(input.changeId),
            taskQueue: queue,
            args: [input],
          });

          const delayMs =
            'point' in target ? between(random, 0, 1500) : target.phase === 'gate' ? between(random, 0, 3000) : 0;
          const point = 'point' in target ? target.point : target.phase;
          const seen = new Set<string>();
          let view: ChangeStatusView | null = null;
          for (;;) {
            view = await liveStatus(handle).catch(() => view);
            if (view && view.status !== 'running') break;
            if (view && 'point' in target && progressPoints(view, seen) >= target.point) break;
            if (view && 'phase' in target && view.phase === target.phase) break;
            await new Promise((r) => setTimeout(r, 'point' in target ? 50 : 20));
          }
          await new Promise((r) => setTimeout(r, delayMs));
          const atKill = await liveStatus(handle).catch(() => view);
          const killed = atKill?.status === 'running';
          const green = atKill?.repos.filter((r) => r.status === 'green').map((r) => r.repo) ?? [];
          const inFlight =
            atKill?.repos
              .filter((r) => r.status === 'running' && r.phase !== 'queued')
              .map((r) => `${r.repo}:${r.phase}`) ?? [];
          await killWorker(worker);
          expect(worker.child.signalCode).toBe('SIGKILL');
          killPoints.push({ run, point, delayMs, phase: atKill?.phase ?? '?', green, inFlight, killed });
          for (const repo of green) {
            const { status } = await env.client.workflow.getHandle(repoWorkflowId(input.changeId, repo)).describe();
            expect(status.name, repo).toBe('COMPLETED');
          }

          // The restart on the same host: its sweep removes what the dead worker left.
          worker = await startWorker({ address: env.address, queue, stateDir: fleet.stateDir, hostId });
          reaped.push(sweptSandboxes(worker.output(), input.changeId));
          const result = await handle.result();
          load?.stop();
          const left = await leftoversAfterEnd(input.changeId, fleet.stateDir, docker);
          figures.leftovers = foldLeftovers(figures.leftovers, left);

          expect(result.status, result.summary).toBe('succeeded');
          expect(result.repos.map((r) => r.repo).sort()).toEqual(FIVE_REPOS);
          for (const repo of result.repos) {
            expect(repo.status, `${repo.repo}: ${JSON.stringify(repo.error)}`).toBe('green');
            expect(repo.tests?.passed, repo.repo).toBe(true);
          }
          const pulls = await expectOnePullRequestPerRepo(fleet, result);
          figures.prsPerRepo = foldPrs(figures.prsPerRepo, pulls);
          figures.duplicates += Object.values(pulls).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
          const counts = await creations.counts();
          // A repo finished before the kill is never done again.
          for (const repo of green) {
            expect(counts[repo], `${repo} finished before the kill`).toBe(1);
            expect(result.repos.find((r) => r.repo === repo)?.attempts, repo).toBe(1);
          }
          for (const repo of FIVE_REPOS) expect(counts[repo] ?? 0, repo).toBeLessThanOrEqual(2);
          figures.orphans += left.afterInterval.containers.length;
          expect(
            left,
            'containers and work trees of the change when it ended, and one reconciler interval later',
          ).toEqual(NOTHING_LEFT);
          expect(alive(worker.child)).toBe(true);
          figures.completed++;
          console.log(
            `worker-kill run ${run}/${runs}: killed after point ${point} +${delayMs}ms (${atKill?.phase ?? '?'}; green ${green.join(',') || '-'}; in flight ${inFlight.join(',') || '-'})` +
              `${killed ? '' : ' [the change had ended]'}; PRs ${JSON.stringify(pulls)}; creations ${JSON.stringify(counts)}`,
          );
        } finally {
          load?.stop();
          creations.stop();
          figures.durationMs = Date.now() - started;
          figures.details = {
            killPoints,
            killsWhileRunning: killPoints.filter((k) => k.killed).length,
            sweptByRestart: reaped.reduce((a, b) => a + b, 0),
          };
          await writeFaultFigures(figures);
        }
      }
      expect(figures.completed).toBe(runs);
      expect(figures.prsPerRepo).toEqual({ min: 1, max: 1 });
      expect(figures.orphans).toBe(0);
    },
    loopTimeout(runs, 3),
  );
});
