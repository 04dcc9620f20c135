/**
 * Landing on GitLab: the real gitbeaker client of the GitLab forge against the strict fake GitLab
 * (real HTTP on loopback), whose merges and rebases move the branches of its history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitLabForge } from '../../activities/forges/gitlab/index.ts';
import { GitLabForgeConfig } from '../../config/repos.ts';
import { startFakeGitLab, type FakeGitLab, type ProjectSettings } from '../fakes/gitlab-server.ts';

let gl: FakeGitLab;
beforeAll(async () => {
  gl = await startFakeGitLab();
  gl.addUser('alice');
});
afterAll(async () => gl.close());

const forge = () =>
  new GitLabForge({
    config: GitLabForgeConfig.parse({ type: 'gitlab', baseUrl: gl.host, minIntervalMs: 0, draft: false }),
    token: gl.token,
    slugOf: (repo) => `acme/${repo}`,
    retryBaseMs: 20,
  });

/** A project of its own with an MR of `lockstep/land` changing `files` (one commit each); returns its iid and head. */
async function openMergeRequest(
  repo: string,
  settings: Partial<ProjectSettings> = {},
  ...commits: string[][]
): Promise<{ number: number; sha: string }> {
  gl.addProject(`acme/${repo}`);
  gl.settings(`acme/${repo}`, settings);
  let sha = '';
  for (const files of commits.length > 0 ? commits : [[`${repo}.txt`]])
    sha = gl.push(`acme/${repo}`, 'lockstep/land', files, { author: 'lockstep-bot' });
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

const head = (repo: string) => gl.history(`acme/${repo}`).get(gl.branchHead(`acme/${repo}`, 'main') ?? '');
const mergeCalls = (repo: string) =>
  gl.requests.filter((r) => r.operationId === 'mr/merge' && r.path.includes(`acme%2F${repo}/`));

describe('GitLab landing', () => {
  it('reports the required pipeline missing, running, failed, then passed, and merges only once it passes', async () => {
    const { number, sha } = await openMergeRequest('pipeline', { only_allow_merge_if_pipeline_succeeds: true });
    const f = forge();
    const first = await f.landingState('pipeline', number);
    // The first read after the push: GitLab is still checking.
    expect(first.mergeable).toBeNull();
    expect(first.checks).toEqual([{ name: 'pipeline', state: 'missing', required: true }]);
    expect(first).toMatchObject({ behind: false, mergedSha: null, headAuthor: 'lockstep-bot', conflicts: [] });
    expect(first.reviews).toEqual({ approved: 0, required: 0, changesRequested: [] });

    gl.pipeline('acme/pipeline', sha, 'running');
    const running = await f.landingState('pipeline', number);
    expect(running.mergeable).toBe(true);
    expect(running.checks).toEqual([
      { name: 'pipeline', state: 'pending', required: true, url: expect.stringContaining('/-/pipelines/') as unknown },
    ]);
    expect(await f.mergePullRequest({ repo: 'pipeline', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: '405 Method Not Allowed (detailed_merge_status: ci_still_running)',
    });
    gl.pipeline('acme/pipeline', sha, 'failed');
    expect((await f.landingState('pipeline', number)).checks[0]?.state).toBe('failure');

    gl.pipeline('acme/pipeline', sha, 'success');
    expect((await f.landingState('pipeline', number)).checks[0]?.state).toBe('success');
    const base = gl.branchHead('acme/pipeline', 'main');
    const merged = await f.mergePullRequest({ repo: 'pipeline', number, sha, method: 'merge' });
    expect(merged).toMatchObject({ merged: true, alreadyMerged: false });
    expect(head('pipeline')).toMatchObject({ sha: merged.merged ? merged.mergedSha : '', parents: [base, sha] });
    const after = await f.landingState('pipeline', number);
    expect(after).toMatchObject({ pullRequest: { state: 'merged' }, mergedSha: head('pipeline')?.sha });
    expect(gl.violations).toEqual([]);
  });

  it('refuses a merge the approval rules hold back, says why, and merges (squashed) once approved', async () => {
    const { number, sha } = await openMergeRequest('approvals', { approvals_required: 1 });
    const f = forge();
    expect((await f.landingState('approvals', number)).reviews).toEqual({
      approved: 0,
      required: 1,
      changesRequested: [],
    });
    expect(await f.mergePullRequest({ repo: 'approvals', number, sha, method: 'squash' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: '405 Method Not Allowed (detailed_merge_status: not_approved)',
    });
    gl.approve('acme/approvals', number, 'alice');
    expect((await f.landingState('approvals', number)).reviews).toMatchObject({ approved: 1, required: 1 });
    const merged = await f.mergePullRequest({ repo: 'approvals', number, sha, method: 'squash' });
    expect(merged).toMatchObject({ merged: true, mergedSha: head('approvals')?.sha });
    // Squashed, then merged with a merge commit (the project's merge method).
    const squash = gl.mergeRequests('acme/approvals')[0]?.squash_commit_sha ?? '';
    expect(head('approvals')?.parents[1]).toBe(squash);
    expect(gl.history('acme/approvals').get(squash)).toMatchObject({ files: ['approvals.txt'], message: 'Land it' });
    expect(mergeCalls('approvals').map((r) => r.status)).toEqual([405, 200]);
    expect(gl.violations).toEqual([]);
  });

  it('refuses to merge a head that moved since it was checked, and says who moved it', async () => {
    const { number, sha } = await openMergeRequest('moved');
    const theirs = gl.push('acme/moved', 'lockstep/land', ['sneaky.txt'], { author: 'mallory' });
    const f = forge();
    expect(await f.mergePullRequest({ repo: 'moved', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'head-moved',
      reason: `SHA does not match HEAD of source branch: ${theirs}`,
    });
    expect(await f.landingState('moved', number)).toMatchObject({
      headAuthor: 'mallory',
      pullRequest: { commit: theirs, state: 'open' },
    });
    expect(gl.violations).toEqual([]);
  });

  it('merges the project’s way: merge commit, fast-forward (rebase), squash then fast-forward', async () => {
    const f = forge();
    const ff = await openMergeRequest('m-ff', { merge_method: 'ff' }, ['a.txt'], ['b.txt']);
    expect(await f.mergePullRequest({ repo: 'm-ff', ...ff, method: 'rebase' })).toEqual({
      merged: true,
      mergedSha: ff.sha,
      alreadyMerged: false,
    });
    expect(gl.branchHead('acme/m-ff', 'main')).toBe(ff.sha);

    const squash = await openMergeRequest('m-squash', { merge_method: 'ff' }, ['a.txt'], ['b.txt']);
    const base = gl.branchHead('acme/m-squash', 'main');
    const squashed = await f.mergePullRequest({ repo: 'm-squash', ...squash, method: 'squash' });
    expect(head('m-squash')).toMatchObject({
      sha: squashed.merged ? squashed.mergedSha : '',
      parents: [base],
      files: ['a.txt', 'b.txt'],
    });

    const refused = await openMergeRequest('m-merge');
    expect(await f.mergePullRequest({ repo: 'm-merge', ...refused, method: 'rebase' })).toEqual({
      merged: false,
      kind: 'refused',
      reason:
        'the project merges with merge commits (merge_method "merge"); merge "rebase" needs its merge method set to "Fast-forward merge" in GitLab',
    });
    expect(gl.mergeRequests('acme/m-merge')[0]?.state).toBe('opened');
    expect(gl.violations).toEqual([]);
  });

  it('finds a merge whose answer was lost merged, and never merges twice', async () => {
    const { number, sha } = await openMergeRequest('lost');
    gl.inject({ kind: 'crash-after-create', operationId: 'mr/merge', project: 'acme/lost' });
    const base = gl.branchHead('acme/lost', 'main');
    const f = forge();
    const first = await f.mergePullRequest({ repo: 'lost', number, sha, method: 'merge' });
    expect(first).toMatchObject({ merged: true, alreadyMerged: true, mergedSha: head('lost')?.sha });
    // The activity retried by Temporal (the worker died before recording it): found, not repeated.
    expect(await f.mergePullRequest({ repo: 'lost', number, sha, method: 'merge' })).toEqual(first);
    expect(head('lost')?.parents).toEqual([base, sha]);
    // The requester's own retry of the dropped request was refused: nothing merged twice.
    expect(mergeCalls('lost').map((r) => r.status)).toEqual([null, 405]);
    expect(gl.pendingFaults()).toEqual([]);
    expect(gl.violations).toEqual([]);
  });

  it('rebases a merge request whose target moved, then fast-forwards it', async () => {
    const { number, sha } = await openMergeRequest('behind', { merge_method: 'ff' });
    gl.push('acme/behind', 'main', ['elsewhere.txt']);
    const f = forge();
    expect(await f.landingState('behind', number)).toMatchObject({ behind: true });
    expect(await f.mergePullRequest({ repo: 'behind', number, sha, method: 'rebase' })).toEqual({
      merged: false,
      kind: 'protected',
      reason: 'Branch cannot be merged (detailed_merge_status: need_rebase)',
    });
    expect(await f.updatePullRequestBranch('behind', number, 'a'.repeat(40))).toEqual({
      updated: false,
      conflicts: [],
      reason: `the source branch moved: its head is ${sha}, not ${'a'.repeat(40)}`,
    });
    // The rebase's answer is lost; the requester's retry finds a rebase running (409) and waits for it.
    gl.inject({ kind: 'crash-after-create', operationId: 'mr/rebase', project: 'acme/behind' });
    const updated = await f.updatePullRequestBranch('behind', number, sha);
    expect(updated).toMatchObject({ updated: true });
    expect(gl.requests.filter((r) => r.operationId === 'mr/rebase').map((r) => r.status)).toEqual([null, 409]);
    const rebased = updated.updated ? updated.headSha : '';
    expect(gl.history('acme/behind').get(rebased)).toMatchObject({
      parents: [gl.branchHead('acme/behind', 'main')],
      files: ['behind.txt'],
    });
    // Asked again (a retry after a lost answer): already up to date.
    expect(await f.updatePullRequestBranch('behind', number, sha)).toEqual(updated);
    expect(await f.landingState('behind', number)).toMatchObject({ behind: false, pullRequest: { commit: rebased } });
    expect(await f.mergePullRequest({ repo: 'behind', number, sha: rebased, method: 'rebase' })).toEqual({
      merged: true,
      mergedSha: rebased,
      alreadyMerged: false,
    });
    expect(gl.violations).toEqual([]);
  });

  it('reports a conflicting target: not mergeable, the rebase refused with GitLab’s reason and the files both sides changed, the merge refused', async () => {
    const { number, sha } = await openMergeRequest('conflict', {}, ['shared.txt', 'ours.txt']);
    gl.push('acme/conflict', 'main', ['theirs.txt', 'shared.txt']);
    const f = forge();
    expect((await f.landingState('conflict', number)).mergeable).toBeNull();
    expect(await f.landingState('conflict', number)).toMatchObject({ mergeable: false, behind: true });
    expect(await f.updatePullRequestBranch('conflict', number, sha)).toEqual({
      updated: false,
      // GitLab names no file; the forge names those both sides changed (two comparisons) as where to look.
      conflicts: [],
      reason:
        'Rebase failed: Rebase locally, resolve all conflicts, then push the branch. (changed on both sides since the merge base: shared.txt)',
    });
    expect(await f.mergePullRequest({ repo: 'conflict', number, sha, method: 'merge' })).toEqual({
      merged: false,
      kind: 'conflict',
      reason: 'Branch cannot be merged (detailed_merge_status: conflict)',
    });
    expect(gl.branchHead('acme/conflict', 'lockstep/land')).toBe(sha);
    expect(gl.violations).toEqual([]);
  });

  it('is strict: refuses landing requests GitLab would refuse', async () => {
    const { number, sha } = await openMergeRequest('strict');
    const send = (method: string, path: string, body: unknown) =>
      fetch(`${gl.host}/api/v4/projects/acme%2Fstrict/merge_requests/${number}${path}`, {
        method,
        headers: { 'private-token': gl.token, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.status);
    expect(await send('PUT', '/merge', { sha: 'abc' })).toBe(400);
    expect(await send('PUT', '/merge', { sha, merge_method: 'squash' })).toBe(400);
    expect(await send('PUT', '/rebase', { force: true })).toBe(400);
    // The token's user wrote the merge request, and may not approve it.
    expect(await send('POST', '/approve', { sha })).toBe(401);
    expect(gl.violations).toHaveLength(4);
    expect(gl.mergeRequests('acme/strict')[0]).toMatchObject({ state: 'opened', approved_by: [] });
    gl.violations.length = 0;
  });
});
