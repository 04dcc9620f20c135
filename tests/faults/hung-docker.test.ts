/**
 * A hung sandbox: the Docker engine stops answering in the middle of a repo's work. The
 * `lockstep worker` process talks to Docker through a loopback unix-socket proxy
 * (tests/helpers/docker-proxy.ts) that the test freezes while both repos of a change are inside
 * a step. The sandbox activities heartbeat only while the engine answers a ping, and give up on
 * it with DockerUnresponsive well within the 30 s heartbeat timeout; the retried attempt meets
 * the same silent engine and gives up the same way. Expected: every repo fails with a clear
 * error, the change ends (failed), the worker is still alive, and once the proxy resumes the
 * remove requests it held take effect: no container of the change is left (a restarted worker's
 * sweep would take any that were).
 *
 * The other hung sandbox, a test command that never ends, is the `endless-test` and
 * `endless-test-ignores-signals` cases of tests/hostile/corpus.ts: killed at the test timeout.
 *
 * LOCKSTEP_FAULT_RUNS (default 1), LOCKSTEP_FAULT_SEED (the freeze point). Figures:
 * `.lockstep/reliability/hung-docker.json`.
 */
import Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeInput } from '../../core/change.ts';
import { startDockerProxy, type DockerProxy } from '../helpers/docker-proxy.ts';
import {
  alive,
  removeSandboxesOf,
  sandboxesLeft,
  seedSmallRepos,
  smallReposChange,
  startWorker,
  stopWorker,
  waitForStatus,
  type WorkerProcess,
} from '../helpers/durable.ts';
import {
  between,
  faultSettings,
  loopTimeout,
  seededRandom,
  writeFaultFigures,
  type FaultFigures,
} from '../helpers/reliability.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const { runs, seed } = faultSettings('hung-docker', 1);
const REPOS = ['north', 'south'];
const docker = new Docker();
const suffix = uniqueSuffix();
const hostId = `fault-hung-host-${suffix}`;
const queue = `fault-hung-${suffix}`;

let env: TestWorkflowEnvironment | undefined;
let proxy: DockerProxy | undefined;
let root: string | undefined;
let worker: WorkerProcess | null = null;
const changeIds: string[] = [];

beforeAll(async () => {
  [env, proxy, root] = await Promise.all([
    startTestTemporal(),
    startDockerProxy(),
    mkdtemp(join(tmpdir(), 'lockstep-faults-hung-')),
  ]);
  await seedSmallRepos(root, REPOS);
  await writeFile(
    join(root, 'repos.config.json'),
    JSON.stringify({
      gate: { contracts: false, secrets: false, insecure: false },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: REPOS.map((name) => ({ name, url: `remotes/${name}.git`, sandbox: { test: 'grep -q cents README.md' } })),
    }),
  );
});

afterAll(async () => {
  proxy?.resume();
  if (worker) await stopWorker(worker, 'SIGTERM');
  await env?.teardown();
  await proxy?.close();
  await removeSandboxesOf(changeIds, docker);
  if (root) await rm(root, { recursive: true, force: true });
});

async function input(id: string): Promise<ChangeInput> {
  if (!root) throw new Error('set-up failed');
  changeIds.push(id);
  // A long step: the engine goes silent while it runs.
  return smallReposChange({
    root,
    id,
    repos: REPOS,
    step: { name: 'long step', run: 'sleep 60; echo cents >> README.md' },
    description: 'Cents.',
    concurrency: 2,
  });
}

describe('faults: the Docker engine stops answering mid-step', () => {
  it(
    `${runs} run(s): detected by the sandbox activities, every repo fails cleanly, nothing hangs, nothing is left`,
    async () => {
      if (!env || !proxy || !root) throw new Error('set-up failed');
      const stateDir = join(root, '.lockstep');
      const random = seededRandom(seed);
      const started = Date.now();
      const figures: Omit<FaultFigures, 'recordedAt'> = {
        part: 'hung-docker',
        seed,
        runs,
        completed: 0,
        prsPerRepo: null,
        duplicates: 0,
        orphans: 0,
        details: {},
        durationMs: 0,
      };
      const details: {
        run: number;
        freezeAfterMs: number;
        heldRequests: number;
        errors: string[];
        removedOnResume: number;
        removedBySweep: number;
        frozenToEndMs: number;
      }[] = [];

      for (let run = 1; run <= runs; run++) {
        const doc = await input(`hung-${suffix}-${run}`);
        try {
          worker ??= await startWorker({
            address: env.address,
            queue,
            stateDir,
            hostId,
            args: ['-c', join(root, 'repos.config.json')],
            env: { DOCKER_HOST: proxy.dockerHost },
          });
          const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
            workflowId: changeWorkflowId(doc.changeId),
            taskQueue: queue,
            args: [doc],
          });
          await waitForStatus(handle, 'both repos are in their long step', (view) =>
            view.repos.every((r) => r.phase === 'step'),
          );
          const freezeAfterMs = between(random, 0, 3000);
          await new Promise((r) => setTimeout(r, freezeAfterMs));
          proxy.freeze();
          const frozenAt = Date.now();

          const result = await handle.result();
          const frozenToEndMs = Date.now() - frozenAt;
          const heldRequests = proxy.held();
          expect(result.status, result.summary).toBe('failed');
          const errors = result.repos.map((r) => `${r.repo}: ${r.error?.message ?? '(none)'}`);
          for (const repo of result.repos) {
            expect(repo.status, repo.repo).toBe('failed');
            expect(repo.error?.message, repo.repo).toMatch(/Docker engine did not answer/);
          }
          expect(result.repos.map((r) => r.repo).sort()).toEqual([...REPOS].sort());
          expect(alive(worker.child), worker.output()).toBe(true);
          expect(heldRequests).toBeGreaterThan(0);

          // The engine answers again: the remove requests it held take effect.
          proxy.resume();
          let left = await sandboxesLeft(doc.changeId, docker);
          for (let i = 0; i < 100 && left.length > 0; i++) {
            await new Promise((r) => setTimeout(r, 200));
            left = await sandboxesLeft(doc.changeId, docker);
          }
          const removedOnResume = REPOS.length - left.length;
          let removedBySweep = 0;
          if (left.length > 0) {
            // What is still there belongs to a live worker; a restart sweeps it.
            await stopWorker(worker, 'SIGKILL');
            worker = await startWorker({
              address: env.address,
              queue,
              stateDir,
              hostId,
              args: ['-c', join(root, 'repos.config.json')],
              env: { DOCKER_HOST: proxy.dockerHost },
            });
            removedBySweep = left.length;
            left = await sandboxesLeft(doc.changeId, docker);
          }
          figures.orphans += left.length;
          expect(left).toEqual([]);
          details.push({ run, freezeAfterMs, heldRequests, errors, removedOnResume, removedBySweep, frozenToEndMs });
          figures.completed++;
          console.log(
            `hung-docker run ${run}/${runs}: froze ${freezeAfterMs}ms into the step; ${heldRequests} request chunks held; ${errors.join('; ')}; the change ended ${frozenToEndMs}ms after the freeze; removed on resume ${removedOnResume}, by sweep ${removedBySweep}`,
          );
        } finally {
          proxy.resume();
          figures.durationMs = Date.now() - started;
          figures.details = { runs: details };
          await writeFaultFigures(figures);
        }
      }
      expect(figures.completed).toBe(runs);
      expect(figures.orphans).toBe(0);
    },
    loopTimeout(runs, 6),
  );
});
