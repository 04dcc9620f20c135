/**
 * The GitHub forge (github.com, or GitHub Enterprise through `baseUrl`), on Octokit with its
 * retry and throttling plugins. Exactly once: an open PR for the head branch is looked up
 * before creating, and a 422 "A pull request already exists" (e.g. after a create whose answer
 * was lost) is resolved by looking it up again. Labels, assignees and reviewers are made to
 * match the config on every call, so a retry after a crash completes what the first try began.
 */
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { ApplicationFailure } from '@temporalio/common';
import type { GitHubForgeConfig } from '../../../config/repos.ts';
import { forgeHost } from '../../../core/forge-queue.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { pacedFetch, pacerFor, redact } from '../pacing.ts';

const GitHubClient = Octokit.plugin(retry, throttling);
type GitHubClient = InstanceType<typeof GitHubClient>;
type ApiPullRequest = Awaited<ReturnType<GitHubClient['rest']['pulls']['get']>>['data'];
type ListedPullRequest = Awaited<ReturnType<GitHubClient['rest']['pulls']['list']>>['data'][number];

export interface GitHubForgeOptions {
  config: GitHubForgeConfig;
  /** The token, read by the worker from `config.tokenEnv`; never logged, never returned. */
  token: string;
  /** The `owner/repo` of a fleet repo. */
  slugOf: (repo: string) => string;
  /** Base of the retry plugin's backoff and of the throttling fallback, in ms (tests shorten it). */
  retryBaseMs?: number;
}

/** Whether a request error is GitHub's answer to a second PR for the same head. */
function alreadyExists(err: unknown): boolean {
  if (!(err instanceof Error) || (err as { status?: number }).status !== 422) return false;
  const data = (err as { response?: { data?: { errors?: { message?: string }[] } } }).response?.data;
  return (data?.errors ?? []).some((e) => /already exists/i.test(e.message ?? '')) || /already exists/i.test(err.message);
}

export class GitHubForge implements Forge {
  readonly kind = 'github';
  private readonly client: GitHubClient;

  constructor(private readonly options: GitHubForgeOptions) {
    const { config } = options;
    const base = options.retryBaseMs ?? 1000;
    const retryUnless = (_after: number, _opts: unknown, _octokit: unknown, retryCount: number): boolean => retryCount < config.maxRetries;
    this.client = new GitHubClient({
      auth: options.token,
      baseUrl: config.baseUrl.replace(/\/+$/, ''),
      userAgent: 'lockstep',
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      request: { fetch: pacedFetch(pacerFor(`${forgeHost(config.baseUrl)}\n${config.tokenEnv}`, config.minIntervalMs)) },
      retry: { retries: config.maxRetries, retryAfterBaseValue: base },
      throttle: {
        id: `${forgeHost(config.baseUrl)}:${config.tokenEnv}`,
        retryAfterBaseValue: base,
        onSecondaryRateLimit: retryUnless,
        onRateLimit: retryUnless,
      },
    });
  }

  private slug(repo: string): { owner: string; repo: string } {
    const slug = this.options.slugOf(repo);
    const at = slug.indexOf('/');
    return { owner: slug.slice(0, at), repo: slug.slice(at + 1) };
  }

  async findOrCreatePullRequest(spec: PullRequestSpec): Promise<{ pullRequest: PullRequestRecord; created: boolean }> {
    return this.call(`open a pull request for ${spec.repo}`, async () => {
      const where = this.slug(spec.repo);
      let found: ApiPullRequest | ListedPullRequest | null = await this.findOpen(where, spec.head);
      let created = false;
      if (!found) {
        try {
          found = (await this.client.rest.pulls.create({ ...where, head: spec.head, base: spec.base, title: spec.title, body: spec.body, draft: this.options.config.draft })).data;
          created = true;
        } catch (err) {
          if (!alreadyExists(err)) throw err;
          found = await this.findOpen(where, spec.head);
          if (!found) throw new Error(`GitHub says a pull request for ${spec.head} already exists in ${where.owner}/${where.repo}, but none is open`);
        }
      }
      await this.ensurePeople(where, found);
      return { pullRequest: this.record(spec.repo, found), created };
    });
  }

  async updatePullRequest(repo: string, number: number, update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>): Promise<PullRequestRecord> {
    return this.call(`update pull request #${number} of ${repo}`, async () => {
      const { data } = await this.client.rest.pulls.update({ ...this.slug(repo), pull_number: number, title: update.title, body: update.body });
      return this.record(repo, data);
    });
  }

