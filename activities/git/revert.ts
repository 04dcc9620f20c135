/**
 * The edit of a revert (core/revert.ts), made by git on the host in a repo's cloned workspace:
 * the inverse of the merge landing made, applied to the current base without committing, so
 * `commitAndPush` commits it like any other change. A revert that does not apply cleanly is
 * given up (the work tree back at the base) and answered with the files in conflict.
 */
import { lchown } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RevertMergedInput, RevertMergedResult } from '../../core/revert.ts';
import { gitExec } from './workspace.ts';

/** Git in the workspace, failing on a non-zero exit (a conflicting revert says so only by its exit code). */
const gitIn = async (workspace: string, args: string[]): Promise<string> =>
  (await gitExec(workspace, args)).toString('utf8');

/**
 * The commits that undo one merged PR, newest first: a merge commit against its first parent
 * (`-m 1`); a squash (or a merge the forge fast-forwarded) as the commit itself; a rebase as the
 * PR's commits the forge replayed onto the base, the run of first-parent commits ending at `sha`
 * that carry the change's trailer (the commits Lockstep made), or `sha` alone when none does.
 */
export async function revertCommits(
  workspace: string,
  of: string,
  sha: string,
  method: RevertMergedInput['revert']['method'],
): Promise<{ commit: string; mainline: boolean }[]> {
  const parents = (await gitIn(workspace, ['rev-list', '--parents', '-n', '1', sha])).trim().split(' ').slice(1);
  if (method !== 'rebase') return [{ commit: sha, mainline: parents.length > 1 }];
  const trailer = `Lockstep-Change: ${of}`;
  // Commits as "<sha> <parents…>\0<message>\0", newest first along the first parent.
  const log = (await gitIn(workspace, ['log', '--first-parent', '-z', '--format=%H %P%x00%B', '-n', '200', sha])).split(
    '\0',
  );
  const commits: { commit: string; mainline: boolean }[] = [];
  for (let i = 0; i + 1 < log.length; i += 2) {
    const [commit, ...ps] = (log[i] ?? '').trim().split(' ');
    if (!commit || !(log[i + 1] ?? '').split('\n').some((l) => l.trim() === trailer)) break;
    commits.push({ commit, mainline: ps.length > 1 });
  }
  return commits.length > 0 ? commits : [{ commit: sha, mainline: parents.length > 1 }];
}

export async function revertMerged(
  input: RevertMergedInput,
  owner: { uid: number; gid: number } | null,
): Promise<RevertMergedResult> {
  const { workspace, revert } = input;
  const onBase = await gitIn(workspace, ['merge-base', '--is-ancestor', revert.sha, 'HEAD']).then(
    () => true,
    () => false,
  );
  if (!onBase)
    return {
      reverted: [],
      conflicts: [],
      problem: `${revert.sha.slice(0, 12)} (the merge of ${revert.repo} #${revert.number}) is not on the base branch any more; revert it by hand`,
    };
  const commits = await revertCommits(workspace, input.of, revert.sha, revert.method);
  for (const { commit, mainline } of commits) {
    try {
      await gitIn(workspace, ['revert', '--no-commit', '--no-edit', ...(mainline ? ['-m', '1'] : []), commit]);
    } catch (err) {
      const conflicts = (await gitIn(workspace, ['diff', '--name-only', '--diff-filter=U', '-z']))
        .split('\0')
        .filter(Boolean);
      // Back to the base, so nothing half-reverted can be committed by a retry.
      await gitIn(workspace, ['revert', '--abort']).catch(() => undefined);
      await gitIn(workspace, ['reset', '--quiet', '--hard']).catch(() => undefined);
      if (conflicts.length > 0) return { reverted: [], conflicts, problem: null };
      const message = err instanceof Error ? err.message.split('\n').find((l) => l.trim()) : String(err);
      return { reverted: [], conflicts: [], problem: `git revert of ${commit.slice(0, 12)} failed: ${message ?? ''}` };
    }
  }
  // git on the host made these files: hand them (and any folder it made) to the sandbox user.
  if (owner) {
    const changed = (await gitIn(workspace, ['diff', '--cached', '--name-only', '--no-renames', '-z']))
      .split('\0')
      .filter(Boolean);
    const paths = new Set<string>();
    for (const file of changed)
      for (let p = file; p !== '.' && p !== '/' && p !== ''; p = dirname(p)) paths.add(join(workspace, p));
    for (const path of paths) await lchown(path, owner.uid, owner.gid).catch(() => undefined);
  }
  return { reverted: commits.map((c) => c.commit), conflicts: [], problem: null };
}
