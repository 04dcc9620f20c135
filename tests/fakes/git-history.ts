/**
 * A forge fake's history kept in a real bare repository, so that what the fake does to
 * branches is what a sandbox clones and what a worker pushes onto: merges, squashes,
 * update-branch merges and rebases are made by real git, conflicts are what git finds
 * (`merge-tree --write-tree`), and "behind" is counted by `rev-list`. It has the surface of the
 * in-memory CommitGraph, which the fakes keep for unit tests that need no repository.
 *
 * Synchronous child processes are fine here: a fake serves one test, and each request runs a
 * handful of git commands on a tiny repository.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeCommit, History, MergeKind } from './commit-graph.ts';

export class GitHistory implements History {
  private seq = 0;

  constructor(
    /** The bare repository (its git dir). */
    readonly gitDir: string,
    readonly defaultBranch = 'main',
  ) {
    if (!this.head(defaultBranch)) throw new Error(`${gitDir} has no branch ${defaultBranch}`);
  }

  /** git on the bare repository as `author` (author and committer), failing loudly unless `allowed` lists the exit code. */
  private git(args: string[], options: { author?: string; input?: string; cwd?: string; allowed?: number[] } = {}) {
    const who = options.author ?? 'lockstep-fake';
    const identity = {
      GIT_AUTHOR_NAME: who,
      GIT_AUTHOR_EMAIL: `${who}@users.noreply.forge.test`,
      GIT_COMMITTER_NAME: who,
      GIT_COMMITTER_EMAIL: `${who}@users.noreply.forge.test`,
    };
    const where = options.cwd ? ['-C', options.cwd] : ['--git-dir', this.gitDir];
    const run = spawnSync('git', ['-c', 'core.hooksPath=/dev/null', ...where, ...args], {
      encoding: 'utf8',
      input: options.input,
      env: { ...process.env, ...identity },
    });
    if (run.status !== 0 && !(options.allowed ?? []).includes(run.status ?? -1))
      throw new Error(`git ${args.join(' ')} failed (${run.status}): ${run.stderr.trim()}`);
    return { code: run.status ?? -1, out: run.stdout };
  }

  private lines(args: string[]): string[] {
    return this.git(args).out.split('\n').filter(Boolean);
  }

  head(branch: string): string | undefined {
    const { code, out } = this.git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], {
      allowed: [1],
    });
    return code === 0 ? out.trim() : undefined;
  }

  setHead(branch: string, sha: string): void {
    this.git(['update-ref', `refs/heads/${branch}`, sha]);
  }

  /** A commit changing `files` on top of `parents[0]` (their content says who and when), with those parents. */
  commit(parents: string[], files: string[], author: string, message: string): string {
    const index = join(mkdtempSync(join(tmpdir(), 'lockstep-fake-index-')), 'index');
    try {
      const env = { GIT_INDEX_FILE: index };
      const withIndex = (args: string[], input?: string) => {
        const run = spawnSync('git', ['--git-dir', this.gitDir, ...args], {
          encoding: 'utf8',
          input,
          env: { ...process.env, ...env },
        });
        if (run.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${run.stderr.trim()}`);
        return run.stdout.trim();
      };
      if (parents[0]) withIndex(['read-tree', parents[0]]);
      for (const file of files) {
        const blob = withIndex(['hash-object', '-w', '--stdin'], `${file} by ${author}, change ${++this.seq}\n`);
        withIndex(['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`]);
      }
      const tree = withIndex(['write-tree']);
      return this.commitTree(tree, parents, author, message);
    } finally {
      rmSync(join(index, '..'), { recursive: true, force: true });
    }
  }

  private commitTree(tree: string, parents: string[], author: string, message: string): string {
    return this.git(['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message], {
      author,
    }).out.trim();
  }

  /** Every commit is in the repository already (a worker pushed it): nothing to learn. */
  adopt(): void {}

  get(sha: string): FakeCommit | undefined {
    if (!/^[0-9a-f]{40}$/.test(sha)) return undefined;
    if (this.git(['cat-file', '-e', `${sha}^{commit}`], { allowed: [1, 128] }).code !== 0) return undefined;
    const [parents = '', author = '', ...message] = this.git(['log', '-1', '--format=%P%x00%an%x00%B', sha]).out.split(
      '\0',
    );
    const parentList = parents.split(' ').filter(Boolean);
    const files = parentList[0]
      ? this.lines(['diff', '--name-only', parentList[0], sha])
      : this.lines(['ls-tree', '-r', '--name-only', sha]);
    return { sha, parents: parentList, files: files.sort(), author, message: message.join('\0').trim() };
  }

  push(branch: string, files: string[], author: string, from = this.defaultBranch): string {
    const parent = this.head(branch) ?? this.head(from);
    if (!parent) throw new Error(`no branch ${from}`);
    const sha = this.commit([parent], files, author, `change ${files.join(', ')}`);
    this.setHead(branch, sha);
    return sha;
  }

  ancestors(sha: string): Set<string> {
    return new Set(this.lines(['rev-list', sha]));
  }

  behindBy(base: string, head: string): number {
    return Number(this.git(['rev-list', '--count', `${head}..${base}`]).out.trim());
  }

  aheadBy(base: string, head: string): number {
    return Number(this.git(['rev-list', '--count', `${base}..${head}`]).out.trim());
  }

  /** Git's three-way merge of `ours` and `theirs`: the merged tree, and the files in conflict (sorted). */
  private mergeTree(ours: string, theirs: string): { tree: string; conflicts: string[] } {
    const { code, out } = this.git(['merge-tree', '--write-tree', '--name-only', '--no-messages', ours, theirs], {
      allowed: [1],
    });
    const [tree = '', ...files] = out.split('\n').filter(Boolean);
    return { tree, conflicts: code === 1 ? [...new Set(files)].sort() : [] };
  }

  conflicts(base: string, head: string): string[] {
    return this.mergeTree(base, head).conflicts;
  }

  changedFiles(base: string, head: string): string[] {
    return this.lines(['diff', '--name-only', `${base}...${head}`]).sort();
  }

  mergeCommit(ours: string, theirs: string, author: string, message: string): string {
    return this.commitTree(this.merged(ours, theirs), [ours, theirs], author, message);
  }

  squash(base: string, head: string, author: string, message: string): string {
    return this.commitTree(this.merged(base, head), [base], author, message);
  }

  private merged(ours: string, theirs: string): string {
    const { tree, conflicts } = this.mergeTree(ours, theirs);
    if (conflicts.length > 0) throw new Error(`merging ${theirs} into ${ours} conflicts in ${conflicts.join(', ')}`);
    return tree;
  }

  land(branch: string, head: string, kind: MergeKind, author: string, message: string): string {
    const base = this.head(branch);
    if (!base) throw new Error(`no branch ${branch}`);
    const tip =
      kind === 'ff'
        ? head
        : kind === 'merge'
          ? this.mergeCommit(base, head, author, message)
          : kind === 'squash'
            ? this.squash(base, head, author, message)
            : this.replay(base, head);
    // Only from where it was: a branch someone moved meanwhile is not overwritten.
    this.git(['update-ref', `refs/heads/${branch}`, tip, base]);
    return tip;
  }

  /** Each commit of `head` that `base` lacks (merges left out) cherry-picked onto `base` in a scratch worktree, authors kept. */
  replay(base: string, head: string): string {
    const commits = this.lines(['rev-list', '--reverse', '--no-merges', `${base}..${head}`]);
    if (commits.length === 0) return base;
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-fake-rebase-'));
    const work = join(dir, 'work');
    try {
      this.git(['worktree', 'add', '--quiet', '--detach', work, base]);
      for (const sha of commits)
        this.git(['cherry-pick', '--allow-empty', '--keep-redundant-commits', sha], { cwd: work });
      return this.git(['rev-parse', 'HEAD'], { cwd: work }).out.trim();
    } finally {
      this.git(['worktree', 'remove', '--force', work], { allowed: [128] });
      rmSync(dir, { recursive: true, force: true });
      this.git(['worktree', 'prune']);
    }
  }
}
