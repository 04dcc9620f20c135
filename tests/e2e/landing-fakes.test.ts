/**
 * Landing through the landing workflow on the strict GitHub and GitLab fakes, on real parts: a
 * real Temporal server and worker, sandboxes, and bare remotes that ARE the fakes' histories
 * (tests/fakes/git-history.ts), so a merge, an update-branch or a rebase the fake makes is real
 * git that the next clone sees. One scenario table runs on both forges through a small driver
 * per forge (post a check or pipeline result, approve, push as someone else, move the base):
 * all green lands in order; a failing required check stops the consumer after its provider
 * merged, and landing again after a fix finishes; a head pushed to after the gate is not merged;
 * a moved base is brought up to date, checked again and merged, or, with a conflict, stops
 * before the consumer; a required approval is waited for; a merge whose answer was lost is
 * found merged, once; a landed set is reverted through `lockstep revert`, its revert PRs landed
 * consumer first, and every main is back to its tree before the landing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { landingInput } from '../../client/landing.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import { changeWorkflowId, landingWorkflowId, revertChangeId } from '../../core/ids.ts';
import type { LandingRepoView, LandingView } from '../../core/landing-plan.ts';
import { landingStatusQuery } from '../../core/messages.ts';
import type { landingWorkflow } from '../../workflows/landing.ts';
import type { History } from '../fakes/commit-graph.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';
import { DRAFT_TITLE, startFakeGitLab, type FakeGitLab } from '../fakes/gitlab-server.ts';
import { seedSmallRepos, smallReposChange } from '../helpers/durable.ts';
import { startForgeWorker, type ForgeWorker } from '../helpers/forge-worker.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';

const exec = promisify(execFile);
type ForgeName = 'github' | 'gitlab';
const FORGES: ForgeName[] = ['github', 'gitlab'];

/**
 * The scenarios' changes: each its own repos (a provider-consumer pair where order matters), so
 * the changes publish together and no landing moves another's base.
 */
const CHANGES = {
  green: { repos: ['green-api', 'green-web'], pair: true },
  failing: { repos: ['failing-api', 'failing-web'], pair: true },
  pushed: { repos: ['pushed'], pair: false },
  moved: { repos: ['moved'], pair: false },
  conflict: { repos: ['conflict-api', 'conflict-web'], pair: true },
  review: { repos: ['review'], pair: false },
  lost: { repos: ['lost'], pair: false },
  revert: { repos: ['revert-api', 'revert-web'], pair: true },
} as const;
type Scenario = keyof typeof CHANGES;
const SUFFIX = uniqueSuffix()
  .replace(/[^a-z0-9]/gi, '')
  .slice(-6)
  .toLowerCase();

/** What a test does on a forge, the same words for both. */
interface Driver {
  /** The check landing waits for when one is required: a status check, or GitLab's pipeline. */
  checkName: string;
  requireCheck(repo: string): void;
  requireApproval(repo: string): void;
  check(repo: string, sha: string, state: 'success' | 'failure'): void;
  approve(repo: string, number: number): void;
  /** Someone else's commit changing `files` on `branch` of the repo's remote. */
  pushAs(author: string, repo: string, branch: string, files: string[]): string;
  /** The next merge request's answer is lost after the forge merged. */
  loseMergeAnswer(repo: string): void;
  /** Merge requests that reached the forge: the status answered, or the fault injected instead. */
  mergeCalls(repo: string): (number | string | null)[];
  history(repo: string): History;
  /** The repo's PRs from `head`, as the forge holds them. */
  pulls(repo: string, head: string): { number: number; body: string; draft: boolean; merged: boolean }[];
  violations(): string[];
}

/** A change that opened its linked set: what landing it needs. */
interface Published {
  input: ChangeInput;
  result: ChangeResult;
}

interface Fleet {
  forge: ForgeName;
  driver: Driver;
  configFile: string;
  published: Map<Scenario, Published>;
}

