/**
 * The built-in `local` forge: pull requests are JSON records under the state folder, one
 * folder per repo. It checks what a real forge checks (the head branch exists on the remote
 * at the given commit) and serialises find-or-create with a lock, so concurrent or retried
 * activities never make a second PR for a branch.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { remoteBranchCommit } from '../../git/workspace.ts';
import type { LandingState, MergeMethod, MergeOutcome, MergeRequest, UpdateOutcome } from '../../../core/landing.ts';
import { fatal } from '../../errors.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { inLandingClone, type Branches } from './landing.ts';

/**
 * What the local forge keeps of a PR beyond the common record: the remote it lives on, and its
 * merge. `merging` is written before the merge is pushed, so a forge killed between the push and
 * the record finds its own merge on the remote instead of merging twice.
 */
interface LocalRecord extends PullRequestRecord {
  remote?: string;
  merge?: { sha: string; head: string; method: MergeMethod; at: string };
  merging?: { sha: string; head: string; method: MergeMethod };
}

const LOCK_STALE_MS = 30_000;

export class LocalForge implements Forge {
  readonly kind = 'local';

  constructor(private readonly root: string) {}

  private repoDir(repo: string): string {
    return join(this.root, repo, 'pulls');
  }

  async listPullRequests(repo: string): Promise<PullRequestRecord[]> {
    const dir = this.repoDir(repo);
    const names = await readdir(dir).catch(() => [] as string[]);
    const records = await Promise.all(
      names
        .filter((n) => /^\d+\.json$/.test(n))
        .map(async (n) => withoutLocal(JSON.parse(await readFile(join(dir, n), 'utf8')) as LocalRecord)),
    );
    return records.sort((a, b) => a.number - b.number);
  }

  async findOrCreatePullRequest(spec: PullRequestSpec): Promise<{ pullRequest: PullRequestRecord; created: boolean }> {
    const onRemote = await remoteBranchCommit(spec.url, spec.head);
    if (onRemote !== spec.commit) {
      throw new Error(
        `head branch ${spec.head} of ${spec.repo} is at ${onRemote ?? 'nothing'} on the remote, expected ${spec.commit}`,
      );
    }
    return this.withLock(spec.repo, async () => {
      const existing = (await this.listPullRequests(spec.repo)).find(
        (pr) => pr.head === spec.head && pr.state === 'open',
      );
      if (existing) {
        // Records written before landing did not keep their remote.
        const stored = await this.read(spec.repo, existing.number);
        if (stored.remote !== spec.url) await this.write({ ...stored, remote: spec.url });
        return { pullRequest: existing, created: false };
      }
      const all = await this.listPullRequests(spec.repo);
      const number = (all.at(-1)?.number ?? 0) + 1;
      const now = new Date().toISOString();
      const record: LocalRecord = {
        remote: spec.url,
        number,
        url: pathToFileURL(this.recordPath(spec.repo, number)).href,
        repo: spec.repo,
        title: spec.title,
        body: spec.body,
        head: spec.head,
        base: spec.base,
        commit: spec.commit,
        state: 'open',
        draft: false,
        createdAt: now,
        updatedAt: now,
      };
      await this.write(record);
      return { pullRequest: record, created: true };
    });
  }

