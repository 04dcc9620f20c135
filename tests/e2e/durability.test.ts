/**
 * Durability with every real part: `lockstep worker` processes, a real Temporal dev server,
 * Docker sandboxes and git remotes. A worker killed with SIGKILL in the middle of a five-repo
 * change is replaced by a new one on the same host, and a Temporal server (SQLite) is stopped
 * and started again in the middle of a change: both runs finish with one PR per repo, and no
 * repo that had finished before the crash is done again.
 */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import type { Change } from '../../config/change.ts';
import { loadChange, loadReposConfig, resolveTasks } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import { freePort, startDevServer, temporalAnswers, type DevServer } from '../../workers/dev-server.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeStatusQuery } from '../../workflows/messages.ts';
import { changeBranch, changeWorkflowId, repoWorkflowId, type ChangeInput, type ChangeResult, type ChangeStatusView } from '../../workflows/types.ts';
import { exampleChange, seedTestFleet, type TestFleet } from '../helpers/fleet.ts';
import { watchCreations, type CreationWatch } from '../helpers/sandboxes.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const exec = promisify(execFile);
const docker = new Docker();
const suffix = uniqueSuffix();
const hostId = `durable-host-${suffix}`;

let fleet: TestFleet;
let env: TestWorkflowEnvironment | undefined;
const servers: DevServer[] = [];
const connections: Connection[] = [];
const workers: WorkerProcess[] = [];
const watches: CreationWatch[] = [];
const changeIds: string[] = [];

/** Two small repos of our own beside the three demo services: five repos in all. */
const EXTRA_REPOS: { name: string; test: string; files: Record<string, string>; steps: Change['repos'][number]['steps'] }[] = [
  {
    name: 'inventory',
    test: 'bash test.sh',
    files: {
      'stock.txt': 'widgets 3\ngadgets 7\n',
      'test.sh': '#!/usr/bin/env bash\nset -euo pipefail\ngrep -qE "^widgets [0-9]+$" stock.txt\ngrep -qE "^gadgets [0-9]+$" stock.txt\necho "stock ok"\n',
    },
    steps: [{ name: 'Restock widgets', run: 'sed -i "s/^widgets 3$/widgets 12/" stock.txt && grep -q "^widgets 12$" stock.txt' }],
  },
  {
    name: 'ledger',
    test: 'python3 -m unittest discover -s tests -v',
    files: {
      'ledger.py': 'def total(amounts):\n    return sum(amounts)\n',
      'tests/__init__.py': '',
      'tests/test_ledger.py':
        'import unittest\n\nfrom ledger import total\n\n\nclass LedgerTest(unittest.TestCase):\n    def test_total(self):\n        self.assertEqual(total([1250, 399]), 1649)\n\n\nif __name__ == "__main__":\n    unittest.main()\n',
    },
    steps: [{ name: 'Name the unit', run: "printf '\\n\\nUNIT = \"cents\"\\n' >> ledger.py && python3 -c 'import ledger; assert ledger.UNIT == \"cents\"'" }],
  },
];

interface WorkerProcess {
  queue: string;
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A `lockstep worker` process on this test's host, like an operator would run it. */
async function startWorker(address: string, queue: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'lockstep.js'), 'worker'], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, LOCKSTEP_STATE_DIR: fleet.stateDir, LOCKSTEP_TASK_QUEUE: queue, LOCKSTEP_HOST_ID: hostId },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const worker: WorkerProcess = { queue, child, exited, output: () => stderr };
  workers.push(worker);
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling')) resolve();
    });
    void exited.then(() => reject(new Error(`worker exited with ${child.signalCode ?? String(child.exitCode)}: ${stderr}`)));
  });
  return worker;
}

async function stopWorker(worker: WorkerProcess, signal: NodeJS.Signals): Promise<void> {
  if (!alive(worker.child)) return;
  worker.child.kill(signal);
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 20_000);
  await worker.exited;
  clearTimeout(timer);
}

