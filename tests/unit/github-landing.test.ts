/**
 * Landing on GitHub: the real Octokit client of the GitHub forge against the strict fake GitHub
 * (real HTTP on loopback), whose merges move the base branch of its history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubForge } from '../../activities/forges/github/index.ts';
import { GitHubForgeConfig } from '../../config/repos.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';

let gh: FakeGitHub;
beforeAll(async () => {
  gh = await startFakeGitHub();
});
afterAll(async () => gh.close());

const forge = () =>
  new GitHubForge({
    config: GitHubForgeConfig.parse({ type: 'github', baseUrl: gh.baseUrl, minIntervalMs: 0, draft: false }),
    token: gh.token,
    slugOf: (repo) => `acme/${repo}`,
    retryBaseMs: 20,
  });

/** A repo of its own with a PR of `lockstep/land` changing `files` (one commit each); returns its number and head. */
async function openPull(repo: string, ...commits: string[][]): Promise<{ number: number; sha: string }> {
  gh.addRepo(`acme/${repo}`);
  let sha = '';
  for (const files of commits.length > 0 ? commits : [[`${repo}.txt`]])
    sha = gh.push(`acme/${repo}`, 'lockstep/land', files, { author: gh.login });
  const { pullRequest } = await forge().findOrCreatePullRequest({
    repo,
    url: 'unused',
    head: 'lockstep/land',
    base: 'main',
    title: 'Land it',
    body: 'body',
    commit: sha,
  });
  expect(pullRequest.commit).toBe(sha);
  return { number: pullRequest.number, sha };
}

