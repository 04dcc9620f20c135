/**
 * What the durability and fault tests share: `lockstep worker` processes that can be killed,
 * the five-repo fleet (the three demo services and two small repos of our own), the change
 * they run, waiting on a change's status, and the figures every run must meet (one PR per
 * repo, no sandbox left behind).
 */
import type { WorkflowHandle } from '@temporalio/client';
import Docker from 'dockerode';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { expect } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import type { Change } from '../../config/change.ts';
import { changeInput, gateInput, resolveTasks } from '../../core/inputs.ts';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { liveStatus } from '../../client/live-status.ts';
import { changeBranch } from '../../core/ids.ts';
import type { ChangeInput, ChangeResult, ChangeStatusView } from '../../core/change.ts';
import { exampleChange, seedTestFleet, type TestFleet } from './fleet.ts';

const exec = promisify(execFile);

export interface WorkerProcess {
  queue: string;
  hostId: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** What it wrote on stderr. */
  output(): string;
  /** What it wrote on stdout (the log lines of `--log-format json`). */
  stdout(): string;
}

export interface WorkerOptions {
  address: string;
  /** The shared task queue. */
  queue: string;
  stateDir: string;
  /** Names the worker's sandbox queue; a restart on the same host keeps it. */
  hostId: string;
  /** Extra arguments of `lockstep worker` (e.g. `-c <config>`). */
  args?: string[];
  /** Extra environment (a forge token, DOCKER_HOST). */
  env?: Record<string, string>;
  /** A command the worker runs under, e.g. `nsenter --net=… --` (it must exec the worker in place). */
  prefix?: string[];
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A `lockstep worker` process, like an operator would run it; resolves once it polls. */
export async function startWorker(options: WorkerOptions): Promise<WorkerProcess> {
  const argv = [process.execPath, join(projectRoot, 'bin', 'lockstep.js'), 'worker', ...(options.args ?? [])];
  const [command = process.execPath, ...args] = [...(options.prefix ?? []), ...argv];
  const child = spawn(command, args, {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.address,
      LOCKSTEP_STATE_DIR: options.stateDir,
      LOCKSTEP_TASK_QUEUE: options.queue,
      LOCKSTEP_HOST_ID: options.hostId,
      LOCKSTEP_RECONCILE_SECONDS: String(TEST_RECONCILE_SECONDS),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const worker: WorkerProcess = {
    queue: options.queue,
    hostId: options.hostId,
    child,
    exited,
    output: () => stderr,
    stdout: () => stdout,
  };
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling')) resolve();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('worker polling')) resolve();
    });
    void exited.then(() =>
      reject(new Error(`worker exited with ${child.signalCode ?? String(child.exitCode)}: ${stderr}`)),
    );
  });
  return worker;
}

export async function stopWorker(worker: WorkerProcess, signal: NodeJS.Signals): Promise<void> {
  if (!alive(worker.child)) return;
  worker.child.kill(signal);
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 20_000);
  await worker.exited;
  clearTimeout(timer);
}

/** SIGKILL, as a crash: no cleanup, no goodbye to the server. */
export async function killWorker(worker: WorkerProcess): Promise<void> {
  if (!alive(worker.child)) return;
  worker.child.kill('SIGKILL');
  await worker.exited;
}

/** Two small repos of our own beside the three demo services: five repos in all. */
const EXTRA_REPOS: {
  name: string;
  test: string;
  files: Record<string, string>;
  steps: Change['repos'][number]['steps'];
}[] = [
  {
    name: 'inventory',
    test: 'bash test.sh',
    files: {
      'stock.txt': 'widgets 3\ngadgets 7\n',
      'test.sh':
        '#!/usr/bin/env bash\nset -euo pipefail\ngrep -qE "^widgets [0-9]+$" stock.txt\ngrep -qE "^gadgets [0-9]+$" stock.txt\necho "stock ok"\n',
    },
    steps: [
      {
        name: 'Restock widgets',
        run: 'sed -i "s/^widgets 3$/widgets 12/" stock.txt && grep -q "^widgets 12$" stock.txt',
      },
    ],
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
    steps: [
      {
        name: 'Name the unit',
        run: 'printf \'\\n\\nUNIT = "cents"\\n\' >> ledger.py && python3 -c \'import ledger; assert ledger.UNIT == "cents"\'',
      },
    ],
  },
];

export const FIVE_REPOS = ['billing', 'catalog', 'inventory', 'ledger', 'storefront'];

