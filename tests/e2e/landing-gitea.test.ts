/**
 * Landing through the landing workflow on a real Gitea server (tests/helpers/gitea.ts): changes
 * run through Lockstep to linked PRs, branch protection requires a status check (or an
 * approval), the test posts commit statuses and reviews through Gitea's API as a CI and a
 * reviewer would, and `lockstep land` merges provider before consumer with each repo's merge
 * method; it stops on a failing check, a head someone else pushed, a base that conflicts, and
 * resumes after the fix; it brings a PR whose base moved up to date and waits for checks on the
 * new head; a merge whose answer a proxy dropped is found merged, never repeated; `lockstep
 * revert` of a landed pair opens linked draft revert PRs, which landing marks ready and lands consumer
 * first, back to the mains as they were. The scenarios'
 * changes (on repos of their own) run side by side from the start; each test awaits its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { landChange } from '../../client/landing.ts';
import { landingWorkflowId } from '../../core/ids.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { LandingRepoView, LandingView } from '../../core/landing-plan.ts';
import { landingStatusQuery } from '../../core/messages.ts';
import { startForgeWorker, type ForgeWorker } from '../helpers/forge-worker.ts';
import { smallReposChange } from '../helpers/durable.ts';
import { startGitea, until, type GiteaServer } from '../helpers/gitea.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const TOKEN_ENV = 'LOCKSTEP_E2E_GITEA_LAND_TOKEN';
/** Provider/consumer pairs, one per scenario; the consumer of `order` merges by squash. */
const PAIRS = ['order', 'fail', 'moved', 'conflict', 'revert'];
/** Single repos: one pushed to by someone else, one that needs an approval, one behind the dropping proxy. */
const SINGLES = ['pushed', 'review', 'lost'];
const CHECK = 'ci/test';
const suffix = Math.random().toString(36).slice(2, 8);

let h: Harness;
let gitea: GiteaServer;
let proxy: DroppingProxy;
let root: string;
let configFile: string;
let proxiedConfigFile: string;
/** The revert pair's fleet with the forges' default, draft pull requests. */
let draftConfigFile: string;
let forgeWorker: ForgeWorker;
const savedEnv: Record<string, string | undefined> = {};

interface GiteaPull {
  number: number;
  title: string;
  state: string;
  merged: boolean;
  merged_at: string | null;
  merge_commit_sha: string | null;
  head: { ref: string; sha: string };
  body: string;
}

const pull = (repo: string, n: number) => gitea.api<GiteaPull>('GET', `/repos/acme/${repo}/pulls/${n}`);
const parents = async (repo: string, sha: string) =>
  (await gitea.api<{ parents: { sha: string }[] }>('GET', `/repos/acme/${repo}/git/commits/${sha}`)).parents.map(
    (p) => p.sha,
  );
/** The files at `sha` as "<path> <blob sha>" (Gitea answers a commit's own sha where git's tree sha would be). */
const tree = async (repo: string, sha: string) =>
  (
    await gitea.api<{ tree: { path: string; type: string; sha: string }[] }>(
      'GET',
      `/repos/acme/${repo}/git/trees/${sha}?recursive=true`,
    )
  ).tree.map((e) => `${e.path} ${e.type} ${e.sha}`);

/**
 * A loopback HTTP proxy in front of Gitea that forwards every request, except that it drops the
 * connection of the first merge POST after Gitea answered it: Gitea merged, the caller never hears.
 */
interface DroppingProxy {
  baseUrl: string;
  /** Merge POSTs forwarded to Gitea, the dropped one included. */
  mergePosts: number;
  dropped: number;
  close(): Promise<void>;
}

