/**
 * Server restart, seeded: the Temporal dev server on a SQLite file is stopped at a point drawn
 * from the seed in each run of a five-repo change (70 %: up to 15 s into the repos' work; 30 %:
 * as soon as it publishes), stays down for a drawn while, and starts
 * again on the same file. One `lockstep worker` process lives through every outage, reconnects
 * and finishes every run: succeeded, exactly one PR per repo, no container of the change left.
 *
 * LOCKSTEP_FAULT_RUNS (default 1) runs, LOCKSTEP_FAULT_SEED picks the stop points. Figures:
 * `.lockstep/reliability/server-restart.json`.
 */
import { Client, Connection } from '@temporalio/client';
import Docker from 'dockerode';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer, temporalAnswers, type DevServer } from '../../workers/dev-server.ts';
import { installRuntime } from '../../workers/runtime.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { liveStatus } from '../../client/live-status.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeStatusView } from '../../core/change.ts';
import {
  alive,
  expectOnePullRequestPerRepo,
  FIVE_REPOS,
  removeSandboxesOf,
  leftoversAfterEnd,
  NOTHING_LEFT,
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
import { uniqueSuffix } from '../helpers/temporal.ts';

const { runs, seed } = faultSettings('server-restart', 1);
const docker = new Docker();
const suffix = uniqueSuffix();
const hostId = `fault-server-host-${suffix}`;
const queue = `fault-server-${suffix}`;

let fleet: FiveRepoFleet | undefined;
let server: DevServer | null = null;
let worker: WorkerProcess | null = null;
const connections: Connection[] = [];

beforeAll(async () => {
  installRuntime();
  fleet = await seedFiveRepoFleet();
});

afterAll(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM');
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  await removeSandboxesOf(fleet?.changeIds ?? [], docker);
  await fleet?.cleanup();
});

describe('faults: Temporal dev server (SQLite) restarted at a seeded point', () => {
  it(
    `${runs} run(s) of a five-repo change survive a server restart with one PR per repo`,
    async () => {
      if (!fleet) throw new Error('set-up failed');
      const stateDir = fleet.stateDir;
      const random = seededRandom(seed);
      const address = `127.0.0.1:${await freePort()}`;
      const dbFile = join(stateDir, 'temporal-faults.db');
      const start = async () => {
        server = await startDevServer({ stateDir, address, dbFile, uiPort: null });
      };
      const connect = async () => {
        const connection = await Connection.connect({ address });
        connections.push(connection);
        return new Client({ connection, namespace: 'default' });
      };
      await start();
      worker = await startWorker({ address, queue, stateDir, hostId });
      const onlyWorker = worker;

      const started = Date.now();
      const figures: Omit<FaultFigures, 'recordedAt'> = {
        part: 'server-restart',
        seed,
        runs,
        completed: 0,
        prsPerRepo: null,
        duplicates: 0,
        orphans: 0,
        details: {},
        durationMs: 0,
      };
      const stops: {
        run: number;
        waitFor: string;
        afterMs: number;
        downMs: number;
        phase: string;
        inFlight: string[];
      }[] = [];
      for (let run = 1; run <= runs; run++) {
        const input = await fleet.changeInput(`sr-${suffix}-${run}`);
        try {
          const client = await connect();
          const handle = await client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
            workflowId: changeWorkflowId(input.changeId),
            taskQueue: queue,
            args: [input],
          });
          // The stop point: mostly a drawn delay once the first repo is at work (70 %), else as
          // soon as the change publishes (these changes run without the gate); and a drawn outage.
          const waitFor: 'work' | 'publishing' = random() < 0.7 ? 'work' : 'publishing';
          const afterMs = waitFor === 'work' ? between(random, 0, 15_000) : 0;
          const downMs = between(random, 500, 5_000);
          let view: ChangeStatusView | null = null;
          for (;;) {
            view = await liveStatus(handle).catch(() => view);
            if (view && view.status !== 'running') break;
            if (waitFor === 'work' ? view?.repos.some((r) => r.phase !== 'queued') : view?.phase === waitFor) break;
            await new Promise((r) => setTimeout(r, waitFor === 'work' ? 100 : 20));
          }
          await new Promise((r) => setTimeout(r, afterMs));
          view = await liveStatus(handle).catch(() => view);
          const inFlight =
            view?.repos
              .filter((r) => r.status === 'running' && r.phase !== 'queued')
              .map((r) => `${r.repo}:${r.phase}`) ?? [];
          stops.push({ run, waitFor, afterMs, downMs, phase: view?.phase ?? '?', inFlight });

          await client.connection.close();
          await server?.stop();
          expect(await temporalAnswers(address, 500)).toBe(false);
          await new Promise((r) => setTimeout(r, downMs));
          expect(alive(onlyWorker.child), onlyWorker.output()).toBe(true);
          await start();

          const result = await (
            await connect()
          ).workflow
            .getHandle<typeof changeWorkflow>(changeWorkflowId(input.changeId))
            .result();
          const left = await leftoversAfterEnd(input.changeId, stateDir, docker);
          figures.leftovers = foldLeftovers(figures.leftovers, left);
          expect(result.status, result.summary).toBe('succeeded');
          expect(result.repos.map((r) => r.repo).sort()).toEqual(FIVE_REPOS);
          for (const repo of result.repos)
            expect(repo.status, `${repo.repo}: ${JSON.stringify(repo.error)}`).toBe('green');
          const pulls = await expectOnePullRequestPerRepo(fleet, result);
          figures.prsPerRepo = foldPrs(figures.prsPerRepo, pulls);
          figures.duplicates += Object.values(pulls).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
          // No second worker was started: the one from before the restart reconnected and finished.
          expect(worker).toBe(onlyWorker);
          expect(alive(onlyWorker.child), onlyWorker.output()).toBe(true);
          figures.orphans += left.afterInterval.containers.length;
          expect(
            left,
            'containers and work trees of the change when it ended, and one reconciler interval later',
          ).toEqual(NOTHING_LEFT);
          figures.completed++;
          console.log(
            `server-restart run ${run}/${runs}: stopped ${afterMs}ms into ${waitFor} (${view?.phase ?? '?'}; in flight ${inFlight.join(',') || '-'}) for ${downMs}ms; ` +
              `PRs ${JSON.stringify(pulls)}; attempts ${JSON.stringify(Object.fromEntries(result.repos.map((r) => [r.repo, r.attempts])))}`,
          );
        } finally {
          figures.durationMs = Date.now() - started;
          figures.details = { stops };
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
