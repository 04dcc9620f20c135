/**
 * A local, strict, GitLab-compatible merge request API (`/api/v4`) for tests. GitLab publishes
 * no machine-readable description of this API, so the fields Lockstep uses are written down
 * here from GitLab's merge request and users API documentation, as JSON Schemas: unknown
 * parameters and fields, wrong types and missing required fields are refused with 400, as
 * GitLab does. It keeps merge request state (one open MR per source branch: a second is a 409),
 * and injects faults at chosen requests. Rejections the server makes on its own are recorded
 * in `violations`; injected faults are not.
 *
 * For landing it keeps each project's history (commit-graph.ts, or a real bare repository with
 * git-history.ts, whose branches it reads on every request), pipelines per commit,
 * approvals, the project's merge method (merge, rebase_merge, ff) and whether pipelines must
 * succeed, and computes `detailed_merge_status` from them (`checking` on the first read after
 * either branch moved). Merges and rebases move the branches; refusals answer as GitLab does
 * (405 Method Not Allowed, 409 for a moved head, 422 Branch cannot be merged).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CommitGraph, type History } from './commit-graph.ts';
import { GitLabGroups, GROUP_PROJECTS_OPERATION, OwnerNotFound } from './forge-owners.ts';
import { GitHistory } from './git-history.ts';

/**
 * `malformed`: the request takes effect, and the answer (each item of a list) lacks `field`, as no GitLab answer does.
 * `crash-after-create`: the request takes effect (an MR created, merged, rebased), then the connection drops.
 */
export type GitLabFaultKind = 'rate-limit' | 'already-exists' | '5xx' | 'drop' | 'crash-after-create' | 'malformed';

export interface GitLabFault {
  kind: GitLabFaultKind;
  /** e.g. `mr/create`, `mr/list`, `mr/edit`. */
  operationId: string;
  project?: string;
  times?: number;
  /** Seconds in Retry-After (rate-limit; default 1). */
  retryAfter?: number;
  /** The top-level field a malformed answer lacks (default `iid`). */
  field?: string;
}

export interface FakeMergeRequest {
  iid: number;
  title: string;
  description: string | null;
  state: 'opened' | 'closed' | 'merged';
  source_branch: string;
  target_branch: string;
  labels: string[];
  assignee_ids: number[];
  reviewer_ids: number[];
  created_at: string;
  updated_at: string;
  /** The source branch's head (followed while the MR is open). */
  sha: string;
  approved_by: number[];
  merged_at: string | null;
  merge_commit_sha: string | null;
  squash_commit_sha: string | null;
  /** GitLab is checking mergeability: the next read answers `checking` (then it knows). */
  checking: boolean;
  /** A rebase was asked and not yet reported done (the next read with include_rebase_in_progress says so). */
  rebase_in_progress: boolean;
  merge_error: string | null;
}

export type PipelineStatus =
  | 'created'
  | 'waiting_for_resource'
  | 'preparing'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'manual'
  | 'scheduled';

/** A project's merge settings as GitLab holds them. */
export interface ProjectSettings {
  merge_method: 'merge' | 'rebase_merge' | 'ff';
  only_allow_merge_if_pipeline_succeeds: boolean;
  /** Approvals the project's approval rules require of each merge request. */
  approvals_required: number;
  /** "Remove all approvals when commits are added to the source branch". */
  reset_approvals_on_push: boolean;
}

export interface FakeGitLab {
  /** e.g. http://127.0.0.1:PORT (gitbeaker's `host`). */
  host: string;
  token: string;
  requests: {
    at: number;
    method: string;
    path: string;
    operationId: string | null;
    status: number | null;
    fault: GitLabFaultKind | null;
  }[];
  violations: string[];
  /**
   * Adds a project with its default branch `main`: its history in memory, or, given `gitDir`,
   * the bare repository there (pushes to it are seen, merges and rebases are made in it).
   */
  addProject(path: string, options?: { gitDir?: string }): void;
  /** Groups and the projects they list (`GET /groups/:id/projects`). */
  groups: GitLabGroups;
  addUser(username: string): number;
  mergeRequests(project: string): FakeMergeRequest[];
  /** Commits `files` on `branch` (created from `from`, default `main`) as `author`; returns the new head. */
  push(project: string, branch: string, files: string[], options?: { author?: string; from?: string }): string;
  branchHead(project: string, branch: string): string | undefined;
  history(project: string): History;
  settings(project: string, settings: Partial<ProjectSettings>): void;
  /** A pipeline for `sha` (the latest one of the MR's head is its `head_pipeline`). */
  pipeline(project: string, sha: string, status: PipelineStatus): void;
  /** An approval by `username` (a user the fake knows; not the token's user, who is every MR's author). */
  approve(project: string, iid: number, username: string): void;
  inject(fault: GitLabFault): void;
  pendingFaults(): GitLabFault[];
  close(): Promise<void>;
}

