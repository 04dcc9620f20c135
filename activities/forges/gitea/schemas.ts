/**
 * The fields Lockstep reads from Gitea's (and Forgejo's) answers, typed as Gitea's API
 * (`/api/v1`, its swagger description) describes them: pull requests, labels, reviews, commit
 * statuses, branches with their protection, comparisons and commits. Objects are not strict:
 * Gitea sends many more fields.
 */
import { z } from 'zod';

export const User = z.object({ id: z.number().int(), login: z.string() });
export type User = z.infer<typeof User>;

export const Label = z.object({ id: z.number().int(), name: z.string() });
export type Label = z.infer<typeof Label>;

export const Labels = z.array(Label);
export type Labels = z.infer<typeof Labels>;

const BranchRef = z.object({ ref: z.string(), sha: z.string() });

/** A pull request as create, get, edit and list answer it. */
export const PullRequest = z.object({
  number: z.number().int(),
  html_url: z.string(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.enum(['open', 'closed']),
  /** Gitea derives it from the title's work-in-progress prefix; older servers leave it out. */
  draft: z.boolean().optional(),
  merged: z.boolean(),
  merge_commit_sha: z.string().nullish(),
  /** False while Gitea still checks the PR against its base, and when it conflicts. */
  mergeable: z.boolean(),
  head: BranchRef,
  base: BranchRef,
  user: User.nullish(),
  labels: z.array(Label).nullish(),
  assignees: z.array(User).nullish(),
  requested_reviewers: z.array(User).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type PullRequest = z.infer<typeof PullRequest>;

export const PullRequests = z.array(PullRequest);
export type PullRequests = z.infer<typeof PullRequests>;

/** One review; `REQUEST_REVIEW` and `PENDING` are requests and unsent drafts, not verdicts. */
export const Review = z.object({
  user: User.nullish(),
  state: z.string(),
  /** Made by someone whose approval branch protection counts. */
  official: z.boolean().optional(),
  /** Made on a head that has moved since. */
  stale: z.boolean().optional(),
  dismissed: z.boolean().optional(),
});
export const Reviews = z.array(Review);
export type Reviews = z.infer<typeof Reviews>;

/** The latest status per context of a commit, and their combined state. */
export const CombinedStatus = z.object({
  state: z.string(),
  statuses: z.array(z.object({ context: z.string(), status: z.string(), target_url: z.string().nullish() })).nullish(),
});
export type CombinedStatus = z.infer<typeof CombinedStatus>;

/** A branch with what its protection asks of a pull request into it. */
export const Branch = z.object({
  name: z.string(),
  commit: z.object({ id: z.string() }),
  protected: z.boolean().optional(),
  required_approvals: z.number().int().optional(),
  enable_status_check: z.boolean().optional(),
  /** Glob patterns of the required status contexts. */
  status_check_contexts: z.array(z.string()).nullish(),
});
export type Branch = z.infer<typeof Branch>;

/** A file a commit or a pull request changed. */
const ChangedFile = z.object({ filename: z.string() });

/** A comparison `base...head`: the commits on head since the merge base, each with the files it changed. */
export const Compare = z.object({
  total_commits: z.number().int(),
  commits: z.array(z.object({ files: z.array(ChangedFile).nullish() })).nullish(),
});
export type Compare = z.infer<typeof Compare>;

/** A commit: its git author, and the Gitea user it maps to when there is one. */
export const Commit = z.object({
  sha: z.string(),
  commit: z.object({ author: z.object({ name: z.string(), email: z.string() }) }),
  author: User.nullish(),
});
export type Commit = z.infer<typeof Commit>;

/** The files a pull request changes against its merge base (`GET …/pulls/{index}/files`). */
export const ChangedFiles = z.array(ChangedFile);
export type ChangedFiles = z.infer<typeof ChangedFiles>;

/** The body of an answer that is not a success: Gitea says why in `message`. */
export const ErrorBody = z.object({ message: z.string().optional() });
export type ErrorBody = z.infer<typeof ErrorBody>;