/** A bare remote under `fleet`'s state folder, seeded with `files` on `main`. */
export async function seedRemote(fleet: TestFleet, name: string, files: Record<string, string>): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), `lockstep-durable-${name}-`));
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), text);
    }
    const git = (...args: string[]) =>
      exec(
        'git',
        [
          '-c',
          'core.hooksPath=/dev/null',
          '-c',
          'user.name=Lockstep Test',
          '-c',
          'user.email=test@lockstep.invalid',
          ...args,
        ],
        { cwd: work },
      );
    await git('init', '--quiet', '--initial-branch', 'main');
    await git('add', '--all');
    await git('commit', '--quiet', '--no-verify', '-m', `Initial import of ${name}`);
    await exec('git', ['clone', '--quiet', '--bare', '--no-hardlinks', work, fleet.remote(name)]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Small repositories (a README each) with bare remotes under `root/remotes/`, for tests whose
 * subject is not the repos' own work; their config names each `remotes/<name>.git`.
 */
export async function seedSmallRepos(root: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const work = join(root, 'work', name);
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'README.md'), `# ${name}\n`);
    const git = (...args: string[]) =>
      exec(
        'git',
        [
          '-c',
          'core.hooksPath=/dev/null',
          '-c',
          'user.name=Lockstep Test',
          '-c',
          'user.email=test@lockstep.invalid',
          ...args,
        ],
        { cwd: work },
      );
    await git('init', '--quiet', '--initial-branch', 'main');
    await git('add', '--all');
    await git('commit', '--quiet', '--no-verify', '-m', `Initial ${name}`);
    await exec('git', ['clone', '--quiet', '--bare', '--no-hardlinks', work, join(root, 'remotes', `${name}.git`)]);
  }
  await rm(join(root, 'work'), { recursive: true, force: true });
}

/**
 * A steps change on the small repos of `seedSmallRepos`: each repo runs one step, by default
 * `note`, `echo cents >> README.md` (what their `grep -q cents README.md` tests look for). It is
 * written to `<root>/<id>.yaml` and loaded against the fleet config (`<root>/repos.config.json`
 * unless given), as the CLI loads one.
 */
export async function smallReposChange(options: {
  root: string;
  id: string;
  repos: readonly string[];
  configFile?: string;
  step?: { name: string; run: string };
  description?: string;
  concurrency?: number;
}): Promise<ChangeInput> {
  const file = join(options.root, `${options.id}.yaml`);
  const step = options.step ?? { name: 'note', run: 'echo cents >> README.md' };
  await writeFile(
    file,
    stringify({
      id: options.id,
      title: 'Prices in cents',
      description: options.description ?? 'Every service moves to integer cents.',
      repos: options.repos.map((name) => ({ name, steps: [step] })),
    }),
  );
  const loaded = await loadReposConfig(options.configFile ?? join(options.root, 'repos.config.json'));
  const change = await loadChange(file, loaded);
  return changeInput(loaded, change, resolveTasks(loaded, change), { concurrency: options.concurrency });
}

export interface FiveRepoFleet extends TestFleet {
  /**
   * The demo change on all five repos, each repo's steps led by `sleep <pause>` so a run takes
   * a while (a moment to crash in).
   */
  changeInput(
    changeId: string,
    options?: { pauseSeconds?: number; concurrency?: number; gate?: boolean },
  ): Promise<ChangeInput>;
  /** Every change id handed out, for the cleanup of containers. */
  changeIds: string[];
}

/** The demo fleet plus `inventory` and `ledger`, seeded into a temporary state folder. */
export async function seedFiveRepoFleet(): Promise<FiveRepoFleet> {
  const fleet = await seedTestFleet();
  for (const repo of EXTRA_REPOS) await seedRemote(fleet, repo.name, repo.files);
  const config = JSON.parse(await readFile(fleet.configFile, 'utf8')) as { repos: object[] };
  config.repos.push(
    ...EXTRA_REPOS.map((r) => ({
      name: r.name,
      url: `.lockstep/remotes/${r.name}.git`,
      baseBranch: 'main',
      sandbox: { test: r.test },
    })),
  );
  await writeFile(fleet.configFile, `${JSON.stringify(config, null, 2)}\n`);
  const changeIds: string[] = [];
  return {
    ...fleet,
    changeIds,
    async changeInput(changeId, options = {}) {
      const loaded = await loadReposConfig(fleet.configFile);
      const demo = await loadChange(exampleChange('price-cents.yaml'), loaded);
      const change: Change = {
        ...demo,
        id: changeId,
        repos: [...demo.repos, ...EXTRA_REPOS.map((r) => ({ name: r.name, steps: r.steps }))],
      };
      changeIds.push(changeId);
      const pause = options.pauseSeconds ?? 3;
      const tasks = resolveTasks(loaded, change);
      return {
        changeId,
        title: change.title,
        description: change.description,
        forge: loaded.config.forge,
        concurrency: options.concurrency ?? 2,
        repos: tasks.map((t) => ({
          ...t,
          steps: [...(pause > 0 ? [{ name: 'Take a moment', run: `sleep ${pause}` }] : []), ...t.steps],
        })),
        models: loaded.config.models,
        budgets: loaded.config.budgets,
        // The demo's contracts (catalog's OpenAPI, its consumers' uses) checked before publishing.
        ...(options.gate ? { gate: gateInput(loaded, tasks) } : {}),
      };
    },
  };
}

