/**
 * The GitLab forge (gitlab.com or self-managed), on `@gitbeaker/rest`: merge requests found by
 * source branch before creating, a 409 "already exists" resolved by finding it, drafts as the
 * title prefix "Draft:". Requests go through Lockstep's own requester, so every one of them is
 * paced with the forge's budget and waits out 429/5xx answers with `Retry-After`, a bounded
 * number of times.
 */
import { Gitlab } from '@gitbeaker/rest';
import { createRequesterFn, type RequestOptions } from '@gitbeaker/requester-utils';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { GitLabForgeConfig } from '../../../config/repos.ts';
import { forgeHost } from '../../../core/forge-queue.ts';
import { parseAnswer } from '../answers.ts';
import { callForge, GITLAB_FAILURES, type ForgeHttpError } from '../failure.ts';
import {
  changedOnBothSides,
  conflictRefusal,
  type LandingCheck,
  type LandingState,
  type MergeOutcome,
  type MergeRequest as Merge,
  type UpdateOutcome,
} from '../../../core/landing.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { ownerNotFound, type ForgeRepository } from '../listing.ts';
import { pacerFor, sendWithRetries, type Pacer } from '../pacing.ts';
import {
  Approvals,
  Commit,
  Comparison,
  ErrorBody,
  GroupProjects,
  MergeRequest,
  MergeRequests,
  Pipelines,
  Project,
  Users,
  type User,
} from './schemas.ts';

export interface GitLabForgeOptions {
  config: GitLabForgeConfig;
  token: string;
  /** The project path (`group/project`) of a fleet repo. */
  slugOf: (repo: string) => string;
  /** Base of the retry backoff in ms (default 1000; tests shorten it). */
  retryBaseMs?: number;
}

const DRAFT = /^\s*(\[draft\]|\(draft\)|draft:|draft\s-|draft\s)\s*/i;

/** A GitLab answer that is not a success, with its status (0: no answer). */
class GitLabError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the failure table reads of a failed request (anything thrown that is not a GitLabError has status 0). */
function httpError(err: unknown): ForgeHttpError {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof GitLabError
    ? { status: err.status, message, route: `${err.method} ${err.path}` }
    : { status: 0, message };
}

/** GitLab's answer to `endpoint` (as its REST API documentation names it), read through `schema`. */
const answer = <T>(schema: z.ZodType<T>, endpoint: string, data: unknown): T =>
  parseAnswer(schema, data, 'GitLab', endpoint);

const MR = 'GET /projects/:id/merge_requests/:merge_request_iid';
const EDIT = 'PUT /projects/:id/merge_requests/:merge_request_iid';
const LIST = 'GET /projects/:id/merge_requests';
const GROUP_PROJECTS = 'GET /groups/:id/projects';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How often, and how far apart, a rebase GitLab accepted is looked for on the merge request (it runs in the background). */
const REBASE_POLLS = 20;
const REBASE_POLL_MS = 500;

/** A pipeline's status as a check: skipped and canceled do not pass "Pipelines must succeed". */
function pipelineState(status: string): LandingCheck['state'] {
  if (status === 'success') return 'success';
  return ['failed', 'canceled', 'skipped'].includes(status) ? 'failure' : 'pending';
}

/** The merge request statuses that a project rule (approvals, pipelines, discussions, up to date) holds back. */
const PROTECTED = new Set([
  'not_approved',
  'ci_must_pass',
  'ci_still_running',
  'need_rebase',
  'discussions_not_resolved',
  'blocked_status',
  'external_status_checks',
  'policies_denied',
  'requested_changes',
]);

async function parseBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  if (type === 'application/json') return (await response.json()) ?? {};
  return response.text();
}

