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
import { forgeFailure, GITLAB_FAILURES, type ForgeHttpError } from '../failure.ts';
import type { LandingState, MergeOutcome, UpdateOutcome } from '../../../core/landing.ts';
import { fatal } from '../../errors.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { pacerFor, sendWithRetries, type Pacer } from '../pacing.ts';
import { Approvals, ErrorBody, MergeRequest, MergeRequests, Users, type User } from './schemas.ts';

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

  // Landing (issue 23): filled in by the landing work; until then a clear refusal, never a guess.
  landingState(): Promise<LandingState> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the GitLab forge yet'));
  }

  mergePullRequest(): Promise<MergeOutcome> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the GitLab forge yet'));
  }

  updatePullRequestBranch(): Promise<UpdateOutcome> {
    return Promise.reject(fatal('InvalidInput', 'landing is not supported by the GitLab forge yet'));
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
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const { tokenEnv, maxRetries } = this.options.config;
      throw forgeFailure(GITLAB_FAILURES, what, err, httpError, { tokenEnv, maxRetries, token: this.options.token });
    }
  }
}