export async function waitForStatus(
  handle: WorkflowHandle<typeof changeWorkflow>,
  what: string,
  predicate: (view: ChangeStatusView) => boolean,
  timeoutMs = 120_000,
): Promise<ChangeStatusView> {
  const deadline = Date.now() + timeoutMs;
  let last: ChangeStatusView | null = null;
  while (Date.now() < deadline) {
    last = await liveStatus(handle).catch(() => last);
    if (last && predicate(last)) return last;
    if (last?.status && last.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `gave up waiting until ${what}; last status: ${JSON.stringify(last?.repos.map((r) => [r.repo, r.status, r.phase, r.step]))}`,
  );
}

/**
 * Exactly one PR per repo on the local forge for the change's branch, on the commit the result
 * names, and one commit on each branch (a redone repo never stacks a second commit). Returns
 * the PRs per repo.
 */
export async function expectOnePullRequestPerRepo(
  fleet: TestFleet,
  result: ChangeResult,
): Promise<Record<string, number>> {
  const forge = new LocalForge(join(fleet.stateDir, 'forge', 'local'));
  const figures: Record<string, number> = {};
  for (const repo of result.repos) {
    const pulls = (await forge.listPullRequests(repo.repo)).filter((p) => p.head === changeBranch(result.changeId));
    figures[repo.repo] = pulls.length;
    expect(pulls, repo.repo).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ commit: repo.commit, state: 'open', number: repo.pullRequest?.number });
    const { stdout } = await exec('git', [
      '--git-dir',
      fleet.remote(repo.repo),
      'rev-list',
      '--count',
      `main..${changeBranch(result.changeId)}`,
    ]);
    expect(stdout.trim(), repo.repo).toBe('1');
  }
  return figures;
}

/** Containers labelled with the change, whatever their state. */
export async function sandboxesLeft(changeId: string, docker = new Docker()): Promise<string[]> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  return left.map((c) => c.Names.join(','));
}

/**
 * A CPU-heavy process beside the loop, as a busy machine has: it spins for at most `seconds`
 * and exits by itself (stop ends it sooner).
 */
export function cpuLoad(seconds: number): { stop(): void } {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const end = Date.now() + ${Math.round(seconds * 1000)}; let x = 0; while (Date.now() < end) x = (x * 31 + 7) % 1000003;`,
    ],
    { stdio: 'ignore' },
  );
  return {
    stop() {
      if (alive(child)) child.kill('SIGKILL');
    },
  };
}

/** The reconciler's interval of the test workers (the product's default is 60 s). */
export const TEST_RECONCILE_SECONDS = 2;

/** The change's work trees in a worker's state folder: `workspaces/<change>/<repo>` and `gate/<change>/<check>`. */
export async function workTreesLeft(changeId: string, stateDir: string): Promise<string[]> {
  const trees: string[] = [];
  for (const dir of [join(stateDir, 'workspaces', changeId), join(stateDir, 'gate', changeId)]) {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    trees.push(...entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name)));
  }
  return trees;
}

export interface ChangeLeftovers {
  containers: string[];
  workTrees: string[];
}

/** What `leftoversAfterEnd` must find. */
export const NOTHING_LEFT = {
  atEnd: { containers: [], workTrees: [] },
  afterInterval: { containers: [], workTrees: [] },
} as const;

/**
 * The change's containers and work trees right after it ended, and again after one reconciler
 * interval (plus a second for its pass) of the workers still running; the caller starts no
 * worker in between, so nothing but the running workers can have removed them.
 */
export async function leftoversAfterEnd(
  changeId: string,
  stateDir: string,
  docker = new Docker(),
): Promise<{ atEnd: ChangeLeftovers; afterInterval: ChangeLeftovers }> {
  const count = async (): Promise<ChangeLeftovers> => ({
    containers: await sandboxesLeft(changeId, docker),
    workTrees: await workTreesLeft(changeId, stateDir),
  });
  const atEnd = await count();
  await new Promise((r) => setTimeout(r, TEST_RECONCILE_SECONDS * 1000 + 1000));
  return { atEnd, afterInterval: await count() };
}

/** Removes every container of these changes (only ours: by their change ids). */
export async function removeSandboxesOf(changeIds: readonly string[], docker = new Docker()): Promise<void> {
  for (const changeId of changeIds) {
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined),
      ),
    );
  }
}
