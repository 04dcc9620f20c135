/**
 * Landing on the local forge, on real parts: a real Temporal server and worker, the demo fleet's
 * bare remotes, sandboxes for the tests landing re-runs. The demo change lands in merge order;
 * a base moved by someone else is brought up to date, tested and merged, or, with a conflict,
 * stops before its consumer merges and finishes after the fix; a head pushed to after the gate
 * stops landing with the pusher's name; a merge retried after its answer was lost is found.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { changeWorkflowId, landingWorkflowId } from '../../core/ids.ts';
import type { LandingView } from '../../core/landing-plan.ts';
import type { landingWorkflow } from '../../workflows/landing.ts';
import { exampleChangeAs } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { fleetReaders } from '../helpers/remotes.ts';

const exec = promisify(execFile);
let h: Harness;
const { git } = fleetReaders(() => h);

beforeAll(async () => {
  h = await startHarness('landing');
});

afterAll(async () => {
  await h?.close();
});

/** The demo change, under an id of this file's own (see exampleChangeAs). */
const CENTS = 'price-cents-landing';

const forge = () => new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));

/** Runs a change to its linked PRs; the commit each repo pushed. */
async function publish(file: string): Promise<Map<string, string>> {
  const result = await h.run(await h.changeInput(file));
  const failed = result.repos
    .map((r) => (r.error ? `${r.repo}: ${r.error.message}\n${r.error.outputTail}` : ''))
    .join('');
  expect(result.status, `${result.summary}\n${failed}`).toBe('succeeded');
  return new Map(result.repos.map((r) => [r.repo, r.commit ?? '']));
}

/** A change that appends a line to NOTES.md in each of `repos`. */
async function notesChange(id: string, repos: string[]): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: `Notes ${id}`,
      description: 'A documented note.',
      repos: repos.map((name) => ({ name, steps: [{ name: 'note', run: `echo "${id} in ${name}" >> NOTES.md` }] })),
    }),
  );
  return file;
}

