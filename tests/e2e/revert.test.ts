/**
 * `lockstep revert` on real parts: a real Temporal server and worker, the demo fleet's bare
 * remotes, the local forge, sandboxes for each repo's tests and the contract gate. The demo
 * change lands, then its revert opens linked PRs for exactly the merged repos (consumers before
 * providers), lands them in that order, and leaves every main as it was; asked again it opens
 * nothing; a change that never landed is refused; a revert that conflicts names the files.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { LandingView } from '../../core/landing-plan.ts';
import { exampleChangeAs } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { fleetReaders } from '../helpers/remotes.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';

const exec = promisify(execFile);
let h: Harness;
const { git } = fleetReaders(() => h);
// Change ids of this file only: sandboxes on the shared Docker engine are named by them.
const suffix = uniqueSuffix().replace(/[^a-z0-9]/g, '');
const CENTS = `rv-cents-${suffix}`;
const NOTES = `rv-notes-${suffix}`;
const DEMO = ['catalog', 'storefront', 'billing'];

beforeAll(async () => {
  h = await startHarness('revert');
});

afterAll(async () => {
  await h?.close();
});

const forge = () => new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));

/** `lockstep <args> --json`, on the harness's worker (`--no-worker`, for the commands that run one). */
async function cli<T>(args: string[], noWorker = true): Promise<{ code: number; doc: T | null; stderr: string }> {
  const out = await h.cli([...args, '--json', ...(noWorker ? ['--no-worker'] : [])]);
  return { code: out.code, doc: out.stdout.trim() ? (JSON.parse(out.stdout) as T) : null, stderr: out.stderr };
}

/** Runs an example change to its linked PRs, with the id given. */
async function publish(example: string, id: string): Promise<void> {
  const result = await h.run(await h.changeInput(await exampleChangeAs(example, id, h.fleet.root)));
  expect(result.status, result.summary).toBe('succeeded');
}

async function land(id: string): Promise<LandingView> {
  const { code, doc, stderr } = await cli<LandingView>(['land', id]);
  expect(code, stderr).toBe(0);
  expect(doc?.status).toBe('landed');
  return doc as LandingView;
}

const tree = async (repo: string): Promise<string> => (await git(repo, 'rev-parse', 'main^{tree}')).trim();
const pullsOf = async (repo: string, head: string) =>
  (await forge().listPullRequests(repo)).filter((p) => p.head === head);

