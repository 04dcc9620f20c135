/**
 * Reverting a landed change: a change of its own (`<changeId>-revert`) over the repos whose pull
 * request merged, whose edit in each repo is the inverse of that merge on the current base, and
 * whose pull requests merge in the reverse order (consumers before providers). Built here, purely,
 * from what Temporal holds of the original change: its input and its last landing.
 */
import type { ChangeInput } from './change.ts';
import { changeBranch, revertChangeId } from './ids.ts';
import type { MergeMethod } from './landing.ts';
import type { LandingView } from './landing-plan.ts';
import type { RepoTask } from './repo.ts';

/** What one repo reverts: the merge landing made (or found) of the original change's PR. */
export interface RepoRevert {
  repo: string;
  /** The original PR. */
  number: number;
  /** The commit the PR's merge put on the base branch (the tip of it, for `rebase`). */
  sha: string;
  method: MergeMethod;
}

export interface RevertSpec {
  /** The change whose merged pull requests this change reverts. */
  of: string;
  repos: RepoRevert[];
}

/** Why a change cannot be reverted (naming the change), and what to do instead. */
export interface RevertRefusal {
  refused: string;
  fix: string;
}

/**
 * The input of the revert of `original`, given where its last landing ended (null: it never
 * landed; `landing`: one runs now). Only merged repos take part; the gate sees the real provider/consumer roles, with
 * only the reverted repos in the change.
 */
export function revertInput(
  original: ChangeInput,
  landing: LandingView | 'landing' | null,
): ChangeInput | RevertRefusal {
  const id = original.changeId;
  if (original.revert)
    return {
      refused: `change ${id} is itself the revert of ${original.revert.of}`,
      fix: `to bring ${original.revert.of} back, run it again ("lockstep run --rerun" with its change file)`,
    };
  if (!landing)
    return {
      refused: `change ${id} never landed, so nothing of it merged to revert`,
      fix: `land it first ("lockstep land ${id}"), or take back its open pull requests with "lockstep close ${id}"`,
    };
  if (landing === 'landing' || landing.status === 'landing')
    return {
      refused: `change ${id} is landing right now`,
      fix: `wait for "lockstep land ${id}" to end, then revert what merged`,
    };
  const repos: RepoRevert[] = landing.repos.flatMap((r) =>
    r.merge ? [{ repo: r.repo, number: r.number, sha: r.merge.sha, method: r.merge.method }] : [],
  );
  if (repos.length === 0)
    return {
      refused: `no pull request of change ${id} merged (its landing ${landing.status}: ${landing.summary})`,
      fix: `take back its open pull requests with "lockstep close ${id}"`,
    };
  const merged = new Set(repos.map((r) => r.repo));
  const revertId = revertChangeId(id);
  const tasks: RepoTask[] = original.repos
    .filter((t) => merged.has(t.repo))
    .map((t) => ({
      repo: t.repo,
      url: t.url,
      baseBranch: t.baseBranch,
      branch: changeBranch(revertId),
      sandbox: t.sandbox,
      mode: 'steps',
      steps: [],
      instructions: null,
      expectedFiles: [],
      acceptance: null,
      provides: t.provides,
      consumes: t.consumes,
      ...(t.merge ? { merge: t.merge } : {}),
      contractPaths: t.contractPaths,
    }));
  const list = repos.map((r) => `${r.repo} #${r.number} (merged at ${r.sha.slice(0, 12)}, ${r.method})`).join(', ');
  const { previous: _previous, bump: _bump, landing: _landing, ...kept } = original;
  return {
    ...kept,
    changeId: revertId,
    title: `Revert "${original.title}"`,
    description: `This reverts the merged part of change \`${id}\`: ${list}. Merge in the order below: consumers before providers, so no consumer is left on its base ahead of a provider.`,
    repos: tasks,
    gate: original.gate
      ? { ...original.gate, repos: original.gate.repos.map((g) => ({ ...g, inChange: merged.has(g.repo) })) }
      : null,
    revert: { of: id, repos },
  };
}

/** The host activity `revertMerged`: one repo's revert, in its workspace. */
export interface RevertMergedInput {
  workspace: string;
  /** The reverted change (its commits carry its trailer). */
  of: string;
  revert: RepoRevert;
}

export interface RevertMergedResult {
  /** The commits reverted, newest first (empty when it did not apply). */
  reverted: string[];
  /** Files in conflict with the current base. */
  conflicts: string[];
  /** Why it did not apply, when not a conflict. */
  problem: string | null;
}