let h: Harness;
let root: string;
let gh: FakeGitHub;
let gl: FakeGitLab;
let forgeWorker: ForgeWorker;
const fleets = new Map<ForgeName, Fleet>();
const TOKENS = { github: 'LOCKSTEP_E2E_LAND_GITHUB_TOKEN', gitlab: 'LOCKSTEP_E2E_LAND_GITLAB_TOKEN' };

const prefix = (forge: ForgeName) => (forge === 'github' ? 'gh' : 'gl');
const repoName = (forge: ForgeName, repo: string) => `${prefix(forge)}-${repo}`;
const slug = (forge: ForgeName, repo: string) => `acme/${repoName(forge, repo)}`;
const changeId = (forge: ForgeName, scenario: Scenario) => `land-${prefix(forge)}-${scenario}-${SUFFIX}`;

function githubDriver(): Driver {
  const s = (repo: string) => slug('github', repo);
  return {
    checkName: 'ci',
    requireCheck: (repo) => gh.protect(s(repo), 'main', { contexts: ['ci'] }),
    requireApproval: (repo) => gh.protect(s(repo), 'main', { approvals: 1 }),
    check: (repo, sha, state) => gh.checkRun(s(repo), sha, 'ci', 'completed', state),
    approve: (repo, number) => gh.review(s(repo), number, 'alice', 'APPROVED'),
    pushAs: (author, repo, branch, files) => gh.push(s(repo), branch, files, { author }),
    loseMergeAnswer: (repo) => gh.inject({ kind: 'crash-after-create', operationId: 'pulls/merge', repo: s(repo) }),
    mergeCalls: (repo) =>
      gh.requests
        .filter((r) => r.operationId === 'pulls/merge' && r.path.includes(`/${s(repo)}/`))
        .map((r) => r.fault ?? r.status),
    history: (repo) => gh.history(s(repo)),
    pulls: (repo, head) =>
      gh
        .pulls(s(repo))
        .filter((p) => p.head.ref === head)
        .map((p) => ({ number: p.number, body: p.body ?? '', draft: p.draft, merged: p.merged })),
    violations: () => gh.violations,
  };
}

function gitlabDriver(): Driver {
  const s = (repo: string) => slug('gitlab', repo);
  return {
    checkName: 'pipeline',
    requireCheck: (repo) => gl.settings(s(repo), { only_allow_merge_if_pipeline_succeeds: true }),
    requireApproval: (repo) => gl.settings(s(repo), { approvals_required: 1 }),
    check: (repo, sha, state) => gl.pipeline(s(repo), sha, state === 'success' ? 'success' : 'failed'),
    approve: (repo, number) => gl.approve(s(repo), number, 'alice'),
    pushAs: (author, repo, branch, files) => gl.push(s(repo), branch, files, { author }),
    loseMergeAnswer: (repo) => gl.inject({ kind: 'crash-after-create', operationId: 'mr/merge', project: s(repo) }),
    mergeCalls: (repo) =>
      gl.requests
        .filter((r) => r.operationId === 'mr/merge' && r.path.includes(`/${encodeURIComponent(s(repo))}/`))
        .map((r) => r.fault ?? r.status),
    history: (repo) => gl.history(s(repo)),
    pulls: (repo, head) =>
      gl
        .mergeRequests(s(repo))
        .filter((m) => m.source_branch === head)
        .map((m) => ({
          number: m.iid,
          body: m.description ?? '',
          draft: DRAFT_TITLE.test(m.title),
          merged: m.state === 'merged',
        })),
    violations: () => gl.violations,
  };
}