/** A bare remote under the fleet's state folder, seeded with `files` on `main`. */
async function seedRemote(name: string, files: Record<string, string>): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), `lockstep-durable-${name}-`));
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), text);
    }
    const git = (...args: string[]) => exec('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'user.name=Lockstep Test', '-c', 'user.email=test@lockstep.invalid', ...args], { cwd: work });
    await git('init', '--quiet', '--initial-branch', 'main');
    await git('add', '--all');
    await git('commit', '--quiet', '--no-verify', '-m', `Initial import of ${name}`);
    await exec('git', ['clone', '--quiet', '--bare', '--no-hardlinks', work, fleet.remote(name)]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The demo change on five repos, each repo's steps led by a short sleep so a run takes a while. */
async function changeInput(changeId: string): Promise<ChangeInput> {
  const loaded = await loadReposConfig(fleet.configFile);
  const demo = await loadChange(exampleChange('price-cents.yaml'), loaded);
  const change: Change = { ...demo, id: changeId, repos: [...demo.repos, ...EXTRA_REPOS.map((r) => ({ name: r.name, steps: r.steps }))] };
  changeIds.push(changeId);
  return {
    changeId,
    title: change.title,
    description: change.description,
    forge: loaded.config.forge,
    concurrency: 2,
    repos: resolveTasks(loaded, change).map((t) => ({ ...t, steps: [{ name: 'Take a moment', run: 'sleep 3' }, ...t.steps] })),
    models: loaded.config.models,
    budgets: loaded.config.budgets,
  };
}

async function waitForStatus(
  handle: WorkflowHandle<typeof changeWorkflow>,
  what: string,
  predicate: (view: ChangeStatusView) => boolean,
  timeoutMs = 120_000,
): Promise<ChangeStatusView> {
  const deadline = Date.now() + timeoutMs;
  let last: ChangeStatusView | null = null;
  while (Date.now() < deadline) {
    last = await handle.query(changeStatusQuery).catch(() => last);
    if (last && predicate(last)) return last;
    if (last?.status && last.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting until ${what}; last status: ${JSON.stringify(last?.repos.map((r) => [r.repo, r.status, r.phase, r.step]))}`);
}

/** Exactly one PR per repo for the change's branch, on the commit the result names. */
async function expectOnePullRequestPerRepo(result: ChangeResult): Promise<Record<string, number>> {
  const forge = new LocalForge(join(fleet.stateDir, 'forge', 'local'));
  const figures: Record<string, number> = {};
  for (const repo of result.repos) {
    const pulls = (await forge.listPullRequests(repo.repo)).filter((p) => p.head === changeBranch(result.changeId));
    figures[repo.repo] = pulls.length;
    expect(pulls, repo.repo).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ commit: repo.commit, state: 'open', number: repo.pullRequest?.number });
    // One commit on the branch: a redone repo never stacks a second commit on the first.
    const { stdout } = await exec('git', ['--git-dir', fleet.remote(repo.repo), 'rev-list', '--count', `main..${changeBranch(result.changeId)}`]);
    expect(stdout.trim(), repo.repo).toBe('1');
  }
  return figures;
}

async function sandboxesLeft(changeId: string): Promise<string[]> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  return left.map((c) => c.Names.join(','));
}

beforeAll(async () => {
  [env, fleet] = await Promise.all([startTestTemporal(), seedTestFleet()]);
  for (const repo of EXTRA_REPOS) await seedRemote(repo.name, repo.files);
  const config = JSON.parse(await readFile(fleet.configFile, 'utf8')) as { repos: object[] };
  config.repos.push(
    ...EXTRA_REPOS.map((r) => ({ name: r.name, url: `.lockstep/remotes/${r.name}.git`, baseBranch: 'main', sandbox: { test: r.test } })),
  );
  await writeFile(fleet.configFile, `${JSON.stringify(config, null, 2)}\n`);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGTERM')));
  for (const w of watches) w.stop();
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  for (const server of servers) await server.stop();
  await env?.teardown();
  // On failure, nothing of ours may outlive the file.
  for (const changeId of changeIds) {
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  }
  await fleet?.cleanup();
});

describe('durability', () => {
  it('a worker killed with SIGKILL mid-run is replaced: one PR per repo, finished repos not redone', async () => {
    if (!env) throw new Error('no Temporal server');
    const client = env.client;
    const queue = `durable-kill-${suffix}`;
    const input = await changeInput(`kill-${suffix}`);
    const creations = await watchCreations(input.changeId, docker);
    watches.push(creations);

    const first = await startWorker(env.address, queue);
    const handle = await client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: queue,
      args: [input],
    });

    // The moment to crash: a repo has finished, and every repo being worked on is inside a step.
    const atKill = await waitForStatus(handle, 'one repo has finished and another is mid-step', (view) => {
      const running = view.repos.filter((r) => r.status === 'running');
      return view.repos.some((r) => r.status === 'green') && running.length > 0 && running.every((r) => r.phase === 'step');
    });
    first.child.kill('SIGKILL');
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    const finished = atKill.repos.filter((r) => r.status === 'green').map((r) => r.repo);
    const interrupted = atKill.repos.filter((r) => r.status === 'running').map((r) => r.repo);
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect(interrupted.length).toBeGreaterThanOrEqual(1);
    for (const repo of finished) {
      const { status } = await client.workflow.getHandle(repoWorkflowId(input.changeId, repo)).describe();
      expect(status.name, repo).toBe('COMPLETED');
    }

    // A restart on the same host: same host id, so the same sandbox queue; its start-up sweep
    // removes the sandboxes the dead worker left.
    const second = await startWorker(env.address, queue);
    const result = await handle.result();

    expect(result.status, result.summary).toBe('succeeded');
    expect(result.repos.map((r) => r.repo).sort()).toEqual(['billing', 'catalog', 'inventory', 'ledger', 'storefront']);
    for (const repo of result.repos) {
      expect(repo.status, `${repo.repo}: ${JSON.stringify(repo.error)}`).toBe('green');
      expect(repo.tests?.passed, repo.repo).toBe(true);
    }
    for (const repo of interrupted) expect(second.output()).toContain(`lockstep-${input.changeId}-${repo}`);

    const pulls = await expectOnePullRequestPerRepo(result);
    // Docker delivers events as they happen; give the stream a moment to drain.
    await new Promise((r) => setTimeout(r, 500));
    const counts = await creations.counts();
    console.log(
      `kill -9: finished before the kill ${finished.join(', ')}; interrupted ${interrupted.join(', ')}; ` +
        `sandbox creations ${JSON.stringify(counts)}; PRs ${JSON.stringify(pulls)}; attempts ${JSON.stringify(Object.fromEntries(result.repos.map((r) => [r.repo, r.attempts])))}`,
    );
    for (const repo of finished) {
      expect(counts[repo], `${repo} finished before the kill`).toBe(1);
      expect(result.repos.find((r) => r.repo === repo)?.attempts, repo).toBe(1);
    }
    for (const repo of result.repos.map((r) => r.repo).filter((r) => !finished.includes(r))) {
      expect(counts[repo], repo).toBeGreaterThanOrEqual(1);
      expect(counts[repo], repo).toBeLessThanOrEqual(2);
    }
    expect(Object.keys(counts).sort()).toEqual(result.repos.map((r) => r.repo).sort());
    expect(await sandboxesLeft(input.changeId)).toEqual([]);
    expect(alive(second.child)).toBe(true);
  });

  it('the Temporal server (SQLite) restarted mid-run: the worker reconnects and the run completes', async () => {
    const queue = `durable-server-${suffix}`;
    const address = `127.0.0.1:${await freePort()}`;
    const dbFile = join(fleet.stateDir, `temporal-${suffix}.db`);
    const start = async () => {
      const server = await startDevServer({ stateDir: fleet.stateDir, address, dbFile, uiPort: null });
      servers.push(server);
      return server;
    };
    const connect = async () => {
      const connection = await Connection.connect({ address });
      connections.push(connection);
      return new Client({ connection, namespace: 'default' });
    };

    const before = await start();
    const worker = await startWorker(address, queue);
    const input = await changeInput(`server-${suffix}`);
    const client = await connect();
    const handle = await client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: queue,
      args: [input],
    });
    const atStop = await waitForStatus(handle, 'a repo is mid-step', (view) => view.repos.some((r) => r.status === 'running' && r.phase === 'step'));

    await client.connection.close();
    await before.stop();
    expect(await temporalAnswers(address, 500)).toBe(false);
    // The worker lives through the outage on its own.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(alive(worker.child), worker.output()).toBe(true);
    await start();

    const result = await (await connect()).workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(input.changeId)).result();
    expect(result.status, result.summary).toBe('succeeded');
    for (const repo of result.repos) expect(repo.status, `${repo.repo}: ${JSON.stringify(repo.error)}`).toBe('green');
    const pulls = await expectOnePullRequestPerRepo(result);
    // No second worker was started: the one from before the restart reconnected and finished the run.
    expect(workers.filter((w) => w.queue === queue)).toEqual([worker]);
    expect(alive(worker.child), worker.output()).toBe(true);
    console.log(
      `server restart: mid-step at the stop ${atStop.repos.filter((r) => r.phase === 'step').map((r) => r.repo).join(', ')}; ` +
        `PRs ${JSON.stringify(pulls)}; attempts ${JSON.stringify(Object.fromEntries(result.repos.map((r) => [r.repo, r.attempts])))}`,
    );
    expect(await sandboxesLeft(input.changeId)).toEqual([]);
  });
});
