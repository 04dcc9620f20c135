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
  head_pipeline: z.object({ status: z.string(), web_url: z.string().optional() }).nullish(),
  /** Set once merged: the merge commit (null for a fast-forward) and the squash commit (when squashed). */
  merge_commit_sha: z.string().nullish(),
  squash_commit_sha: z.string().nullish(),
  /** mergeable, checking, not_approved, ci_must_pass, ci_still_running, need_rebase, conflict, draft_status, … */
  detailed_merge_status: z.string().optional(),
  has_conflicts: z.boolean().optional(),
  /** Only with include_diverged_commits_count: how many commits of the target the source lacks. */
  diverged_commits_count: z.number().int().nullish(),
  /** Only with include_rebase_in_progress. */
  rebase_in_progress: z.boolean().optional(),
  /** Why the last merge or rebase failed. */
  merge_error: z.string().nullish(),
});
export type MergeRequest = z.infer<typeof MergeRequest>;

export const MergeRequests = z.array(MergeRequest);
export type MergeRequests = z.infer<typeof MergeRequests>;

/** A merge request's approvals: who approved it, and how many its rules require. */
export const Approvals = z.object({
  approved_by: z.array(z.object({ user: z.object({ username: z.string() }) })).optional(),
  approvals_required: z.number().int().optional(),
});
export type Approvals = z.infer<typeof Approvals>;

/** The body of an answer that is not a success: GitLab says why in `message` (or `error`), a string or a list. */
export const ErrorBody = z.object({ message: z.unknown().optional(), error: z.unknown().optional() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A project's merge settings (`GET /projects/:id`). */
export const Project = z.object({
  merge_method: z.enum(['merge', 'rebase_merge', 'ff']),
  only_allow_merge_if_pipeline_succeeds: z.boolean().optional(),
});
export type Project = z.infer<typeof Project>;

/** One commit (`GET /projects/:id/repository/commits/:sha`): its git author. */
export const Commit = z.object({ author_name: z.string() });
export type Commit = z.infer<typeof Commit>;

/** Two refs compared (`GET /projects/:id/repository/compare`): the files changed, as diffs. */
export const Comparison = z.object({
  diffs: z.array(z.object({ new_path: z.string(), old_path: z.string() })).optional(),
});
export type Comparison = z.infer<typeof Comparison>;

/** A merge request's pipelines, newest first. */
export const Pipelines = z.array(z.object({ sha: z.string(), status: z.string(), web_url: z.string().optional() }));
export type Pipelines = z.infer<typeof Pipelines>;

/** A project as `GET /groups/:id/projects` lists it (`default_branch` is null in an empty project). */
export const GroupProject = z.object({
  path: z.string(),
  path_with_namespace: z.string(),
  http_url_to_repo: z.string(),
  default_branch: z.string().nullish(),
  topics: z.array(z.string()).optional(),
  archived: z.boolean().optional(),
  /** Present on a fork: the project it was forked from. */
  forked_from_project: z.object({ path_with_namespace: z.string() }).nullish(),
});
export const GroupProjects = z.array(GroupProject);