/** The small repos of one forge, its config (provider-consumer pairs, one squash repo), its fake's projects. */
async function seedFleet(forge: ForgeName): Promise<Fleet> {
  const repos = Object.values(CHANGES).flatMap((c) => c.repos.map((r) => repoName(forge, r)));
  await seedSmallRepos(root, repos);
  const remote = (name: string) => join(root, 'remotes', `${name}.git`);
  for (const name of repos)
    if (forge === 'github') gh.addRepo(`acme/${name}`, { gitDir: remote(name) });
    else gl.addProject(`acme/${name}`, { gitDir: remote(name) });
  const configFile = join(root, `${forge}.config.json`);
  const pairOf = (name: string) => name.replace(/-(api|web)$/, '');
  await writeFile(
    configFile,
    JSON.stringify({
      forge: {
        type: forge,
        baseUrl: forge === 'github' ? gh.baseUrl : gl.host,
        tokenEnv: TOKENS[forge],
        minIntervalMs: 0,
        draft: false,
        repos: Object.fromEntries(repos.map((r) => [r, `acme/${r}`])),
      },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: repos.map((name) => ({
        name,
        url: `remotes/${name}.git`,
        // The revert's tests run on the reverted tree too: its pair's hold before and after the change.
        sandbox: { test: name.includes('-revert-') ? 'grep -q "^# " README.md' : 'grep -q cents README.md' },
        ...(name.endsWith('-api')
          ? { provides: [{ name: `${pairOf(name)}-contract`, kind: 'command', command: 'true' }] }
          : {}),
        ...(name.endsWith('-web') ? { consumes: [{ name: `${pairOf(name)}-contract` }] } : {}),
        ...(name === repoName(forge, 'green-api') ? { merge: 'squash' } : {}),
      })),
    }),
  );
  return {
    forge,
    driver: forge === 'github' ? githubDriver() : gitlabDriver(),
    configFile,
    published: new Map(),
  };
}

/** Each scenario's change run through Lockstep to its open PRs (all at once: their repos are their own). */
async function publishAll(fleet: Fleet): Promise<void> {
  await Promise.all(
    (Object.keys(CHANGES) as Scenario[]).map(async (scenario) => {
      const input = await smallReposChange({
        root,
        id: changeId(fleet.forge, scenario),
        repos: CHANGES[scenario].repos.map((r) => repoName(fleet.forge, r)),
        configFile: fleet.configFile,
      });
      const result = await h.run(input);
      const failed = result.repos.map((r) => (r.error ? `${r.repo}: ${r.error.message}` : '')).join(' ');
      expect(result.status, `${result.summary} ${failed}`).toBe('succeeded');
      fleet.published.set(scenario, { input, result });
    }),
  );
}

beforeAll(async () => {
  h = await startHarness('landing-fakes', { worker: false });
  root = await mkdtemp(join(tmpdir(), 'lockstep-land-fakes-'));
  [gh, gl] = await Promise.all([startFakeGitHub(), startFakeGitLab()]);
  gl.addUser('alice');
  for (const forge of FORGES) fleets.set(forge, await seedFleet(forge));
  process.env[TOKENS.github] = gh.token;
  process.env[TOKENS.gitlab] = gl.token;
  const [first, ...more] = [...fleets.values()].map((f) => f.configFile);
  forgeWorker = await startForgeWorker(h, first as string, ...more);
  await Promise.all([...fleets.values()].map(publishAll));
  // Sixteen changes published at once: on two cores that other work shares, this took over
  // five minutes once (load average 25–46); the guard is for a hang, not for speed.
}, 900_000);

afterAll(async () => {
  await forgeWorker?.stop();
  await h?.close();
  await Promise.all([gh?.close(), gl?.close()]);
  delete process.env[TOKENS.github];
  delete process.env[TOKENS.gitlab];
  if (root) await rm(root, { recursive: true, force: true });
});

