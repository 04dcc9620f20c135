/**
 * Git for the local forge's landing: every question (is the head behind its base, would it
 * merge, who made the head) and every merge is answered in a temporary clone that fetches only
 * the two branches, and every push to the bare remote carries a lease on the value it read, so
 * a branch that moved meanwhile is never overwritten.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MergeMethod } from '../../../core/landing.ts';
import { gitEnv, safeGitConfig } from '../../git/workspace.ts';

const exec = promisify(execFile);

/**
 * Git in the clone, failing on any non-zero exit: a merge that stops on a conflict says so on
 * stdout only, which simple-git would take for success.
 */
async function gitIn(dir: string, args: string[]): Promise<string> {
  const config = safeGitConfig(dir).flatMap((c) => ['-c', c]);
  return (await exec('git', [...config, ...args], { cwd: dir, env: gitEnv(), maxBuffer: 16 * 1024 * 1024 })).stdout;
}

const BASE = 'refs/remotes/forge/base';
const HEAD = 'refs/remotes/forge/head';

export interface Branches {
  url: string;
  base: string;
  head: string;
}

/** A throwaway clone holding the base and head branches of a PR as they are on the remote now. */
export class LandingClone {
  private constructor(
    readonly dir: string,
    readonly branches: Branches,
    /** Tip of the base branch, and of the head branch (null when the head branch is gone). */
    readonly baseTip: string,
    readonly headTip: string | null,
  ) {}

  static async open(branches: Branches): Promise<LandingClone> {
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-land-'));
    try {
      await gitIn(dir, ['init', '--quiet']);
      const heads = await gitIn(dir, ['ls-remote', '--heads', branches.url]);
      const tip = (branch: string) =>
        heads
          .split('\n')
          .map((l) => l.split('\t'))
          .find(([, ref]) => ref === `refs/heads/${branch}`)?.[0] ?? null;
      const baseTip = tip(branches.base);
      if (!baseTip) throw new Error(`base branch ${branches.base} does not exist in ${branches.url}`);
      const headTip = tip(branches.head);
      await gitIn(dir, [
        'fetch',
        '--quiet',
        '--no-tags',
        branches.url,
        `+refs/heads/${branches.base}:${BASE}`,
        ...(headTip ? [`+refs/heads/${branches.head}:${HEAD}`] : []),
      ]);
      return new LandingClone(dir, branches, baseTip, headTip);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }

  private run(args: string[]): Promise<string> {
    return gitIn(this.dir, args);
  }

  async isAncestor(ancestor: string, of: string): Promise<boolean> {
    try {
      await this.run(['merge-base', '--is-ancestor', ancestor, of]);
      return true;
    } catch {
      return false;
    }
  }

  async author(sha: string): Promise<string> {
    return (await this.run(['log', '-1', '--format=%an <%ae>', sha])).trim();
  }

  /**
   * Merges `theirs` into a work tree checked out at `ours`: the files in conflict (none when it
   * merged). The work tree is left at the result, or clean after an abort.
   */
  private async mergeInto(ours: string, theirs: string, message: string, squash = false): Promise<string[]> {
    await this.run(['checkout', '--quiet', '--force', '--detach', ours]);
    try {
      await this.run(['merge', '--quiet', squash ? '--squash' : '--no-ff', '--no-edit', '-m', message, theirs]);
      return [];
    } catch (err) {
      const conflicts = (await this.run(['diff', '--name-only', '--diff-filter=U'])).split('\n').filter(Boolean);
      await this.run(['merge', '--abort']).catch(() => this.run(['reset', '--quiet', '--hard']));
      if (conflicts.length === 0) throw err;
      return conflicts;
    }
  }

  /** Whether the head merges cleanly into the base now, and the files in conflict if not. */
  async trialMerge(): Promise<string[]> {
    if (!this.headTip) return [];
    return this.mergeInto(this.baseTip, this.headTip, 'trial merge');
  }

  /**
   * The base branch's next commit with the head merged in by `method`, not pushed yet; or the
   * files in conflict.
   */
  async merge(
    method: MergeMethod,
    head: string,
    title: string,
  ): Promise<{ commit: string; conflicts: [] } | { commit: null; conflicts: string[] }> {
    const tip = async () => (await this.run(['rev-parse', 'HEAD'])).trim();
    if (method === 'rebase') {
      await this.run(['checkout', '--quiet', '--force', '--detach', head]);
      try {
        await this.run(['rebase', '--quiet', this.baseTip]);
        return { commit: await tip(), conflicts: [] };
      } catch (err) {
        const conflicts = (await this.run(['diff', '--name-only', '--diff-filter=U'])).split('\n').filter(Boolean);
        await this.run(['rebase', '--abort']).catch(() => undefined);
        if (conflicts.length === 0) throw err;
        return { commit: null, conflicts };
      }
    }
    const conflicts = await this.mergeInto(this.baseTip, head, title, method === 'squash');
    if (conflicts.length > 0) return { commit: null, conflicts };
    if (method === 'squash') await this.run(['commit', '--quiet', '--no-edit', '-m', title]);
    return { commit: await tip(), conflicts: [] };
  }

  /** The head with the base merged in (update-branch), not pushed yet; or the files in conflict. */
  async mergeBaseIntoHead(): Promise<{ commit: string; conflicts: [] } | { commit: null; conflicts: string[] }> {
    if (!this.headTip) throw new Error(`head branch ${this.branches.head} does not exist`);
    const conflicts = await this.mergeInto(
      this.headTip,
      this.baseTip,
      `Merge branch '${this.branches.base}' into ${this.branches.head}`,
    );
    if (conflicts.length > 0) return { commit: null, conflicts };
    return { commit: (await this.run(['rev-parse', 'HEAD'])).trim(), conflicts: [] };
  }

  /**
   * Pushes `commit` to `branch` only if the remote's branch is still at `expected`: false when
   * it moved meanwhile (the lease refused the push).
   */
  async pushWithLease(commit: string, branch: string, expected: string): Promise<boolean> {
    try {
      await this.run([
        'push',
        '--quiet',
        '--porcelain',
        `--force-with-lease=refs/heads/${branch}:${expected}`,
        this.branches.url,
        `${commit}:refs/heads/${branch}`,
      ]);
      return true;
    } catch (err) {
      if (/stale info|rejected|fetch first|non-fast-forward/i.test(err instanceof Error ? err.message : String(err)))
        return false;
      throw err;
    }
  }
}

/** Opens a clone of the PR's branches, runs `work` in it, and always removes it. */
export async function inLandingClone<T>(branches: Branches, work: (clone: LandingClone) => Promise<T>): Promise<T> {
  const clone = await LandingClone.open(branches);
  try {
    return await work(clone);
  } finally {
    await clone.close();
  }
}
