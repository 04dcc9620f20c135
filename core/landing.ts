/**
 * Landing a linked set: what every forge reports of one PR before it merges, and what a merge
 * request answers. The forges (local, GitHub, GitLab, Gitea) fill these from their own APIs;
 * the landing workflow decides from them alone, so it reads the same on every forge.
 */
import type { PullRequestRecord } from './pulls.ts';

/** How a PR merges: the repo's `merge` setting (default `merge`). */
export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** One check or commit status on the PR's head, as the forge reports it. */
export interface LandingCheck {
  name: string;
  state: 'success' | 'failure' | 'pending' | 'missing';
  /** Required by the base branch's protection (a required check that never reported is `missing`). */
  required: boolean;
  url?: string;
}

/** What landing reads of one PR before merging it (and again after each wait). */
export interface LandingState {
  /** The PR as the forge has it now: `commit` is its head commit on the forge. */
  pullRequest: PullRequestRecord;
  /** Who made the head commit, when it is not the one the change pushed (from the forge's commit data). */
  headAuthor: string | null;
  checks: LandingCheck[];
  reviews: {
    approved: number;
    /** Approvals the base branch's protection requires (0 when it requires none). */
    required: number;
    /** Reviewers whose latest review requests changes. */
    changesRequested: string[];
  };
  /** The base branch moved past the PR's merge base (it must be brought up to date first). */
  behind: boolean;
  /** The PR merges cleanly into its base; null while the forge is still computing it. */
  mergeable: boolean | null;
  /** Files in conflict with the base, when the forge says which. */
  conflicts: string[];
  /** The merge commit's sha once the PR has merged (by landing or by anyone else). */
  mergedSha: string | null;
}

/** A merge request with the forge's head-sha guard: the forge refuses it if the head moved. */
export interface MergeRequest {
  repo: string;
  number: number;
  /** The head commit the change pushed and the gate checked. */
  sha: string;
  method: MergeMethod;
}

export type MergeOutcome =
  /** Merged now, or found merged at `sha` already (a retry after a lost answer): never an error. */
  | { merged: true; mergedSha: string; alreadyMerged: boolean }
  /** The forge refused: its own reason, verbatim (branch protection, head moved, conflict, …). */
  | { merged: false; reason: string; kind: 'head-moved' | 'conflict' | 'protected' | 'closed' | 'refused' };

/** Bringing a PR whose base moved up to date on the forge. */
export type UpdateOutcome =
  { updated: true; headSha: string } | { updated: false; conflicts: string[]; reason: string };

/**
 * Where a refused update's conflicts are when the forge names no file (GitHub's, GitLab's and
 * Gitea's APIs name none): the files both sides changed since they diverged, sorted. Every file
 * in conflict is one of them, though not each of them need conflict.
 */
export function changedOnBothSides(ours: readonly string[], theirs: readonly string[]): string[] {
  const changed = new Set(theirs);
  return [...new Set(ours)].filter((file) => changed.has(file)).sort();
}

/**
 * A forge's refusal to bring a PR up to date for a conflict it does not locate: its own words,
 * and where to look as what it is (not as the conflicting files, which `conflicts` holds only
 * when the forge names them).
 */
export function conflictRefusal(reason: string, bothSides: readonly string[]): UpdateOutcome {
  const hint = bothSides.length > 0 ? ` (changed on both sides since the merge base: ${bothSides.join(', ')})` : '';
  return { updated: false, conflicts: [], reason: `${reason}${hint}` };
}
