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
import type { LandingState, MergeOutcome, UpdateOutcome } from '../../../core/landing.ts';
import { fatal } from '../../errors.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';

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
        .map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as PullRequestRecord),
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
      if (existing) return { pullRequest: existing, created: false };
      const all = await this.listPullRequests(spec.repo);
      const number = (all.at(-1)?.number ?? 0) + 1;
      const now = new Date().toISOString();
      const record: PullRequestRecord = {
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
      const current = JSON.parse(await readFile(this.recordPath(repo, number), 'utf8')) as PullRequestRecord;
      const next: PullRequestRecord = { ...current, ...update, updatedAt: new Date().toISOString() };
      await this.write(next);
      return next;
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    // The local forge runs no checks and has no reviewers.
    return {
      pullRequest: await this.read(repo, number),
      checks: 'none',
      reviews: { approved: 0, changesRequested: 0, commented: 0 },
    };
  }

  async markReady(repo: string, number: number): Promise<PullRequestRecord> {
    return this.change(repo, number, (pr) => (pr.draft ? { draft: false } : null));
  }

  // Landing (issue 23): filled in by the landing work; until then a clear refusal, never a guess.
  landingState(): Promise<LandingState> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the local forge yet'));
  }

  mergePullRequest(): Promise<MergeOutcome> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the local forge yet'));
  }

  updatePullRequestBranch(): Promise<UpdateOutcome> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the local forge yet'));
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.change(repo, number, (pr) => (pr.state === 'open' ? { state: 'closed' } : null));
  }

  private async read(repo: string, number: number): Promise<PullRequestRecord> {
    return JSON.parse(await readFile(this.recordPath(repo, number), 'utf8')) as PullRequestRecord;
  }

  private async change(
    repo: string,
    number: number,
    edit: (pr: PullRequestRecord) => Partial<PullRequestRecord> | null,
  ): Promise<PullRequestRecord> {
    return this.withLock(repo, async () => {
      const current = await this.read(repo, number);
      const update = edit(current);
      if (!update) return current;
      const next: PullRequestRecord = { ...current, ...update, updatedAt: new Date().toISOString() };
      await this.write(next);
      return next;
    });
  }

  private recordPath(repo: string, number: number): string {
    return join(this.repoDir(repo), `${number}.json`);
  }

  private async write(record: PullRequestRecord): Promise<void> {
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
