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
import type { z } from 'zod';
import type { GitHubForgeConfig } from '../../../config/repos.ts';
import { forgeHost } from '../../../core/forge-queue.ts';
import { parseAnswer } from '../answers.ts';
import { callForge, GITHUB_FAILURES, type ForgeHttpError } from '../failure.ts';
import {
  changedOnBothSides,
  conflictRefusal,
  type LandingState,
  type MergeOutcome,
  type MergeRequest,
  type UpdateOutcome,
} from '../../../core/landing.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { ownerNotFound, type ForgeRepository } from '../listing.ts';
import { pacedFetch, pacerFor } from '../pacing.ts';
import { landingChecks, latestVerdicts, requiredContexts, runState, statusState } from './landing.ts';
import {
  BranchProtection,
  CheckRuns,
  CombinedStatus,
  Commit,
  Comparison,
  MergeResult,
  OrgRepositories,
  PullRequest,
  PullRequests,
  Refusal,
  RequestError,
  Reviews,
  ValidationFailed,
} from './schemas.ts';

const GitHubClient = Octokit.plugin(retry, throttling);
type GitHubClient = InstanceType<typeof GitHubClient>;

const LIST = 'GET /repos/{owner}/{repo}/pulls';
const UPDATE = 'PATCH /repos/{owner}/{repo}/pulls/{pull_number}';
const COMPARE = 'GET /repos/{owner}/{repo}/compare/{base}...{head}';
const ORG_REPOS = 'GET /orgs/{org}/repos';

/** How often, and how far apart, an accepted update-branch is looked for on the PR (GitHub updates in the background). */
const UPDATE_POLLS = 10;
const UPDATE_POLL_MS = 500;

type Where = { owner: string; repo: string };

/** GitHub's status for a failed request; 0 for anything that is not one. */
const statusOf = (err: unknown): number => {
  const request = RequestError.safeParse(err);
  return request.success ? (request.data.status ?? 0) : 0;
};

/** GitHub's refusal of a merge or an update (405, 409, 422 with its own message), or null for any other failure. */
function refusalOf(err: unknown): { status: number; message: string } | null {
  const request = RequestError.safeParse(err);
  const status = statusOf(err);
  if (![405, 409, 422].includes(status)) return null;
  const body = Refusal.safeParse(request.success ? request.data.response?.data : undefined);
  return { status, message: body.success ? body.data.message : err instanceof Error ? err.message : String(err) };
}

/** GitHub's answer to `endpoint` (as its REST reference names it), read through `schema`. */
const answer = <T>(schema: z.ZodType<T>, endpoint: string, data: unknown): T =>
  parseAnswer(schema, data, 'GitHub', endpoint);

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
  if (!(err instanceof Error)) return false;
  const request = RequestError.safeParse(err);
  if (!request.success || request.data.status !== 422) return false;
  const body = ValidationFailed.safeParse(request.data.response?.data);
  const reasons = body.success ? (body.data.errors ?? []) : [];
  return (
    reasons.some((e) => typeof e !== 'string' && /already exists/i.test(e.message ?? '')) ||
    /already exists/i.test(err.message)
  );
}

/** What the failure table reads of a failed request (anything thrown that is not one has status 0). */
function httpError(err: unknown): ForgeHttpError {
  const parsed = RequestError.safeParse(err);
  const { status = 0, request }: RequestError = parsed.success ? parsed.data : {};
  return {
    status,
    message: err instanceof Error ? err.message : String(err),
    route: request?.method && request.url ? `${request.method} ${new URL(request.url).pathname}` : undefined,
    alreadyExists: alreadyExists(err),
  };
}

export class GitHubForge implements Forge {
  readonly kind = 'github';
  private readonly client: GitHubClient;

  constructor(private readonly options: GitHubForgeOptions) {
    const { config } = options;
    const base = options.retryBaseMs ?? 1000;
    const retryUnless = (_after: number, _opts: unknown, _octokit: unknown, retryCount: number): boolean =>
      retryCount < config.maxRetries;
    this.client = new GitHubClient({
      auth: options.token,
      baseUrl: config.baseUrl.replace(/\/+$/, ''),
      userAgent: 'lockstep',
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      request: {
        fetch: pacedFetch(pacerFor(`${forgeHost(config.baseUrl)}\n${config.tokenEnv}`, config.minIntervalMs)),
      },
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
      let found: PullRequest | null = await this.findOpen(where, spec.head);
      let created = false;
      if (!found) {
        try {
          const { data } = await this.client.rest.pulls.create({
            ...where,
            head: spec.head,
            base: spec.base,
            title: spec.title,
            body: spec.body,
            draft: this.options.config.draft,
          });
          found = answer(PullRequest, 'POST /repos/{owner}/{repo}/pulls', data);
          created = true;
        } catch (err) {
          if (!alreadyExists(err)) throw err;
          found = await this.findOpen(where, spec.head);
          if (!found)
            throw new Error(
              `GitHub says a pull request for ${spec.head} already exists in ${where.owner}/${where.repo}, but none is open`,
            );
        }
      }
      await this.ensurePeople(where, found);
      return { pullRequest: this.record(spec.repo, found), created };
    });
  }