/** Someone else's commit on a branch of a fleet remote: `files` written, committed as `author`. */
async function pushAs(
  repo: string,
  branch: string,
  files: Record<string, string>,
  author = 'Mallory Example <mallory@example.com>',
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-push-'));
  const [name, email] = author.replace('>', '').split(' <') as [string, string];
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: name,
    GIT_AUTHOR_EMAIL: email,
    GIT_COMMITTER_NAME: name,
    GIT_COMMITTER_EMAIL: email,
  };
  const run = (...args: string[]) => exec('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: dir, env });
  try {
    await run('clone', '--quiet', '--branch', branch, h.fleet.remote(repo), '.');
    for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);
    await run('add', '-A');
    await run('commit', '--quiet', '-m', `edit ${Object.keys(files).join(', ')}`);
    await run('push', '--quiet', 'origin', branch);
    return (await run('rev-parse', 'HEAD')).stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function land(changeId: string): Promise<{ code: number; view: LandingView; stderr: string }> {
  const out = await h.cli(['land', changeId, '--json', '--no-worker']);
  return { code: out.code, view: JSON.parse(out.stdout) as LandingView, stderr: out.stderr };
}

const onMain = async (repo: string, commit: string): Promise<boolean> =>
  git(repo, 'merge-base', '--is-ancestor', commit, 'main').then(
    () => true,
    () => false,
  );

const repoView = (view: LandingView, repo: string) => view.repos.find((r) => r.repo === repo);

describe('landing on the local forge', () => {
  it('lands the demo change in merge order into the bare remotes, and land again finds it landed', async () => {
    const pushed = await publish(await exampleChangeAs('price-cents.yaml', CENTS, h.fleet.root));
    const { code, view, stderr } = await land(CENTS);
    expect(code, stderr).toBe(0);
    expect(view.status).toBe('landed');
    expect(view.steps).toEqual([['catalog'], ['storefront', 'billing']]);
    for (const repo of ['catalog', 'storefront', 'billing']) {
      const r = repoView(view, repo);
      expect(r?.state).toBe('merged');
      expect(r?.merge).toMatchObject({ method: 'merge', found: false });
      expect(await onMain(repo, pushed.get(repo) ?? '')).toBe(true);
      expect((await git(repo, 'rev-parse', 'main')).trim()).toBe(r?.merge?.sha);
      const [pr] = (await forge().listPullRequests(repo)).filter((p) => p.head === `lockstep/${CENTS}`);
      expect(pr?.state).toBe('merged');
    }
    // The provider merged before its consumers (the records' merge times, each written after its merge).
    const at = (repo: string) => repoView(view, repo)?.merge?.at ?? '';
    expect(at('catalog') < at('storefront') && at('catalog') < at('billing')).toBe(true);

    const prs = await h.cli(['prs', CENTS, '--no-worker']);
    expect(prs.stderr + prs.stdout).toMatch(/landing landed: merged catalog at [0-9a-f]{12} \(merge\)/);
    // The audit shows each merge with its sha, method, time and the checks it waited for.
    const audit = await h.cli(['audit', CENTS, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const merges = (
      JSON.parse(audit.stdout) as {
        entries: { at: string; repo: string | null; title: string; details: Record<string, unknown> }[];
      }
    ).entries.filter((e) => e.details.activity === 'mergePullRequest');
    // catalog first; storefront and billing share the next step.
    expect(merges[0]?.repo).toBe('catalog');
    expect(
      merges
        .slice(1)
        .map((e) => e.repo)
        .sort(),
    ).toEqual(['billing', 'storefront']);
    for (const e of merges) {
      expect(e.title).toMatch(new RegExp(`^merged ${e.repo} #\\d+ at [0-9a-f]{12} \\(merge\\)$`));
      expect(e.details).toMatchObject({ method: 'merge', checksWaitedFor: 'none', alreadyMerged: false });
      expect(e.details.mergedSha).toBe(repoView(view, e.repo ?? '')?.merge?.sha.slice(0, 12));
    }
    expect(audit.stdout).toContain('landing landed: 3 pull requests merged in order');

    // Landing again, as a person runs it: each PR found merged, nothing merged twice.
    const again = await h.cli(['land', CENTS, '--no-worker']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${CENTS}: landed — 3 pull requests merged in order (3 found merged already)`);
    for (const repo of ['catalog', 'storefront', 'billing'])
      expect(again.stderr).toMatch(
        new RegExp(
          `\\. ${repo} +#\\d+ +merged +found merged at ${repoView(view, repo)?.merge?.sha.slice(0, 12)} \\(merge\\)`,
        ),
      );
    expect((await git('catalog', 'rev-parse', 'main')).trim()).toBe(repoView(view, 'catalog')?.merge?.sha);
  });

  it('brings a PR whose base moved up to date, re-runs its tests, and merges it', async () => {
    const pushed = await publish(await notesChange('land-moved', ['catalog', 'storefront']));
    const moved = await pushAs('storefront', 'main', { 'CONTRIBUTING.md': 'Be kind.\n' });
    const { code, view, stderr } = await land('land-moved');
    expect(code, stderr).toBe(0);
    const storefront = repoView(view, 'storefront');
    expect(storefront?.checksWaitedFor).toEqual(['tests (sandbox)']);
    expect(storefront?.head).not.toBe(pushed.get('storefront'));
    expect(await onMain('storefront', moved)).toBe(true);
    expect(await onMain('storefront', pushed.get('storefront') ?? '')).toBe(true);
    expect(await git('storefront', 'show', 'main:NOTES.md')).toContain('land-moved in storefront');
    expect(repoView(view, 'catalog')?.checksWaitedFor).toEqual([]);
  });

  it('stops when the tests fail on the updated head, and land again tests the next update and merges', async () => {
    const pushed = await publish(await notesChange('land-broken', ['storefront']));
    const breaking = `import test from 'node:test';\ntest('main is broken', () => {\n  throw new Error('broken on main');\n});\n`;
    await pushAs('storefront', 'main', { 'test/landing-break.test.mjs': breaking });
    const stopped = await land('land-broken');
    expect(stopped.code).toBe(1);
    const first = repoView(stopped.view, 'storefront');
    expect(first?.state).toBe('stopped');
    expect(first?.reason).toMatch(/^storefront's tests fail on its updated head [0-9a-f]{12} \(exit 1\)/);
    expect(first?.head).not.toBe(pushed.get('storefront'));
    expect(await onMain('storefront', pushed.get('storefront') ?? '')).toBe(false);

    // The fix lands on main; the head landing made (not the change's) is accepted, updated again and tested.
    await pushAs('storefront', 'main', {
      'test/landing-break.test.mjs': "import test from 'node:test';\ntest('fixed', () => {});\n",
    });
    const resumed = await land('land-broken');
    expect(resumed.code, resumed.view.summary).toBe(0);
    const second = repoView(resumed.view, 'storefront');
    expect(second?.state).toBe('merged');
    expect(second?.head).not.toBe(first?.head);
    expect(second?.testedHead).toBe(second?.head);
    expect(await onMain('storefront', first?.head ?? '')).toBe(true);
  });

  it('stops on a conflict with a moved base before the consumer merges, and lands after the fix', async () => {
    const pushed = await publish(await notesChange('land-conflict', ['catalog', 'storefront']));
    const conflicting = await pushAs('catalog', 'main', { 'NOTES.md': 'a different note\n' });
    const stopped = await land('land-conflict');
    expect(stopped.code).toBe(1);
    expect(stopped.view.status).toBe('stopped');
    expect(repoView(stopped.view, 'catalog')).toMatchObject({ state: 'stopped', conflicts: ['NOTES.md'] });
    expect(repoView(stopped.view, 'catalog')?.reason).toMatch(/conflicts in NOTES\.md/);
    expect(repoView(stopped.view, 'storefront')?.state).toBe('queued');
    expect(stopped.view.summary).toMatch(/nothing merged; not merged: storefront/);
    expect(await onMain('storefront', pushed.get('storefront') ?? '')).toBe(false);

    // The fix: the conflicting note leaves catalog's main again.
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-fix-'));
    try {
      const run = (...args: string[]) => exec('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: dir });
      await run('clone', '--quiet', '--branch', 'main', h.fleet.remote('catalog'), '.');
      await run('revert', '--no-edit', conflicting);
      await run('push', '--quiet', 'origin', 'main');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const resumed = await land('land-conflict');
    expect(resumed.code, resumed.view.summary).toBe(0);
    expect(resumed.view.repos.map((r) => [r.repo, r.state])).toEqual([
      ['catalog', 'merged'],
      ['storefront', 'merged'],
    ]);
    const notes = await git('catalog', 'show', 'main:NOTES.md');
    expect(notes).toContain('land-conflict in catalog');
    expect(notes).not.toContain('a different note');
  });

  it('stops on a head pushed to after the gate, naming who pushed what', async () => {
    await publish(await notesChange('land-pushed', ['catalog', 'storefront']));
    const theirs = await pushAs('storefront', 'lockstep/land-pushed', { 'NOTES.md': 'rewritten\n' });
    const { code, view } = await land('land-pushed');
    expect(code).toBe(1);
    expect(repoView(view, 'catalog')?.state).toBe('merged');
    const storefront = repoView(view, 'storefront');
    expect(storefront?.state).toBe('stopped');
    expect(storefront?.reason).toContain(
      `Mallory Example <mallory@example.com> pushed ${theirs.slice(0, 12)} to lockstep/land-pushed of storefront`,
    );
    expect(await onMain('storefront', theirs)).toBe(false);
    expect(view.summary).toMatch(/merged and staying merged: catalog/);
  });
});

describe('landing straight after publishing', () => {
  it('lands a change file that says land: true, with the squash method its repo config names', async () => {
    const file = await notesChange('land-squash', ['billing']);
    await writeFile(file, `${await readFile(file, 'utf8')}land: true\nlanding:\n  timeout: 2h\n`);
    const config = JSON.parse(await readFile(h.fleet.configFile, 'utf8')) as {
      repos: { name: string; merge?: string }[];
    };
    for (const r of config.repos) if (r.name === 'billing') r.merge = 'squash';
    const squashConfig = join(h.fleet.root, 'squash.config.json');
    await writeFile(squashConfig, JSON.stringify(config));
    const before = (await git('billing', 'rev-parse', 'main')).trim();

    const out = await h.cli(['run', file, '-c', squashConfig, '--json', '--no-worker']);
    expect(out.code, out.stderr).toBe(0);
    const doc = JSON.parse(out.stdout) as { status: string; repos: { commit: string }[]; landing: LandingView };
    expect(doc.status).toBe('succeeded');
    expect(doc.landing.status).toBe('landed');
    const billing = repoView(doc.landing, 'billing');
    expect(billing?.merge).toMatchObject({ method: 'squash', found: false });
    // One new commit on main, whose parent is the old main and whose tree is the change's.
    expect((await git('billing', 'rev-parse', 'main^')).trim()).toBe(before);
    expect((await git('billing', 'rev-parse', 'main')).trim()).toBe(billing?.merge?.sha);
    expect(await git('billing', 'diff', '--stat', 'main', doc.repos[0]?.commit ?? '')).toBe('');
  });

  it('lands from the coordinator: a change saying land: true lands with nothing following it', async () => {
    const file = await notesChange('land-unfollowed', ['storefront']);
    await writeFile(file, `${await readFile(file, 'utf8')}land: true\n`);
    // Started through the client and awaited to its result, as a detached run would be: no CLI
    // is there to start the landing afterwards.
    const result = await h.run(await h.changeInput(file));
    expect(result.status).toBe('succeeded');
    const landing = h.env.client.workflow.getHandle<typeof landingWorkflow>(landingWorkflowId('land-unfollowed'));
    const view = await landing.result();
    expect(view.status).toBe('landed');
    expect(repoView(view, 'storefront')?.merge).toMatchObject({ method: 'merge', found: false });
    expect(await onMain('storefront', result.repos[0]?.commit ?? '')).toBe(true);
    // Started by the change's coordinator, as a workflow that outlives it.
    expect((await landing.describe()).parentExecution?.workflowId).toBe(changeWorkflowId('land-unfollowed'));
  });

  it('refuses a bad landing timeout naming the file and the field, and starts nothing', async () => {
    const file = await notesChange('land-bad-timeout', ['billing']);
    await writeFile(file, `${await readFile(file, 'utf8')}landing:\n  timeout: 3 days\n`);
    const out = await h.cli(['run', file, '--no-worker']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('land-bad-timeout.yaml');
    expect(out.stderr).toMatch(/landing\.timeout/);
    expect(out.stderr).toMatch(/whole number and a unit/);
  });
});

describe('the local forge merges exactly once', () => {
  it('answers a merge retried after its answer was lost with alreadyMerged, and refuses a moved head', async () => {
    const pushed = await publish(await notesChange('land-once', ['billing']));
    const commit = pushed.get('billing') ?? '';
    const [pr] = (await forge().listPullRequests('billing')).filter((p) => p.head === 'lockstep/land-once');
    if (!pr) throw new Error('no PR for land-once');
    const mergesOnMain = async () => (await git('billing', 'rev-list', '--merges', 'main')).split('\n').filter(Boolean);
    const before = (await mergesOnMain()).length;

    const moved = await forge().mergePullRequest({
      repo: 'billing',
      number: pr.number,
      sha: 'f'.repeat(40),
      method: 'merge',
    });
    expect(moved).toMatchObject({ merged: false, kind: 'head-moved' });

    const first = await forge().mergePullRequest({ repo: 'billing', number: pr.number, sha: commit, method: 'merge' });
    expect(first).toMatchObject({ merged: true, alreadyMerged: false });
    // The worker that asked died before recording the answer; its retry asks again.
    const retried = await forge().mergePullRequest({
      repo: 'billing',
      number: pr.number,
      sha: commit,
      method: 'merge',
    });
    expect(retried).toEqual({ merged: true, alreadyMerged: true, mergedSha: first.merged ? first.mergedSha : '' });
    expect((await mergesOnMain()).length).toBe(before + 1);
    // The forge itself killed after pushing the merge but before recording it: the record still
    // says open, with the merge it was about to push.
    const record = join(h.fleet.stateDir, 'forge', 'local', 'billing', 'pulls', `${pr.number}.json`);
    const merged = JSON.parse(await readFile(record, 'utf8')) as Record<string, unknown>;
    const { merge, ...open } = merged as { merge: { sha: string; head: string; method: string } };
    await writeFile(
      record,
      JSON.stringify({ ...open, state: 'open', merging: { sha: merge.sha, head: merge.head, method: merge.method } }),
    );
    const recovered = await forge().mergePullRequest({
      repo: 'billing',
      number: pr.number,
      sha: commit,
      method: 'merge',
    });
    expect(recovered).toEqual({ merged: true, alreadyMerged: true, mergedSha: merge.sha });
    expect((await mergesOnMain()).length).toBe(before + 1);
    const state = await forge().landingState('billing', pr.number);
    expect(state).toMatchObject({ mergedSha: first.merged ? first.mergedSha : null, behind: false });
    expect(state.pullRequest.state).toBe('merged');
  });
});
