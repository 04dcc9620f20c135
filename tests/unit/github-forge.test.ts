/** The GitHub forge on the real Octokit client against the strict fake GitHub. */
import { ApplicationFailure } from '@temporalio/common';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCredentials } from '../../activities/forges/git-credentials.ts';
import { GitHubForge } from '../../activities/forges/github/index.ts';
import { remoteBranchCommit } from '../../activities/git/workspace.ts';
import { GitHubForgeConfig } from '../../config/repos.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';

let gh: FakeGitHub;
beforeAll(async () => {
  gh = await startFakeGitHub();
  for (const r of ['acme/api', 'acme/web', 'acme/pace']) gh.addRepo(r);
});
afterAll(async () => gh.close());

const forge = (overrides: Record<string, unknown> = {}) =>
  new GitHubForge({
    config: GitHubForgeConfig.parse({
      type: 'github',
      baseUrl: gh.baseUrl,
      minIntervalMs: 0,
      labels: ['lockstep'],
      reviewers: ['alice', gh.login],
      assignees: ['bob'],
      ...overrides,
    }),
    token: gh.token,
    slugOf: (repo) => `acme/${repo}`,
    retryBaseMs: 20,
  });
const spec = (repo: string, head: string) => ({
  repo,
  url: 'unused',
  head,
  base: 'main',
  title: 'Move to cents',
  body: 'first body',
  commit: 'f'.repeat(40),
});

