/**
 * The fields Lockstep reads from GitHub's answers, typed as GitHub's REST description types them
 * (`@octokit/openapi-types`). Objects are not strict: GitHub sends many more fields.
 */
import { z } from 'zod';

const Account = z.object({ login: z.string() });

/** A pull request as `pulls/get`, `create` and `update` answer it, and each item of `pulls/list`. */
export const PullRequest = z.object({
  number: z.number().int(),
  /** For GraphQL (ready for review). */
  node_id: z.string(),
  html_url: z.string(),
  state: z.string(),
  title: z.string(),
  body: z.string().nullable(),
  user: Account.nullable(),
  labels: z.array(z.object({ name: z.string() })),
  assignees: z.array(Account).nullish(),
  requested_reviewers: z.array(Account).nullish(),
  head: z.object({ ref: z.string(), sha: z.string() }),
  base: z.object({ ref: z.string() }),
  merged_at: z.string().nullable(),
  /** Set once merged (the merge, squash or last rebased commit on the base). */
  merge_commit_sha: z.string().nullish(),
  /** Only in `pulls/get`: null while GitHub computes it after a push. */
  mergeable: z.boolean().nullish(),
  /** Only in `pulls/get`: clean, blocked, behind, dirty, unstable, draft, has_hooks or unknown. */
  mergeable_state: z.string().optional(),
  draft: z.boolean().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type PullRequest = z.infer<typeof PullRequest>;

export const PullRequests = z.array(PullRequest);
export type PullRequests = z.infer<typeof PullRequests>;

/** `pulls/list-reviews`: who reviewed, and how. */
export const Reviews = z.array(z.object({ user: Account.nullable(), state: z.string() }));
export type Reviews = z.infer<typeof Reviews>;

/** `checks/list-for-ref`. */
export const CheckRuns = z.object({
  check_runs: z.array(
    z.object({
      name: z.string(),
      status: z.string(),
      conclusion: z.string().nullable(),
      html_url: z.string().nullable(),
    }),
  ),
});
export type CheckRuns = z.infer<typeof CheckRuns>;

/** `repos/get-combined-status-for-ref`: the latest status of each context. */
export const CombinedStatus = z.object({
  statuses: z.array(z.object({ context: z.string(), state: z.string(), target_url: z.string().nullable() })),
});
export type CombinedStatus = z.infer<typeof CombinedStatus>;

/** `repos/get-branch-protection`: the checks and approvals the branch requires. */
export const BranchProtection = z.object({
  required_status_checks: z
    .object({
      strict: z.boolean().optional(),
      contexts: z.array(z.string()),
      checks: z.array(z.object({ context: z.string() })),
    })
    .optional(),
  required_pull_request_reviews: z.object({ required_approving_review_count: z.number().int().optional() }).optional(),
});
export type BranchProtection = z.infer<typeof BranchProtection>;

/** `repos/compare-commits`: how far apart two commits are. */
export const Comparison = z.object({
  status: z.enum(['diverged', 'ahead', 'behind', 'identical']),
  ahead_by: z.number().int(),
  behind_by: z.number().int(),
  /** What `head` changed since the merge base (on the first page only, up to 300). */
  files: z.array(z.object({ filename: z.string() })).optional(),
});
export type Comparison = z.infer<typeof Comparison>;

/** `repos/get-commit`: who made a commit (the account, when GitHub can tell it, else the git author). */
export const Commit = z.object({
  author: Account.nullable(),
  commit: z.object({ author: z.object({ name: z.string().optional() }).nullable() }),
});
export type Commit = z.infer<typeof Commit>;

/** `pulls/merge`'s 200: the commit the base branch now points at. */
export const MergeResult = z.object({ merged: z.boolean(), message: z.string(), sha: z.string() });
export type MergeResult = z.infer<typeof MergeResult>;

/** The body of a refusal (405, 409, 422): GitHub says why in `message`. */
export const Refusal = z.object({ message: z.string() });
export type Refusal = z.infer<typeof Refusal>;

/**
 * Octokit's RequestError, as far as the forge reads it: GitHub's status and the request. Every
 * field may be missing (the error may not come from a request at all).
 */
export const RequestError = z.object({
  status: z.number().optional(),
  request: z.object({ method: z.string().optional(), url: z.string().optional() }).optional(),
  response: z.object({ data: z.unknown() }).optional(),
});
export type RequestError = z.infer<typeof RequestError>;

/** The body of GitHub's 422 "Validation Failed": its reasons, as objects with a message or as plain strings. */
export const ValidationFailed = z.object({
  errors: z.array(z.union([z.object({ message: z.string().optional() }), z.string()])).optional(),
});
export type ValidationFailed = z.infer<typeof ValidationFailed>;

/** A repository as `repos/list-for-org` lists it (GitHub's "minimal repository", which GitHub always fills with these). */
export const OrgRepository = z.object({
  name: z.string(),
  full_name: z.string(),
  clone_url: z.string(),
  default_branch: z.string().optional(),
  topics: z.array(z.string()).optional(),
  archived: z.boolean().optional(),
  fork: z.boolean(),
});
export const OrgRepositories = z.array(OrgRepository);