/** A commit status as a CI service posts it, through the fake's validated endpoint. */
async function postStatus(repo: string, sha: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${gh.baseUrl}/repos/acme/${repo}/statuses/${sha}`, {
    method: 'POST',
    headers: { authorization: `token ${gh.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.status;
}

const merges = (repo: string) =>
  gh.requests.filter((r) => r.operationId === 'pulls/merge' && r.path.includes(`/acme/${repo}/`));

describe('GitHub landing', () => {
  it('reports a required check missing, pending, failing, then passing, and merges only once it passes', async () => {
    const { number, sha } = await openPull('checks');
    gh.protect('acme/checks', 'main', { contexts: ['ci'] });
    const f = forge();

    const first = await f.landingState('checks', number);
    // The first read after the push: GitHub is still computing mergeability.
    expect(first.mergeable).toBeNull();
    expect(first.checks).toEqual([{ name: 'ci', state: 'missing', required: true }]);
    expect(first).toMatchObject({ behind: false, mergedSha: null, headAuthor: gh.login, conflicts: [] });
    expect(first.reviews).toEqual({ approved: 0, required: 0, changesRequested: [] });

    gh.checkRun('acme/checks', sha, 'ci', 'in_progress');
    expect(await postStatus('checks', sha, { state: 'success', context: 'lint', target_url: 'http://ci.test/1' })).toBe(
      201,
    );
    const pending = await f.landingState('checks', number);
    expect(pending.mergeable).toBe(true);
    expect(pending.checks).toEqual([
      { name: 'ci', state: 'pending', required: true, url: expect.stringContaining('/acme/checks/runs/') as unknown },
      { name: 'lint', state: 'success', required: false, url: 'http://ci.test/1' },
    ]);

    gh.checkRun('acme/checks', sha, 'ci', 'completed', 'failure');
    expect((await f.landingState('checks', number)).checks[0]).toMatchObject({ name: 'ci', state: 'failure' });
    expect(await f.mergePullRequest({ repo: 'checks', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: 'Required status check "ci" is failing.',
    });

    gh.checkRun('acme/checks', sha, 'ci', 'completed', 'success');
    expect((await f.landingState('checks', number)).checks[0]).toMatchObject({ name: 'ci', state: 'success' });
    const base = gh.branchHead('acme/checks', 'main');
    const merged = await f.mergePullRequest({ repo: 'checks', number, sha, method: 'merge' });
    expect(merged).toMatchObject({ merged: true, alreadyMerged: false });
    expect(gh.branchHead('acme/checks', 'main')).toBe(merged.merged ? merged.mergedSha : '');
    expect(gh.history('acme/checks').get(gh.branchHead('acme/checks', 'main') ?? '')?.parents).toEqual([base, sha]);
    const after = await f.landingState('checks', number);
    expect(after.pullRequest.state).toBe('merged');
    expect(after.mergedSha).toBe(gh.branchHead('acme/checks', 'main'));
    expect(gh.violations).toEqual([]);
  });

  it('refuses a merge that protection holds for a review, with GitHub’s words, and merges once approved', async () => {
    const { number, sha } = await openPull('reviews');
    gh.protect('acme/reviews', 'main', { approvals: 1 });
    const f = forge();
    gh.review('acme/reviews', number, 'carol', 'CHANGES_REQUESTED');
    expect((await f.landingState('reviews', number)).reviews).toEqual({
      approved: 0,
      required: 1,
      changesRequested: ['carol'],
    });
    expect(await f.mergePullRequest({ repo: 'reviews', number, sha, method: 'squash' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: 'At least 1 approving review is required by reviewers with write access.',
    });
    // The latest review of each reviewer counts; a later comment does not undo an approval.
    gh.review('acme/reviews', number, 'carol', 'APPROVED');
    gh.review('acme/reviews', number, 'carol', 'COMMENTED');
    expect((await f.landingState('reviews', number)).reviews).toEqual({
      approved: 1,
      required: 1,
      changesRequested: [],
    });
    expect(await f.mergePullRequest({ repo: 'reviews', number, sha, method: 'squash' })).toMatchObject({
      merged: true,
      alreadyMerged: false,
    });
    expect(merges('reviews').map((r) => r.status)).toEqual([405, 200]);
    expect(gh.violations).toEqual([]);
  });

  it('refuses to merge a head that moved since it was checked, and says who moved it', async () => {
    const { number, sha } = await openPull('moved');
    const theirs = gh.push('acme/moved', 'lockstep/land', ['sneaky.txt'], { author: 'mallory' });
    const f = forge();
    expect(await f.mergePullRequest({ repo: 'moved', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'head-moved',
      reason: 'Head branch was modified. Review and try the merge again.',
    });
    const state = await f.landingState('moved', number);
    expect(state.pullRequest.commit).toBe(theirs);
    expect(state.headAuthor).toBe('mallory');
    expect(gh.pulls('acme/moved')[0]?.merged).toBe(false);
    expect(gh.violations).toEqual([]);
  });

  it('merges with each method as asked, and refuses one the repository does not allow', async () => {
    const graph = (repo: string) => gh.history(`acme/${repo}`);
    const f = forge();

    const merge = await openPull('m-merge', ['a.txt'], ['b.txt']);
    const mergeBase = gh.branchHead('acme/m-merge', 'main');
    const m = await f.mergePullRequest({ repo: 'm-merge', ...merge, method: 'merge' });
    expect(graph('m-merge').get(m.merged ? m.mergedSha : '')?.parents).toEqual([mergeBase, merge.sha]);

    const squash = await openPull('m-squash', ['a.txt'], ['b.txt']);
    const squashBase = gh.branchHead('acme/m-squash', 'main');
    const s = await f.mergePullRequest({ repo: 'm-squash', ...squash, method: 'squash' });
    expect(graph('m-squash').get(s.merged ? s.mergedSha : '')).toMatchObject({
      parents: [squashBase],
      files: ['a.txt', 'b.txt'],
      message: 'Land it (#1)',
    });

    const rebase = await openPull('m-rebase', ['a.txt'], ['b.txt']);
    const rebaseBase = gh.branchHead('acme/m-rebase', 'main') ?? '';
    const r = await f.mergePullRequest({ repo: 'm-rebase', ...rebase, method: 'rebase' });
    const top = graph('m-rebase').get(r.merged ? r.mergedSha : '');
    // Each commit replayed: new shas, one parent each, on the old base.
    expect(top).toMatchObject({ files: ['b.txt'] });
    expect(graph('m-rebase').get(top?.parents[0] ?? '')).toMatchObject({ files: ['a.txt'], parents: [rebaseBase] });
    expect(top?.sha).not.toBe(rebase.sha);

    const only = await openPull('m-only');
    gh.allowMergeMethods('acme/m-only', ['squash']);
    expect(await f.mergePullRequest({ repo: 'm-only', ...only, method: 'merge' })).toEqual({
      merged: false,
      kind: 'refused',
      reason: 'Merge commits are not allowed on this repository.',
    });
    expect(gh.violations).toEqual([]);
  });

  it('finds a merge whose answer was lost merged, and never merges twice', async () => {
    const { number, sha } = await openPull('lost');
    gh.inject({ kind: 'crash-after-create', operationId: 'pulls/merge', repo: 'acme/lost' });
    const base = gh.branchHead('acme/lost', 'main');
    const f = forge();
    const first = await f.mergePullRequest({ repo: 'lost', number, sha, method: 'merge' });
    expect(first).toMatchObject({ merged: true, alreadyMerged: true });
    // The activity retried by Temporal (the worker died before recording it): found, not repeated.
    const retried = await f.mergePullRequest({ repo: 'lost', number, sha, method: 'merge' });
    expect(retried).toEqual(first);
    expect(merges('lost')).toHaveLength(1);
    expect(gh.history('acme/lost').get(gh.branchHead('acme/lost', 'main') ?? '')?.parents).toEqual([base, sha]);
    expect(gh.pendingFaults()).toEqual([]);
    expect(gh.violations).toEqual([]);
  });

  it('brings a PR whose base moved up to date, then merges it under strict protection', async () => {
    const { number, sha } = await openPull('behind');
    gh.protect('acme/behind', 'main', { strict: true });
    gh.push('acme/behind', 'main', ['elsewhere.txt']);
    const f = forge();
    await f.landingState('behind', number);
    const stale = await f.landingState('behind', number);
    expect(stale).toMatchObject({ behind: true, mergeable: true });
    expect(await f.mergePullRequest({ repo: 'behind', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: 'Base branch was modified. Review and try the merge again.',
    });
    // The forge's own guard: an update from a head it no longer has is refused.
    expect(await f.updatePullRequestBranch('behind', number, 'a'.repeat(40))).toEqual({
      updated: false,
      conflicts: [],
      reason: 'expected head sha didn’t match current head ref.',
    });
    // The update's answer is lost: the PR, read back, shows it done (one update, never re-sent).
    gh.inject({ kind: 'crash-after-create', operationId: 'pulls/update-branch', repo: 'acme/behind' });
    const updated = await f.updatePullRequestBranch('behind', number, sha);
    expect(updated).toMatchObject({ updated: true });
    const headSha = updated.updated ? updated.headSha : '';
    expect(gh.history('acme/behind').get(headSha)?.parents).toEqual([sha, gh.branchHead('acme/behind', 'main')]);
    // Asked again (a retry after a lost answer): already up to date from that head.
    expect(await f.updatePullRequestBranch('behind', number, sha)).toEqual(updated);
    expect(
      gh.requests
        .filter((r) => r.operationId === 'pulls/update-branch' && r.path.includes('/acme/behind/'))
        .map((r) => r.status),
    ).toEqual([422, null, 422]);
    const fresh = await f.landingState('behind', number);
    expect(fresh).toMatchObject({ behind: false, pullRequest: { commit: headSha } });
    expect(await f.mergePullRequest({ repo: 'behind', number, sha: headSha, method: 'merge' })).toMatchObject({
      merged: true,
    });
    expect(gh.violations).toEqual([]);
  });

  it('reports a conflicting base: not mergeable, the update refused with GitHub’s reason and the files both sides changed, the merge refused', async () => {
    const { number, sha } = await openPull('conflict', ['shared.txt', 'ours.txt']);
    gh.push('acme/conflict', 'main', ['theirs.txt', 'shared.txt']);
    const f = forge();
    expect((await f.landingState('conflict', number)).mergeable).toBeNull();
    expect(await f.landingState('conflict', number)).toMatchObject({ mergeable: false, behind: true });
    expect(await f.updatePullRequestBranch('conflict', number, sha)).toEqual({
      updated: false,
      // GitHub names no file; the forge names those both sides changed (two comparisons) as where to look.
      conflicts: [],
      reason: 'merge conflict between base and head (changed on both sides since the merge base: shared.txt)',
    });
    expect(await f.mergePullRequest({ repo: 'conflict', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'conflict',
      reason: 'Pull Request is not mergeable',
    });
    expect(gh.violations).toEqual([]);
  });

  it('is strict: refuses landing requests GitHub would refuse', async () => {
    const { number, sha } = await openPull('strict');
    const send = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${gh.baseUrl}/repos/acme/strict${path}`, {
        method,
        headers: { authorization: `token ${gh.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { message: string; errors?: unknown[] } };
    };
    expect((await send('PUT', `/pulls/${number}/merge`, { sha, merge_method: 'fast-forward' })).status).toBe(422);
    expect((await send('PUT', `/pulls/${number}/update-branch`, { expected_head_sha: sha, force: true })).status).toBe(
      422,
    );
    expect(await postStatus('strict', sha, { state: 'green', context: 'ci' })).toBe(422);
    const own = await send('POST', `/pulls/${number}/reviews`, { event: 'APPROVE' });
    expect(own).toMatchObject({ status: 422, json: { errors: ['Can not approve your own pull request'] } });
    expect(gh.violations).toHaveLength(4);
    expect(gh.pulls('acme/strict')[0]).toMatchObject({ merged: false, reviews: [] });
    gh.violations.length = 0;
  });
});
