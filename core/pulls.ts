/** Linked pull requests: references, siblings and the forge activities' inputs. */
import type { ForgeConfig } from '../config/repos.ts';
import type { GateReport } from './gate.ts';

export interface PullRequestRef {
  url: string;
  number: number;
}

export interface PullRequestSibling {
  repo: string;
  pullRequest: PullRequestRef;
  commit: string;
}

export interface OpenPullRequestInput {
  /** The change's forge; absent means the worker's own (local) forge. Holds no secret. */
  forge?: ForgeConfig;
  changeId: string;
  repo: string;
  url: string;
  title: string;
  description: string;
  head: string;
  base: string;
  commit: string;
}

export interface LinkPullRequestInput extends OpenPullRequestInput {
  pullRequest: PullRequestRef;
  mergeOrder: string[];
  siblings: PullRequestSibling[];
  /** The gate's report, shown as a short table in every body. */
  gate?: GateReport | null;
  /** A revert's set: the change it reverts (its order is consumers before providers). */
  reverts?: string;
  /** A change in pages: the siblings are this page's; the change has `total` repos in `pages` pages. */
  set?: { total: number; pages: number };
}

/** One PR of a linked set, addressed for the forge activities behind `lockstep prs|publish|close`. */
export interface PullRequestTarget {
  forge: ForgeConfig;
  repo: string;
  number: number;
}

export interface PullRequestRecord extends PullRequestRef {
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  commit: string;
  state: 'open' | 'closed' | 'merged';
  draft: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What `lockstep prs` shows of one PR beyond its record. */
export interface PullRequestStatus {
  pullRequest: PullRequestRecord;
  /** Combined checks and commit statuses of the head commit. */
  checks: 'passing' | 'failing' | 'pending' | 'none';
  /** Latest review per reviewer. */
  reviews: { approved: number; changesRequested: number; commented: number };
}

/** A PR's status as the forge activities return it: the body only as its manifest. */
export interface PullRequestView extends Omit<PullRequestStatus, 'pullRequest'> {
  pullRequest: Omit<PullRequestRecord, 'body'>;
  manifest: Manifest | null;
}

/** The manifest hidden in every linked PR body: the set, its order and commits. */
export interface Manifest {
  changeId: string;
  order: string[];
  repos: { repo: string; number: number; url: string; commit: string }[];
}

/** `lockstep prs|publish|close` as a workflow (workflows/pulls.ts). */
export type PullRequestsAction = 'status' | 'ready' | 'close';

/** What the same workflow does besides: deleting a change's branches (`lockstep cancel --delete-branches`). */
export type PullRequestsWorkflowAction = PullRequestsAction | DeleteBranchesInput['action'];

export interface PullRequestsInput {
  changeId: string;
  forge: ForgeConfig;
  action: PullRequestsAction;
  /** The set, in merge order: each PR with its repo's remote and head branch. */
  targets: { repo: string; number: number; url: string; branch: string }[];
}

/**
 * `lockstep cancel --delete-branches`: each repo's change branch, pull request or not, deleted by
 * a worker with its git credentials (the forge's token), as `close` deletes them.
 */
export interface DeleteBranchesInput {
  changeId: string;
  forge: ForgeConfig;
  action: 'delete-branches';
  targets: { repo: string; url: string; branch: string }[];
}

export interface PullRequestsResult {
  statuses: PullRequestView[];
  /** Repos whose change branch was deleted (close, delete-branches). */
  deletedBranches: string[];
}
