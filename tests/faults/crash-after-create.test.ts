/**
 * Crash after a side effect, seeded: the fake GitHub creates a pull request and holds its
 * answer (`hang-after-create`); the moment it has, the test kills the `lockstep worker` process
 * with SIGKILL, before the activity that asked could return, and starts a new one. The forge
 * activity heartbeats, so its retry comes within the heartbeat timeout, on the new worker,
 * whose find-or-create must find the PR the dead one made: exactly one PR per repo, 0
 * duplicates, no container of the change left.
 *
 * Each run is a change on three small repos (gate off: the forge is what is under test); the
 * seed picks which repo's create is the one killed. LOCKSTEP_FAULT_RUNS (default 3),
 * LOCKSTEP_FAULT_SEED. Figures: `.lockstep/reliability/crash-after-create.json`.
 */
import Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteBranchCommit } from '../../activities/git/workspace.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeBranch, changeWorkflowId } from '../../core/ids.ts';
import type { ChangeInput } from '../../core/change.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';
import {
  alive,
  killWorker,
  removeSandboxesOf,
  sandboxesLeft,
  seedSmallRepos,
  smallReposChange,
  startWorker,
  stopWorker,
  type WorkerProcess,
} from '../helpers/durable.ts';
import {
  between,
  faultSettings,
  loopTimeout,
  foldPrs,
  seededRandom,
  writeFaultFigures,
  type FaultFigures,
} from '../helpers/reliability.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const { runs, seed } = faultSettings('crash-after-create', 3);
const REPOS = ['alpha', 'beta', 'gamma'];
const TOKEN_ENV = 'LOCKSTEP_FAULTS_GITHUB_TOKEN';
const docker = new Docker();
const suffix = uniqueSuffix();
const hostId = `fault-create-host-${suffix}`;
const queue = `fault-create-${suffix}`;

let env: TestWorkflowEnvironment | undefined;
let gh: FakeGitHub | undefined;
let root: string | undefined;
let worker: WorkerProcess | null = null;
const changeIds: string[] = [];
/** Resolved by the fake the moment a held create has taken effect. */
let created: ((repo: string) => void) | null = null;

function startOurWorker(stateDir: string, configFile: string): Promise<WorkerProcess> {
  if (!env || !gh) throw new Error('set-up failed');
  return startWorker({
    address: env.address,
    queue,
    stateDir,
    hostId,
    args: ['-c', configFile],
    env: { [TOKEN_ENV]: gh.token },
  });
}

beforeAll(async () => {
  env = await startTestTemporal();
  root = await mkdtemp(join(tmpdir(), 'lockstep-faults-forge-'));
  const dir = root;
  gh = await startFakeGitHub({
    headCommit: (slug, branch) => remoteBranchCommit(join(dir, 'remotes', `${slug.split('/')[1] ?? ''}.git`), branch),
    onFault: (fault, request) => {
      if (fault.kind === 'hang-after-create') created?.(request.path.split('/')[5] ?? '?');
    },
  });
  await seedSmallRepos(root, REPOS);
  for (const name of REPOS) gh.addRepo(`acme/${name}`);
  await writeFile(
    join(root, 'repos.config.json'),
    JSON.stringify({
      concurrency: 3,
      forge: {
        type: 'github',
        baseUrl: gh.baseUrl,
        tokenEnv: TOKEN_ENV,
        minIntervalMs: 0,
        repos: Object.fromEntries(REPOS.map((r) => [r, `acme/${r}`])),
      },
      gate: { contracts: false, secrets: false, insecure: false },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: REPOS.map((name) => ({ name, url: `remotes/${name}.git`, sandbox: { test: 'grep -q cents README.md' } })),
    }),
  );
});

afterAll(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM');
  await env?.teardown();
  await gh?.close();
  await removeSandboxesOf(changeIds, docker);
  if (root) await rm(root, { recursive: true, force: true });
});