describe('lockstep revert', () => {
  it('reverts a landed set: linked PRs for the merged repos, consumers first, tested and gated, landed back to the old mains', async () => {
    const before = new Map(await Promise.all(DEMO.map(async (r) => [r, await tree(r)] as const)));
    await publish('price-cents.yaml', CENTS);

    // Not landed yet: refused, naming the change and the fix, and nothing started.
    const early = await cli<ChangeResult>(['revert', CENTS, '--yes']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain(`change ${CENTS} never landed, so nothing of it merged to revert`);
    expect(early.stderr).toContain(`lockstep land ${CENTS}`);

    const landed = await land(CENTS);
    const mergedSha = new Map(landed.repos.map((r) => [r.repo, r.merge?.sha ?? '']));
    for (const repo of DEMO) expect(await tree(repo)).not.toBe(before.get(repo));

    // No terminal and no --yes: it asks nothing and does nothing.
    const unasked = await h.cli(['revert', CENTS, '--no-worker']);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(/reverting a landed change needs a confirmation[\s\S]*add --yes/);
    const revertId = `${CENTS}-revert`;
    // Neither started a revert.
    expect((await h.cli(['status', revertId])).code).toBe(2);
    const { code, doc, stderr } = await cli<ChangeResult>(['revert', CENTS, '--yes']);
    expect(code, stderr).toBe(0);
    const result = doc as ChangeResult;
    expect(result.changeId).toBe(revertId);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.mergeOrder).toEqual(['billing', 'storefront', 'catalog']);
    // Each repo's tests ran on the reverted tree, and the gate checked the reverted set.
    for (const r of result.repos) {
      expect(r.status).toBe('green');
      expect(r.tests?.passed).toBe(true);
      expect(r.steps.map((s) => s.name)).toContain(
        `revert ${mergedSha.get(r.repo)?.slice(0, 12)} (#${landed.repos.find((l) => l.repo === r.repo)?.number}, merge)`,
      );
    }
    expect(result.gate?.passed).toBe(true);
    expect(result.gate?.contracts.map((c) => c.contract)).toContain('catalog-api');

    // One linked PR per merged repo, each listing its siblings and what it reverts.
    const prs = new Map<string, number>();
    for (const repo of DEMO) {
      const [pr, ...more] = await pullsOf(repo, `lockstep/${revertId}`);
      expect(more).toEqual([]);
      expect(pr?.state).toBe('open');
      prs.set(repo, pr?.number ?? 0);
      expect(pr?.title).toContain('Revert "');
      expect(pr?.body).toContain(`reverts the merged pull requests of change \`${CENTS}\``);
      expect(pr?.body).toContain('consumers before providers');
      expect(pr?.body).toContain(`(merged at ${mergedSha.get(repo)?.slice(0, 12)}, merge)`);
      for (const sibling of DEMO)
        expect(pr?.body).toContain(
          `| ${sibling}${sibling === repo ? ' (this one)' : ''} | [#${result.repos.find((r) => r.repo === sibling)?.pullRequest?.number}]`,
        );
    }

    // Asked again: the same revert, no new pull request.
    const again = await cli<ChangeResult>(['revert', CENTS, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc?.repos.map((r) => r.pullRequest?.number)).toEqual(result.repos.map((r) => r.pullRequest?.number));
    for (const repo of DEMO) expect((await pullsOf(repo, `lockstep/${revertId}`)).length).toBe(1);

    // Landing the revert merges the consumers first, then the provider; every main is as before.
    const reverted = await land(revertId);
    expect(reverted.steps).toEqual([['billing', 'storefront'], ['catalog']]);
    const at = (repo: string) => reverted.repos.find((r) => r.repo === repo)?.merge?.at ?? '';
    expect(at('billing') < at('catalog') && at('storefront') < at('catalog')).toBe(true);
    for (const repo of DEMO) {
      expect(await tree(repo), repo).toBe(before.get(repo));
      expect((await git(repo, 'rev-parse', 'main')).trim()).toBe(
        reverted.repos.find((r) => r.repo === repo)?.merge?.sha,
      );
    }
    expect(await git('catalog', 'show', 'main:openapi.json')).not.toContain('price_cents');

    // The audit of the change shows its landing and its revert, each merge with sha, method, time, checks.
    const audit = await cli<{
      status: string;
      entries: {
        at: string;
        workflowId: string;
        repo: string | null;
        title: string;
        details: Record<string, unknown>;
      }[];
    }>(['audit', CENTS], false);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.doc?.status).toBe('succeeded');
    const entries = audit.doc?.entries ?? [];
    const merges = entries.filter((e) => e.details.activity === 'mergePullRequest');
    const forward = merges.filter((e) => e.details.revert === false);
    const back = merges.filter((e) => e.details.revert === true);
    // Landing: the provider first; its revert: the provider last.
    expect(forward.map((e) => e.repo)[0]).toBe('catalog');
    expect(forward.map((e) => e.repo).sort()).toEqual([...DEMO].sort());
    expect(back.map((e) => e.repo).at(-1)).toBe('catalog');
    expect(back.map((e) => e.repo).sort()).toEqual([...DEMO].sort());
    for (const e of back) {
      expect(e.title).toMatch(
        new RegExp(`^merged the revert of ${e.repo} #${prs.get(e.repo ?? '')} at [0-9a-f]{12} \\(merge\\)$`),
      );
      expect(e.details).toMatchObject({ method: 'merge', checksWaitedFor: 'none', alreadyMerged: false });
      expect(e.details.mergedSha).toBe(reverted.repos.find((r) => r.repo === e.repo)?.merge?.sha.slice(0, 12));
      expect(Date.parse(e.at)).toBeGreaterThan(Math.max(...forward.map((f) => Date.parse(f.at))));
    }
    const reverts = entries.filter((e) => e.details.activity === 'revertMerged');
    expect(reverts.map((e) => e.repo).sort()).toEqual([...DEMO].sort());
    for (const e of reverts) expect(e.details.revertedSha).toBe(mergedSha.get(e.repo ?? '')?.slice(0, 12));
    const titles = entries.map((e) => e.title);
    expect(titles).toContain('landing landed: 3 pull requests merged in order');
    expect(titles).toContain('landing of the revert landed: 3 pull requests merged in order');
    expect(titles.some((t) => t.startsWith(`revert of ${CENTS} succeeded: 3 linked pull requests open`))).toBe(true);
  });

  it('fails a repo whose revert conflicts with its base, naming the files, and opens nothing', async () => {
    const file = join(h.fleet.root, `${NOTES}.yaml`);
    await writeFile(
      file,
      stringify({
        id: NOTES,
        title: `Notes ${NOTES}`,
        description: 'A documented note.',
        repos: ['catalog', 'storefront'].map((name) => ({
          name,
          steps: [{ name: 'note', run: `echo "${NOTES} in ${name}" >> NOTES.md` }],
        })),
      }),
    );
    const result = await h.run(await h.changeInput(file));
    expect(result.status, result.summary).toBe('succeeded');
    await land(NOTES);
    // Someone rewrites the note on catalog's main after it landed.
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-edit-'));
    try {
      const run = (...args: string[]) => exec('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: dir });
      await run('clone', '--quiet', '--branch', 'main', h.fleet.remote('catalog'), '.');
      await writeFile(join(dir, 'NOTES.md'), 'a rewritten note\n');
      await run('-c', 'user.name=Ed', '-c', 'user.email=ed@example.com', 'commit', '--quiet', '-am', 'rewrite');
      await run('push', '--quiet', 'origin', 'main');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const { code, doc } = await cli<ChangeResult>(['revert', NOTES, '--yes']);
    expect(code).toBe(1);
    expect(doc?.status).toBe('failed');
    const catalog = doc?.repos.find((r) => r.repo === 'catalog');
    expect(catalog?.status).toBe('failed');
    expect(catalog?.error?.step).toBe('revert');
    expect(catalog?.error?.message).toMatch(
      /conflicts with the current main in NOTES\.md; revert those files by hand$/,
    );
    expect(doc?.repos.find((r) => r.repo === 'storefront')?.status).toBe('green');
    expect(await pullsOf('storefront', `lockstep/${NOTES}-revert`)).toEqual([]);
    expect(await git('catalog', 'show', 'main:NOTES.md')).toBe('a rewritten note\n');
  });
});
