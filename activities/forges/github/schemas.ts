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
  check_runs: z.array(z.object({ status: z.string(), conclusion: z.string().nullable() })),
});
export type CheckRuns = z.infer<typeof CheckRuns>;

/** `repos/get-combined-status-for-ref`. */
export const CombinedStatus = z.object({ statuses: z.array(z.object({ state: z.string() })) });
export type CombinedStatus = z.infer<typeof CombinedStatus>;

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
