/**
 * One interface for every forge (local today; GitHub and GitLab each in a folder beside it).
 * Every call is find-or-create or an update keyed by the head branch, so retrying it never
 * opens a second pull request.
 */
import type { LandingState, MergeOutcome, MergeRequest, UpdateOutcome } from '../../core/landing.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../core/pulls.ts';

export interface PullRequestSpec {
  /** Repo name in the fleet config. */
  repo: string;
  /** The repo's remote, as in the fleet config. */
  url: string;
  head: string;
  base: string;
  title: string;
  body: string;
  commit: string;
}

export interface Forge {
  readonly kind: string;
  /** Returns the open PR for `spec.head`, creating it if there is none. */
  findOrCreatePullRequest(spec: PullRequestSpec): Promise<{ pullRequest: PullRequestRecord; created: boolean }>;
  /** Replaces title, body and commit of an existing PR. */
  updatePullRequest(
    repo: string,
    number: number,
    update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>,
  ): Promise<PullRequestRecord>;
  listPullRequests(repo: string): Promise<PullRequestRecord[]>;
  pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus>;
  /** Turns a draft ready for review (a PR already ready is left as is). */
  markReady(repo: string, number: number): Promise<PullRequestRecord>;
  /** Closes a PR without merging (a closed or merged one is left as is). */
  closePullRequest(repo: string, number: number): Promise<PullRequestRecord>;
  /** What landing waits on: head, checks (required ones marked), reviews, base, mergeability. */
  landingState(repo: string, number: number): Promise<LandingState>;
  /**
   * Merges with the forge's head-sha guard and the given method. A PR already merged at
   * `request.sha` answers `{ merged: true, alreadyMerged: true }` (a lost answer, retried).
   */
  mergePullRequest(request: MergeRequest): Promise<MergeOutcome>;
  /** Brings the PR's head up to date with its base (the forge's update-branch), guarded by `sha`. */
  updatePullRequestBranch(repo: string, number: number, sha: string): Promise<UpdateOutcome>;
}
