/**
 * The fields Lockstep reads from GitLab's answers, typed as GitLab's REST API documentation
 * describes them (merge requests, merge request approvals, users). Objects are not strict:
 * GitLab sends many more fields.
 */
import { z } from 'zod';

export const User = z.object({ id: z.number().int(), username: z.string() });
export type User = z.infer<typeof User>;

export const Users = z.array(User);
export type Users = z.infer<typeof Users>;

/** A merge request as create, show and edit answer it, and each item of a list. */
export const MergeRequest = z.object({
  iid: z.number().int(),
  title: z.string(),
  description: z.string().nullable(),
  state: z.enum(['opened', 'closed', 'locked', 'merged']),
  /** Where it is missing, the title's prefix says whether the merge request is a draft. */
  draft: z.boolean().optional(),
  source_branch: z.string(),
  target_branch: z.string(),
  sha: z.string(),
  web_url: z.string(),
  labels: z.array(z.string()),
  assignees: z.array(User).nullish(),
  reviewers: z.array(User).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  /** Only in the answers about one merge request (show, create, edit), not in lists. */
  head_pipeline: z.object({ status: z.string() }).nullish(),
});
export type MergeRequest = z.infer<typeof MergeRequest>;

export const MergeRequests = z.array(MergeRequest);
export type MergeRequests = z.infer<typeof MergeRequests>;

/** A merge request's approvals: who approved it. */
export const Approvals = z.object({ approved_by: z.array(z.unknown()).optional() });
export type Approvals = z.infer<typeof Approvals>;

/** The body of an answer that is not a success: GitLab says why in `message` (or `error`), a string or a list. */
export const ErrorBody = z.object({ message: z.unknown().optional(), error: z.unknown().optional() });
export type ErrorBody = z.infer<typeof ErrorBody>;
