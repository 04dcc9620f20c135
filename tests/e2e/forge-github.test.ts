/**
 * Linked pull requests on GitHub, end to end on real parts: a real Temporal server, real
 * sandboxes and git remotes, the real Octokit client, and the strict fake GitHub (mounted as
 * GitHub Enterprise) injecting faults. Ten repos give exactly ten PRs, each linking the other
 * nine; a create whose answer is lost leaves no duplicate; a rerun updates instead of creating;
 * the request log shows the pacing of content-creating requests.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../activities/forges/body.ts';
import { remoteBranchCommit } from '../../activities/git/workspace.ts';
import { forgeQueue } from '../../core/forge-queue.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { LockstepWorker } from '../../workers/worker.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';
import { seedSmallRepos, smallReposChange } from '../helpers/durable.ts';
import { startForgeWorker, type ForgeWorker } from '../helpers/forge-worker.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const REPOS = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
const TOKEN_ENV = 'LOCKSTEP_E2E_GITHUB_TOKEN';

let h: Harness;
let gh: FakeGitHub;
let root: string;
let configFile: string;
let forgeWorker: ForgeWorker;
let worker: LockstepWorker;

/** Ten tiny repositories with bare remotes, each named `acme/<repo>` on the fake. */
async function seedFleet(): Promise<void> {
  await seedSmallRepos(root, REPOS);
  for (const name of REPOS) gh.addRepo(`acme/${name}`);
  configFile = join(root, 'repos.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      concurrency: 5,
      forge: {
        type: 'github',
        baseUrl: gh.baseUrl,
        tokenEnv: TOKEN_ENV,
        labels: ['lockstep'],
        minIntervalMs: 1000,
        repos: Object.fromEntries(REPOS.map((r) => [r, `acme/${r}`])),
      },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: REPOS.map((name) => ({ name, url: `remotes/${name}.git`, sandbox: { test: 'grep -q cents README.md' } })),
    }),
  );
}

const input = (id: string): Promise<ChangeInput> =>
  smallReposChange({ root, id, repos: REPOS, configFile, concurrency: 5 });

/** Content-creating requests (every method but GET) in arrival order, from `from` on. */
const writesSince = (from: number) => gh.requests.slice(from).filter((r) => r.method !== 'GET');

beforeAll(async () => {
  h = await startHarness('forge-github', { worker: false });
  root = await mkdtemp(join(tmpdir(), 'lockstep-forge-'));
  gh = await startFakeGitHub({
    headCommit: (slug, branch) => remoteBranchCommit(join(root, 'remotes', `${slug.split('/')[1] ?? ''}.git`), branch),
  });
  await seedFleet();
  // Only the worker reads the token, from its own environment.
  process.env[TOKEN_ENV] = gh.token;
  forgeWorker = await startForgeWorker(h, configFile);
  worker = forgeWorker.worker;
});

afterAll(async () => {
  await forgeWorker?.stop();
  await h?.close();
  await gh?.close();
  delete process.env[TOKEN_ENV];
  if (root) await rm(root, { recursive: true, force: true });
});

