/**
 * A change in pages on real parts: a seven-repo fleet with `operations.pageSize: 3` (so three
 * pages), whose provider `api` and consumer `web` of an OpenAPI contract land in different
 * pages, changed through the CLI against a real Temporal server, a `lockstep worker` process,
 * Docker sandboxes, git remotes and the local forge. A change succeeds with one PR per repo
 * whose body lists its page; a repo whose tests fail fails the change and a resume redoes only
 * it; a worker killed while the pages publish leaves no duplicate PR; a cancel ends every page
 * and removes every sandbox (and every page's branch on request); a resume after a cancel
 * redoes only the repos that had not finished, also in the page that was cancelled.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseManifest } from '../../activities/forges/body.ts';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { LABEL_CHANGE, LABEL_REPO } from '../../activities/sandbox/docker.ts';
import { changeBranch, changeWorkflowId, pageWorkflowId, repoWorkflowId } from '../../core/ids.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { PullRequestRecord } from '../../core/pulls.ts';
import {
  killWorker,
  removeSandboxesOf,
  sandboxesLeft,
  startWorker,
  stopWorker,
  type WorkerProcess,
} from '../helpers/durable.ts';
import { editStep } from '../helpers/gate.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { watchCreations } from '../helpers/sandboxes.ts';

const exec = promisify(execFile);
const docker = new Docker();

/** The small repos between the provider and its consumer, in the change's order. */
const SMALL = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
/** Merge order: the provider first, its consumer last; pages of three. */
const ORDER = ['api', ...SMALL, 'web'];
const PAGES = [['api', 'alpha', 'bravo'], ['charlie', 'delta', 'echo'], ['web']];

const OPENAPI = `openapi: 3.0.3
info:
  title: Prices API
  version: 1.0.0
paths:
  /prices/{id}:
    get:
      operationId: getPrice
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        '200':
          description: One price.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Price'
components:
  schemas:
    Price:
      type: object
      required: [id, amount]
      properties:
        id:
          type: string
        amount:
          type: integer
`;