async function startDroppingProxy(target: string): Promise<DroppingProxy> {
  const state = { mergePosts: 0, dropped: 0 };
  const server: Server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', target);
      const isMerge = req.method === 'POST' && /\/pulls\/\d+\/merge$/.test(url.pathname);
      if (isMerge) state.mergePosts++;
      const upstream = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
        if (isMerge && state.dropped === 0) {
          state.dropped++;
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    get mergePosts() {
      return state.mergePosts;
    },
    get dropped() {
      return state.dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reposConfig(baseUrl: string, repos: object[], draft = false): string {
  return JSON.stringify({
    concurrency: 2,
    forge: { type: 'gitea', baseUrl, tokenEnv: TOKEN_ENV, draft, minIntervalMs: 20 },
    // The order comes from the declared contracts; checking them is the gate's test, not this file's.
    gate: { contracts: false },
    defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
    repos,
  });
}

beforeAll(async () => {
  [gitea, h] = await Promise.all([startGitea(), startHarness('landing-gitea', { worker: false })]);
  proxy = await startDroppingProxy(gitea.baseUrl);
  root = await mkdtemp(join(tmpdir(), 'lockstep-landing-gitea-'));
  const repo = (name: string, extra: object = {}) => ({
    name,
    url: gitea.cloneUrl(name),
    sandbox: { test: 'grep -q cents README.md' },
    ...extra,
  });
  // The revert pair's tests pass on the reverted tree too (no "cents" in it any more).
  const test = (p: string) => (p === 'revert' ? { sandbox: { test: 'test -s README.md' } } : {});
  const repos = [
    ...PAIRS.flatMap((p) => [
      repo(`${p}-api`, { provides: [{ name: `${p}-prices`, kind: 'command', command: 'true' }], ...test(p) }),
      repo(`${p}-web`, {
        consumes: [{ name: `${p}-prices` }],
        ...(p === 'order' ? { merge: 'squash' } : {}),
        ...test(p),
      }),
    ]),
    ...SINGLES.map((name) => repo(name)),
  ];
  for (const r of repos) await gitea.createRepo(r.name, { 'README.md': `# ${r.name}\n` });
  for (const r of repos)
    if (!['review', 'lost'].includes(r.name)) await gitea.protect(r.name, 'main', { checks: ['ci/*'] });
  await gitea.protect('review', 'main', { approvals: 1 });
  configFile = join(root, 'repos.config.json');
  await writeFile(configFile, reposConfig(gitea.baseUrl, repos));
  proxiedConfigFile = join(root, 'proxied.config.json');
  await writeFile(
    proxiedConfigFile,
    reposConfig(
      proxy.baseUrl,
      repos.filter((r) => r.name === 'lost'),
    ),
  );
  draftConfigFile = join(root, 'draft.config.json');
  await writeFile(
    draftConfigFile,
    reposConfig(
      gitea.baseUrl,
      repos.filter((r) => r.name.startsWith('revert-')),
      true,
    ),
  );
  // Only the worker reads the token; landing is started from this process as `lockstep land` does.
  for (const [key, value] of Object.entries({
    [TOKEN_ENV]: gitea.admin.token,
    TEMPORAL_ADDRESS: h.env.address,
    LOCKSTEP_TASK_QUEUE: h.queue,
  })) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }
  forgeWorker = await startForgeWorker(h, configFile, proxiedConfigFile);
  publishAll();
}, 180_000);

afterAll(async () => {
  // A change still running (a test failed before awaiting it) ends first, so its sandboxes are removed.
  await Promise.all(publishing.values());
  await forgeWorker?.stop();
  await h?.close();
  await proxy?.close();
  await gitea?.stop();
  for (const [key, value] of Object.entries(savedEnv))
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  if (root) await rm(root, { recursive: true, force: true });
});

interface Published {
  id: string;
  /** Per repo: the PR number and the commit the change pushed and the gate checked. */
  prs: Map<string, { number: number; commit: string }>;
  mergeOrder: string[];
}

/** Runs a steps-only change over `repos` to its linked PRs on Gitea. */
async function publish(name: string, repos: string[], config: string): Promise<Published> {
  const id = `lg-${name}-${suffix}`;
  const result = await h.run(await smallReposChange({ root, id, repos, configFile: config, concurrency: 2 }));
  expect(result.status, `${result.summary} ${JSON.stringify(result.repos)}`).toBe('succeeded');
  const prs = new Map(
    result.repos.map((r) => [r.repo, { number: r.pullRequest?.number ?? 0, commit: r.commit ?? '' }]),
  );
  // Gitea checks a new PR against its base in the background: wait until it has.
  for (const [repo, pr] of prs)
    await until(
      () => pull(repo, pr.number),
      (p) => p.head.sha === pr.commit,
      `${repo}#${pr.number} at ${pr.commit}`,
    );
  return { id, prs, mergeOrder: result.mergeOrder };
}

/** Each scenario's change and its repos (the repos of no two overlap); the lost one through the proxy, the revert one as drafts. */
const CHANGES: Record<string, string[]> = {
  order: ['order-web', 'order-api'],
  fail: ['fail-api', 'fail-web'],
  pushed: ['pushed'],
  moved: ['moved-api', 'moved-web'],
  conflict: ['conflict-api', 'conflict-web'],
  review: ['review'],
  lost: ['lost'],
  revert: ['revert-api', 'revert-web'],
};
/** The changes run side by side from the start (most of this file's time is theirs); each test awaits its own. */
const publishing = new Map<string, Promise<Published | Error>>();

function publishAll(): void {
  for (const [name, repos] of Object.entries(CHANGES))
    publishing.set(
      name,
      publish(name, repos, { lost: proxiedConfigFile, revert: draftConfigFile }[name] ?? configFile).catch(
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      ),
    );
}

async function published(name: string): Promise<Published> {
  const p = await publishing.get(name);
  if (!p) throw new Error(`no change ${name} was started`);
  if (p instanceof Error) throw p;
  return p;
}

const pr = (p: Published, repo: string) => {
  const found = p.prs.get(repo);
  if (!found) throw new Error(`${p.id} opened no PR in ${repo}`);
  return found;
};

/** `lockstep land` as client/landing.ts runs it, with short waits between looks and a short timeout. */
const land = (id: string): Promise<LandingView> =>
  landChange({
    stateDir: h.fleet.stateDir,
    changeId: id,
    worker: 'never',
    log: () => {},
    timeoutSeconds: 120,
    pollSeconds: { first: 1, max: 2 },
  });

/** Where the running landing of `id` stands (null before it started). */
const landingNow = (id: string): Promise<LandingView | null> =>
  h.env.client.workflow
    .getHandle(landingWorkflowId(id))
    .query(landingStatusQuery)
    .catch(() => null);

const waitForRepo = (id: string, repo: string, done: (r: LandingRepoView) => boolean, what: string) =>
  until(
    () => landingNow(id),
    (v) => {
      const r = v?.repos.find((x) => x.repo === repo);
      return r !== undefined && done(r);
    },
    what,
  );

const repoView = (view: LandingView, repo: string): LandingRepoView => {
  const r = view.repos.find((x) => x.repo === repo);
  if (!r) throw new Error(`no ${repo} in the landing of ${view.changeId}`);
  return r;
};

describe('landing through the workflow on a real Gitea', () => {
  it('lands provider then consumer once their required check passes, squash where the config says; land again finds it landed', async () => {
    const p = await published('order');
    expect(p.mergeOrder).toEqual(['order-api', 'order-web']);
    const oldMain = await gitea.branchSha('order-web', 'main');
    const landing = land(p.id);

    // No CI has reported yet: landing waits on the provider's required check, the consumer queued.
    await waitForRepo(p.id, 'order-api', (r) => r.state === 'waiting', 'order-api waiting on its check');
    const prs = await h.cli(['prs', p.id, '--no-worker'], { [TOKEN_ENV]: '' });
    expect(prs.code, prs.stderr).toBe(0);
    const line = (prs.stdout + prs.stderr).split('\n').find((l) => l.trim().startsWith('landing '));
    expect(line?.trim()).toBe(
      'landing landing: waiting on checks of order-api: ci/*; order-web queued: it merges in step 2; next order-api',
    );

    for (const repo of ['order-api', 'order-web']) await gitea.status(repo, pr(p, repo).commit, CHECK, 'success');
    const view = await landing;
    expect(view.status, view.summary).toBe('landed');
    expect(view.summary).toBe('2 pull requests merged in order');
    expect(view.steps).toEqual([['order-api'], ['order-web']]);

    const api = await pull('order-api', pr(p, 'order-api').number);
    const web = await pull('order-web', pr(p, 'order-web').number);
    expect(api.merged && web.merged).toBe(true);
    expect(repoView(view, 'order-api')).toMatchObject({
      state: 'merged',
      merge: { sha: api.merge_commit_sha, method: 'merge', found: false },
    });
    expect(repoView(view, 'order-web')).toMatchObject({
      state: 'merged',
      merge: { sha: web.merge_commit_sha, method: 'squash', found: false },
    });
    // The check that reported, not protection's rule (ci/*) it was missing under before.
    for (const repo of ['order-api', 'order-web']) expect(repoView(view, repo).checksWaitedFor).toEqual([CHECK]);
    // Provider first: on the workflow's clock and on Gitea's (whole seconds there).
    const at = (repo: string) => repoView(view, repo).merge?.at ?? '';
    expect(at('order-api') < at('order-web')).toBe(true);
    expect(Date.parse(api.merged_at ?? '') <= Date.parse(web.merged_at ?? '')).toBe(true);
    // The merge method: a merge commit on the provider, one squashed commit on the consumer.
    expect(await gitea.branchSha('order-api', 'main')).toBe(api.merge_commit_sha);
    expect(await parents('order-api', api.merge_commit_sha ?? '')).toContain(pr(p, 'order-api').commit);
    expect(await gitea.branchSha('order-web', 'main')).toBe(web.merge_commit_sha);
    expect(await parents('order-web', web.merge_commit_sha ?? '')).toEqual([oldMain]);

    const again = await h.cli(['land', p.id, '--no-worker'], { [TOKEN_ENV]: '' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${p.id}: landed — 2 pull requests merged in order (2 found merged already)`);
    expect(await gitea.branchSha('order-web', 'main')).toBe(web.merge_commit_sha);
  }, 360_000);

  it('stops on the consumer’s failing check with the provider merged, and land again after the fix finishes', async () => {
    const p = await published('fail');
    await gitea.status('fail-api', pr(p, 'fail-api').commit, CHECK, 'success');
    await gitea.status('fail-web', pr(p, 'fail-web').commit, CHECK, 'failure');
    const stopped = await land(p.id);
    expect(stopped.status).toBe('stopped');
    const number = pr(p, 'fail-web').number;
    expect(repoView(stopped, 'fail-web')).toMatchObject({
      state: 'stopped',
      reason: `required check ${CHECK} failed on fail-web #${number}`,
    });
    expect(stopped.summary).toBe(
      `stopped: required check ${CHECK} failed on fail-web #${number}; merged and staying merged: fail-api; run lockstep land ${p.id} again once the cause is fixed`,
    );
    expect((await pull('fail-api', pr(p, 'fail-api').number)).merged).toBe(true);
    expect(await pull('fail-web', number)).toMatchObject({ merged: false, state: 'open' });

    await gitea.status('fail-web', pr(p, 'fail-web').commit, CHECK, 'success');
    const out = await h.cli(['land', p.id, '--json', '--no-worker'], { [TOKEN_ENV]: '' });
    expect(out.code, out.stderr).toBe(0);
    const resumed = JSON.parse(out.stdout) as LandingView;
    expect(resumed.summary).toBe('2 pull requests merged in order (1 found merged already)');
    expect(repoView(resumed, 'fail-api').merge).toMatchObject({ found: true });
    expect(repoView(resumed, 'fail-web').merge).toMatchObject({ found: false, method: 'merge' });
    expect((await pull('fail-web', number)).merge_commit_sha).toBe(await gitea.branchSha('fail-web', 'main'));
  }, 360_000);

  it('does not merge a PR someone else pushed to after the gate, even with its check green, and names who pushed what', async () => {
    const p = await published('pushed');
    const { number, commit } = pr(p, 'pushed');
    const branch = `lockstep/${p.id}`;
    const theirs = await gitea.pushCommit('pushed', branch, { 'other.txt': 'not from the change\n' });
    await until(
      () => pull('pushed', number),
      (x) => x.head.sha === theirs,
      'the PR at the pushed head',
    );
    await gitea.status('pushed', theirs, CHECK, 'success');
    const view = await land(p.id);
    expect(view.status).toBe('stopped');
    expect(repoView(view, 'pushed').reason).toBe(
      `Gitea Test <test@lockstep.invalid> pushed ${theirs.slice(0, 12)} to ${branch} of pushed after the gate checked ${commit.slice(0, 12)}: that head was never tested with the set`,
    );
    expect(await pull('pushed', number)).toMatchObject({ merged: false, state: 'open' });
  }, 360_000);

  it('brings a consumer whose base moved up to date, waits for the check on the new head, and merges it', async () => {
    const p = await published('moved');
    for (const repo of ['moved-api', 'moved-web']) await gitea.status(repo, pr(p, repo).commit, CHECK, 'success');
    // An earlier merge on the consumer's main (another PR, its check green), touching another file.
    const other = await gitea.pushCommit('moved-web', 'other', { 'CONTRIBUTING.md': 'Be kind.\n' }, 'main');
    const otherPr = await gitea.api<{ number: number }>('POST', '/repos/acme/moved-web/pulls', {
      head: 'other',
      base: 'main',
      title: 'Contributing',
    });
    await gitea.status('moved-web', other, CHECK, 'success');
    await until(
      () =>
        gitea
          .api<{ merged: boolean }>('POST', `/repos/acme/moved-web/pulls/${otherPr.number}/merge`, { Do: 'merge' })
          .then(
            () => true,
            () => false,
          ),
      Boolean,
      'the earlier merge',
    );
    const movedMain = await gitea.branchSha('moved-web', 'main');

    const landing = land(p.id);
    const { commit } = pr(p, 'moved-web');
    const waiting = await waitForRepo(
      p.id,
      'moved-web',
      (r) => r.state === 'waiting' && r.head !== commit,
      'moved-web brought up to date and waiting',
    );
    const head = repoView(waiting as LandingView, 'moved-web').head;
    expect(await gitea.branchSha('moved-web', `lockstep/${p.id}`)).toBe(head);
    expect(await parents('moved-web', head)).toEqual([commit, movedMain]);
    expect((await pull('moved-web', pr(p, 'moved-web').number)).merged).toBe(false);
    await gitea.status('moved-web', head, CHECK, 'success');

    const view = await landing;
    expect(view.status, view.summary).toBe('landed');
    const web = repoView(view, 'moved-web');
    expect(web).toMatchObject({ state: 'merged', head, merge: { found: false } });
    const merged = await pull('moved-web', pr(p, 'moved-web').number);
    expect(merged.merge_commit_sha).toBe(web.merge?.sha);
    expect(await parents('moved-web', merged.merge_commit_sha ?? '')).toEqual([movedMain, head]);
  }, 360_000);

  it('stops before the consumer merges when its moved base conflicts, the provider merged', async () => {
    const p = await published('conflict');
    for (const repo of ['conflict-api', 'conflict-web']) await gitea.status(repo, pr(p, repo).commit, CHECK, 'success');
    // Someone else's commit on the consumer's main changes the line the change appends after.
    const moved = await gitea.pushCommit('conflict-web', 'main', { 'README.md': '# conflict-web\ndollars\n' });
    const view = await land(p.id);
    expect(view.status).toBe('stopped');
    expect(repoView(view, 'conflict-api').state).toBe('merged');
    const web = repoView(view, 'conflict-web');
    expect(web.state).toBe('stopped');
    // Gitea's answer to update-branch names no files: the reason names those both sides changed.
    expect(web.reason).toBe(
      'could not bring conflict-web up to date: merge failed because of conflict (changed on both sides since the merge base: README.md)',
    );
    expect(web.conflicts).toEqual([]);
    expect(view.summary).toContain('merged and staying merged: conflict-api');
    expect(await gitea.branchSha('conflict-web', 'main')).toBe(moved);
    expect(await gitea.branchSha('conflict-web', `lockstep/${p.id}`)).toBe(pr(p, 'conflict-web').commit);
    expect((await pull('conflict-web', pr(p, 'conflict-web').number)).merged).toBe(false);
  }, 360_000);

  it('waits for the approval protection requires, and merges once the reviewer approves', async () => {
    const p = await published('review');
    const { number } = pr(p, 'review');
    const landing = land(p.id);
    await waitForRepo(
      p.id,
      'review',
      (r) => r.state === 'waiting' && r.reason === 'waiting on approvals of review: 0 of 1',
      'review waiting on its approval',
    );
    expect((await pull('review', number)).merged).toBe(false);
    await gitea.review('review', number, 'APPROVED');
    const view = await landing;
    expect(view.status, view.summary).toBe('landed');
    const merged = await pull('review', number);
    expect(repoView(view, 'review').merge).toMatchObject({ sha: merged.merge_commit_sha, found: false });
  }, 360_000);

  it('finds a merge whose answer was lost merged: one merge on Gitea, no error', async () => {
    const p = await published('lost');
    const { number, commit } = pr(p, 'lost');
    const before = await gitea.branchSha('lost', 'main');
    const view = await land(p.id);
    expect(view.status, view.summary).toBe('landed');
    expect(proxy.dropped).toBe(1);
    // The dropped request and one retry, which Gitea refused as already merged.
    expect(proxy.mergePosts).toBe(2);
    const merged = await pull('lost', number);
    expect(merged.merged).toBe(true);
    const main = await gitea.branchSha('lost', 'main');
    expect(main).toBe(merged.merge_commit_sha);
    expect(await parents('lost', main)).toEqual([before, commit]);
    expect(repoView(view, 'lost')).toMatchObject({ state: 'merged', merge: { sha: main, found: true } });
    expect(view.summary).toBe('1 pull request merged in order (1 found merged already)');
  }, 360_000);

  it('reverts a landed pair: linked draft revert PRs, marked ready and landed consumer first, each main back to its files before the landing', async () => {
    const p = await published('revert');
    const REPOS = ['revert-api', 'revert-web'];
    const before = new Map(
      await Promise.all(REPOS.map(async (r) => [r, await tree(r, await gitea.branchSha(r, 'main'))] as const)),
    );
    for (const repo of REPOS) await gitea.status(repo, pr(p, repo).commit, CHECK, 'success');
    // Opened as drafts (this fleet's forge says so): landing marks them ready for review, then merges.
    for (const repo of REPOS) expect((await pull(repo, pr(p, repo).number)).title).toMatch(/^WIP: /);
    const landed = await land(p.id);
    expect(landed.status, landed.summary).toBe('landed');
    for (const repo of REPOS) expect((await pull(repo, pr(p, repo).number)).title).not.toMatch(/^WIP: /);
    for (const repo of REPOS)
      expect(await tree(repo, await gitea.branchSha(repo, 'main'))).not.toEqual(before.get(repo));

    const out = await h.cli(['revert', p.id, '--yes', '--json', '--no-worker'], { [TOKEN_ENV]: '' });
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as ChangeResult;
    const revertId = `${p.id}-revert`;
    expect(result.changeId).toBe(revertId);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.mergeOrder).toEqual(['revert-web', 'revert-api']);
    const reverts = new Map(
      result.repos.map((r) => [r.repo, { number: r.pullRequest?.number ?? 0, commit: r.commit ?? '' }]),
    );
    // Linked on Gitea: each body lists both revert PRs, consumer first, and what it reverts.
    for (const repo of REPOS) {
      const { number, commit } = reverts.get(repo) ?? { number: 0, commit: '' };
      const opened = await until(
        () => pull(repo, number),
        (x) => x.head.sha === commit,
        `${repo}#${number} at ${commit}`,
      );
      expect(opened).toMatchObject({
        state: 'open',
        merged: false,
        title: `WIP: Revert "Prices in cents"`,
        head: { ref: `lockstep/${revertId}` },
      });
      expect(opened.body).toContain(`This set reverts the merged pull requests of change \`${p.id}\``);
      const merged = landed.repos.find((r) => r.repo === repo)?.merge?.sha ?? '';
      expect(opened.body).toContain(`${repo} #${pr(p, repo).number} (merged at ${merged.slice(0, 12)}, merge)`);
      result.mergeOrder.forEach((sibling, i) =>
        expect(opened.body).toContain(
          `| ${i + 1} | ${sibling}${sibling === repo ? ' (this one)' : ''} | [#${reverts.get(sibling)?.number}](`,
        ),
      );
    }

    // CI reports green on the revert heads; landing marks the drafts ready, then merges the
    // consumer's revert, then the provider's.
    for (const repo of REPOS) await gitea.status(repo, reverts.get(repo)?.commit ?? '', CHECK, 'success');
    const back = await land(revertId);
    expect(back.status, back.summary).toBe('landed');
    expect(back.steps).toEqual([['revert-web'], ['revert-api']]);
    const at = (repo: string) => repoView(back, repo).merge?.at ?? '';
    expect(at('revert-web') < at('revert-api')).toBe(true);
    const web = await pull('revert-web', reverts.get('revert-web')?.number ?? 0);
    const api = await pull('revert-api', reverts.get('revert-api')?.number ?? 0);
    expect(web.merged && api.merged).toBe(true);
    expect(Date.parse(web.merged_at ?? '') <= Date.parse(api.merged_at ?? '')).toBe(true);
    for (const [repo, merged] of [
      ['revert-web', web],
      ['revert-api', api],
    ] as const) {
      const main = await gitea.branchSha(repo, 'main');
      expect(main).toBe(merged.merge_commit_sha);
      expect(repoView(back, repo).merge).toMatchObject({ sha: main, method: 'merge', found: false });
      expect(await tree(repo, main), repo).toEqual(before.get(repo));
    }

    // The original change's audit: its landing, provider first, then its revert's, consumer first, each with its sha.
    const audit = await h.cli(['audit', p.id, '--json'], { [TOKEN_ENV]: '' });
    expect(audit.code, audit.stderr).toBe(0);
    const { entries } = JSON.parse(audit.stdout) as {
      entries: { repo: string | null; title: string; details: Record<string, unknown> }[];
    };
    const merges = entries.filter((e) => e.details.activity === 'mergePullRequest');
    const shaOf = (view: LandingView, repo: string) => repoView(view, repo).merge?.sha.slice(0, 12);
    expect(merges.map((e) => [e.repo, e.details.revert, e.details.mergedSha])).toEqual([
      ['revert-api', false, shaOf(landed, 'revert-api')],
      ['revert-web', false, shaOf(landed, 'revert-web')],
      ['revert-web', true, shaOf(back, 'revert-web')],
      ['revert-api', true, shaOf(back, 'revert-api')],
    ]);
    for (const e of merges) expect(e.details).toMatchObject({ method: 'merge', checksWaitedFor: CHECK });
    const titles = entries.map((e) => e.title);
    expect(titles).toContain('landing landed: 2 pull requests merged in order');
    expect(titles).toContain('landing of the revert landed: 2 pull requests merged in order');
  }, 360_000);
});
