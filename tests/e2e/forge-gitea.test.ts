/**
 * The Gitea forge against a real Gitea server (tests/helpers/gitea.ts): a change run whose
 * remotes are Gitea's own repositories over HTTP opens one linked PR per repo with the label and
 * the reviewer, a rerun opens none, and `prs`/`publish`/`close` work through the worker; then the
 * landing methods, called directly, read required checks and approvals from branch protection,
 * are refused with Gitea's own reasons (protection, the head-sha guard, conflicts), merge with
 * each method exactly once, and bring a PR whose base moved up to date.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../activities/forges/body.ts';
import { GiteaForge } from '../../activities/forges/gitea/index.ts';
import { GiteaForgeConfig } from '../../config/repos.ts';
import { forgeQueue } from '../../core/forge-queue.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { LandingState } from '../../core/landing.ts';
import type { LockstepWorker } from '../../workers/worker.ts';
import { startForgeWorker, type ForgeWorker } from '../helpers/forge-worker.ts';
import { smallReposChange } from '../helpers/durable.ts';
import { startGitea, until, type GiteaServer } from '../helpers/gitea.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const REPOS = ['svc-0', 'svc-1', 'svc-2'];
const TOKEN_ENV = 'LOCKSTEP_E2E_GITEA_TOKEN';

let h: Harness;
let gitea: GiteaServer;
let root: string;
let configFile: string;
let forgeWorker: ForgeWorker;
let worker: LockstepWorker;

interface GiteaPull {
  number: number;
  title: string;
  body: string;
  state: string;
  draft: boolean;
  merged: boolean;
  html_url: string;
  head: { ref: string; sha: string };
  labels: { name: string }[];
  requested_reviewers: { login: string }[] | null;
}

const pulls = (repo: string) => gitea.api<GiteaPull[]>('GET', `/repos/acme/${repo}/pulls?state=all&limit=50`);

const input = (id: string): Promise<ChangeInput> =>
  smallReposChange({ root, id, repos: REPOS, configFile, concurrency: 3 });

beforeAll(async () => {
  [gitea, h] = await Promise.all([startGitea(), startHarness('forge-gitea', { worker: false })]);
  root = await mkdtemp(join(tmpdir(), 'lockstep-forge-gitea-'));
  for (const name of REPOS) await gitea.createRepo(name, { 'README.md': `# ${name}\n` });
  configFile = join(root, 'repos.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      concurrency: 3,
      forge: {
        type: 'gitea',
        baseUrl: gitea.baseUrl,
        tokenEnv: TOKEN_ENV,
        labels: ['lockstep'],
        reviewers: [gitea.reviewer.login],
        minIntervalMs: 100,
      },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: REPOS.map((name) => ({ name, url: gitea.cloneUrl(name), sandbox: { test: 'grep -q cents README.md' } })),
    }),
  );
  // Only the worker reads the token, from its own environment (API and git over HTTP alike).
  process.env[TOKEN_ENV] = gitea.admin.token;
  forgeWorker = await startForgeWorker(h, configFile);
  worker = forgeWorker.worker;
}, 180_000);

afterAll(async () => {
  await forgeWorker?.stop();
  await h?.close();
  await gitea?.stop();
  delete process.env[TOKEN_ENV];
  if (root) await rm(root, { recursive: true, force: true });
});

describe('linked pull requests on a real Gitea', () => {
  let first: ChangeResult;
  let changeDoc: ChangeInput;

  it('opens one linked draft per repo, labelled, with the reviewer asked', async () => {
    changeDoc = await input('gitea-cents');
    expect(worker.forgeQueues).toEqual([forgeQueue(changeDoc.forge)]);
    first = await h.run(changeDoc);
    expect(first.status, `${first.summary} ${JSON.stringify(first.repos)}`).toBe('succeeded');
    for (const repo of first.repos) {
      const all = await pulls(repo.repo);
      expect(all, repo.repo).toHaveLength(1);
      const pr = all[0];
      expect(pr).toMatchObject({
        number: 1,
        state: 'open',
        draft: true,
        title: 'WIP: Prices in cents',
        head: { ref: 'lockstep/gitea-cents', sha: repo.commit },
      });
      expect(pr?.labels.map((l) => l.name)).toEqual(['lockstep']);
      expect(pr?.requested_reviewers?.map((u) => u.login)).toEqual([gitea.reviewer.login]);
      expect(repo.pullRequest).toEqual({ number: 1, url: `${gitea.baseUrl}acme/${repo.repo}/pulls/1` });
      // Each body links the others, in merge order, with a manifest Lockstep reads back.
      for (const other of REPOS.filter((r) => r !== repo.repo))
        expect(pr?.body).toContain(`(${gitea.baseUrl}acme/${other}/pulls/1)`);
      const manifest = parseManifest(pr?.body ?? '');
      expect(manifest?.changeId).toBe('gitea-cents');
      expect(manifest?.order).toEqual(first.mergeOrder);
      expect(pr?.body).not.toContain(gitea.admin.token);
    }
  }, 300_000);

  it('a rerun updates the PRs and opens none', async () => {
    const again = await h.run({ ...changeDoc, previous: Object.fromEntries(first.repos.map((r) => [r.repo, r])) });
    expect(again.status, again.summary).toBe('succeeded');
    for (const repo of REPOS) {
      const all = await pulls(repo);
      expect(all.map((p) => p.number)).toEqual([1]);
      expect(all[0]?.title).toBe('WIP: Prices in cents');
    }
    expect(again.repos.map((r) => r.pullRequest?.number)).toEqual(REPOS.map(() => 1));
  }, 300_000);

  it('prs shows the drafts, publish drops the WIP prefix, close leaves nothing open and no branch', async () => {
    const noToken = { [TOKEN_ENV]: '' };
    type Report = {
      pullRequests: { repo: string; number: number; state: string; checks: string }[];
      deletedBranches: string[];
    };
    const prs = await h.cli(['prs', 'gitea-cents', '--json', '--no-worker'], noToken);
    expect(prs.code, prs.stderr).toBe(0);
    const shown = JSON.parse(prs.stdout) as Report;
    expect(shown.pullRequests.map((p) => p.repo)).toEqual(first.mergeOrder);
    expect(shown.pullRequests.every((p) => p.state === 'draft' && p.checks === 'none')).toBe(true);

    const published = await h.cli(['publish', 'gitea-cents', '--json', '--no-worker'], noToken);
    expect(published.code, published.stderr).toBe(0);
    expect((JSON.parse(published.stdout) as Report).pullRequests.map((p) => p.state)).toEqual(REPOS.map(() => 'open'));
    for (const repo of REPOS) expect((await pulls(repo))[0]).toMatchObject({ draft: false, title: 'Prices in cents' });

    const closed = await h.cli(['close', 'gitea-cents', '--yes', '--json', '--no-worker'], noToken);
    expect(closed.code, closed.stderr).toBe(0);
    const report = JSON.parse(closed.stdout) as Report;
    expect(report.pullRequests.map((p) => p.state)).toEqual(REPOS.map(() => 'closed'));
    expect([...report.deletedBranches].sort()).toEqual([...REPOS].sort());
    for (const repo of REPOS) {
      expect((await pulls(repo)).map((p) => p.state)).toEqual(['closed']);
      await expect(gitea.branchSha(repo, 'lockstep/gitea-cents')).rejects.toThrow(/404/);
    }
  }, 300_000);
});

describe('landing on a real Gitea', () => {
  let forge: GiteaForge;
  const slugs: Record<string, string> = {};

  /** A repo with a PR from `feature` (one commit changing `file`), and the PR's head. */
  async function repoWithPull(name: string, file = 'feature.txt'): Promise<{ sha: string; number: number }> {
    await gitea.createRepo(name, { 'README.md': `# ${name}\n`, 'shared.txt': 'base\n' });
    slugs[name] = `acme/${name}`;
    const sha = await gitea.pushCommit(name, 'feature', { [file]: `${name} feature\n` }, 'main');
    const pr = await gitea.api<{ number: number }>('POST', `/repos/acme/${name}/pulls`, {
      head: 'feature',
      base: 'main',
      title: `Feature of ${name}`,
    });
    return { sha, number: pr.number };
  }

  const state = (repo: string, number: number) => forge.landingState(repo, number);
  const settled = (repo: string, number: number, sha: string): Promise<LandingState> =>
    until(
      () => state(repo, number),
      (s) => s.pullRequest.commit === sha && s.mergeable !== false,
      `${repo}#${number} at ${sha}, mergeable`,
    );

  beforeAll(() => {
    forge = new GiteaForge({
      config: GiteaForgeConfig.parse({ type: 'gitea', baseUrl: gitea.baseUrl, minIntervalMs: 0, draft: false }),
      token: gitea.admin.token,
      slugOf: (repo) => slugs[repo] ?? `acme/${repo}`,
      retryBaseMs: 50,
    });
  });

  it('a required check is seen missing, pending, failing and passing; merging twice merges once', async () => {
    const { sha, number } = await repoWithPull('checks');
    await gitea.protect('checks', 'main', { checks: ['ci/*'] });
    let s = await settled('checks', number, sha);
    expect(s.checks).toEqual([{ name: 'ci/*', state: 'missing', required: true }]);
    expect(s).toMatchObject({
      behind: false,
      mergeable: true,
      mergedSha: null,
      headAuthor: 'Gitea Test <test@lockstep.invalid>',
    });

    await gitea.status('checks', sha, 'ci/test', 'pending');
    await gitea.status('checks', sha, 'lint', 'success');
    s = await state('checks', number);
    expect(
      s.checks
        .map(({ name, state, required }) => ({ name, state, required }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([
      { name: 'ci/test', state: 'pending', required: true },
      { name: 'lint', state: 'success', required: false },
    ]);

    await gitea.status('checks', sha, 'ci/test', 'failure');
    expect((await state('checks', number)).checks.find((c) => c.name === 'ci/test')?.state).toBe('failure');
    const refused = await forge.mergePullRequest({ repo: 'checks', number, sha, method: 'merge' });
    expect(refused).toEqual({ merged: false, kind: 'protected', reason: 'Not all required status checks successful' });

    await gitea.status('checks', sha, 'ci/test', 'success');
    expect((await state('checks', number)).checks.find((c) => c.name === 'ci/test')?.state).toBe('success');
    const merged = await forge.mergePullRequest({ repo: 'checks', number, sha, method: 'merge' });
    const main = await gitea.branchSha('checks', 'main');
    expect(merged).toEqual({ merged: true, mergedSha: main, alreadyMerged: false });
    // A retry after a lost answer finds the merge: no second merge, no error.
    expect(await forge.mergePullRequest({ repo: 'checks', number, sha, method: 'merge' })).toEqual({
      merged: true,
      mergedSha: main,
      alreadyMerged: true,
    });
    expect(await gitea.branchSha('checks', 'main')).toBe(main);
    s = await state('checks', number);
    expect(s).toMatchObject({ mergedSha: main, mergeable: null, behind: false });
    expect(s.pullRequest.state).toBe('merged');
  }, 120_000);

  it('protection requiring an approval refuses with Gitea reason; a requested change is seen; squash merges', async () => {
    const { sha, number } = await repoWithPull('review');
    await gitea.protect('review', 'main', { approvals: 1, blockOnRejectedReviews: true });
    let s = await settled('review', number, sha);
    expect(s.reviews).toEqual({ approved: 0, required: 1, changesRequested: [] });
    expect(await forge.mergePullRequest({ repo: 'review', number, sha, method: 'squash' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: 'Does not have enough approvals',
    });

    await gitea.review('review', number, 'REQUEST_CHANGES');
    s = await state('review', number);
    expect(s.reviews).toEqual({ approved: 0, required: 1, changesRequested: [gitea.reviewer.login] });

    await gitea.review('review', number, 'APPROVED');
    s = await state('review', number);
    expect(s.reviews).toEqual({ approved: 1, required: 1, changesRequested: [] });
    const merged = await forge.mergePullRequest({ repo: 'review', number, sha, method: 'squash' });
    expect(merged).toMatchObject({ merged: true, alreadyMerged: false });
    const main = await gitea.branchSha('review', 'main');
    expect(merged).toMatchObject({ mergedSha: main });
    // Squashed: one new commit on main whose only parent is the old main.
    const commit = await gitea.api<{ parents: unknown[] }>('GET', `/repos/acme/review/git/commits/${main}`);
    expect(commit.parents).toHaveLength(1);
    expect(main).not.toBe(sha);
  }, 120_000);

  it('a head that moved is refused by the sha guard; rebase merges the new head', async () => {
    const { sha, number } = await repoWithPull('guard');
    await settled('guard', number, sha);
    const moved = await gitea.pushCommit('guard', 'feature', { 'more.txt': 'someone else\n' });
    await settled('guard', number, moved);
    expect(await forge.mergePullRequest({ repo: 'guard', number, sha, method: 'rebase' })).toEqual({
      merged: false,
      kind: 'head-moved',
      reason: 'head out of date',
    });
    expect((await state('guard', number)).pullRequest.state).toBe('open');
    const merged = await forge.mergePullRequest({ repo: 'guard', number, sha: moved, method: 'rebase' });
    // Rebased onto a main that had not moved: main is now the head itself.
    expect(merged).toEqual({ merged: true, mergedSha: await gitea.branchSha('guard', 'main'), alreadyMerged: false });
    expect(await gitea.branchSha('guard', 'main')).toBe(moved);
  }, 120_000);

  it('a base moved by another merge is behind; update brings it up to date and it merges', async () => {
    const { sha: first, number: one } = await repoWithPull('stale', 'one.txt');
    const second = await gitea.pushCommit('stale', 'two', { 'two.txt': 'two\n' }, 'main');
    const two = (
      await gitea.api<{ number: number }>('POST', '/repos/acme/stale/pulls', {
        head: 'two',
        base: 'main',
        title: 'Two',
      })
    ).number;
    await settled('stale', one, first);
    expect((await settled('stale', two, second)).behind).toBe(false);
    expect(await forge.mergePullRequest({ repo: 'stale', number: one, sha: first, method: 'merge' })).toMatchObject({
      merged: true,
    });

    expect((await state('stale', two)).behind).toBe(true);
    const updated = await forge.updatePullRequestBranch('stale', two, second);
    expect(updated).toMatchObject({ updated: true });
    const head = updated.updated ? updated.headSha : '';
    expect(head).not.toBe(second);
    const s = await settled('stale', two, head);
    expect(s.behind).toBe(false);
    // A head already up to date is left as it is.
    expect(await forge.updatePullRequestBranch('stale', two, head)).toEqual({ updated: true, headSha: head });
    // The guard of the update: a sha that is not the head is refused, nothing is pushed.
    expect(await forge.updatePullRequestBranch('stale', two, second)).toEqual({
      updated: false,
      conflicts: [],
      reason: `the head moved: it is ${head}, not ${second}`,
    });
    expect(await forge.mergePullRequest({ repo: 'stale', number: two, sha: head, method: 'merge' })).toMatchObject({
      merged: true,
    });
  }, 120_000);

  it('a conflicting base: the update is refused naming the conflict, the merge as a conflict', async () => {
    const { sha, number } = await repoWithPull('conflict', 'shared.txt');
    await settled('conflict', number, sha);
    await gitea.pushCommit('conflict', 'main', { 'shared.txt': 'main changed it too\n' });
    const s = await until(
      () => state('conflict', number),
      (x) => x.behind && x.mergeable === false,
      'the PR seen behind and in conflict',
    );
    expect(s.conflicts).toEqual([]);
    const update = await forge.updatePullRequestBranch('conflict', number, sha);
    expect(update).toEqual({
      updated: false,
      conflicts: [],
      reason: 'merge failed because of conflict (changed on both sides since the merge base: shared.txt)',
    });
    expect(await gitea.branchSha('conflict', 'feature')).toBe(sha);
    const merge = await forge.mergePullRequest({ repo: 'conflict', number, sha, method: 'merge' });
    expect(merge).toMatchObject({ merged: false, kind: 'conflict' });
  }, 120_000);
});