/** The fleet as a fixture folder: one folder per repo and its repos.config.json. */
async function writeFixture(dir: string): Promise<void> {
  const files: Record<string, Record<string, string>> = {
    api: { 'openapi.yaml': OPENAPI, 'README.md': '# api\n' },
    web: {
      'api.uses.json': `${JSON.stringify({ uses: [{ operation: 'GET /prices/{id}', fields: ['id', 'amount'] }] })}\n`,
      'README.md': '# web\n',
    },
    // Its test reads STATUS, which a test here breaks and fixes on the remote's main.
    ...Object.fromEntries(SMALL.map((name) => [name, { 'README.md': `# ${name}\n`, STATUS: 'ready\n' }])),
  };
  for (const [repo, content] of Object.entries(files)) {
    await mkdir(join(dir, repo), { recursive: true });
    for (const [path, text] of Object.entries(content)) await writeFile(join(dir, repo, path), text);
  }
  const testOf = (name: string): string =>
    name === 'api'
      ? 'grep -q currency openapi.yaml'
      : name === 'web'
        ? 'grep -q cents README.md'
        : 'grep -q cents README.md && grep -qx ready STATUS';
  const config = {
    concurrency: 3,
    defaults: {
      sandbox: {
        image: 'lockstep-sandbox:latest',
        timeouts: { setupSeconds: 120, stepSeconds: 150, testSeconds: 60 },
        limits: { cpus: 1, memoryMb: 256, pids: 256, tmpfsMb: 64 },
      },
    },
    // Contracts only: the pages' scans are not this file's subject, and semgrep is slow on two cores.
    gate: { secrets: false, insecure: false },
    operations: { pageSize: 3 },
    repos: ORDER.map((name) => ({
      name,
      url: `.lockstep/remotes/${name}.git`,
      sandbox: { test: testOf(name) },
      ...(name === 'api' ? { provides: [{ name: 'prices-api', kind: 'openapi', path: 'openapi.yaml' }] } : {}),
      ...(name === 'web' ? { consumes: [{ name: 'prices-api', path: 'api.uses.json' }] } : {}),
    })),
  };
  await writeFile(join(dir, 'repos.config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

let h: Harness;
let fixture = '';
let worker: WorkerProcess | null = null;
const changeIds: string[] = [];

const startLockstepWorker = () =>
  startWorker({ address: h.env.address, queue: h.queue, stateDir: h.fleet.stateDir, hostId: h.hostId });

beforeAll(async () => {
  fixture = await mkdtemp(join(tmpdir(), 'lockstep-pages-fixture-'));
  await writeFixture(fixture);
  h = await startHarness('pages', { worker: false, fleet: fixture });
  worker = await startLockstepWorker();
});

afterAll(async () => {
  if (worker) await stopWorker(worker, 'SIGTERM');
  await removeSandboxesOf(changeIds, docker);
  await h?.close();
  await rm(fixture, { recursive: true, force: true });
});

/** The change file: each repo of `repos` changes (api adds a field, web notes it, the rest write cents). */
async function writeChange(id: string, repos: readonly string[], extraStep?: string): Promise<string> {
  changeIds.push(id);
  const steps = (name: string): string[] => {
    const own =
      name === 'api'
        ? editStep(
            'openapi.yaml',
            `text.replace("        amount:\\n          type: integer\\n", "        amount:\\n          type: integer\\n        currency:\\n          type: string\\n")`,
          )
        : 'echo cents >> README.md';
    return extraStep ? [extraStep, own] : [own];
  };
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: `Pages: ${id}`,
      description: 'A change in pages.',
      repos: repos.map((name) => ({ name, steps: steps(name).map((run, i) => ({ name: `step ${i + 1}`, run })) })),
    }),
  );
  return file;
}

async function cliResult(args: string[]): Promise<ChangeResult> {
  const out = await h.cli([...args, '--json', '--no-worker']);
  try {
    return JSON.parse(out.stdout) as ChangeResult;
  } catch {
    throw new Error(`lockstep ${args.join(' ')} printed no result (exit ${out.code}): ${out.stderr.slice(-3000)}`);
  }
}

/** `lockstep resume`, and the sandboxes it created per repo. */
async function resumeWatched(changeId: string): Promise<{ resumed: ChangeResult; created: Record<string, number> }> {
  const creations = await watchCreations(changeId, docker);
  try {
    const resumed = await cliResult(['resume', changeId]);
    return { resumed, created: await creations.counts() };
  } finally {
    creations.stop();
  }
}

const forge = () => new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));

/** The change's PRs per repo on the local forge. */
async function pullsOf(changeId: string, repos: readonly string[]): Promise<Record<string, PullRequestRecord[]>> {
  const out: Record<string, PullRequestRecord[]> = {};
  for (const repo of repos)
    out[repo] = (await forge().listPullRequests(repo)).filter((p) => p.head === changeBranch(changeId));
  return out;
}

const git = async (repo: string, ...args: string[]): Promise<string> =>
  (await exec('git', ['--git-dir', h.fleet.remote(repo), ...args])).stdout.trim();

/** One commit on `repo`'s main of its remote that writes STATUS. */
async function setStatus(repo: string, status: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lockstep-pages-status-'));
  try {
    const run = (...args: string[]) =>
      exec('git', ['-c', 'user.name=Lockstep Test', '-c', 'user.email=test@lockstep.invalid', ...args], { cwd: work });
    await run('clone', '--quiet', h.fleet.remote(repo), '.');
    await writeFile(join(work, 'STATUS'), `${status}\n`);
    await run('commit', '--quiet', '--no-verify', '-am', `STATUS: ${status}`);
    await run('push', '--quiet', 'origin', 'HEAD:main');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The workflow types the coordinator started as children, by run. */
async function childTypesOf(changeId: string): Promise<string[]> {
  const history = await h.env.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const name = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
    return name ? [name] : [];
  });
}

