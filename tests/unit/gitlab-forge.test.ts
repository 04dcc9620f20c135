/** The GitLab forge on the real gitbeaker client against the strict fake GitLab (and the fake itself). */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitLabForge } from '../../activities/forges/gitlab/index.ts';
import { GitLabForgeConfig } from '../../config/repos.ts';
import { startFakeGitLab, type FakeGitLab } from '../fakes/gitlab-server.ts';

let gl: FakeGitLab;
beforeAll(async () => {
  gl = await startFakeGitLab();
  for (const p of ['acme/platform/api', 'acme/web', 'acme/pace']) gl.addProject(p);
  gl.addUser('alice');
  gl.addUser('bob');
});
afterAll(async () => gl.close());

const forge = (overrides: Record<string, unknown> = {}) =>
  new GitLabForge({
    config: GitLabForgeConfig.parse({
      type: 'gitlab',
      baseUrl: gl.host,
      minIntervalMs: 0,
      labels: ['lockstep'],
      reviewers: ['alice'],
      assignees: ['bob'],
      ...overrides,
    }),
    token: gl.token,
    slugOf: (repo) => (repo === 'api' ? 'acme/platform/api' : `acme/${repo}`),
    retryBaseMs: 20,
  });
const spec = (repo: string, head: string) => ({
  repo,
  url: 'unused',
  head,
  base: 'main',
  title: 'Move to cents',
  body: 'first body',
  commit: 'e'.repeat(40),
});

