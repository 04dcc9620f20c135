/**
 * The git history a forge fake keeps per repository, so that what landing reads and does has
 * real consequences: branch heads that move, merge bases, "behind", conflicts between files two
 * sides changed, and merge, squash, rebase and fast-forward as new commits. Shas are sha1s of
 * the commit's content and a sequence number: deterministic, and never two alike.
 */
import { createHash } from 'node:crypto';

export interface FakeCommit {
  sha: string;
  parents: string[];
  /** The files this commit changes against its first parent. */
  files: string[];
  author: string;
  message: string;
}

export type MergeKind = 'merge' | 'squash' | 'rebase' | 'ff';

/** What a forge fake needs of a repository's history: this in-memory graph, or a real bare repository (git-history.ts). */
export interface History {
  readonly defaultBranch: string;
  head(branch: string): string | undefined;
  setHead(branch: string, sha: string): void;
  get(sha: string): FakeCommit | undefined;
  adopt(sha: string, parent: string, author: string, files?: string[]): void;
  push(branch: string, files: string[], author: string, from?: string): string;
  ancestors(sha: string): Set<string>;
  behindBy(base: string, head: string): number;
  aheadBy(base: string, head: string): number;
  conflicts(base: string, head: string): string[];
  changedFiles(base: string, head: string): string[];
  /** A merge commit of `theirs` into `ours` (parents in that order), on no branch. */
  mergeCommit(ours: string, theirs: string, author: string, message: string): string;
  /** One commit on `base` with what `head` changes since they diverged, on no branch. */
  squash(base: string, head: string, author: string, message: string): string;
  land(branch: string, head: string, kind: MergeKind, author: string, message: string): string;
  replay(base: string, head: string): string;
}

export class CommitGraph implements History {
  private readonly commits = new Map<string, FakeCommit>();
  private readonly heads = new Map<string, string>();
  private seq = 0;

  constructor(
    readonly defaultBranch: string,
    author: string,
  ) {
    this.heads.set(defaultBranch, this.commit([], ['README.md'], author, 'Initial commit'));
  }

  /** A new commit (not on any branch until `setHead`). */
  commit(parents: string[], files: string[], author: string, message: string): string {
    const sha = createHash('sha1')
      .update(JSON.stringify([parents, files, author, message, ++this.seq]))
      .digest('hex');
    this.commits.set(sha, { sha, parents, files: [...new Set(files)].sort(), author, message });
    return sha;
  }

  /** A commit made elsewhere (a real remote), known here as a child of `parent` changing `files`. */
  adopt(sha: string, parent: string, author: string, files: string[] = []): void {
    if (!this.commits.has(sha)) this.commits.set(sha, { sha, parents: [parent], files, author, message: 'pushed' });
  }

  get(sha: string): FakeCommit | undefined {
    return this.commits.get(sha);
  }

  head(branch: string): string | undefined {
    return this.heads.get(branch);
  }

  setHead(branch: string, sha: string): void {
    this.heads.set(branch, sha);
  }

  /** Commits `files` on top of `branch` (created from `from`, default the default branch, when it is new). */
  push(branch: string, files: string[], author: string, from = this.defaultBranch): string {
    const parent = this.heads.get(branch) ?? this.heads.get(from);
    if (!parent) throw new Error(`no branch ${from}`);
    const sha = this.commit([parent], files, author, `change ${files.join(', ')}`);
    this.heads.set(branch, sha);
    return sha;
  }

  /** `sha` and everything it descends from. */
  ancestors(sha: string): Set<string> {
    const seen = new Set<string>();
    const todo = [sha];
    for (let at = todo.pop(); at !== undefined; at = todo.pop()) {
      if (seen.has(at)) continue;
      seen.add(at);
      todo.push(...(this.commits.get(at)?.parents ?? []));
    }
    return seen;
  }

  /** Commits reachable from `tip` and not from `base`. */
  private only(tip: string, base: string): FakeCommit[] {
    const excluded = this.ancestors(base);
    return [...this.ancestors(tip)]
      .filter((sha) => !excluded.has(sha))
      .map((sha) => this.commits.get(sha))
      .filter((c): c is FakeCommit => c !== undefined);
  }

  /** How many commits `head` lacks of `base` (GitHub's behind_by, GitLab's diverged commits). */
  behindBy(base: string, head: string): number {
    return this.only(base, head).length;
  }

  aheadBy(base: string, head: string): number {
    return this.only(head, base).length;
  }

  /** Files both sides changed since they diverged, sorted. */
  conflicts(base: string, head: string): string[] {
    const theirs = new Set(this.only(base, head).flatMap((c) => c.files));
    return [...new Set(this.only(head, base).flatMap((c) => c.files))].filter((f) => theirs.has(f)).sort();
  }

  /** Files `head` changes that `base` lacks. */
  changedFiles(base: string, head: string): string[] {
    return [...new Set(this.only(head, base).flatMap((c) => c.files))].sort();
  }

  mergeCommit(ours: string, theirs: string, author: string, message: string): string {
    return this.commit([ours, theirs], [], author, message);
  }

  squash(base: string, head: string, author: string, message: string): string {
    return this.commit([base], this.changedFiles(base, head), author, message);
  }

  /**
   * Lands `head` on `branch` the way `kind` does, moving the branch; returns the new head.
   * The caller has checked there is no conflict (and, for `ff`, that `head` is up to date).
   */
  land(branch: string, head: string, kind: MergeKind, author: string, message: string): string {
    const base = this.heads.get(branch);
    if (!base) throw new Error(`no branch ${branch}`);
    let tip: string;
    if (kind === 'ff') tip = head;
    else if (kind === 'merge') tip = this.commit([base, head], this.changedFiles(base, head), author, message);
    else if (kind === 'squash') tip = this.squash(base, head, author, message);
    else tip = this.replay(base, head);
    this.heads.set(branch, tip);
    return tip;
  }

  /** Each commit of `head` that `base` lacks replayed on `base`, oldest first: new shas, same changes, authors kept. */
  replay(base: string, head: string): string {
    let tip = base;
    const depth = (c: FakeCommit) => this.ancestors(c.sha).size;
    const commits = this.only(head, base).sort((a, b) => depth(a) - depth(b));
    for (const c of commits) if (c.parents.length <= 1) tip = this.commit([tip], c.files, c.author, c.message);
    return tip;
  }
}