/** gitbeaker's requester, with every request paced and retried on 429, 5xx and lost connections. */
function pacedRequester(pacer: Pacer, maxRetries: number, baseMs: number) {
  return createRequesterFn(
    (_service, options) => Promise.resolve(options),
    async (endpoint, raw) => {
      const options = (raw ?? {}) as RequestOptions;
      const method = options.method ?? 'GET';
      const prefix = options.prefixUrl ?? '';
      const url = new URL(endpoint, prefix.endsWith('/') ? prefix : `${prefix}/`);
      if (options.searchParams) url.search = options.searchParams;
      const { response, lost } = await sendWithRetries(
        pacer,
        method,
        () =>
          fetch(url, {
            method,
            ...(options.headers ? { headers: options.headers } : {}),
            ...(options.body ? { body: options.body } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        { maxRetries, baseMs },
      );
      if (response?.ok) {
        return {
          body: (await parseBody(response)) as Record<string, unknown>,
          headers: Object.fromEntries(response.headers.entries()),
          status: response.status,
        };
      }
      const body = response ? await parseBody(response).catch(() => '') : lost;
      const said = ErrorBody.safeParse(body);
      const text =
        typeof body === 'string'
          ? body
          : JSON.stringify((said.success ? (said.data.message ?? said.data.error) : undefined) ?? body);
      throw new GitLabError(response?.status ?? 0, method, url.pathname, `${text}`.slice(0, 500));
    },
  );
}

export class GitLabForge implements Forge {
  readonly kind = 'gitlab';
  private readonly api: InstanceType<typeof Gitlab>;
  private readonly users = new Map<string, number>();

  constructor(private readonly options: GitLabForgeOptions) {
    const { config } = options;
    this.api = new Gitlab({
      host: config.baseUrl.replace(/\/+$/, ''),
      token: options.token,
      requesterFn: pacedRequester(
        pacerFor(`${forgeHost(config.baseUrl)}\n${config.tokenEnv}`, config.minIntervalMs),
        config.maxRetries,
        options.retryBaseMs ?? 1000,
      ),
    });
  }

  private project(repo: string): string {
    return this.options.slugOf(repo);
  }

  async findOrCreatePullRequest(spec: PullRequestSpec): Promise<{ pullRequest: PullRequestRecord; created: boolean }> {
    return this.call(`open a merge request for ${spec.repo}`, async () => {
      const project = this.project(spec.repo);
      let found = await this.findOpen(project, spec.head);
      let created = false;
      if (!found) {
        try {
          const title = this.options.config.draft ? `Draft: ${spec.title}` : spec.title;
          const mr = await this.api.MergeRequests.create(project, spec.head, spec.base, title, {
            description: spec.body,
          });
          found = answer(MergeRequest, 'POST /projects/:id/merge_requests', mr);
          created = true;
        } catch (err) {
          // 409: an open MR of this source branch exists (e.g. made by the try whose answer was lost).
          if (!(err instanceof GitLabError && err.status === 409)) throw err;
          found = await this.findOpen(project, spec.head);
          if (!found)
            throw new Error(
              `GitLab says a merge request for ${spec.head} already exists in ${project}, but none is open`,
            );
        }
      }
      found = await this.ensurePeople(project, found);
      return { pullRequest: this.record(spec.repo, found), created };
    });
  }

  async updatePullRequest(
    repo: string,
    number: number,
    update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>,
  ): Promise<PullRequestRecord> {
    return this.call(`update merge request !${number} of ${repo}`, async () => {
      const project = this.project(repo);
      const current = answer(MergeRequest, MR, await this.api.MergeRequests.show(project, number));
      // The title carries the draft state: keep it as it is.
      const title = this.isDraft(current) ? `Draft: ${update.title}` : update.title;
      const mr = answer(
        MergeRequest,
        EDIT,
        await this.api.MergeRequests.edit(project, number, { title, description: update.body }),
      );
      return this.record(repo, mr);
    });
  }

  async listPullRequests(repo: string): Promise<PullRequestRecord[]> {
    return this.call(`list the merge requests of ${repo}`, async () => {
      const all = answer(
        MergeRequests,
        LIST,
        await this.api.MergeRequests.all({ projectId: this.project(repo), perPage: 100, maxPages: 20 }),
      );
      return all.map((mr) => this.record(repo, mr)).sort((a, b) => a.number - b.number);
    });
  }

  /** Every project of the group and its subgroups, page by page (GitLab's Link header), forks and archived ones included. */
  async listGroupProjects(group: string): Promise<ForgeRepository[]> {
    return this.call(`list the projects of the group ${group}`, async () => {
      const pages = await this.api.Groups.allProjects(group, { includeSubgroups: true, perPage: 100 }).catch(
        (err: unknown) => {
          if (!(err instanceof GitLabError && err.status === 404)) throw err;
          throw ownerNotFound(
            `GitLab at ${this.options.config.baseUrl} has no group "${group}", or the token in ${this.options.config.tokenEnv} cannot see it`,
          );
        },
      );
      return answer(GroupProjects, GROUP_PROJECTS, pages).map((p) => ({
        name: p.path,
        slug: p.path_with_namespace,
        cloneUrl: p.http_url_to_repo,
        defaultBranch: p.default_branch ?? null,
        topics: p.topics ?? [],
        archived: p.archived ?? false,
        fork: Boolean(p.forked_from_project),
      }));
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    return this.call(`read merge request !${number} of ${repo}`, async () => {
      const project = this.project(repo);
      const mr = answer(MergeRequest, MR, await this.api.MergeRequests.show(project, number));
      const approved = await this.api.MergeRequestApprovals.showConfiguration(project, { mergerequestIId: number });
      const approvals = answer(Approvals, 'GET /projects/:id/merge_requests/:merge_request_iid/approvals', approved);
      const pipeline = mr.head_pipeline?.status ?? null;
      const checks = !pipeline
        ? 'none'
        : pipeline === 'success'
          ? 'passing'
          : ['failed', 'canceled'].includes(pipeline)
            ? 'failing'
            : 'pending';
      return {
        pullRequest: this.record(repo, mr),
        checks,
        reviews: { approved: approvals.approved_by?.length ?? 0, changesRequested: 0, commented: 0 },
      };
    });
  }

  async markReady(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`mark merge request !${number} of ${repo} ready`, async () => {
      const project = this.project(repo);
      const mr = answer(MergeRequest, MR, await this.api.MergeRequests.show(project, number));
      if (!this.isDraft(mr) || mr.state !== 'opened') return this.record(repo, mr);
      // Removing the prefix is how GitLab's API turns a draft ready.
      const ready = answer(
        MergeRequest,
        EDIT,
        await this.api.MergeRequests.edit(project, number, { title: mr.title.replace(DRAFT, '') }),
      );
      return this.record(repo, ready);
    });
  }

  async landingState(repo: string, number: number): Promise<LandingState> {
    return this.call(`read merge request !${number} of ${repo} for landing`, async () => {
      const project = this.project(repo);
      const mr = await this.landingShow(project, number);
      const [settings, approvals, head, pipeline] = await Promise.all([
        this.settings(project),
        this.api.MergeRequestApprovals.showConfiguration(project, { mergerequestIId: number }).then((a) =>
          answer(Approvals, 'GET /projects/:id/merge_requests/:merge_request_iid/approvals', a),
        ),
        this.api.Commits.show(project, mr.sha).then((c) =>
          answer(Commit, 'GET /projects/:id/repository/commits/:sha', c),
        ),
        this.headPipeline(project, mr),
      ]);
      const required = settings.only_allow_merge_if_pipeline_succeeds ?? false;
      const checks: LandingCheck[] = pipeline
        ? [
            {
              name: 'pipeline',
              state: pipelineState(pipeline.status),
              required,
              ...(pipeline.web_url ? { url: pipeline.web_url } : {}),
            },
          ]
        : required
          ? [{ name: 'pipeline', state: 'missing', required }]
          : [];
      const status = mr.detailed_merge_status ?? '';
      return {
        pullRequest: this.record(repo, mr),
        headAuthor: head.author_name,
        checks,
        reviews: {
          approved: approvals.approved_by?.length ?? 0,
          required: approvals.approvals_required ?? 0,
          // GitLab's approvals API has no "changes requested" verdict.
          changesRequested: [],
        },
        behind: status === 'need_rebase' || (mr.diverged_commits_count ?? 0) > 0,
        mergeable:
          status === 'checking' || status === 'unchecked'
            ? null
            : !(mr.has_conflicts ?? false) && status !== 'conflict',
        // GitLab's REST API does not list the conflicting files.
        conflicts: [],
        mergedSha: mr.state === 'merged' ? this.mergedSha(mr) : null,
      };
    });
  }

  async mergePullRequest(request: Merge): Promise<MergeOutcome> {
    const { repo, number, sha, method } = request;
    return this.call(`merge merge request !${number} of ${repo}`, async () => {
      const project = this.project(repo);
      const before = this.settled(await this.landingShow(project, number), sha);
      if (before) return before;
      // GitLab merges the project's way (merge_method); only squashing is chosen per merge.
      if (method === 'rebase') {
        const { merge_method } = await this.settings(project);
        if (merge_method !== 'ff')
          return {
            merged: false,
            kind: 'refused',
            reason:
              `the project merges with merge commits (merge_method "${merge_method}"); ` +
              'merge "rebase" needs its merge method set to "Fast-forward merge" in GitLab',
          };
      }
      try {
        const merged = answer(
          MergeRequest,
          'PUT /projects/:id/merge_requests/:merge_request_iid/merge',
          await this.api.MergeRequests.merge(project, number, { sha, squash: method === 'squash' }),
        );
        return { merged: true, mergedSha: this.mergedSha(merged), alreadyMerged: false };
      } catch (err) {
        if (!(err instanceof GitLabError)) throw err;
        // The answer may have been lost after GitLab merged (the requester then retried): the MR says.
        const after = await this.landingShow(project, number);
        const settled = this.settled(after, sha);
        if (settled) return settled;
        if (![405, 406, 409, 422].includes(err.status)) throw err;
        const status = after.detailed_merge_status ?? 'unknown';
        const said = err.message.replace(/^"|"$/g, '');
        const kind =
          err.status === 409
            ? 'head-moved'
            : after.has_conflicts || status === 'conflict'
              ? 'conflict'
              : PROTECTED.has(status)
                ? 'protected'
                : 'refused';
        return {
          merged: false,
          kind,
          // GitLab's 405 says only "Method Not Allowed": the merge status says why.
          reason: err.status === 409 ? said : `${said} (detailed_merge_status: ${status})`,
        };
      }
    });
  }

  /**
   * Rebases the source branch on the target (GitLab's rebase API, which has no head guard of
   * its own: the head is compared with `sha` first). A rebase runs in the background; its end,
   * or its `merge_error`, is read back from the merge request.
   */
  async updatePullRequestBranch(repo: string, number: number, sha: string): Promise<UpdateOutcome> {
    return this.call(`rebase merge request !${number} of ${repo}`, async () => {
      const project = this.project(repo);
      const mr = await this.landingShow(project, number);
      if (!mr.rebase_in_progress) {
        // Up to date at `sha`, or at a new head (a rebase whose answer was lost): either way, done.
        if ((mr.diverged_commits_count ?? 0) === 0) return { updated: true, headSha: mr.sha };
        if (mr.sha !== sha)
          return {
            updated: false,
            conflicts: [],
            reason: `the source branch moved: its head is ${mr.sha}, not ${sha}`,
          };
        try {
          await this.api.MergeRequests.rebase(project, number);
        } catch (err) {
          // 409: a rebase runs already (the requester's retry of a request whose answer was lost); wait for it.
          if (!(err instanceof GitLabError && err.status === 409)) throw err;
        }
      }
      for (let poll = 0; poll < REBASE_POLLS; poll++) {
        const now = await this.landingShow(project, number);
        if (!now.rebase_in_progress) {
          if (now.merge_error) {
            return /conflict/i.test(now.merge_error)
              ? conflictRefusal(now.merge_error, await this.changedOnBothSides(project, now.target_branch, now.sha))
              : { updated: false, conflicts: [], reason: now.merge_error };
          }
          if ((now.diverged_commits_count ?? 0) === 0) return { updated: true, headSha: now.sha };
          return { updated: false, conflicts: [], reason: 'the target branch moved again during the rebase' };
        }
        await sleep(REBASE_POLL_MS);
      }
      throw new Error(`GitLab accepted the rebase of !${number}, but it has not finished yet`);
    });
  }

  /**
   * GitLab names no conflicting file: the files both sides changed since they diverged (each
   * side's comparison from the merge base) are where to look.
   */
  private async changedOnBothSides(project: string, target: string, head: string): Promise<string[]> {
    const compare = async (from: string, to: string) =>
      (
        answer(
          Comparison,
          'GET /projects/:id/repository/compare',
          await this.api.Repositories.compare(project, from, to, { straight: false }),
        ).diffs ?? []
      ).map((d) => d.new_path);
    const [ours, theirs] = await Promise.all([compare(target, head), compare(head, target)]);
    return changedOnBothSides(ours, theirs);
  }

  /** One merge request with what landing reads (how far behind, whether a rebase runs). */
  private async landingShow(project: string, number: number): Promise<MergeRequest> {
    return answer(
      MergeRequest,
      MR,
      await this.api.MergeRequests.show(project, number, {
        includeDivergedCommitsCount: true,
        includeRebaseInProgress: true,
      }),
    );
  }

  private async settings(project: string): Promise<Project> {
    return answer(Project, 'GET /projects/:id', await this.api.Projects.show(project));
  }

  /** The head's pipeline: `head_pipeline`, or else the newest of the merge request's pipelines on its head. */
  private async headPipeline(project: string, mr: MergeRequest): Promise<{ status: string; web_url?: string } | null> {
    if (mr.head_pipeline) return mr.head_pipeline;
    const all = answer(
      Pipelines,
      'GET /projects/:id/merge_requests/:merge_request_iid/pipelines',
      await this.api.MergeRequests.allPipelines(project, mr.iid, { perPage: 20, maxPages: 1 }),
    );
    return all.find((p) => p.sha === mr.sha) ?? null;
  }

  /** Where a merged MR landed: the merge commit, else (fast-forward) the squash commit or the head itself. */
  private mergedSha(mr: MergeRequest): string {
    return mr.merge_commit_sha ?? mr.squash_commit_sha ?? mr.sha;
  }

  /** A merge request that needs no merge request: merged already (at `sha`: a lost answer; else at another head), or closed. */
  private settled(mr: MergeRequest, sha: string): MergeOutcome | null {
    if (mr.state === 'merged')
      return mr.sha === sha
        ? { merged: true, mergedSha: this.mergedSha(mr), alreadyMerged: true }
        : { merged: false, kind: 'head-moved', reason: `merged by someone else at head ${mr.sha}, not at ${sha}` };
    if (mr.state !== 'opened') return { merged: false, kind: 'closed', reason: `the merge request is ${mr.state}` };
    return null;
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`close merge request !${number} of ${repo}`, async () => {
      const project = this.project(repo);
      const mr = answer(MergeRequest, MR, await this.api.MergeRequests.show(project, number));
      if (mr.state !== 'opened') return this.record(repo, mr);
      return this.record(
        repo,
        answer(MergeRequest, EDIT, await this.api.MergeRequests.edit(project, number, { stateEvent: 'close' })),
      );
    });
  }

  private isDraft(mr: MergeRequest): boolean {
    return mr.draft ?? DRAFT.test(mr.title);
  }

  private async findOpen(project: string, head: string): Promise<MergeRequest | null> {
    const open = await this.api.MergeRequests.all({
      projectId: project,
      sourceBranch: head,
      state: 'opened',
      perPage: 20,
      maxPages: 1,
    });
    const list = answer(MergeRequests, LIST, open);
    return list.find((mr) => mr.source_branch === head) ?? null;
  }

  private async userId(username: string): Promise<number> {
    const known = this.users.get(username.toLowerCase());
    if (known !== undefined) return known;
    const found = answer(Users, 'GET /users', await this.api.Users.all({ username }));
    const user = found.find((u) => u.username.toLowerCase() === username.toLowerCase());
    if (!user) {
      throw ApplicationFailure.create({
        type: 'ForgeRequestRejected',
        message: `no GitLab user "${username}"; fix forge.reviewers / forge.assignees in repos.config.json`,
        nonRetryable: true,
      });
    }
    this.users.set(username.toLowerCase(), user.id);
    return user.id;
  }

  /** One edit that adds the configured labels, assignees and reviewers the MR lacks. */
  private async ensurePeople(project: string, mr: MergeRequest): Promise<MergeRequest> {
    const { labels, assignees, reviewers } = this.options.config;
    const lower = (xs: string[]) => new Set(xs.map((x) => x.toLowerCase()));
    const hasLabels = lower(mr.labels);
    const missingLabels = labels.filter((l) => !hasLabels.has(l.toLowerCase()));
    const hasAssignees = lower((mr.assignees ?? []).map((u) => u.username));
    const hasReviewers = lower((mr.reviewers ?? []).map((u) => u.username));
    const missingAssignees = assignees.filter((a) => !hasAssignees.has(a.toLowerCase()));
    const missingReviewers = reviewers.filter((r) => !hasReviewers.has(r.toLowerCase()));
    if (missingLabels.length + missingAssignees.length + missingReviewers.length === 0) return mr;
    const ids = async (existing: User[] | null | undefined, wanted: string[]) => [
      ...(existing ?? []).map((u) => u.id),
      ...(await Promise.all(wanted.map((w) => this.userId(w)))),
    ];
    const edited = await this.api.MergeRequests.edit(project, mr.iid, {
      ...(missingLabels.length > 0 ? { addLabels: missingLabels.join(',') } : {}),
      ...(missingAssignees.length > 0 ? { assigneeIds: await ids(mr.assignees, missingAssignees) } : {}),
      ...(missingReviewers.length > 0 ? { reviewerIds: await ids(mr.reviewers, missingReviewers) } : {}),
    });
    return answer(MergeRequest, EDIT, edited);
  }

  private record(repo: string, mr: MergeRequest): PullRequestRecord {
    return {
      number: mr.iid,
      url: mr.web_url,
      repo,
      title: mr.title,
      body: mr.description ?? '',
      head: mr.source_branch,
      base: mr.target_branch,
      commit: mr.sha,
      state: mr.state === 'merged' ? 'merged' : mr.state === 'opened' ? 'open' : 'closed',
      draft: this.isDraft(mr),
      createdAt: mr.created_at,
      updatedAt: mr.updated_at,
    };
  }

  /**
   * Runs one forge operation and turns a failure into a message that names the operation, the
   * request and GitLab's answer, and never the token; GITLAB_FAILURES says which answers fail at
   * once and which Temporal retries.
   */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { tokenEnv, maxRetries } = this.options.config;
    return callForge(GITLAB_FAILURES, httpError, { tokenEnv, maxRetries, token: this.options.token }, what, fn);
  }
}
