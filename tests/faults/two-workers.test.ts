/**
 * Two workers, one host dies: two `lockstep worker` processes with their own host ids (so their
 * own sandbox queues) share the work of a five-repo change. In the middle of a step, the test
 * kills (SIGKILL) the worker whose Docker holds the sandbox of a repo picked by the seed.
 *
 * A repo's sandbox activities are routed to the queue of the host that prepared its workspace
 * (sandbox affinity); with that host dead, the running command's heartbeat stops, the attempt
 * fails at the heartbeat timeout, the cleanup waits only seconds for the dead host's queue, and
 * the next attempt prepares a fresh workspace from the remote (the repo's last pushed state) on
 * the live worker and finishes there. Figures: repos completed / repos interrupted, one PR per
 * repo, and no container left once the dead host's worker restarts and sweeps.
 *
 * LOCKSTEP_FAULT_RUNS (default 1), LOCKSTEP_FAULT_SEED. Figures: `.lockstep/reliability/two-workers.json`.
 */
import Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_CHANGE, LABEL_OWNER, LABEL_REPO } from '../../activities/sandbox/docker.ts';
import { hostQueueName } from '../../workers/worker.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { liveStatus } from '../../client/live-status.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import {
  alive,
  expectOnePullRequestPerRepo,
  FIVE_REPOS,
  killWorker,
  leftoversAfterEnd,
  NOTHING_LEFT,
  removeSandboxesOf,
  sandboxesLeft,
  seedFiveRepoFleet,
  startWorker,
  stopWorker,
  waitForStatus,
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

const { runs, seed } = faultSettings('two-workers', 1);
const docker = new Docker();
const suffix = uniqueSuffix();
const queue = `fault-two-${suffix}`;
const HOSTS = [`fault-two-a-${suffix}`, `fault-two-b-${suffix}`];

let env: TestWorkflowEnvironment | undefined;
let fleet: FiveRepoFleet | undefined;
const workers = new Map<string, WorkerProcess>();

const ownerOf = (w: WorkerProcess): string => `${w.hostId}:${w.child.pid ?? '?'}`;

beforeAll(async () => {
  [env, fleet] = await Promise.all([startTestTemporal(), seedFiveRepoFleet()]);
});

afterAll(async () => {
  await Promise.all([...workers.values()].map((w) => stopWorker(w, 'SIGTERM')));
  await env?.teardown();
  await removeSandboxesOf(fleet?.changeIds ?? [], docker);
  await fleet?.cleanup();
});

describe('faults: two workers, the one holding a sandbox dies mid-step', () => {
  it(
    `${runs} run(s): the interrupted repos finish on the other worker; one PR per repo; nothing left after the sweep`,
    async () => {
      if (!env || !fleet) throw new Error('set-up failed');
      const random = seededRandom(seed);
      const started = Date.now();
      const figures: Omit<FaultFigures, 'recordedAt'> = {
        part: 'two-workers',
        seed,
        runs,
        completed: 0,
        prsPerRepo: null,
        duplicates: 0,
        orphans: 0,
        details: {},
        durationMs: 0,
      };
      const kills: {
        run: number;
        victim: string;
        interrupted: string[];
        completed: string[];
        leftBeforeSweep: number;
        swept: number;
      }[] = [];
      let interruptedTotal = 0;
      let completedTotal = 0;

      for (let run = 1; run <= runs; run++) {
        const input = await fleet.changeInput(`tw-${suffix}-${run}`);
        const creations = await watchCreations(input.changeId, docker);
        try {
          for (const hostId of HOSTS) {
            if (!workers.has(hostId))
              workers.set(hostId, await startWorker({ address: env.address, queue, stateDir: fleet.stateDir, hostId }));
          }
          const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
            workflowId: changeWorkflowId(input.changeId),
            taskQueue: queue,
            args: [input],
          });
          await waitForStatus(handle, 'a repo is mid-step', (view) =>
            view.repos.some((r) => r.status === 'running' && r.phase === 'step'),
          );
          await new Promise((r) => setTimeout(r, between(random, 0, 1500)));

          // The sandboxes whose repo is at work in them now (a repo already pushing or cleaning
          // up has its result; only its cleanup would be the dead host's), and whose Docker
          // (worker) holds each.
          const view = await liveStatus(handle);
          const atWork = new Set(
            view.repos
              .filter((r) => r.status === 'running' && ['sandbox', 'setup', 'step', 'tests'].includes(r.phase))
              .map((r) => r.repo),
          );
          const running = (
            await docker.listContainers({ filters: { label: [`${LABEL_CHANGE}=${input.changeId}`] } })
          ).filter((c) => atWork.has(c.Labels[LABEL_REPO] ?? ''));
          expect(running.length, 'a sandbox is at work').toBeGreaterThan(0);
          const picked = running[between(random, 0, running.length - 1)];
          const victimHost = HOSTS.find(
            (h) => picked?.Labels[LABEL_OWNER] === ownerOf(workers.get(h) as WorkerProcess),
          );
          if (!victimHost) throw new Error(`no worker of ours owns ${JSON.stringify(picked?.Labels)}`);
          const victim = workers.get(victimHost) as WorkerProcess;
          const survivor = workers.get(HOSTS.find((h) => h !== victimHost) ?? '') as WorkerProcess;
          const interrupted = running
            .filter((c) => c.Labels[LABEL_OWNER] === ownerOf(victim))
            .map((c) => c.Labels[LABEL_REPO] ?? '?');
          const victimOwner = ownerOf(victim);
          await killWorker(victim);
          workers.delete(victimHost);

          const result = await handle.result();
          // The survivor alone, no worker started since the kill: its cleanup and reconciler.
          const afterEnd = await leftoversAfterEnd(input.changeId, fleet.stateDir, docker);
          figures.leftovers = foldLeftovers(figures.leftovers, afterEnd);
          expect(result.status, result.summary).toBe('succeeded');
          expect(result.repos.map((r) => r.repo).sort()).toEqual(FIVE_REPOS);
          const owners = await creations.owners();
          const completed: string[] = [];
          for (const repo of interrupted) {
            const r = result.repos.find((x) => x.repo === repo);
            expect(r?.status, `${repo}: ${JSON.stringify(r?.error)}`).toBe('green');
            expect(r?.attempts, repo).toBeGreaterThanOrEqual(2);
            // Its last sandbox was made by the surviving worker, on its own host queue.
            expect(owners[repo]?.at(-1), repo).toBe(ownerOf(survivor));
            if (r?.status === 'green') completed.push(repo);
          }
          const pulls = await expectOnePullRequestPerRepo(fleet, result);
          figures.prsPerRepo = foldPrs(figures.prsPerRepo, pulls);
          figures.duplicates += Object.values(pulls).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
          expect(alive(survivor.child)).toBe(true);
          expect(
            afterEnd,
            'containers and work trees of the change when it ended, and one reconciler interval later',
          ).toEqual(NOTHING_LEFT);

          // The dead host's worker comes back (same host id, same queue): its sweep removes what
          // the dead one left.
          const leftBefore = await sandboxesLeft(input.changeId, docker);
          const restarted = await startWorker({
            address: env.address,
            queue,
            stateDir: fleet.stateDir,
            hostId: victimHost,
          });
          workers.set(victimHost, restarted);
          const left = await sandboxesLeft(input.changeId, docker);
          figures.orphans += left.length;
          expect(left).toEqual([]);

          interruptedTotal += interrupted.length;
          completedTotal += completed.length;
          figures.completed++;
          kills.push({
            run,
            victim: `${victimHost} (${hostQueueName(victimHost)})`,
            interrupted,
            completed,
            leftBeforeSweep: leftBefore.length,
            swept: leftBefore.length - left.length,
          });
          console.log(
            `two-workers run ${run}/${runs}: killed ${victimOwner}; interrupted ${interrupted.join(',')}; completed on ${ownerOf(survivor)}: ${completed.join(',')}; ` +
              `left by the dead host ${leftBefore.length}, after its sweep ${left.length}; creations by owner ${JSON.stringify(owners)}; PRs ${JSON.stringify(pulls)}`,
          );
        } finally {
          creations.stop();
          figures.durationMs = Date.now() - started;
          figures.details = { reposCompleted: completedTotal, reposInterrupted: interruptedTotal, kills };
          await writeFaultFigures(figures);
        }
      }
      expect(figures.completed).toBe(runs);
      expect(completedTotal).toBe(interruptedTotal);
      expect(interruptedTotal).toBeGreaterThan(0);
      expect(figures.orphans).toBe(0);
    },
    loopTimeout(runs, 5),
  );
});
