/**
 * The two histories a forge fake can keep, held to one behaviour: the in-memory graph and a
 * real bare repository (git-history.ts). Heads, authors, behind and ahead, conflicts, and merge,
 * squash, rebase and fast-forward read the same on both; the git one is also what git says.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommitGraph, type History } from './commit-graph.ts';
import { GitHistory } from './git-history.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A bare repository with one commit on main, as the e2e fleets seed theirs. */
function bareRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-git-history-'));
  dirs.push(dir);
  const work = join(dir, 'work');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Seed', '-c', 'user.email=seed@example.test', '-C', work, ...args]);
  execFileSync('git', ['init', '--quiet', '--initial-branch', 'main', work]);
  writeFileSync(join(work, 'README.md'), '# seed\n');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'seed');
  execFileSync('git', ['clone', '--quiet', '--bare', work, join(dir, 'remote.git')]);
  return join(dir, 'remote.git');
}

const histories: [string, () => History][] = [
  ['in memory', () => new CommitGraph('main', 'seed')],
  ['in a bare repository', () => new GitHistory(bareRepo())],
];

describe.each(histories)('a fake forge history %s', (_name, make) => {
  it('pushes commits by their authors, and counts behind and ahead', () => {
    const h = make();
    const base = h.head('main') ?? '';
    const sha = h.push('feature', ['a.txt'], 'alice');
    expect(h.get(sha)).toMatchObject({ parents: [base], files: ['a.txt'], author: 'alice' });
    expect(h.head('feature')).toBe(sha);
    h.push('main', ['b.txt'], 'bob');
    expect(h.behindBy(h.head('main') ?? '', sha)).toBe(1);
    expect(h.aheadBy(h.head('main') ?? '', sha)).toBe(1);
    expect(h.ancestors(sha).has(base)).toBe(true);
    expect(h.changedFiles(h.head('main') ?? '', sha)).toEqual(['a.txt']);
    expect(h.head('nothing')).toBeUndefined();
  });

  it('finds conflicts only in files both sides changed', () => {
    const h = make();
    const ours = h.push('feature', ['README.md', 'a.txt'], 'alice');
    h.push('main', ['b.txt'], 'bob');
    expect(h.conflicts(h.head('main') ?? '', ours)).toEqual([]);
    h.push('main', ['README.md'], 'carol');
    expect(h.conflicts(h.head('main') ?? '', ours)).toEqual(['README.md']);
  });

  it('lands by merge, squash, rebase and fast-forward, moving the branch', () => {
    const h = make();
    const start = h.head('main') ?? '';
    const one = h.push('one', ['one.txt'], 'alice');
    const merged = h.land('main', one, 'merge', 'bot', 'Merge one');
    expect(h.get(merged)).toMatchObject({ parents: [start, one], message: 'Merge one' });
    expect(h.head('main')).toBe(merged);

    const two = h.push('two', ['two.txt'], 'alice', 'main');
    h.push('two', ['two-b.txt'], 'alice');
    const squashed = h.land('main', h.head('two') ?? '', 'squash', 'bot', 'Two (#2)');
    expect(h.get(squashed)).toMatchObject({ parents: [merged], files: ['two-b.txt', 'two.txt'] });
    expect(h.get(two)?.parents).toEqual([merged]);

    const three = h.push('three', ['three.txt'], 'dave', 'main');
    h.push('main', ['other.txt'], 'erin');
    const moved = h.head('main') ?? '';
    const rebased = h.land('main', three, 'rebase', 'bot', 'unused');
    expect(rebased).not.toBe(three);
    expect(h.get(rebased)).toMatchObject({ parents: [moved], files: ['three.txt'], author: 'dave' });

    const four = h.push('four', ['four.txt'], 'alice', 'main');
    expect(h.land('main', four, 'ff', 'bot', 'unused')).toBe(four);
    expect(h.head('main')).toBe(four);
  });

  it('makes update-branch merges and squash commits on no branch', () => {
    const h = make();
    const head = h.push('feature', ['a.txt'], 'alice');
    h.push('main', ['b.txt'], 'bob');
    const base = h.head('main') ?? '';
    const update = h.mergeCommit(head, base, 'bot', "Merge branch 'main' into feature");
    expect(h.get(update)?.parents).toEqual([head, base]);
    expect(h.behindBy(base, update)).toBe(0);
    const squash = h.squash(base, head, 'bot', 'Squashed');
    expect(h.get(squash)).toMatchObject({ parents: [base], files: ['a.txt'], message: 'Squashed' });
    expect(h.head('feature')).toBe(head);
    expect(h.head('main')).toBe(base);
  });
});

describe('a history in a bare repository', () => {
  it('is what git sees: merges hold both sides, and a conflicting merge is refused', () => {
    const dir = bareRepo();
    const h = new GitHistory(dir);
    const feature = h.push('feature', ['a.txt'], 'alice');
    h.push('main', ['b.txt'], 'bob');
    const merged = h.land('main', feature, 'merge', 'bot', 'Merge feature');
    const files = execFileSync('git', ['--git-dir', dir, 'ls-tree', '--name-only', merged], { encoding: 'utf8' });
    expect(files.split('\n').filter(Boolean)).toEqual(['README.md', 'a.txt', 'b.txt']);
    const ours = h.push('clash', ['README.md'], 'alice');
    h.push('main', ['README.md'], 'carol');
    expect(() => h.mergeCommit(h.head('main') ?? '', ours, 'bot', 'no')).toThrow(/conflicts in README\.md/);
    expect(() => new GitHistory(dir, 'trunk')).toThrow(/has no branch trunk/);
  });
});