  async updatePullRequest(
    repo: string,
    number: number,
    update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>,
  ): Promise<PullRequestRecord> {
    return this.call(`update pull request #${number} of ${repo}`, async () => {
      const { data } = await this.client.rest.pulls.update({
        ...this.slug(repo),
        pull_number: number,
        title: update.title,
        body: update.body,
      });
      return this.record(repo, answer(PullRequest, UPDATE, data));
    });
  }

  async listPullRequests(repo: string): Promise<PullRequestRecord[]> {
    return this.call(`list the pull requests of ${repo}`, async () => {
      const all = answer(
        PullRequests,
        LIST,
        await this.client.paginate(this.client.rest.pulls.list, { ...this.slug(repo), state: 'all', per_page: 100 }),
      );
      return all.map((pr) => this.record(repo, pr)).sort((a, b) => a.number - b.number);
    });
  }

  /** Every repository of the organization, page by page (GitHub's Link header), forks and archived ones included. */
  async listOrganizationRepositories(org: string): Promise<ForgeRepository[]> {
    return this.call(`list the repositories of the organization ${org}`, async () => {
      const pages = await this.client.paginate(ORG_REPOS, { org, type: 'all', per_page: 100 }).catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
        throw ownerNotFound(
          `GitHub at ${this.options.config.baseUrl} has no organization "${org}", or the token in ${this.options.config.tokenEnv} cannot see it`,
        );
      });
      return answer(OrgRepositories, ORG_REPOS, pages).map((r) => ({
        name: r.name,
        slug: r.full_name,
        cloneUrl: r.clone_url,
        defaultBranch: r.default_branch ?? null,
        topics: r.topics ?? [],
        archived: r.archived ?? false,
        fork: r.fork,
      }));
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    return this.call(`read pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      const pr = await this.get(where, number);
      const [reviews, runs, statuses] = await Promise.all([
        this.reviews(where, number),
        this.checkRuns(where, pr.head.sha),
        this.statuses(where, pr.head.sha),
      ]);
      const states = [...latestVerdicts(reviews).values()];
      const results = [...runs.check_runs.map(runState), ...statuses.statuses.map((s) => statusState(s.state))];
      const checks =
        results.length === 0
          ? 'none'
          : results.includes('failure')
            ? 'failing'
            : results.includes('pending')
              ? 'pending'
              : 'passing';
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
      const pr = await this.get(where, number);
      if (!pr.draft || pr.state !== 'open') return this.record(repo, pr);
      // The REST API cannot undraft a pull request; GraphQL can.
      await this.client.graphql(
        'mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { number isDraft } } }',
        { id: pr.node_id },
      );
      return { ...this.record(repo, pr), draft: false };
    });
  }

  async landingState(repo: string, number: number): Promise<LandingState> {
    return this.call(`read pull request #${number} of ${repo} for landing`, async () => {
      const where = this.slug(repo);
      const pr = await this.get(where, number);
      const [protection, reviews, runs, statuses, behindBy, head] = await Promise.all([
        this.protection(where, pr.base.ref),
        this.reviews(where, number),
        this.checkRuns(where, pr.head.sha),
        this.statuses(where, pr.head.sha),
        pr.state === 'open' ? this.compare(where, pr.base.ref, pr.head.sha).then((c) => c.behind_by) : 0,
        this.client.rest.repos
          .getCommit({ ...where, ref: pr.head.sha, per_page: 1 })
          .then((r) => answer(Commit, 'GET /repos/{owner}/{repo}/commits/{ref}', r.data)),
      ]);
      const verdicts = [...latestVerdicts(reviews)];
      return {
        pullRequest: this.record(repo, pr),
        headAuthor: head.author?.login ?? head.commit.author?.name ?? null,
        checks: landingChecks(runs, statuses, requiredContexts(protection)),
        reviews: {
          approved: verdicts.filter(([, state]) => state === 'APPROVED').length,
          required: protection?.required_pull_request_reviews?.required_approving_review_count ?? 0,
          changesRequested: verdicts.filter(([, state]) => state === 'CHANGES_REQUESTED').map(([login]) => login),
        },
        behind: pr.mergeable_state === 'behind' || behindBy > 0,
        mergeable: pr.mergeable_state === 'dirty' ? false : (pr.mergeable ?? null),
        // GitHub does not say which files conflict.
        conflicts: [],
        mergedSha: pr.merged_at ? (pr.merge_commit_sha ?? null) : null,
      };
    });
  }

  async mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    const { repo, number, sha, method } = request;
    return this.call(`merge pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      const before = this.settled(await this.get(where, number), sha);
      if (before) return before;
      try {
        const { data } = await this.client.rest.pulls.merge({
          ...where,
          pull_number: number,
          sha,
          merge_method: method,
          // Never sent twice by the client: what a lost answer did is read back from the PR below.
          request: { retries: 0 },
        });
        const result = answer(MergeResult, 'PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge', data);
        if (!result.merged) return { merged: false, kind: 'refused', reason: result.message };
        return { merged: true, mergedSha: result.sha, alreadyMerged: false };
      } catch (err) {
        const after = await this.get(where, number);
        const settled = this.settled(after, sha);
        if (settled) return settled;
        const refused = refusalOf(err);
        if (!refused) throw err;
        const kind =
          refused.status === 409
            ? 'head-moved'
            : after.mergeable === false || after.mergeable_state === 'dirty'
              ? 'conflict'
              : /required|review|protect|modified/i.test(refused.message)
                ? 'protected'
                : 'refused';
        return { merged: false, kind, reason: refused.message };
      }
    });
  }

  async updatePullRequestBranch(repo: string, number: number, sha: string): Promise<UpdateOutcome> {
    return this.call(`update the branch of pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      let refused: { status: number; message: string } | null = null;
      try {
        await this.client.rest.pulls.updateBranch({
          ...where,
          pull_number: number,
          expected_head_sha: sha,
          request: { retries: 0 },
        });
      } catch (err) {
        refused = refusalOf(err);
        // No answer (Octokit reports a dropped connection as a 500): the update may have happened; the PR says below.
        if (!refused && statusOf(err) > 0 && statusOf(err) < 500) throw err;
      }
      for (let poll = 0; poll < UPDATE_POLLS; poll++) {
        const pr = await this.get(where, number);
        const current = await this.compare(where, pr.base.ref, pr.head.sha);
        // Up to date at `sha` or at a head made from it (an update whose answer was lost, or GitHub's own).
        if (current.behind_by === 0) {
          const fromSha = pr.head.sha === sha || (await this.compare(where, sha, pr.head.sha)).status === 'ahead';
          if (fromSha) return { updated: true, headSha: pr.head.sha };
        }
        if (refused) {
          return /conflict/i.test(refused.message)
            ? conflictRefusal(refused.message, await this.changedOnBothSides(where, pr.base.ref, pr.head.sha))
            : { updated: false, conflicts: [], reason: refused.message };
        }
        await new Promise((r) => setTimeout(r, UPDATE_POLL_MS));
      }
      throw new Error(`GitHub accepted the update of #${number}, but its head has not moved from ${sha} yet`);
    });
  }

  /** A PR that needs no merge request: merged already (at `sha`: a lost answer; else at another head), or closed. */
  private settled(pr: PullRequest, sha: string): MergeOutcome | null {
    if (pr.merged_at) {
      if (pr.head.sha !== sha)
        return {
          merged: false,
          kind: 'head-moved',
          reason: `merged by someone else at head ${pr.head.sha}, not at ${sha}`,
        };
      if (!pr.merge_commit_sha) throw new Error(`GitHub reports #${pr.number} merged but names no merge commit yet`);
      return { merged: true, mergedSha: pr.merge_commit_sha, alreadyMerged: true };
    }
    if (pr.state === 'closed') return { merged: false, kind: 'closed', reason: 'the pull request is closed' };
    return null;
  }

  /** The base branch's protection; null when GitHub answers 404 "Branch not protected". */
  private async protection(where: Where, branch: string): Promise<BranchProtection | null> {
    try {
      const { data } = await this.client.rest.repos.getBranchProtection({ ...where, branch });
      return answer(BranchProtection, 'GET /repos/{owner}/{repo}/branches/{branch}/protection', data);
    } catch (err) {
      const request = RequestError.safeParse(err);
      const body = Refusal.safeParse(request.success ? request.data.response?.data : undefined);
      if (request.success && request.data.status === 404 && body.success && /not protected/i.test(body.data.message))
        return null;
      throw err;
    }
  }

  /**
   * GitHub names no conflicting file, in no API: the files both sides changed since they
   * diverged (each side's three-dot comparison) are where to look.
   */
  private async changedOnBothSides(where: Where, base: string, head: string): Promise<string[]> {
    const [theirs, ours] = await Promise.all([this.compare(where, head, base), this.compare(where, base, head)]);
    const names = (c: Comparison) => (c.files ?? []).map((f) => f.filename);
    return changedOnBothSides(names(ours), names(theirs));
  }

  private async compare(where: Where, base: string, head: string): Promise<Comparison> {
    const { data } = await this.client.rest.repos.compareCommits({ ...where, base, head, per_page: 1 });
    return answer(Comparison, COMPARE, data);
  }

  private async reviews(where: Where, number: number): Promise<Reviews> {
    const { data } = await this.client.rest.pulls.listReviews({ ...where, pull_number: number, per_page: 100 });
    return answer(Reviews, 'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', data);
  }

  private async checkRuns(where: Where, sha: string): Promise<CheckRuns> {
    const { data } = await this.client.rest.checks.listForRef({ ...where, ref: sha, per_page: 100 });
    return answer(CheckRuns, 'GET /repos/{owner}/{repo}/commits/{ref}/check-runs', data);
  }

  private async statuses(where: Where, sha: string): Promise<CombinedStatus> {
    const { data } = await this.client.rest.repos.getCombinedStatusForRef({ ...where, ref: sha, per_page: 100 });
    return answer(CombinedStatus, 'GET /repos/{owner}/{repo}/commits/{ref}/status', data);
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`close pull request #${number} of ${repo}`, async () => {
      const where = this.slug(repo);
      const pr = await this.get(where, number);
      if (pr.state !== 'open') return this.record(repo, pr);
      const { data } = await this.client.rest.pulls.update({ ...where, pull_number: number, state: 'closed' });
      return this.record(repo, answer(PullRequest, UPDATE, data));
    });
  }

  private async get(where: { owner: string; repo: string }, number: number): Promise<PullRequest> {
    const { data } = await this.client.rest.pulls.get({ ...where, pull_number: number });
    return answer(PullRequest, 'GET /repos/{owner}/{repo}/pulls/{pull_number}', data);
  }

  private async findOpen(where: { owner: string; repo: string }, head: string): Promise<PullRequest | null> {
    const { data } = await this.client.rest.pulls.list({
      ...where,
      head: `${where.owner}:${head}`,
      state: 'open',
      per_page: 10,
    });
    return answer(PullRequests, LIST, data).find((pr) => pr.head.ref === head) ?? null;
  }

  /** Adds the configured labels, assignees and reviewers that the PR lacks (nothing when it has them all). */
  private async ensurePeople(where: { owner: string; repo: string }, pr: PullRequest): Promise<void> {
    const { labels, assignees, reviewers } = this.options.config;
    const has = (names: string[]) => new Set(names.map((n) => n.toLowerCase()));
    const hasLabels = has(pr.labels.map((l) => l.name));
    const missingLabels = labels.filter((l) => !hasLabels.has(l.toLowerCase()));
    if (missingLabels.length > 0)
      await this.client.rest.issues.addLabels({ ...where, issue_number: pr.number, labels: missingLabels });
    const hasAssignees = has((pr.assignees ?? []).map((a) => a.login));
    const missingAssignees = assignees.filter((a) => !hasAssignees.has(a.toLowerCase()));
    if (missingAssignees.length > 0)
      await this.client.rest.issues.addAssignees({ ...where, issue_number: pr.number, assignees: missingAssignees });
    const hasReviewers = has((pr.requested_reviewers ?? []).map((r) => r.login));
    const author = pr.user?.login.toLowerCase();
    // GitHub refuses a review request to the PR's own author.
    const missingReviewers = reviewers.filter((r) => !hasReviewers.has(r.toLowerCase()) && r.toLowerCase() !== author);
    if (missingReviewers.length > 0)
      await this.client.rest.pulls.requestReviewers({ ...where, pull_number: pr.number, reviewers: missingReviewers });
  }

  private record(repo: string, pr: PullRequest): PullRequestRecord {
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
   * token, no access, a refused request) fail at once; the others are retried by Temporal
   * (GITHUB_FAILURES says which are which).
   */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { tokenEnv, maxRetries } = this.options.config;
    return callForge(GITHUB_FAILURES, httpError, { tokenEnv, maxRetries, token: this.options.token }, what, fn);
  }
}