const int = { type: 'integer', minimum: 0 };
const str = { type: 'string' };
const ids = { type: 'array', items: int };
const labels = { anyOf: [str, { type: 'array', items: str }] };
const page = {
  per_page: { type: 'integer', minimum: 1, maximum: 100 },
  page: { type: 'integer', minimum: 1 },
  pagination: { enum: ['offset', 'keyset'] },
};

/** The documented parameters of the operations used (GitLab's REST API docs: Merge requests, Users). */
const OPERATIONS: { id: string; method: string; path: RegExp; query?: object; body?: object }[] = [
  {
    id: 'mr/list',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/merge_requests$/,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        state: { enum: ['opened', 'closed', 'locked', 'merged', 'all'] },
        source_branch: str,
        target_branch: str,
        order_by: { enum: ['created_at', 'updated_at', 'title', 'merged_at'] },
        sort: { enum: ['asc', 'desc'] },
        labels: str,
        ...page,
      },
    },
  },
  {
    id: 'mr/create',
    method: 'POST',
    path: /^\/projects\/([^/]+)\/merge_requests$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['source_branch', 'target_branch', 'title'],
      properties: {
        source_branch: { type: 'string', minLength: 1 },
        target_branch: { type: 'string', minLength: 1 },
        title: { type: 'string', minLength: 1 },
        description: { type: 'string', maxLength: 1_048_576 },
        labels,
        assignee_id: int,
        assignee_ids: ids,
        reviewer_ids: ids,
        milestone_id: int,
        remove_source_branch: { type: 'boolean' },
        squash: { type: 'boolean' },
        allow_collaboration: { type: 'boolean' },
        target_project_id: int,
      },
    },
  },
  {
    id: 'mr/show',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)$/,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        render_html: { type: 'boolean' },
        include_diverged_commits_count: { type: 'boolean' },
        include_rebase_in_progress: { type: 'boolean' },
      },
    },
  },
  {
    id: 'mr/edit',
    method: 'PUT',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
    body: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        title: { type: 'string', minLength: 1 },
        description: { type: 'string', maxLength: 1_048_576 },
        state_event: { enum: ['close', 'reopen'] },
        add_labels: str,
        remove_labels: str,
        labels,
        assignee_id: int,
        assignee_ids: ids,
        reviewer_ids: ids,
        target_branch: str,
        milestone_id: int,
        remove_source_branch: { type: 'boolean' },
        squash: { type: 'boolean' },
        discussion_locked: { type: 'boolean' },
        allow_collaboration: { type: 'boolean' },
      },
    },
  },
  {
    id: 'mr/approvals',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/approvals$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
  },
  {
    id: 'mr/merge',
    method: 'PUT',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/merge$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        merge_commit_message: str,
        squash_commit_message: str,
        squash: { type: 'boolean' },
        should_remove_source_branch: { type: 'boolean' },
        merge_when_pipeline_succeeds: { type: 'boolean' },
        auto_merge: { type: 'boolean' },
        sha: { type: 'string', pattern: '^[0-9a-f]{40}$' },
      },
    },
  },
  {
    id: 'mr/rebase',
    method: 'PUT',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/rebase$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
    body: { type: 'object', additionalProperties: false, properties: { skip_ci: { type: 'boolean' } } },
  },
  {
    id: 'mr/approve',
    method: 'POST',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/approve$/,
    query: { type: 'object', additionalProperties: false, properties: {} },
    body: {
      type: 'object',
      additionalProperties: false,
      properties: { sha: str, approval_password: str },
    },
  },
  {
    id: 'mr/pipelines',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/pipelines$/,
    query: { type: 'object', additionalProperties: false, properties: { ...page } },
  },
  {
    id: 'project/show',
    method: 'GET',
    path: /^\/projects\/([^/]+)$/,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        statistics: { type: 'boolean' },
        license: { type: 'boolean' },
        with_custom_attributes: { type: 'boolean' },
      },
    },
  },
  {
    id: 'commits/show',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/repository\/commits\/([^/]+)$/,
    query: { type: 'object', additionalProperties: false, properties: { stats: { type: 'boolean' } } },
  },
  {
    id: 'repository/compare',
    method: 'GET',
    path: /^\/projects\/([^/]+)\/repository\/compare$/,
    query: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: {
        from: str,
        to: str,
        from_project_id: int,
        straight: { type: 'boolean' },
        unidiff: { type: 'boolean' },
      },
    },
  },
  {
    id: 'users/list',
    method: 'GET',
    path: /^\/users$/,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: { username: str, search: str, active: { type: 'boolean' }, ...page },
    },
  },
];