async function input(id: string): Promise<ChangeInput> {
  if (!root) throw new Error('set-up failed');
  changeIds.push(id);
  return smallReposChange({ root, id, repos: REPOS, concurrency: 3 });
}

describe('faults: worker killed after the forge created a PR, before the activity returned', () => {
  it(
    `${runs} kill(s) after a create leave exactly one PR per repo`,
    async () => {
      if (!env || !gh || !root) throw new Error('set-up failed');
      const fake = gh;
      const stateDir = join(root, '.lockstep');
      const configFile = join(root, 'repos.config.json');
      const random = seededRandom(seed);
      const started = Date.now();
      const figures: Omit<FaultFigures, 'recordedAt'> = {
        part: 'crash-after-create',
        seed,
        runs,
        completed: 0,
        prsPerRepo: null,
        duplicates: 0,
        orphans: 0,
        details: {},
        durationMs: 0,
      };
      const kills: { run: number; repo: string; createsBefore: number }[] = [];

      for (let run = 1; run <= runs; run++) {
        const doc = await input(`cac-${suffix}-${run}`);
        try {
          worker ??= await startOurWorker(stateDir, configFile);
          const victim = REPOS[between(random, 0, REPOS.length - 1)] ?? 'alpha';
          fake.inject({ kind: 'hang-after-create', operationId: 'pulls/create', repo: `acme/${victim}` });
          const held = new Promise<string>((resolve) => (created = resolve));
          const mark = fake.requests.length;
          await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
            workflowId: changeWorkflowId(doc.changeId),
            taskQueue: queue,
            args: [doc],
          });

          const repo = await held;
          // The forge has acted; the activity is still waiting for the answer: crash now.
          await killWorker(worker);
          const createsBefore = fake.requests.slice(mark).filter((r) => r.operationId === 'pulls/create').length;
          kills.push({ run, repo, createsBefore });
          expect(repo).toBe(victim);
          worker = await startOurWorker(stateDir, configFile);

          const result = await env.client.workflow
            .getHandle<typeof changeWorkflow>(changeWorkflowId(doc.changeId))
            .result();
          expect(result.status, result.summary).toBe('succeeded');
          expect(fake.pendingFaults()).toEqual([]);
          expect(fake.violations).toEqual([]);
          const perRepo: Record<string, number> = {};
          for (const r of result.repos) {
            const pulls = fake.pulls(`acme/${r.repo}`).filter((p) => p.head.ref === changeBranch(doc.changeId));
            perRepo[r.repo] = pulls.length;
            figures.duplicates += Math.max(0, pulls.length - 1);
            expect(pulls, r.repo).toHaveLength(1);
            expect(pulls[0]).toMatchObject({ state: 'open', head: { sha: r.commit } });
            expect(r.pullRequest?.number, r.repo).toBe(pulls[0]?.number);
          }
          figures.prsPerRepo = foldPrs(figures.prsPerRepo, perRepo);
          // The victim's create was answered by finding, not by creating again.
          const creates = fake.requests
            .slice(mark)
            .filter((r) => r.operationId === 'pulls/create' && r.path.includes(`/acme/${victim}/`));
          expect(creates, `creates of ${victim}`).toHaveLength(1);
          const left = await sandboxesLeft(doc.changeId, docker);
          figures.orphans += left.length;
          expect(left).toEqual([]);
          expect(alive(worker.child)).toBe(true);
          figures.completed++;
          console.log(
            `crash-after-create run ${run}/${runs}: killed after ${victim}'s create (${createsBefore} create(s) in the run by then); PRs ${JSON.stringify(perRepo)}`,
          );
        } finally {
          created = null;
          figures.durationMs = Date.now() - started;
          figures.details = { kills };
          await writeFaultFigures(figures);
        }
      }
      expect(figures.completed).toBe(runs);
      expect(figures.duplicates).toBe(0);
      expect(figures.prsPerRepo).toEqual({ min: 1, max: 1 });
    },
    loopTimeout(runs, 3),
  );
});