  async listPullRequests(repo: string): Promise<PullRequestRecord[]> {
    return this.call(`list the pull requests of ${repo}`, async () => {
      const all = await this.client.paginate(this.client.rest.pulls.list, { ...this.slug(repo), state: 'all', per_page: 100 });
      return all.map((pr) => this.record(repo, pr)).sort((a, b) => a.number - b.number);
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    return this.call(`read pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      const { data: pr } = await this.client.rest.pulls.get({ ...where, pull_number: number });
      const [reviews, runs, statuses] = await Promise.all([
        this.client.rest.pulls.listReviews({ ...where, pull_number: number, per_page: 100 }),
        this.client.rest.checks.listForRef({ ...where, ref: pr.head.sha, per_page: 100 }),
        this.client.rest.repos.getCombinedStatusForRef({ ...where, ref: pr.head.sha, per_page: 100 }),
      ]);
      const latest = new Map<string, string>();
      for (const r of reviews.data) if (r.user && r.state !== 'PENDING') latest.set(r.user.login, r.state);
      const states = [...latest.values()];
      const results = [
        ...runs.data.check_runs.map((c) => (c.status !== 'completed' ? 'pending' : ['success', 'neutral', 'skipped'].includes(c.conclusion ?? '') ? 'passing' : 'failing')),
        ...statuses.data.statuses.map((s) => (s.state === 'success' ? 'passing' : s.state === 'pending' ? 'pending' : 'failing')),
      ];
      const checks = results.length === 0 ? 'none' : results.includes('failing') ? 'failing' : results.includes('pending') ? 'pending' : 'passing';
      return {
        pullRequest: this.record(repo, pr),
        checks,
        reviews: {
          approved: states.filter((s) => s === 'APPROVED').length,
          changesRequested: states.filter((s) => s === 'CHANGES_REQUESTED').length,
          commented: states.filter((s) => s === 'COMMENTED').length,
        },
      };
    });
  }

  async markReady(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`mark pull request #${number} of ${repo} ready for review`, async () => {
      const where = this.slug(repo);
      const { data: pr } = await this.client.rest.pulls.get({ ...where, pull_number: number });
      if (!pr.draft || pr.state !== 'open') return this.record(repo, pr);
      // The REST API cannot undraft a pull request; GraphQL can.
      await this.client.graphql(
        'mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { number isDraft } } }',
        { id: pr.node_id },
      );
      return { ...this.record(repo, pr), draft: false };
    });
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`close pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      const { data: pr } = await this.client.rest.pulls.get({ ...where, pull_number: number });
      if (pr.state !== 'open') return this.record(repo, pr);
      const { data } = await this.client.rest.pulls.update({ ...where, pull_number: number, state: 'closed' });
      return this.record(repo, data);
    });
  }

  private async findOpen(where: { owner: string; repo: string }, head: string): Promise<ListedPullRequest | null> {
    const { data } = await this.client.rest.pulls.list({ ...where, head: `${where.owner}:${head}`, state: 'open', per_page: 10 });
    return data.find((pr) => pr.head.ref === head) ?? null;
  }

  /** Adds the configured labels, assignees and reviewers that the PR lacks (nothing when it has them all). */
  private async ensurePeople(where: { owner: string; repo: string }, pr: ApiPullRequest | ListedPullRequest): Promise<void> {
    const { labels, assignees, reviewers } = this.options.config;
    const has = (names: (string | null | undefined)[]) => new Set(names.map((n) => (n ?? '').toLowerCase()));
    const hasLabels = has(pr.labels.map((l) => l.name));
    const missingLabels = labels.filter((l) => !hasLabels.has(l.toLowerCase()));
    if (missingLabels.length > 0) await this.client.rest.issues.addLabels({ ...where, issue_number: pr.number, labels: missingLabels });
    const hasAssignees = has((pr.assignees ?? []).map((a) => a.login));
    const missingAssignees = assignees.filter((a) => !hasAssignees.has(a.toLowerCase()));
    if (missingAssignees.length > 0) await this.client.rest.issues.addAssignees({ ...where, issue_number: pr.number, assignees: missingAssignees });
    const hasReviewers = has((pr.requested_reviewers ?? []).map((r) => r.login));
    const author = pr.user?.login.toLowerCase();
    // GitHub refuses a review request to the PR's own author.
    const missingReviewers = reviewers.filter((r) => !hasReviewers.has(r.toLowerCase()) && r.toLowerCase() !== author);
    if (missingReviewers.length > 0) await this.client.rest.pulls.requestReviewers({ ...where, pull_number: pr.number, reviewers: missingReviewers });
  }

  private record(repo: string, pr: ApiPullRequest | ListedPullRequest): PullRequestRecord {
    return {
      number: pr.number,
      url: pr.html_url,
      repo,
      title: pr.title,
      body: pr.body ?? '',
      head: pr.head.ref,
      base: pr.base.ref,
      commit: pr.head.sha,
      state: pr.merged_at ? 'merged' : pr.state === 'closed' ? 'closed' : 'open',
      draft: pr.draft ?? false,
      createdAt: pr.created_at,
      updatedAt: pr.updated_at,
    };
  }

  /**
   * Runs one forge operation and turns a failure into a message that names the operation, the
   * request and GitHub's answer, and never the token. Answers that no retry can change (bad
   * token, no access, a refused request) fail at once; the others are retried by Temporal.
   */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      const request = (err as { request?: { method?: string; url?: string } }).request;
      const route = request?.method && request.url ? ` (${request.method} ${new URL(request.url).pathname})` : '';
      const raw = err instanceof Error ? err.message : String(err);
      const secondary = /secondary rate limit/i.test(raw) || status === 429;
      const reason = secondary
        ? `GitHub's rate limit still applied after ${this.options.config.maxRetries} retries; "lockstep resume" continues the change later`
        : status === 401
          ? `GitHub rejected the token in ${this.options.config.tokenEnv} (401); check that it is valid and not expired`
          : status === 404
            ? `GitHub answered 404: the repository does not exist or the token in ${this.options.config.tokenEnv} cannot see it`
            : status === 0 || status >= 500
              ? `GitHub did not answer (${status === 0 ? 'connection failed' : `HTTP ${status}`})`
              : `GitHub answered ${status}`;
      const message = redact(`cannot ${what}${route}: ${reason}: ${raw.split('\n')[0] ?? ''}`.slice(0, 1000), this.options.token);
      const permanent = status === 401 || status === 404 || status === 410 || (status === 422 && !alreadyExists(err)) || (status === 403 && !secondary && !/rate limit/i.test(raw));
      throw ApplicationFailure.create({ type: permanent ? 'ForgeRequestRejected' : 'ForgeUnavailable', message, nonRetryable: permanent });
    }
  }
}