interface FakePipeline {
  id: number;
  sha: string;
  ref: string;
  status: PipelineStatus;
  at: string;
}
interface FakeProject {
  id: number;
  mrs: FakeMergeRequest[];
  graph: History;
  /** The history is a real repository: branches move without the fake, which looks on each request. */
  git: boolean;
  settings: ProjectSettings;
  pipelines: Map<string, FakePipeline[]>;
}

/** What GitLab says of a merge request's mergeability, computed from its project. */
interface Mergeability {
  detailed: string;
  hasConflicts: boolean;
  behind: number;
}

/** A boolean query parameter (the validator has coerced it already, or not). */
const flag = (value: unknown): boolean => value === true || value === 'true';

export const DRAFT_TITLE = /^\s*(\[draft\]|\(draft\)|draft:|draft\s-|draft\s)/i;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly violation: boolean,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

export async function startFakeGitLab(options: { token?: string; login?: string } = {}): Promise<FakeGitLab> {
  const token = options.token ?? `glpat-fake${Math.random().toString(36).slice(2, 14)}`;
  const login = options.login ?? 'lockstep-bot';
  const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: false });
  const coercing = new Ajv({ strict: false, allErrors: true, coerceTypes: 'array' });
  const groups = new GitLabGroups();
  const compiled = [...OPERATIONS, GROUP_PROJECTS_OPERATION].map((op) => ({
    ...op,
    q: op.query ? coercing.compile(op.query) : null,
    b: op.body ? ajv.compile(op.body) : null,
  })) as ((typeof OPERATIONS)[number] & { q: ValidateFunction | null; b: ValidateFunction | null })[];
  const projects = new Map<string, FakeProject>();
  let nextPipeline = 500;
  const users = new Map<string, number>([[login, 1]]);
  const requests: FakeGitLab['requests'] = [];
  const violations: string[] = [];
  const faults: (GitLabFault & { hits: number })[] = [];
  const sockets = new Set<Socket>();
  let host = '';

  const user = (id: number) => {
    const name = [...users].find(([, v]) => v === id)?.[0] ?? `user${id}`;
    return { id, username: name, name, state: 'active', avatar_url: null, web_url: `${host}/${name}` };
  };
  function headPipeline(project: FakeProject, mr: FakeMergeRequest): FakePipeline | null {
    return project.pipelines.get(mr.sha)?.at(-1) ?? null;
  }
  const pipelineJson = (path: string, p: FakePipeline) => ({
    id: p.id,
    iid: p.id - 499,
    project_id: projects.get(path)?.id ?? 0,
    sha: p.sha,
    ref: p.ref,
    status: p.status,
    source: 'merge_request_event',
    created_at: p.at,
    updated_at: p.at,
    web_url: `${host}/${path}/-/pipelines/${p.id}`,
  });

  function mergeability(project: FakeProject, mr: FakeMergeRequest): Mergeability {
    const target = project.graph.head(mr.target_branch) ?? mr.sha;
    const hasConflicts = project.graph.conflicts(target, mr.sha).length > 0;
    const behind = project.graph.behindBy(target, mr.sha);
    const pipeline = headPipeline(project, mr)?.status;
    const left = Math.max(0, project.settings.approvals_required - mr.approved_by.length);
    const detailed =
      mr.state !== 'opened'
        ? 'not_open'
        : DRAFT_TITLE.test(mr.title)
          ? 'draft_status'
          : hasConflicts
            ? 'conflict'
            : project.settings.merge_method !== 'merge' && behind > 0
              ? 'need_rebase'
              : project.settings.only_allow_merge_if_pipeline_succeeds && pipeline !== 'success'
                ? pipeline && ['created', 'waiting_for_resource', 'preparing', 'pending', 'running'].includes(pipeline)
                  ? 'ci_still_running'
                  : 'ci_must_pass'
                : left > 0
                  ? 'not_approved'
                  : 'mergeable';
    return { detailed, hasConflicts, behind };
  }

  /** The target head each open MR of a real repository was last checked against. */
  const seenTarget = new WeakMap<FakeMergeRequest, string | undefined>();
  /** Pushes to a real repository: open MRs follow their source branch, and a moved branch is checked again. */
  function sync(project: FakeProject): void {
    if (!project.git) return;
    for (const mr of project.mrs) {
      if (mr.state !== 'opened') continue;
      const head = project.graph.head(mr.source_branch);
      const target = project.graph.head(mr.target_branch);
      if (head && head !== mr.sha) moved(project, mr.source_branch);
      if (seenTarget.has(mr) && seenTarget.get(mr) !== target) mr.checking = true;
      seenTarget.set(mr, target);
    }
  }

  /** A branch moved: open MRs from or into it follow their head, and GitLab checks their mergeability again. */
  function moved(project: FakeProject, branch: string): void {
    for (const mr of project.mrs) {
      if (mr.state !== 'opened' || (mr.source_branch !== branch && mr.target_branch !== branch)) continue;
      if (mr.source_branch === branch) {
        mr.sha = project.graph.head(branch) ?? mr.sha;
        if (project.settings.reset_approvals_on_push) mr.approved_by = [];
      }
      mr.checking = true;
    }
  }

  const mrJson = (
    path: string,
    mr: FakeMergeRequest,
    single: boolean,
    known: Mergeability | null = null,
    query: Record<string, unknown> = {},
  ) => ({
    id: 10_000 + mr.iid,
    iid: mr.iid,
    project_id: projects.get(path)?.id ?? 0,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: mr.created_at,
    updated_at: mr.updated_at,
    merged_at: mr.merged_at,
    closed_at: mr.state === 'closed' ? mr.updated_at : null,
    merge_commit_sha: mr.merge_commit_sha,
    squash_commit_sha: mr.squash_commit_sha,
    target_branch: mr.target_branch,
    source_branch: mr.source_branch,
    author: user(1),
    assignees: mr.assignee_ids.map(user),
    reviewers: mr.reviewer_ids.map(user),
    labels: mr.labels,
    draft: DRAFT_TITLE.test(mr.title),
    work_in_progress: DRAFT_TITLE.test(mr.title),
    merge_status: !known ? 'checking' : known.hasConflicts ? 'cannot_be_merged' : 'can_be_merged',
    detailed_merge_status: known?.detailed ?? (mr.state === 'opened' ? 'checking' : 'not_open'),
    has_conflicts: known?.hasConflicts ?? false,
    sha: mr.sha,
    web_url: `${host}/${path}/-/merge_requests/${mr.iid}`,
    references: { short: `!${mr.iid}`, full: `${path}!${mr.iid}` },
    ...(single
      ? (() => {
          const project = projects.get(path);
          const pipeline = project ? headPipeline(project, mr) : null;
          return {
            head_pipeline: pipeline ? pipelineJson(path, pipeline) : null,
            changes_count: '1',
            merge_error: mr.merge_error,
            // Counted from the repository at once, not by the mergeability check.
            ...(flag(query.include_diverged_commits_count) && project
              ? {
                  diverged_commits_count:
                    mr.state === 'opened'
                      ? project.graph.behindBy(project.graph.head(mr.target_branch) ?? mr.sha, mr.sha)
                      : 0,
                }
              : {}),
            ...(flag(query.include_rebase_in_progress) ? { rebase_in_progress: mr.rebase_in_progress } : {}),
          };
        })()
      : {}),
  });

  function handle(
    id: string,
    params: string[],
    query: Record<string, unknown>,
    body: Record<string, unknown>,
  ): { status: number; json: unknown; headers?: Record<string, string> } {
    if (id === GROUP_PROJECTS_OPERATION.id) {
      try {
        return groups.list(host, params[0] ?? '', query);
      } catch (err) {
        // GitLab's answer for a group that does not exist (or that the token cannot see).
        if (err instanceof OwnerNotFound) throw new HttpError(404, err.body, false);
        throw err;
      }
    }
    const path = decodeURIComponent(params[0] ?? '');
    const project = id === 'users/list' ? null : projects.get(path);
    if (id !== 'users/list' && !project) throw new HttpError(404, { message: '404 Project Not Found' }, true);
    if (project) sync(project);
    const find = (iid: string | undefined) => {
      const mr = project?.mrs.find((m) => m.iid === Number(iid));
      if (!mr) throw new HttpError(404, { message: '404 Not found' }, true);
      return mr;
    };
    const now = new Date().toISOString();
    const unknownUsers = (list: unknown) =>
      ((list as number[] | undefined) ?? []).filter((u) => ![...users.values()].includes(u));
    switch (id) {
      case 'users/list':
        return {
          status: 200,
          json: [...users]
            .filter(([name]) => query.username === undefined || name === query.username)
            .map(([, uid]) => user(uid)),
        };
      case 'mr/list': {
        const state = (query.state as string | undefined) ?? 'all';
        const list = (project?.mrs ?? []).filter(
          (m) =>
            (state === 'all' || m.state === state) &&
            (query.source_branch === undefined || m.source_branch === query.source_branch),
        );
        const per = Number(query.per_page ?? 20);
        const pg = Number(query.page ?? 1);
        return {
          status: 200,
          json: list
            .slice((pg - 1) * per, pg * per)
            .map((m) => mrJson(path, m, false, m.checking || !project ? null : mergeability(project, m))),
        };
      }
      case 'mr/create': {
        const existing = project?.mrs.find((m) => m.state === 'opened' && m.source_branch === body.source_branch);
        if (existing)
          throw new HttpError(
            409,
            { message: [`Another open merge request already exists for this source branch: !${existing.iid}`] },
            false,
          );
        if (unknownUsers(body.assignee_ids).length + unknownUsers(body.reviewer_ids).length > 0)
          throw new HttpError(400, { message: 'unknown user id' }, true);
        const graph = project?.graph;
        const target = String(body.target_branch);
        const source = String(body.source_branch);
        if (graph && !graph.head(target)) graph.setHead(target, graph.head(graph.defaultBranch) ?? '');
        // A real repository has the source branch the client pushed; a correct client pushes first.
        if (project?.git && !graph?.head(source))
          throw new HttpError(400, { message: { source_branch: ['does not exist'] } }, true);
        const mr: FakeMergeRequest = {
          sha: graph?.head(source) ?? graph?.push(source, [], login, target) ?? '',
          approved_by: [],
          merged_at: null,
          merge_commit_sha: null,
          squash_commit_sha: null,
          checking: true,
          rebase_in_progress: false,
          merge_error: null,
          iid: (project?.mrs.length ?? 0) + 1,
          title: String(body.title),
          description: typeof body.description === 'string' ? body.description : null,
          state: 'opened',
          source_branch: String(body.source_branch),
          target_branch: String(body.target_branch),
          labels:
            typeof body.labels === 'string'
              ? body.labels.split(',').filter(Boolean)
              : ((body.labels as string[] | undefined) ?? []),
          assignee_ids: (body.assignee_ids as number[] | undefined) ?? [],
          reviewer_ids: (body.reviewer_ids as number[] | undefined) ?? [],
          created_at: now,
          updated_at: now,
        };
        project?.mrs.push(mr);
        return { status: 201, json: mrJson(path, mr, true) };
      }
      case 'mr/show': {
        const mr = find(params[1]);
        // The first read after a push starts GitLab's check: `checking` until it is done.
        const known = mr.checking || !project ? null : mergeability(project, mr);
        mr.checking = false;
        const json = mrJson(path, mr, true, known, query);
        if (flag(query.include_rebase_in_progress)) mr.rebase_in_progress = false;
        return { status: 200, json };
      }
      case 'mr/merge':
        return mergeRequest(path, find(params[1]), body, now);
      case 'mr/rebase': {
        const mr = find(params[1]);
        if (!project || mr.state !== 'opened') throw new HttpError(405, { message: '405 Method Not Allowed' }, false);
        if (mr.rebase_in_progress)
          throw new HttpError(
            409,
            {
              message:
                'Failed to enqueue the rebase operation, possibly due to a long-lived transaction. Try again later.',
            },
            false,
          );
        const target = project.graph.head(mr.target_branch) ?? mr.sha;
        mr.rebase_in_progress = true;
        mr.merge_error = null;
        if (project.graph.conflicts(target, mr.sha).length > 0) {
          mr.merge_error = 'Rebase failed: Rebase locally, resolve all conflicts, then push the branch.';
        } else if (project.graph.behindBy(target, mr.sha) > 0) {
          project.graph.setHead(mr.source_branch, project.graph.replay(target, mr.sha));
          moved(project, mr.source_branch);
        }
        return { status: 202, json: { rebase_in_progress: true } };
      }
      case 'mr/approve': {
        const mr = find(params[1]);
        if (mr.state !== 'opened') throw new HttpError(401, { message: '401 Unauthorized' }, false);
        if (typeof body.sha === 'string' && body.sha !== mr.sha)
          throw new HttpError(409, { message: `SHA does not match HEAD of source branch: ${mr.sha}` }, false);
        // The token's user wrote every MR, and GitLab's default forbids approving one's own.
        throw new HttpError(401, { message: '401 Unauthorized' }, true);
      }
      case 'mr/pipelines': {
        const mr = find(params[1]);
        const shas = project ? project.graph.ancestors(mr.sha) : new Set<string>();
        const all = [...(project?.pipelines.values() ?? [])].flat().filter((p) => shas.has(p.sha));
        return { status: 200, json: all.sort((a, b) => b.id - a.id).map((p) => pipelineJson(path, p)) };
      }
      case 'project/show':
        return {
          status: 200,
          json: {
            id: project?.id,
            name: path.split('/').at(-1),
            path: path.split('/').at(-1),
            path_with_namespace: path,
            default_branch: project?.graph.defaultBranch,
            web_url: `${host}/${path}`,
            merge_method: project?.settings.merge_method,
            squash_option: 'default_off',
            only_allow_merge_if_pipeline_succeeds: project?.settings.only_allow_merge_if_pipeline_succeeds,
            allow_merge_on_skipped_pipeline: false,
            only_allow_merge_if_all_discussions_are_resolved: false,
          },
        };
      case 'commits/show': {
        const sha = decodeURIComponent(params[1] ?? '');
        const commit = project?.graph.get(project.graph.head(sha) ?? sha);
        if (!commit) throw new HttpError(404, { message: '404 Commit Not Found' }, true);
        return {
          status: 200,
          json: {
            id: commit.sha,
            short_id: commit.sha.slice(0, 8),
            title: commit.message,
            message: commit.message,
            author_name: commit.author,
            author_email: `${commit.author}@example.test`,
            authored_date: now,
            committer_name: commit.author,
            committer_email: `${commit.author}@example.test`,
            committed_date: now,
            created_at: now,
            parent_ids: commit.parents,
            web_url: `${host}/${path}/-/commit/${commit.sha}`,
          },
        };
      }
      case 'repository/compare': {
        const ref = (name: unknown) => {
          const sha =
            project?.graph.head(String(name)) ?? (project?.graph.get(String(name)) ? String(name) : undefined);
          if (!sha) throw new HttpError(404, { message: '404 Ref Not Found' }, true);
          return sha;
        };
        const [from, to] = [ref(query.from), ref(query.to)];
        const commit = (sha: string) => ({
          id: sha,
          short_id: sha.slice(0, 8),
          title: project?.graph.get(sha)?.message ?? '',
        });
        // straight=false (the default): from the merge base, as `git diff from...to`.
        const files = flag(query.straight)
          ? [
              ...new Set([
                ...(project?.graph.changedFiles(from, to) ?? []),
                ...(project?.graph.changedFiles(to, from) ?? []),
              ]),
            ]
          : (project?.graph.changedFiles(from, to) ?? []);
        return {
          status: 200,
          json: {
            commit: commit(to),
            commits: [...(project?.graph.ancestors(to) ?? [])]
              .filter((sha) => !project?.graph.ancestors(from).has(sha))
              .map(commit),
            diffs: files.map((file) => ({
              diff: '',
              new_path: file,
              old_path: file,
              a_mode: '100644',
              b_mode: '100644',
              new_file: false,
              renamed_file: false,
              deleted_file: false,
            })),
            compare_timeout: false,
            compare_same_ref: from === to,
            web_url: `${host}/${path}/-/compare/${from}...${to}`,
          },
        };
      }
      case 'mr/edit': {
        const mr = find(params[1]);
        if (unknownUsers(body.assignee_ids).length + unknownUsers(body.reviewer_ids).length > 0)
          throw new HttpError(400, { message: 'unknown user id' }, true);
        if (typeof body.title === 'string') mr.title = body.title;
        if (typeof body.description === 'string') mr.description = body.description;
        if (body.state_event === 'close' && mr.state === 'opened') mr.state = 'closed';
        if (body.state_event === 'reopen' && mr.state === 'closed') mr.state = 'opened';
        if (typeof body.add_labels === 'string')
          for (const l of body.add_labels.split(',')) if (l && !mr.labels.includes(l)) mr.labels.push(l);
        if (Array.isArray(body.assignee_ids)) mr.assignee_ids = body.assignee_ids as number[];
        if (Array.isArray(body.reviewer_ids)) mr.reviewer_ids = body.reviewer_ids as number[];
        mr.updated_at = now;
        return { status: 200, json: mrJson(path, mr, true) };
      }
      case 'mr/approvals': {
        const mr = find(params[1]);
        const required = project?.settings.approvals_required ?? 0;
        const left = Math.max(0, required - mr.approved_by.length);
        return {
          status: 200,
          json: {
            id: 10_000 + mr.iid,
            iid: mr.iid,
            project_id: project?.id,
            title: mr.title,
            state: mr.state,
            merge_status: 'can_be_merged',
            approved: left === 0,
            approvals_required: required,
            approvals_left: left,
            approved_by: mr.approved_by.map((id) => ({ user: user(id) })),
            user_has_approved: false,
            user_can_approve: false,
          },
        };
      }
      default:
        throw new HttpError(500, { message: `the fake does not implement ${id}` }, true);
    }
  }

  /** PUT merge: refused as GitLab refuses it, or merged the project's way, moving the target branch. */
  function mergeRequest(
    path: string,
    mr: FakeMergeRequest,
    body: Record<string, unknown>,
    now: string,
  ): { status: number; json: unknown } {
    const project = projects.get(path);
    if (!project || mr.state !== 'opened') throw new HttpError(405, { message: '405 Method Not Allowed' }, false);
    if (typeof body.sha === 'string' && body.sha !== mr.sha)
      throw new HttpError(409, { message: `SHA does not match HEAD of source branch: ${mr.sha}` }, false);
    const { detailed } = mergeability(project, mr);
    if (detailed === 'conflict' || detailed === 'need_rebase')
      throw new HttpError(422, { message: 'Branch cannot be merged' }, false);
    if (detailed !== 'mergeable') throw new HttpError(405, { message: '405 Method Not Allowed' }, false);
    const { graph, settings } = project;
    const target = mr.target_branch;
    let head = mr.sha;
    if (body.squash === true) {
      const message = typeof body.squash_commit_message === 'string' ? body.squash_commit_message : mr.title;
      head = graph.squash(graph.head(target) ?? '', mr.sha, login, message);
      mr.squash_commit_sha = head;
    }
    const message =
      typeof body.merge_commit_message === 'string'
        ? body.merge_commit_message
        : `Merge branch '${mr.source_branch}' into '${target}'`;
    const tip = graph.land(target, head, settings.merge_method === 'ff' ? 'ff' : 'merge', login, message);
    mr.merge_commit_sha = settings.merge_method === 'ff' ? null : tip;
    Object.assign(mr, { state: 'merged', merged_at: now, updated_at: now });
    moved(project, target);
    return { status: 200, json: mrJson(path, mr, true, mergeability(project, mr)) };
  }

  const server = createServer((req, res) => void serve(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: FakeGitLab['requests'][number] = {
      at: performance.timeOrigin + performance.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      operationId: null,
      status: null,
      fault: null,
    };
    requests.push(entry);
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const text = typeof json === 'string';
      res.writeHead(status, { 'content-type': text ? 'text/plain' : 'application/json', ...headers });
      res.end(text ? json : JSON.stringify(json));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.headers['private-token'] !== token && req.headers.authorization !== `Bearer ${token}`) {
        violations.push(`${entry.method} ${entry.path}: 401 Unauthorized`);
        send(401, { message: '401 Unauthorized' });
        return;
      }
      if (!url.pathname.startsWith('/api/v4/')) throw new HttpError(404, { error: '404 Not Found' }, true);
      const path = url.pathname.slice('/api/v4'.length);
      // Project paths arrive URL-encoded (group%2Fproject); match on the raw path.
      const rawPath = (req.url ?? '').split('?')[0]?.slice('/api/v4'.length) ?? path;
      const op = compiled.find((o) => o.method === entry.method && o.path.test(rawPath));
      if (!op) throw new HttpError(404, { error: '404 Not Found' }, true);
      entry.operationId = op.id;
      const params = (op.path.exec(rawPath) ?? []).slice(1);
      const query: Record<string, unknown> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      if (op.q && !op.q(query)) throw new HttpError(400, { error: `query: ${coercing.errorsText(op.q.errors)}` }, true);
      let body: Record<string, unknown> = {};
      if (text) {
        if (!/application\/json/.test(req.headers['content-type'] ?? ''))
          throw new HttpError(415, { error: 'unsupported media type' }, true);
        body = JSON.parse(text) as Record<string, unknown>;
      }
      if (op.b && !op.b(body)) throw new HttpError(400, { error: `body: ${ajv.errorsText(op.b.errors)}` }, true);
      if (!op.b && text) throw new HttpError(400, { error: `${op.id} takes no body` }, true);

      const project = params[0] ? decodeURIComponent(params[0]) : null;
      const fault =
        faults.find(
          (f) => f.operationId === op.id && (!f.project || f.project === project) && f.hits < (f.times ?? 1),
        ) ?? null;
      if (fault) fault.hits++;
      entry.fault = fault?.kind ?? null;
      if (fault?.kind === 'drop') return void req.socket.destroy();
      if (fault?.kind === '5xx') return send(502, 'Bad Gateway');
      if (fault?.kind === 'rate-limit') {
        const reset = Math.floor(Date.now() / 1000) + (fault.retryAfter ?? 1);
        return send(429, 'Retry later', {
          'retry-after': String(fault.retryAfter ?? 1),
          'ratelimit-limit': '600',
          'ratelimit-observed': '601',
          'ratelimit-remaining': '0',
          'ratelimit-reset': String(reset),
          'ratelimit-resettime': new Date(reset * 1000).toUTCString(),
        });
      }
      const answer = handle(op.id, params, query, body);
      if (fault?.kind === 'crash-after-create') return void req.socket.destroy();
      if (fault?.kind === 'malformed') {
        const field = fault.field ?? 'iid';
        const strip = (item: unknown) =>
          item && typeof item === 'object'
            ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== field))
            : item;
        return send(answer.status, Array.isArray(answer.json) ? answer.json.map(strip) : strip(answer.json));
      }
      if (fault?.kind === 'already-exists')
        return send(409, {
          message: [
            `Another open merge request already exists for this source branch: !${(answer.json as { iid: number }).iid}`,
          ],
        });
      send(answer.status, answer.json, answer.headers);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.violation) violations.push(`${entry.method} ${entry.path}: ${err.status} ${err.message}`);
        return send(err.status, err.body);
      }
      violations.push(`${entry.method} ${entry.path}: fake failed: ${String(err)}`);
      send(500, { message: String(err) });
    }
  }

  function known(path: string): FakeProject {
    const project = projects.get(path);
    if (!project) throw new Error(`the fake GitLab has no project ${path}`);
    return project;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    token,
    requests,
    violations,
    groups,
    addProject(path, { gitDir } = {}) {
      if (!projects.has(path))
        projects.set(path, {
          id: projects.size + 1,
          mrs: [],
          graph: gitDir ? new GitHistory(gitDir) : new CommitGraph('main', login),
          git: gitDir !== undefined,
          settings: {
            merge_method: 'merge',
            only_allow_merge_if_pipeline_succeeds: false,
            approvals_required: 0,
            reset_approvals_on_push: false,
          },
          pipelines: new Map(),
        });
    },
    addUser(username) {
      const id = users.get(username) ?? users.size + 1;
      users.set(username, id);
      return id;
    },
    mergeRequests: (path) => projects.get(path)?.mrs ?? [],
    push(path, branch, files, { author = 'someone-else', from } = {}) {
      const project = known(path);
      const sha = project.graph.push(branch, files, author, from);
      moved(project, branch);
      return sha;
    },
    branchHead: (path, branch) => projects.get(path)?.graph.head(branch),
    history: (path) => known(path).graph,
    settings(path, settings) {
      Object.assign(known(path).settings, settings);
    },
    pipeline(path, sha, status) {
      const project = known(path);
      const ref = project.mrs.find((m) => m.sha === sha)?.source_branch ?? project.graph.defaultBranch;
      const list = project.pipelines.get(sha) ?? [];
      project.pipelines.set(sha, [...list, { id: nextPipeline++, sha, ref, status, at: new Date().toISOString() }]);
    },
    approve(path, iid, username) {
      const id = users.get(username);
      if (id === undefined || id === 1) throw new Error(`the fake GitLab has no approver ${username}`);
      const mr = known(path).mrs.find((m) => m.iid === iid);
      if (!mr) throw new Error(`no merge request !${iid} in ${path}`);
      if (!mr.approved_by.includes(id)) mr.approved_by.push(id);
    },
    inject(fault) {
      faults.push({ ...fault, hits: 0 });
    },
    pendingFaults: () => faults.filter((f) => f.hits < (f.times ?? 1)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
