/** The fake GitHub is strict: it refuses what GitHub refuses, and answers what GitHub answers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from './github-server.ts';

let gh: FakeGitHub;
beforeAll(async () => {
  gh = await startFakeGitHub();
  gh.addRepo('acme/api');
});
afterAll(async () => gh.close());

const call = async (method: string, path: string, body?: unknown, token = gh.token) => {
  const res = await fetch(`${gh.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `token ${token}`,
      accept: 'application/vnd.github+json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
};

describe('fake GitHub', () => {
  it('refuses a bad token, unknown repos, a body GitHub would reject, and bad parameters', async () => {
    expect((await call('GET', '/repos/acme/api/pulls', undefined, 'ghp_wrong')).status).toBe(401);
    expect((await call('GET', '/repos/acme/nope/pulls')).status).toBe(404);
    // draft must be a boolean in GitHub's description.
    const wrongType = await call('POST', '/repos/acme/api/pulls', {
      title: 't',
      head: 'x',
      base: 'main',
      draft: 'yes',
    });
    expect(wrongType.status).toBe(422);
    expect(String(wrongType.json.message)).toBe('Validation Failed');
    expect(
      (await call('POST', '/repos/acme/api/pulls', { title: 't', head: 'x', base: 'main', colour: 'red' })).status,
    ).toBe(422);
    expect((await call('GET', '/repos/acme/api/pulls?state=merged')).status).toBe(422);
    expect((await call('GET', '/repos/acme/api/pulls?per_page=abc')).status).toBe(422);
    expect((await call('GET', '/repos/acme/api/pulls?unknown=1')).status).toBe(422);
    expect(gh.violations.length).toBe(7);
    expect(gh.pulls('acme/api')).toEqual([]);
  });

  it('keeps PR state, refuses a second PR of a head with 422 "already exists", and filters by head', async () => {
    const first = await call('POST', '/repos/acme/api/pulls', {
      title: 'T',
      head: 'lockstep/a',
      base: 'main',
      body: 'b',
      draft: true,
    });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ number: 1, draft: true, state: 'open', head: { ref: 'lockstep/a' } });
    const again = await call('POST', '/repos/acme/api/pulls', { title: 'T', head: 'lockstep/a', base: 'main' });
    expect(again.status).toBe(422);
    expect(JSON.stringify(again.json)).toContain('A pull request already exists for acme:lockstep/a.');
    const listed = await call('GET', '/repos/acme/api/pulls?head=acme:lockstep/a&state=open');
    expect(Array.isArray(listed.json) && listed.json.length).toBe(1);
    expect((await call('GET', '/repos/acme/api/pulls?head=acme:lockstep/b')).json).toEqual([]);
    expect(gh.pulls('acme/api')).toHaveLength(1);
  });

  it('injects a secondary rate limit with the real message and headers, then recovers', async () => {
    gh.inject({ kind: 'secondary-rate-limit', operationId: 'pulls/update', retryAfter: 7 });
    const limited = await call('PATCH', '/repos/acme/api/pulls/1', { body: 'new' });
    expect(limited.status).toBe(403);
    expect(String(limited.json.message)).toMatch(/^You have exceeded a secondary rate limit/);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.headers.get('x-ratelimit-remaining')).not.toBe('0');
    expect(gh.pulls('acme/api')[0]?.body).toBe('b');
    expect((await call('PATCH', '/repos/acme/api/pulls/1', { body: 'new' })).status).toBe(200);
    expect(gh.pulls('acme/api')[0]?.body).toBe('new');
  });

  it('"crash after create" creates the PR and never answers; "drop" changes nothing', async () => {
    gh.inject({ kind: 'crash-after-create', operationId: 'pulls/create' });
    await expect(
      call('POST', '/repos/acme/api/pulls', { title: 'T', head: 'lockstep/c', base: 'main' }),
    ).rejects.toThrow();
    expect(gh.pulls('acme/api').map((p) => p.head.ref)).toContain('lockstep/c');
    gh.inject({ kind: 'drop', operationId: 'pulls/create' });
    await expect(
      call('POST', '/repos/acme/api/pulls', { title: 'T', head: 'lockstep/d', base: 'main' }),
    ).rejects.toThrow();
    expect(gh.pulls('acme/api').map((p) => p.head.ref)).not.toContain('lockstep/d');
    expect(gh.pendingFaults()).toEqual([]);
  });
});