describe('a change in pages on real parts', () => {
  it('runs, gates across pages and publishes page by page; a failed repo is the only one a resume redoes', async () => {
    const id = 'pages-ok';
    const result = await cliResult(['run', await writeChange(id, ORDER)]);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.gate?.contracts.map((c) => [c.contract, c.status])).toEqual([['prices-api', 'passed']]);
    // Only pages are the coordinator's children: 3 to run, 3 to publish.
    const children = await childTypesOf(id);
    expect(children.length).toBe(6);
    expect(new Set(children)).toEqual(new Set(['pageWorkflow']));

    const pulls = await pullsOf(id, ORDER);
    for (const [index, page] of PAGES.entries()) {
      for (const repo of page) {
        expect(pulls[repo], repo).toHaveLength(1);
        const body = pulls[repo]?.[0]?.body ?? '';
        expect(body, repo).toContain(
          `This change spans 7 repositories in 3 pages; below are the ${page.length} of this one's page.`,
        );
        expect(parseManifest(body)?.order, `${repo} (page ${index})`).toEqual(page);
        expect(pulls[repo]?.[0]?.commit, repo).toBe(await git(repo, 'rev-parse', changeBranch(id)));
      }
    }

    // delta's tests fail on its main now: the change fails naming it, and opens no PR.
    const broken = 'pages-resume';
    await setStatus('delta', 'broken');
    const failed = await cliResult(['run', await writeChange(broken, ORDER)]);
    expect(failed.status, failed.summary).toBe('failed');
    expect(failed.summary).toContain('1 of 7 repos failed (delta failed at');
    expect(Object.values(await pullsOf(broken, ORDER)).flat()).toEqual([]);
    const pushed: Record<string, string | null> = {};
    for (const repo of ORDER) pushed[repo] = await git(repo, 'rev-parse', changeBranch(broken)).catch(() => null);
    expect(pushed.delta).toBeNull();

    // Fixed on main, the resume redoes delta alone: no other repo gets a sandbox or a new push.
    await setStatus('delta', 'ready');
    const { resumed, created } = await resumeWatched(broken);
    expect(resumed.status, resumed.summary).toBe('succeeded');
    expect(created).toEqual({ delta: 1 });
    for (const repo of ORDER.filter((r) => r !== 'delta'))
      expect(await git(repo, 'rev-parse', changeBranch(broken)), repo).toBe(pushed[repo]);
    const after = await pullsOf(broken, ORDER);
    for (const repo of ORDER) expect(after[repo], repo).toHaveLength(1);
    expect(after.delta?.[0]?.commit).toBe(await git('delta', 'rev-parse', changeBranch(broken)));
  });

  it('survives a worker killed while the pages publish: the change completes with one PR per repo', async () => {
    const id = 'pages-kill';
    const repos = ['alpha', 'bravo', 'charlie', 'echo'];
    const run = cliResult(['run', await writeChange(id, repos)]);
    const change = h.env.client.workflow.getHandle(changeWorkflowId(id));
    const publishing = h.env.client.workflow.getHandle(pageWorkflowId(id, 'publish', 0));
    let running = false;
    for (let i = 0; i < 3000 && !running; i++) {
      running = (await publishing.describe().catch(() => null))?.status.name === 'RUNNING';
      if (!running) await new Promise((r) => setTimeout(r, 20));
    }
    expect(running, 'the first publish page started').toBe(true);
    if (!worker) throw new Error('no worker');
    await killWorker(worker);
    expect((await change.describe()).status.name, 'the change was still running at the kill').toBe('RUNNING');
    worker = await startLockstepWorker();
    const result = await run;
    expect(result.status, result.summary).toBe('succeeded');
    const pulls = await pullsOf(id, repos);
    for (const repo of repos) {
      expect(pulls[repo], repo).toHaveLength(1);
      expect(pulls[repo]?.[0]?.commit, repo).toBe(await git(repo, 'rev-parse', changeBranch(id)));
    }
  });

  it('a cancel ends every page, removes every sandbox and, on request, the branches of every page', async () => {
    const id = 'pages-cancel';
    const repos = ['alpha', 'bravo', 'charlie', 'echo'];
    const run = h.cli(['run', await writeChange(id, repos, 'sleep 120'), '--json', '--no-worker']);
    // Both pages run (two at once): wait for a sandbox in each.
    const labelled = async (repo: string) =>
      (await docker.listContainers({ filters: { label: [`${LABEL_CHANGE}=${id}`, `${LABEL_REPO}=${repo}`] } })).length;
    for (let i = 0; i < 600 && ((await labelled('alpha')) === 0 || (await labelled('echo')) === 0); i++)
      await new Promise((r) => setTimeout(r, 200));
    expect(await sandboxesLeft(id)).not.toEqual([]);
    // A branch in a repo of each page (the steps sleep, so none is pushed): --delete-branches finds them.
    for (const repo of ['alpha', 'echo'])
      await git(repo, 'update-ref', `refs/heads/${changeBranch(id)}`, 'refs/heads/main');
    const cancelled = await h.cli(['cancel', id, '--yes', '--delete-branches']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stderr).toContain(`deleted ${changeBranch(id)} in alpha, echo`);
    for (const repo of repos) expect(await git(repo, 'branch', '--list', changeBranch(id)), repo).toBe('');
    await run;
    expect(await sandboxesLeft(id)).toEqual([]);
    expect((await h.env.client.workflow.getHandle(changeWorkflowId(id)).describe()).status.name).toBe('CANCELLED');
    for (const index of [0, 1]) {
      const page = await h.env.client.workflow.getHandle(pageWorkflowId(id, 'run', index)).describe();
      expect(page.status.name, `page ${index}`).toBe('CANCELLED');
    }
  });

  it('a resume after a cancel keeps the repos that finished green, also in the page that was cancelled', async () => {
    const id = 'pages-cancel-resume';
    const repos = ['alpha', 'bravo', 'charlie', 'echo'];
    const workflow = (repo: string) => h.env.client.workflow.getHandle(repoWorkflowId(id, repo));
    // bravo sleeps while its main says so: its page (alpha, bravo, charlie) is still running at the cancel.
    await setStatus('bravo', 'slow');
    const run = h.cli([
      'run',
      await writeChange(id, repos, 'if grep -qx slow STATUS; then sleep 120; fi'),
      '--json',
      '--no-worker',
    ]);
    const finished = async (repo: string) =>
      (
        await workflow(repo)
          .describe()
          .catch(() => null)
      )?.status.name === 'COMPLETED';
    const others = repos.filter((r) => r !== 'bravo');
    for (let i = 0; i < 600 && !(await Promise.all(others.map(finished))).every(Boolean); i++)
      await new Promise((r) => setTimeout(r, 200));
    const cancelled = await h.cli(['cancel', id, '--yes']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    await run;
    expect((await h.env.client.workflow.getHandle(pageWorkflowId(id, 'run', 0)).describe()).status.name).toBe(
      'CANCELLED',
    );
    const pushed: Record<string, string> = {};
    for (const repo of others) pushed[repo] = await git(repo, 'rev-parse', changeBranch(id));

    await setStatus('bravo', 'ready');
    const { resumed, created } = await resumeWatched(id);
    expect(resumed.status, resumed.summary).toBe('succeeded');
    expect(created).toEqual({ bravo: 1 });
    for (const repo of others) expect(await git(repo, 'rev-parse', changeBranch(id)), repo).toBe(pushed[repo]);
    const pulls = await pullsOf(id, repos);
    for (const repo of repos) expect(pulls[repo], repo).toHaveLength(1);
  });
});