/** Starts the landing workflow of a scenario's change, or of another (again: with what the last one left), short waits. */
async function startLanding(
  fleet: Fleet,
  change: Scenario | Published,
  previous?: LandingView,
): Promise<WorkflowHandle<typeof landingWorkflow>> {
  const published = typeof change === 'string' ? fleet.published.get(change) : change;
  if (!published) throw new Error(`${typeof change === 'string' ? change : change.input.changeId} was not published`);
  const { input, result } = published;
  const args = landingInput(input, result, { pollSeconds: { first: 1, max: 2 }, timeoutSeconds: 90 });
  if (previous) args.earlier = previous.repos.map((r) => ({ repo: r.repo, head: r.head, testedHead: r.testedHead }));
  return h.env.client.workflow.start<typeof landingWorkflow>('landingWorkflow', {
    workflowId: landingWorkflowId(input.changeId),
    taskQueue: h.queue,
    args: [args],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}

const land = async (fleet: Fleet, change: Scenario | Published, previous?: LandingView): Promise<LandingView> =>
  (await startLanding(fleet, change, previous)).result();

/** Polls the running landing until `ready` holds of its view (what a person watching `lockstep prs` sees). */
async function until(
  handle: WorkflowHandle<typeof landingWorkflow>,
  ready: (view: LandingView) => boolean,
): Promise<LandingView> {
  for (;;) {
    const view = await handle.query(landingStatusQuery);
    if (ready(view)) return view;
    if (view.status !== 'landing') throw new Error(`landing ended before the moment waited for: ${view.summary}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const repoView = (fleet: Fleet, view: LandingView, repo: string): LandingRepoView | undefined =>
  view.repos.find((r) => r.repo === repoName(fleet.forge, repo));
const pushed = (fleet: Fleet, scenario: Scenario, repo: string): string =>
  fleet.published.get(scenario)?.result.repos.find((r) => r.repo === repoName(fleet.forge, repo))?.commit ?? '';
const numberOf = (fleet: Fleet, scenario: Scenario, repo: string): number =>
  fleet.published.get(scenario)?.result.repos.find((r) => r.repo === repoName(fleet.forge, repo))?.pullRequest
    ?.number ?? 0;
const git = async (fleet: Fleet, repo: string, ...args: string[]): Promise<string> =>
  (await exec('git', ['--git-dir', join(root, 'remotes', `${repoName(fleet.forge, repo)}.git`), ...args])).stdout;
const mainTree = async (fleet: Fleet, repo: string): Promise<string> =>
  (await git(fleet, repo, 'rev-parse', 'main^{tree}')).trim();
/** The input a change started with, as Temporal holds it (the revert's is built by `lockstep revert`). */
async function startedWith(changeId: string): Promise<ChangeInput> {
  const history = await h.env.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`the history of ${changeId} has no input`);
  return defaultPayloadConverter.fromPayload<ChangeInput>(payload);
}
const onMain = (fleet: Fleet, repo: string, commit: string): Promise<boolean> =>
  git(fleet, repo, 'merge-base', '--is-ancestor', commit, 'main').then(
    () => true,
    () => false,
  );

describe.each(FORGES)('landing through the workflow on the %s fake', (forge) => {
  const fleet = () => fleets.get(forge) as Fleet;

  it('lands all green in order, provider then consumer, the provider squashed', async () => {
    const f = fleet();
    const d = f.driver;
    const before = (await git(f, 'green-api', 'rev-parse', 'main')).trim();
    for (const repo of ['green-api', 'green-web']) {
      d.requireCheck(repo);
      d.check(repo, pushed(f, 'green', repo), 'success');
    }
    const view = await land(f, 'green');
    expect(view.status, view.summary).toBe('landed');
    expect(view.steps).toEqual([[repoName(forge, 'green-api')], [repoName(forge, 'green-web')]]);
    const api = repoView(f, view, 'green-api');
    const web = repoView(f, view, 'green-web');
    expect(api?.merge).toMatchObject({ method: 'squash', found: false });
    expect(web?.merge).toMatchObject({ method: 'merge', found: false });
    expect(api?.checksWaitedFor).toEqual([d.checkName]);
    expect((api?.merge?.at ?? '') < (web?.merge?.at ?? '')).toBe(true);
    // The squash is one commit on the old main with the change's tree, in the remote the sandboxes clone.
    const squashed = d.history('green-api').get((await git(f, 'green-api', 'rev-parse', 'main')).trim());
    expect(squashed?.parents[0]).toBe(before);
    expect(await git(f, 'green-api', 'diff', 'main', pushed(f, 'green', 'green-api'))).toBe('');
    expect(await onMain(f, 'green-web', pushed(f, 'green', 'green-web'))).toBe(true);
    expect(d.violations()).toEqual([]);
  }, 120_000);

  it('stops the consumer on a failing required check after its provider merged, and land again finishes', async () => {
    const f = fleet();
    const d = f.driver;
    for (const repo of ['failing-api', 'failing-web']) d.requireCheck(repo);
    d.check('failing-api', pushed(f, 'failing', 'failing-api'), 'success');
    const handle = await startLanding(f, 'failing');
    // The provider merged, the consumer waits on its check; then its CI fails.
    await until(
      handle,
      (v) => repoView(f, v, 'failing-api')?.state === 'merged' && repoView(f, v, 'failing-web')?.state === 'waiting',
    );
    d.check('failing-web', pushed(f, 'failing', 'failing-web'), 'failure');
    const stopped = await handle.result();
    expect(stopped.status).toBe('stopped');
    expect(repoView(f, stopped, 'failing-api')?.state).toBe('merged');
    const web = repoView(f, stopped, 'failing-web');
    expect(web?.state).toBe('stopped');
    expect(web?.reason).toMatch(
      new RegExp(`required check ${d.checkName} failed on ${repoName(forge, 'failing-web')}`),
    );
    expect(stopped.summary).toMatch(new RegExp(`merged and staying merged: ${repoName(forge, 'failing-api')}`));
    expect(await onMain(f, 'failing-web', pushed(f, 'failing', 'failing-web'))).toBe(false);

    // CI passes on a re-run: landing again finds the provider merged and merges the consumer.
    d.check('failing-web', pushed(f, 'failing', 'failing-web'), 'success');
    const resumed = await land(f, 'failing', stopped);
    expect(resumed.status, resumed.summary).toBe('landed');
    expect(repoView(f, resumed, 'failing-api')?.merge?.found).toBe(true);
    expect(repoView(f, resumed, 'failing-web')?.merge?.found).toBe(false);
    expect(await onMain(f, 'failing-web', pushed(f, 'failing', 'failing-web'))).toBe(true);
    expect(d.mergeCalls('failing-api')).toEqual([200]);
    expect(d.violations()).toEqual([]);
  }, 120_000);

  it('does not merge a head someone else pushed to after the gate, and says who pushed what', async () => {
    const f = fleet();
    const theirs = f.driver.pushAs('mallory', 'pushed', `lockstep/${changeId(forge, 'pushed')}`, ['NOTES.md']);
    const view = await land(f, 'pushed');
    expect(view.status).toBe('stopped');
    expect(repoView(f, view, 'pushed')?.reason).toContain(
      `mallory pushed ${theirs.slice(0, 12)} to lockstep/${changeId(forge, 'pushed')} of ${repoName(forge, 'pushed')} after the gate checked ${pushed(f, 'pushed', 'pushed').slice(0, 12)}`,
    );
    expect(await onMain(f, 'pushed', theirs)).toBe(false);
    expect(f.driver.mergeCalls('pushed')).toEqual([]);
    expect(f.driver.violations()).toEqual([]);
  }, 120_000);

  it('brings a PR whose base moved up to date, waits for checks on the new head, and merges it', async () => {
    const f = fleet();
    const d = f.driver;
    d.requireCheck('moved');
    d.check('moved', pushed(f, 'moved', 'moved'), 'success');
    const theirs = d.pushAs('carol', 'moved', 'main', ['CONTRIBUTING.md']);
    const handle = await startLanding(f, 'moved');
    const waiting = await until(handle, (v) => {
      const r = repoView(f, v, 'moved');
      return r?.state === 'waiting' && r.head !== pushed(f, 'moved', 'moved');
    });
    const updated = repoView(f, waiting, 'moved')?.head ?? '';
    // The update is real git in the remote: the new head has both the change and the moved base.
    expect(await git(f, 'moved', 'rev-parse', `lockstep/${changeId(forge, 'moved')}`)).toBe(`${updated}\n`);
    expect(await git(f, 'moved', 'merge-base', '--is-ancestor', theirs, updated).then(() => true)).toBe(true);
    expect(d.mergeCalls('moved')).toEqual([]);
    d.check('moved', updated, 'success');
    const view = await handle.result();
    expect(view.status, view.summary).toBe('landed');
    expect(repoView(f, view, 'moved')?.head).toBe(updated);
    expect(await onMain(f, 'moved', updated)).toBe(true);
    expect(await git(f, 'moved', 'show', 'main:README.md')).toContain('cents');
    expect(d.violations()).toEqual([]);
  }, 120_000);

  it('stops on a conflict with a moved base before the consumer merges', async () => {
    const f = fleet();
    const d = f.driver;
    d.pushAs('carol', 'conflict-api', 'main', ['README.md']);
    const view = await land(f, 'conflict');
    expect(view.status).toBe('stopped');
    const api = repoView(f, view, 'conflict-api');
    expect(api?.state).toBe('stopped');
    // Neither forge's API names the conflicting files: the forge names those both sides changed, as where to look.
    expect(api?.conflicts).toEqual([]);
    expect(api?.reason).toMatch(
      new RegExp(
        `^could not bring ${repoName(forge, 'conflict-api')} up to date: .*conflict.* \\(changed on both sides since the merge base: README\\.md\\)$`,
      ),
    );
    expect(repoView(f, view, 'conflict-web')?.state).toBe('queued');
    expect(view.summary).toMatch(new RegExp(`nothing merged; not merged: ${repoName(forge, 'conflict-web')}`));
    // Git (the fake's history) finds the conflict in just that file.
    const head = pushed(f, 'conflict', 'conflict-api');
    expect(d.history('conflict-api').conflicts(d.history('conflict-api').head('main') ?? '', head)).toEqual([
      'README.md',
    ]);
    expect(await onMain(f, 'conflict-web', pushed(f, 'conflict', 'conflict-web'))).toBe(false);
    expect([...d.mergeCalls('conflict-api'), ...d.mergeCalls('conflict-web')]).toEqual([]);
    expect(d.violations()).toEqual([]);
  }, 120_000);

  it('waits for a required approval, and lands once it is given', async () => {
    const f = fleet();
    f.driver.requireApproval('review');
    const handle = await startLanding(f, 'review');
    const waiting = await until(handle, (v) => repoView(f, v, 'review')?.state === 'waiting');
    expect(repoView(f, waiting, 'review')?.reason).toMatch(/waiting on approvals of .*: 0 of 1/);
    expect(f.driver.mergeCalls('review')).toEqual([]);
    f.driver.approve('review', numberOf(f, 'review', 'review'));
    const view = await handle.result();
    expect(view.status, view.summary).toBe('landed');
    expect(await onMain(f, 'review', pushed(f, 'review', 'review'))).toBe(true);
    expect(f.driver.violations()).toEqual([]);
  }, 120_000);

  it('finds a merge whose answer was lost merged: one merge, no error', async () => {
    const f = fleet();
    f.driver.loseMergeAnswer('lost');
    const view = await land(f, 'lost');
    expect(view.status, view.summary).toBe('landed');
    const lost = repoView(f, view, 'lost');
    expect(lost?.merge?.found).toBe(true);
    // GitHub's forge never resends a merge; GitLab's requester resends a request whose connection
    // dropped, and GitLab refuses the merged MR (405) before the forge reads it back.
    const [first, ...resent] = f.driver.mergeCalls('lost');
    expect(first).toBe('crash-after-create');
    expect(resent).toEqual(forge === 'github' ? [] : [405]);
    const merges = (await git(f, 'lost', 'rev-list', '--merges', 'main')).split('\n').filter(Boolean);
    expect(merges).toEqual([lost?.merge?.sha]);
    expect(f.driver.violations()).toEqual([]);
  }, 120_000);

  it('reverts a landed set: linked revert PRs, the consumer merged before the provider, each main as before, in the audit', async () => {
    const f = fleet();
    const d = f.driver;
    const id = changeId(forge, 'revert');
    const revertId = revertChangeId(id);
    const [api, web] = [repoName(forge, 'revert-api'), repoName(forge, 'revert-web')];
    const before = new Map([
      ['revert-api', await mainTree(f, 'revert-api')],
      ['revert-web', await mainTree(f, 'revert-web')],
    ]);
    for (const repo of before.keys()) {
      d.requireCheck(repo);
      d.check(repo, pushed(f, 'revert', repo), 'success');
    }
    const landed = await land(f, 'revert');
    expect(landed.status, landed.summary).toBe('landed');
    const mergedSha = new Map(landed.repos.map((r) => [r.repo, r.merge?.sha ?? '']));

    const cli = await h.cli(['revert', id, '--yes', '--json', '--no-worker']);
    expect(cli.code, `${cli.stderr}${cli.stdout}`).toBe(0);
    const result = JSON.parse(cli.stdout) as ChangeResult;
    expect(result.changeId).toBe(revertId);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.mergeOrder).toEqual([web, api]);
    // One revert PR per repo on the forge, ready, each saying what it reverts and listing its sibling.
    const branch = `lockstep/${revertId}`;
    const numbers = new Map<string, number>();
    for (const repo of before.keys()) {
      const [pr, ...more] = d.pulls(repo, branch);
      expect(more).toEqual([]);
      expect(pr).toMatchObject({ draft: false, merged: false });
      numbers.set(repoName(forge, repo), pr?.number ?? 0);
      const original = numberOf(f, 'revert', repo);
      expect(pr?.body).toContain(`This set reverts the merged pull requests of change \`${id}\``);
      expect(pr?.body).toContain(
        `${repoName(forge, repo)} #${original} (merged at ${mergedSha.get(repoName(forge, repo))?.slice(0, 12)}, merge)`,
      );
    }
    for (const repo of before.keys())
      for (const [sibling, number] of numbers)
        expect(d.pulls(repo, branch)[0]?.body).toMatch(
          new RegExp(
            `\\| ${sibling}${sibling === repoName(forge, repo) ? ' \\(this one\\)' : ''} \\| \\[#${number}\\]`,
          ),
        );

    // Landing the revert waits for the required check on the revert heads, and merges the consumer first.
    const revert = { input: await startedWith(revertId), result };
    for (const repo of before.keys())
      d.check(repo, result.repos.find((r) => r.repo === repoName(forge, repo))?.commit ?? '', 'success');
    const reverted = await land(f, revert);
    expect(reverted.status, reverted.summary).toBe('landed');
    expect(reverted.steps).toEqual([[web], [api]]);
    const merge = (repo: string) => reverted.repos.find((r) => r.repo === repo)?.merge;
    for (const r of reverted.repos) {
      expect(r.checksWaitedFor).toEqual([d.checkName]);
      expect(r.head).toBe(result.repos.find((x) => x.repo === r.repo)?.commit);
    }
    expect((merge(web)?.at ?? '') < (merge(api)?.at ?? '')).toBe(true);
    for (const [repo, tree] of before) {
      expect(await mainTree(f, repo), repo).toBe(tree);
      expect((await git(f, repo, 'rev-parse', 'main')).trim()).toBe(merge(repoName(forge, repo))?.sha);
      expect(d.pulls(repo, branch).map((p) => p.merged)).toEqual([true]);
    }

    // The audit of the original change lists the revert's merges with their shas, after the landing's.
    const audit = await h.cli(['audit', id, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const entries = (
      JSON.parse(audit.stdout) as { entries: { at: string; repo: string | null; details: Record<string, unknown> }[] }
    ).entries.filter((e) => e.details.activity === 'mergePullRequest');
    const back = entries.filter((e) => e.details.revert === true);
    expect(back.map((e) => [e.repo, e.details.mergedSha])).toEqual(
      [web, api].map((repo) => [repo, merge(repo)?.sha.slice(0, 12)]),
    );
    const forward = entries.filter((e) => e.details.revert === false);
    expect(forward.map((e) => e.repo)).toEqual([api, web]);
    expect(Date.parse(back[0]?.at ?? '')).toBeGreaterThan(Math.max(...forward.map((e) => Date.parse(e.at))));
    expect(d.violations()).toEqual([]);
  }, 150_000);
});