  async updatePullRequest(
    repo: string,
    number: number,
    update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>,
  ): Promise<PullRequestRecord> {
    return this.withLock(repo, async () => {
      const current = await this.read(repo, number);
      const next: LocalRecord = { ...current, ...update, updatedAt: new Date().toISOString() };
      await this.write(next);
      return withoutLocal(next);
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    // The local forge runs no checks and has no reviewers.
    return {
      pullRequest: withoutLocal(await this.read(repo, number)),
      checks: 'none',
      reviews: { approved: 0, changesRequested: 0, commented: 0 },
    };
  }

  async markReady(repo: string, number: number): Promise<PullRequestRecord> {
    return this.change(repo, number, (pr) => (pr.draft ? { draft: false } : null));
  }

  // Landing: no checks, no reviews; the base branch of the bare remote is what a merge moves.
  async landingState(repo: string, number: number): Promise<LandingState> {
    const record = await this.read(repo, number);
    const branches = this.branchesOf(record);
    return inLandingClone(branches, async (clone) => {
      const head = clone.headTip ?? record.commit;
      const merged = record.state === 'merged';
      const conflicts = merged || !clone.headTip ? [] : await clone.trialMerge();
      return {
        pullRequest: { ...withoutLocal(record), commit: head },
        headAuthor: head !== record.commit && clone.headTip ? await clone.author(head) : null,
        checks: [],
        reviews: { approved: 0, required: 0, changesRequested: [] },
        behind: !merged && !(await clone.isAncestor(clone.baseTip, head)),
        mergeable: merged ? null : clone.headTip ? conflicts.length === 0 : false,
        conflicts,
        mergedSha: record.merge?.sha ?? null,
      };
    });
  }

  async mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    return this.withLock(request.repo, async () => {
      const record = await this.read(request.repo, request.number);
      if (record.state === 'merged') {
        if (record.merge?.head === request.sha)
          return { merged: true, mergedSha: record.merge.sha, alreadyMerged: true };
        return { merged: false, kind: 'refused', reason: `PR #${record.number} was merged at another head` };
      }
      if (record.state === 'closed') return { merged: false, kind: 'closed', reason: `PR #${record.number} is closed` };
      const branches = this.branchesOf(record);
      return inLandingClone(branches, async (clone) => {
        // A merge pushed before the forge could record it: found on the base, recorded now.
        const pending = record.merging;
        if (pending?.head === request.sha && (await clone.isAncestor(pending.sha, clone.baseTip)))
          return { ...(await this.recordMerge(record, pending)), alreadyMerged: true };
        if (clone.headTip !== request.sha)
          return {
            merged: false,
            kind: 'head-moved',
            reason: `head branch ${record.head} is at ${clone.headTip ?? 'nothing'}, not ${request.sha}`,
          };
        const made = await clone.merge(request.method, request.sha, `${record.title} (#${record.number})`);
        if (!made.commit)
          return {
            merged: false,
            kind: 'conflict',
            reason: `merge conflict in ${made.conflicts.join(', ')}`,
          };
        const merging = { sha: made.commit, head: request.sha, method: request.method };
        await this.write({ ...record, merging });
        if (!(await clone.pushWithLease(made.commit, record.base, clone.baseTip))) {
          await this.write({ ...record, merging: undefined });
          return { merged: false, kind: 'refused', reason: `base branch ${record.base} moved during the merge` };
        }
        return { ...(await this.recordMerge(record, merging)), alreadyMerged: false };
      });
    });
  }

  async updatePullRequestBranch(repo: string, number: number, sha: string): Promise<UpdateOutcome> {
    return this.withLock(repo, async () => {
      const record = await this.read(repo, number);
      return inLandingClone(this.branchesOf(record), async (clone) => {
        if (clone.headTip !== sha)
          return {
            updated: false,
            conflicts: [],
            reason: `head branch ${record.head} is at ${clone.headTip ?? 'nothing'}, not ${sha}`,
          };
        if (await clone.isAncestor(clone.baseTip, sha)) return { updated: true, headSha: sha };
        const made = await clone.mergeBaseIntoHead();
        if (!made.commit)
          return {
            updated: false,
            conflicts: made.conflicts,
            reason: `merging ${record.base} into ${record.head} conflicts in ${made.conflicts.join(', ')}`,
          };
        if (!(await clone.pushWithLease(made.commit, record.head, sha)))
          return { updated: false, conflicts: [], reason: `head branch ${record.head} moved during the update` };
        await this.write({ ...record, commit: made.commit, updatedAt: new Date().toISOString() });
        return { updated: true, headSha: made.commit };
      });
    });
  }

  private async recordMerge(
    record: LocalRecord,
    merge: { sha: string; head: string; method: MergeMethod },
  ): Promise<{ merged: true; mergedSha: string }> {
    const at = new Date().toISOString();
    await this.write({ ...record, state: 'merged', merging: undefined, merge: { ...merge, at }, updatedAt: at });
    return { merged: true, mergedSha: merge.sha };
  }

  private branchesOf(record: LocalRecord): Branches {
    if (!record.remote)
      throw fatal(
        'InvalidInput',
        `local PR #${record.number} of ${record.repo} was recorded before landing and does not name its remote; run the change again (lockstep run --rerun) to publish it again`,
      );
    return { url: record.remote, base: record.base, head: record.head };
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.change(repo, number, (pr) => (pr.state === 'open' ? { state: 'closed' } : null));
  }

  private async read(repo: string, number: number): Promise<LocalRecord> {
    return JSON.parse(await readFile(this.recordPath(repo, number), 'utf8')) as LocalRecord;
  }

  private async change(
    repo: string,
    number: number,
    edit: (pr: PullRequestRecord) => Partial<PullRequestRecord> | null,
  ): Promise<PullRequestRecord> {
    return this.withLock(repo, async () => {
      const current = await this.read(repo, number);
      const update = edit(current);
      if (!update) return withoutLocal(current);
      const next: LocalRecord = { ...current, ...update, updatedAt: new Date().toISOString() };
      await this.write(next);
      return withoutLocal(next);
    });
  }

  private recordPath(repo: string, number: number): string {
    return join(this.repoDir(repo), `${number}.json`);
  }

  private async write(record: LocalRecord): Promise<void> {
    const path = this.recordPath(record.repo, record.number);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, path);
  }

  private async withLock<T>(repo: string, fn: () => Promise<T>): Promise<T> {
    const dir = this.repoDir(repo);
    await mkdir(dir, { recursive: true });
    const lock = join(dir, '.lock');
    for (let i = 0; ; i++) {
      try {
        await mkdir(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age =
          Date.now() -
          (await stat(lock)
            .then((s) => s.mtimeMs)
            .catch(() => Date.now()));
        if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
        if (i > 600) throw new Error(`local forge lock ${lock} is held for too long`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/** The common record of a local one (what every forge reports). */
function withoutLocal(record: LocalRecord): PullRequestRecord {
  const { remote: _remote, merge: _merge, merging: _merging, ...common } = record;
  return common;
}