describe('GitHub forge', () => {
  it('creates a draft with labels, assignees and reviewers once, then finds it', async () => {
    const first = await forge().findOrCreatePullRequest(spec('api', 'lockstep/one'));
    expect(first.created).toBe(true);
    expect(first.pullRequest).toMatchObject({
      number: 1,
      draft: true,
      state: 'open',
      head: 'lockstep/one',
      url: 'http://github.test/acme/api/pull/1',
    });
    const again = await forge().findOrCreatePullRequest(spec('api', 'lockstep/one'));
    expect(again).toMatchObject({ created: false, pullRequest: { number: 1 } });
    const [pr] = gh.pulls('acme/api');
    // The PR's author is never asked to review (GitHub refuses it).
    expect(pr).toMatchObject({ labels: ['lockstep'], assignees: ['bob'], reviewers: ['alice'], draft: true });
    expect(gh.pulls('acme/api')).toHaveLength(1);
    expect(gh.violations).toEqual([]);
  });

  it('heals a create whose answer was lost, a 422 "already exists", 5xx and dropped connections without a duplicate', async () => {
    gh.inject({ kind: 'crash-after-create', operationId: 'pulls/create', repo: 'acme/web' });
    gh.inject({ kind: '5xx', operationId: 'issues/add-labels', repo: 'acme/web' });
    gh.inject({ kind: 'drop', operationId: 'pulls/list', repo: 'acme/web', after: 1 });
    const healed = await forge().findOrCreatePullRequest(spec('web', 'lockstep/two'));
    expect(healed.pullRequest.number).toBe(1);
    gh.inject({ kind: 'already-exists', operationId: 'pulls/create', repo: 'acme/web' });
    const raced = await forge().findOrCreatePullRequest(spec('web', 'lockstep/three'));
    expect(raced).toMatchObject({ created: false, pullRequest: { number: 2, head: 'lockstep/three' } });
    expect(gh.pulls('acme/web').map((p) => p.head.ref)).toEqual(['lockstep/two', 'lockstep/three']);
    expect(gh.pulls('acme/web')[0]?.labels).toEqual(['lockstep']);
    expect(gh.pendingFaults()).toEqual([]);
    expect(gh.violations).toEqual([]);
  });

  it('waits out a secondary rate limit (Retry-After), and fails clearly, token-free, when it persists', async () => {
    gh.inject({ kind: 'secondary-rate-limit', operationId: 'pulls/update', retryAfter: 1 });
    const started = Date.now();
    const updated = await forge().updatePullRequest('api', 1, { title: 'T2', body: 'linked body', commit: 'x' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(updated.body).toBe('linked body');

    gh.inject({ kind: 'secondary-rate-limit', operationId: 'pulls/update', retryAfter: 0, times: 3 });
    const err = await forge({ maxRetries: 2 })
      .updatePullRequest('api', 1, { title: 'T3', body: 'b', commit: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(
      /update pull request #1 of api \(PATCH \/api\/v3\/repos\/acme\/api\/pulls\/1\): GitHub's rate limit still applied after 2 retries; "lockstep resume"/,
    );
    expect(failure.message).not.toContain(gh.token);
    gh.inject({ kind: 'secondary-rate-limit', operationId: 'pulls/update', retryAfter: 0, times: 1 });
    await forge().updatePullRequest('api', 1, { title: 'T3', body: 'b', commit: 'x' });
  });

  it('fails at once, naming the token variable, on a bad token', async () => {
    const bad = new GitHubForge({
      config: GitHubForgeConfig.parse({ type: 'github', baseUrl: gh.baseUrl, tokenEnv: 'ACME_GH_TOKEN' }),
      token: 'ghp_notthetoken',
      slugOf: () => 'acme/api',
    });
    const err = (await bad.listPullRequests('api').catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('ACME_GH_TOKEN');
    expect(err.message).not.toContain('ghp_notthetoken');
    gh.violations.length = 0;
  });

  it('fails at once, naming the endpoint and the field, on an answer without a field it reads', async () => {
    gh.inject({ kind: 'malformed', operationId: 'pulls/get', repo: 'acme/api', field: 'head.sha' });
    const err = (await forge()
      .pullRequestStatus('api', 1)
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ForgeAnswerMalformed', nonRetryable: true });
    expect(err.message).toContain(
      "read pull request #1 of api: GitHub's answer to GET /repos/{owner}/{repo}/pulls/{pull_number} does not fit",
    );
    expect(err.message).toContain('what Lockstep reads: field head.sha: ');
    expect(err.message).not.toContain(gh.token);
    expect(gh.pendingFaults()).toEqual([]);
    expect(gh.violations).toEqual([]);
  });

  it('turns a draft ready (GraphQL), reports status, closes', async () => {
    const f = forge();
    expect((await f.markReady('api', 1)).draft).toBe(false);
    expect(gh.pulls('acme/api')[0]?.draft).toBe(false);
    const status = await f.pullRequestStatus('api', 1);
    expect(status).toMatchObject({
      checks: 'none',
      reviews: { approved: 0 },
      pullRequest: { state: 'open', draft: false },
    });
    expect((await f.closePullRequest('api', 1)).state).toBe('closed');
    expect((await f.listPullRequests('api')).map((p) => p.state)).toEqual(['closed']);
    expect(gh.violations).toEqual([]);
  });

  it('keeps at least minIntervalMs between content-creating requests, also across clients', async () => {
    const mark = gh.requests.length;
    const paced = () => forge({ minIntervalMs: 300, labels: [], reviewers: [], assignees: [] });
    await Promise.all([
      paced().findOrCreatePullRequest(spec('pace', 'lockstep/p1')),
      paced().findOrCreatePullRequest(spec('pace', 'lockstep/p2')),
    ]);
    await paced().updatePullRequest('pace', 1, { title: 't', body: 'b', commit: 'x' });
    const writes = gh.requests.slice(mark).filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(3);
    for (let i = 1; i < writes.length; i++)
      expect((writes[i]?.at ?? 0) - (writes[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(300);
  });
});

describe('git credentials', () => {
  it('give git the token as a header scoped to the forge, never in argv, URL or error', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const config = GitHubForgeConfig.parse({
        type: 'github',
        baseUrl: `http://127.0.0.1:${port}/api/v3`,
        tokenEnv: 'FAKE_GH_TOKEN',
      });
      const creds = gitCredentials([config], { FAKE_GH_TOKEN: 'ghp_secret123' });
      const err = (await remoteBranchCommit(`http://127.0.0.1:${port}/acme/api.git`, 'main', creds).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).not.toContain('ghp_secret123');
      expect(seen).toContain(`Basic ${Buffer.from('x-access-token:ghp_secret123').toString('base64')}`);
      // Another host never receives it.
      expect(creds('https://elsewhere.example/acme/api.git')).toEqual({});
    } finally {
      server.close();
    }
  });
});
