/**
 * The revert's edit on real git (activities/git/revert.ts): each merge method landing uses is
 * undone on the current base, staged and not committed; a commit not on the base is refused.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revertMerged } from '../../activities/git/revert.ts';
import type { MergeMethod } from '../../core/landing.ts';

const exec = promisify(execFile);
let dir: string;
const git = async (...args: string[]) =>
  (
    await exec(
      'git',
      ['-c', 'user.name=T', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args],
      { cwd: dir },
    )
  ).stdout.trim();
const commit = async (file: string, text: string, message: string) => {
  await writeFile(join(dir, file), text);
  await git('add', file);
  await git('commit', '--quiet', '-m', message);
  return git('rev-parse', 'HEAD');
};
const trailer = (n: number) => `change part ${n}\n\nLockstep-Change: notes`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-revert-git-'));
  await git('init', '--quiet');
  await commit('a.txt', 'base\n', 'base');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Lands a two-commit PR branch on main with `method`; the sha landing would record. */
async function landed(method: MergeMethod): Promise<string> {
  await git('checkout', '--quiet', '-b', 'lockstep/notes');
  await commit('a.txt', 'base\none\n', trailer(1));
  await commit('b.txt', 'two\n', trailer(2));
  await git('checkout', '--quiet', 'main');
  await commit('c.txt', 'someone else\n', 'unrelated work on main');
  if (method === 'merge') await git('merge', '--quiet', '--no-ff', '-m', 'merge PR', 'lockstep/notes');
  if (method === 'squash') {
    await git('merge', '--quiet', '--squash', 'lockstep/notes');
    await git('commit', '--quiet', '-m', 'squashed PR');
  }
  if (method === 'rebase') {
    await git('checkout', '--quiet', 'lockstep/notes');
    await git('rebase', '--quiet', 'main');
    await git('checkout', '--quiet', 'main');
    await git('merge', '--quiet', '--ff-only', 'lockstep/notes');
  }
  return git('rev-parse', 'HEAD');
}

describe('revertMerged', () => {
  for (const method of ['merge', 'squash', 'rebase'] as const)
    it(`undoes a ${method} on the current base, staged, keeping what else landed`, async () => {
      const sha = await landed(method);
      await commit('d.txt', 'after\n', 'more work on main');
      const out = await revertMerged(
        { workspace: dir, of: 'notes', revert: { repo: 'r', number: 1, sha, method } },
        null,
      );
      expect(out.conflicts).toEqual([]);
      expect(out.problem).toBeNull();
      expect(out.reverted.length).toBe(method === 'rebase' ? 2 : 1);
      expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('base\n');
      expect((await git('status', '--porcelain')).split('\n').sort()).toEqual(['D  b.txt', 'M  a.txt']);
      expect(await readFile(join(dir, 'c.txt'), 'utf8')).toBe('someone else\n');
      // Staged only: commitAndPush makes the commit.
      expect(await git('log', '-1', '--format=%s')).toBe('more work on main');
    });

  it('answers the files in conflict and leaves the work tree at the base', async () => {
    const sha = await landed('merge');
    await commit('a.txt', 'rewritten\n', 'rewrite a');
    const out = await revertMerged(
      { workspace: dir, of: 'notes', revert: { repo: 'r', number: 1, sha, method: 'merge' } },
      null,
    );
    expect(out).toEqual({ reverted: [], conflicts: ['a.txt'], problem: null });
    expect(await git('status', '--porcelain')).toBe('');
  });

  it('refuses a merge that is not on the base', async () => {
    await git('checkout', '--quiet', '-b', 'elsewhere');
    const sha = await commit('x.txt', 'x\n', 'not on main');
    await git('checkout', '--quiet', 'main');
    const out = await revertMerged(
      { workspace: dir, of: 'notes', revert: { repo: 'r', number: 4, sha, method: 'squash' } },
      null,
    );
    expect(out.reverted).toEqual([]);
    expect(out.problem).toBe(
      `${sha.slice(0, 12)} (the merge of r #4) is not on the base branch any more; revert it by hand`,
    );
  });
});