describe('linked pull requests on GitHub', () => {
  let first: ChangeResult;
  let changeInputDoc: ChangeInput;

  it('opens exactly ten linked drafts through faults, paced, on the forge queue', async () => {
    changeInputDoc = await input('gh-ten');
    expect(worker.forgeQueues).toEqual([forgeQueue(changeInputDoc.forge)]);
    gh.inject({ kind: 'secondary-rate-limit', operationId: 'pulls/create', repo: 'acme/svc-2', retryAfter: 1 });
    gh.inject({ kind: 'crash-after-create', operationId: 'pulls/create', repo: 'acme/svc-8' });
    gh.inject({ kind: 'already-exists', operationId: 'pulls/create', repo: 'acme/svc-5' });
    gh.inject({ kind: '5xx', operationId: 'pulls/update', repo: 'acme/svc-4' });
    gh.inject({ kind: 'drop', operationId: 'pulls/list', repo: 'acme/svc-6' });
    gh.inject({ kind: 'drop', operationId: 'issues/add-labels', repo: 'acme/svc-1' });
    const mark = gh.requests.length;
    first = await h.run(changeInputDoc);
    expect(first.status, `${first.summary} ${JSON.stringify(first.gate?.findings)}`).toBe('succeeded');
    expect(gh.pendingFaults()).toEqual([]);
    expect(gh.violations).toEqual([]);

    // Exactly one PR per repo, drafts with the configured label, at the branch's pushed commit.
    for (const repo of first.repos) {
      const pulls = gh.pulls(`acme/${repo.repo}`);
      expect(pulls, repo.repo).toHaveLength(1);
      expect(pulls[0]).toMatchObject({
        draft: true,
        state: 'open',
        labels: ['lockstep'],
        head: { ref: 'lockstep/gh-ten', sha: repo.commit },
      });
      expect(repo.pullRequest).toEqual({ number: 1, url: `http://github.test/acme/${repo.repo}/pull/1` });
    }
    // Each body links the other nine, in merge order, with a manifest Lockstep reads back.
    for (const repo of REPOS) {
      const body = gh.pulls(`acme/${repo}`)[0]?.body ?? '';
      for (const other of REPOS.filter((r) => r !== repo))
        expect(body).toContain(`(http://github.test/acme/${other}/pull/1)`);
      const manifest = parseManifest(body);
      expect(manifest?.changeId).toBe('gh-ten');
      expect(manifest?.order).toEqual(first.mergeOrder);
      expect(manifest?.repos.map((r) => r.repo)).toEqual(first.mergeOrder);
      expect(body).not.toContain(gh.token);
    }

    // The token is in no history: not the change's, not a repo's (their payloads, raw).
    for (const id of ['change/gh-ten', 'change/gh-ten/repo/svc-8']) {
      const history = await h.env.client.workflow.getHandle(id).fetchHistory();
      const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish());
      expect(bytes.includes(gh.token), id).toBe(false);
      // The search can find what is there: the variable's name travels, its value does not.
      if (id === 'change/gh-ten') expect(bytes.includes(TOKEN_ENV)).toBe(true);
    }

    // Pacing: at least one second between any two content-creating requests.
    const writes = writesSince(mark);
    expect(writes.filter((w) => w.operationId === 'pulls/create' && w.status === 201)).toHaveLength(8);
    const gaps = writes.slice(1).map((w, i) => w.at - (writes[i]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
  }, 400_000);

  it('a rerun of the same change updates the ten PRs and opens none', async () => {
    const mark = gh.requests.length;
    const before = REPOS.map((r) => gh.pulls(`acme/${r}`)[0]?.updated_at);
    // As `lockstep resume` does: the green repos are reused, publishing runs again.
    const again = await h.run({ ...changeInputDoc, previous: Object.fromEntries(first.repos.map((r) => [r.repo, r])) });
    expect(again.status, `${again.summary} ${JSON.stringify(again.gate?.findings)}`).toBe('succeeded');
    const ops = gh.requests.slice(mark).map((r) => r.operationId);
    expect(ops.filter((o) => o === 'pulls/create')).toEqual([]);
    expect(ops.filter((o) => o === 'pulls/update')).toHaveLength(10);
    for (const [i, repo] of REPOS.entries()) {
      expect(gh.pulls(`acme/${repo}`)).toHaveLength(1);
      expect(gh.pulls(`acme/${repo}`)[0]?.updated_at).not.toBe(before[i]);
    }
    expect(again.repos.map((r) => r.pullRequest?.number)).toEqual(REPOS.map(() => 1));
    expect(gh.violations).toEqual([]);
  }, 300_000);

  it('prs shows the set, publish turns the drafts ready, close leaves nothing open and no branch', async () => {
    // The CLI never holds the token: every forge request goes through the worker.
    const noToken = { [TOKEN_ENV]: '' };
    const prs = await h.cli(['prs', 'gh-ten', '--json', '--no-worker'], noToken);
    expect(prs.code, prs.stderr).toBe(0);
    type Report = {
      mergeOrder: string[];
      pullRequests: { repo: string; number: number; state: string; checks: string; next: boolean }[];
      deletedBranches: string[];
    };
    const shown = JSON.parse(prs.stdout) as Report;
    expect(shown.pullRequests.map((p) => p.repo)).toEqual(first.mergeOrder);
    expect(shown.pullRequests.every((p) => p.state === 'draft' && p.number === 1 && p.checks === 'none')).toBe(true);
    expect(shown.pullRequests.filter((p) => p.next).map((p) => p.repo)).toEqual([first.mergeOrder[0]]);

    const published = await h.cli(['publish', 'gh-ten', '--json', '--no-worker'], noToken);
    expect(published.code, published.stderr).toBe(0);
    expect((JSON.parse(published.stdout) as Report).pullRequests.map((p) => p.state)).toEqual(REPOS.map(() => 'open'));
    expect(REPOS.map((r) => gh.pulls(`acme/${r}`)[0]?.draft)).toEqual(REPOS.map(() => false));

    const unconfirmed = await h.cli(['close', 'gh-ten', '--no-worker'], noToken);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/add --yes/);
    expect(REPOS.map((r) => gh.pulls(`acme/${r}`)[0]?.state)).toEqual(REPOS.map(() => 'open'));

    const closed = await h.cli(['close', 'gh-ten', '--yes', '--json', '--no-worker'], noToken);
    expect(closed.code, closed.stderr).toBe(0);
    const report = JSON.parse(closed.stdout) as Report;
    expect(report.pullRequests.map((p) => p.state)).toEqual(REPOS.map(() => 'closed'));
    expect([...report.deletedBranches].sort()).toEqual([...REPOS].sort());
    for (const repo of REPOS) {
      expect(gh.pulls(`acme/${repo}`).filter((p) => p.state === 'open')).toEqual([]);
      expect(await remoteBranchCommit(join(root, 'remotes', `${repo}.git`), 'lockstep/gh-ten')).toBeNull();
    }
    expect(gh.violations).toEqual([]);
    // Pacing held for every content-creating request of the whole file (GraphQL included).
    const writes = writesSince(0);
    const gaps = writes.slice(1).map((w, i) => w.at - (writes[i]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
  }, 300_000);
});