describe('fake GitLab', () => {
  it('refuses what GitLab refuses: bad token, unknown project, unknown or mistyped fields', async () => {
    const call = (method: string, path: string, body?: unknown, token = gl.token) =>
      fetch(`${gl.host}/api/v4${path}`, {
        method,
        headers: { 'private-token': token, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then((r) => r.status);
    expect(await call('GET', '/projects/acme%2Fweb/merge_requests', undefined, 'glpat-wrong')).toBe(401);
    expect(await call('GET', '/projects/acme%2Fnope/merge_requests')).toBe(404);
    expect(
      await call('POST', '/projects/acme%2Fweb/merge_requests', { source_branch: 'x', target_branch: 'main' }),
    ).toBe(400);
    expect(
      await call('POST', '/projects/acme%2Fweb/merge_requests', {
        source_branch: 'x',
        target_branch: 'main',
        title: 't',
        draft: true,
      }),
    ).toBe(400);
    expect(await call('PUT', '/projects/acme%2Fweb/merge_requests/1', { state_event: 'merge' })).toBe(400);
    expect(await call('GET', '/projects/acme%2Fweb/merge_requests?state=open')).toBe(400);
    expect(gl.violations).toHaveLength(6);
    gl.violations.length = 0;
    expect(gl.mergeRequests('acme/web')).toEqual([]);
  });
});

describe('GitLab forge', () => {
  it('creates a draft MR (title prefix) with labels, assignees and reviewers once, then finds it', async () => {
    const first = await forge().findOrCreatePullRequest(spec('api', 'lockstep/one'));
    expect(first).toMatchObject({
      created: true,
      pullRequest: { number: 1, draft: true, state: 'open', title: 'Draft: Move to cents' },
    });
    expect(first.pullRequest.url).toBe(`${gl.host}/acme/platform/api/-/merge_requests/1`);
    const again = await forge().findOrCreatePullRequest(spec('api', 'lockstep/one'));
    expect(again).toMatchObject({ created: false, pullRequest: { number: 1 } });
    expect(gl.mergeRequests('acme/platform/api')).toHaveLength(1);
    expect(gl.mergeRequests('acme/platform/api')[0]).toMatchObject({
      labels: ['lockstep'],
      assignee_ids: [3],
      reviewer_ids: [2],
    });
    expect(gl.violations).toEqual([]);
  });

  it('heals a lost create answer, a 409, a 429 with Retry-After, 5xx and drops without a duplicate', async () => {
    gl.inject({ kind: 'crash-after-create', operationId: 'mr/create', project: 'acme/web' });
    gl.inject({ kind: 'rate-limit', operationId: 'mr/list', project: 'acme/web', retryAfter: 1 });
    gl.inject({ kind: '5xx', operationId: 'mr/edit', project: 'acme/web' });
    const started = Date.now();
    const healed = await forge().findOrCreatePullRequest(spec('web', 'lockstep/two'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(healed.pullRequest.number).toBe(1);
    gl.inject({ kind: 'already-exists', operationId: 'mr/create', project: 'acme/web' });
    gl.inject({ kind: 'drop', operationId: 'mr/list', project: 'acme/web' });
    expect(await forge().findOrCreatePullRequest(spec('web', 'lockstep/three'))).toMatchObject({
      created: false,
      pullRequest: { number: 2 },
    });
    expect(gl.mergeRequests('acme/web').map((m) => m.source_branch)).toEqual(['lockstep/two', 'lockstep/three']);
    expect(gl.mergeRequests('acme/web').every((m) => m.labels.includes('lockstep'))).toBe(true);
    expect(gl.pendingFaults()).toEqual([]);
    expect(gl.violations).toEqual([]);
  });

  it('fails clearly and token-free when the limit persists; keeps drafts on update; ready, status, close', async () => {
    gl.inject({ kind: 'rate-limit', operationId: 'mr/show', project: 'acme/web', retryAfter: 0, times: 3 });
    const err = (await forge({ maxRetries: 2 })
      .updatePullRequest('web', 1, { title: 'T', body: 'b', commit: 'x' })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toMatch(/rate limit still applied after 2 retries; "lockstep resume"/);
    expect(err.message).not.toContain(gl.token);
    const f = forge();
    expect((await f.updatePullRequest('web', 1, { title: 'Linked', body: 'linked body', commit: 'x' })).title).toBe(
      'Draft: Linked',
    );
    expect((await f.markReady('web', 1)).draft).toBe(false);
    expect(gl.mergeRequests('acme/web')[0]?.title).toBe('Linked');
    expect(await f.pullRequestStatus('web', 1)).toMatchObject({
      checks: 'none',
      reviews: { approved: 0 },
      pullRequest: { state: 'open', draft: false, body: 'linked body' },
    });
    expect((await f.closePullRequest('web', 1)).state).toBe('closed');
    expect((await f.listPullRequests('web')).map((p) => p.state)).toEqual(['closed', 'open']);
    expect(gl.violations).toEqual([]);
  });

  it('paces content-creating requests', async () => {
    const mark = gl.requests.length;
    const paced = forge({ minIntervalMs: 300, labels: [], reviewers: [], assignees: [] });
    await Promise.all([
      paced.findOrCreatePullRequest(spec('pace', 'lockstep/p1')),
      paced.findOrCreatePullRequest(spec('pace', 'lockstep/p2')),
    ]);
    await paced.updatePullRequest('pace', 1, { title: 't', body: 'b', commit: 'x' });
    const writes = gl.requests.slice(mark).filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(3);
    for (let i = 1; i < writes.length; i++)
      expect((writes[i]?.at ?? 0) - (writes[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('fails at once, naming the endpoint and the field, on an answer without a field it reads', async () => {
    gl.inject({ kind: 'malformed', operationId: 'mr/list', project: 'acme/pace', field: 'web_url' });
    const err = (await forge()
      .listPullRequests('pace')
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ForgeAnswerMalformed', nonRetryable: true });
    expect(err.message).toContain(
      "list the merge requests of pace: GitLab's answer to GET /projects/:id/merge_requests does not fit what Lockstep reads",
    );
    expect(err.message).toContain('field [0].web_url: ');
    expect(err.message).not.toContain(gl.token);
    expect(gl.pendingFaults()).toEqual([]);
    expect(gl.violations).toEqual([]);
  });
});
