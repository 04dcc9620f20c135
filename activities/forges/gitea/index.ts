/**
 * The Gitea forge (self-hosted Gitea, and Forgejo, which keeps Gitea's API), on its REST API at
 * `<baseUrl>/api/v1` with `fetch`. Exactly once: an open PR for the head branch is looked up
 * before creating, and a 409 "pull request already exists for these targets" (e.g. after a
 * create whose answer was lost) is resolved by looking it up again. Drafts are Gitea's
 * work-in-progress title prefix "WIP:"; labels are found or created by name (Gitea takes label
 * ids). Every request is paced with the forge's budget and waits out 429/5xx answers and lost
 * connections a bounded number of times.
 *
 * Landing: the head-sha guard is Gitea's own (`head_commit_id` on the merge), the required
 * checks and approvals are the base branch's protection as Gitea reports it on the branch, and a
 * refusal is Gitea's message, verbatim.
 */
import type { z } from 'zod';
import type { GiteaForgeConfig } from '../../../config/repos.ts';
import { forgeHost } from '../../../core/forge-queue.ts';
import type { LandingCheck, LandingState, MergeOutcome, MergeRequest, UpdateOutcome } from '../../../core/landing.ts';
import { changedOnBothSides, conflictRefusal } from '../../../core/landing.ts';
import type { PullRequestRecord, PullRequestStatus } from '../../../core/pulls.ts';
import { LOCKSTEP_AUTHOR } from '../../git/workspace.ts';
import { parseAnswer } from '../answers.ts';
import { callForge, GITEA_FAILURES, type ForgeHttpError } from '../failure.ts';
import type { Forge, PullRequestSpec } from '../forge.ts';
import { pacerFor, sendWithRetries, type Pacer } from '../pacing.ts';
import {
  Branch,
  ChangedFiles,
  CombinedStatus,
  Commit,
  Compare,
  ErrorBody,
  Label,
  Labels,
  PullRequest,
  PullRequests,
  Reviews,
} from './schemas.ts';

export interface GiteaForgeOptions {
  config: GiteaForgeConfig;
  /** The token, read by the worker from `config.tokenEnv`; never logged, never returned. */
  token: string;
  /** The `owner/repo` of a fleet repo. */
  slugOf: (repo: string) => string;
  /** Base of the retry backoff in ms (default 1000; tests shorten it). */
  retryBaseMs?: number;
}

/** Gitea's default work-in-progress prefixes ([repository.pull-request] WORK_IN_PROGRESS_PREFIXES). */
const WIP = /^\s*(wip:|\[wip\])\s*/i;
const DRAFT_PREFIX = 'WIP: ';
/** Gitea pages lists by at most 50 items unless its MAX_RESPONSE_ITEMS says more. */
const PAGE = 50;
const MAX_PAGES = 20;
/** Re-reads of a PR that Gitea reports unmergeable, in case it is still checking it. */
const MERGEABLE_READS = 3;
const MERGEABLE_WAIT_MS = 500;

const PULL = 'GET /repos/{owner}/{repo}/pulls/{index}';
const EDIT = 'PATCH /repos/{owner}/{repo}/pulls/{index}';
const LIST = 'GET /repos/{owner}/{repo}/pulls';

/** Gitea's answer to `endpoint` (as its API description names it), read through `schema`. */
const answer = <T>(schema: z.ZodType<T>, endpoint: string, data: unknown): T =>
  parseAnswer(schema, data, 'Gitea', endpoint);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Gitea answer that is not a success, with its status (0: no answer) and Gitea's message. */
class GiteaError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the failure table reads of a failed request (anything thrown that is not a GiteaError has status 0). */
function httpError(err: unknown): ForgeHttpError {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof GiteaError
    ? {
        status: err.status,
        message,
        route: `${err.method} ${err.path}`,
        alreadyExists: err.status === 409 && /already exists/i.test(message),
      }
    : { status: 0, message };
}

/** The files git names in a conflict message ("CONFLICT (content): Merge conflict in <file>"). */
export function conflictFiles(text: string): string[] {
  const files = [...text.matchAll(/Merge conflict in (\S+)/g)].map((m) => m[1] ?? '');
  return [...new Set(files.filter(Boolean))];
}

/** The files both the pull request and its base changed since their merge base (core's rule, on Gitea's answers). */
export function changedInPullAndBase(pullFiles: ChangedFiles, base: Compare): string[] {
  return changedOnBothSides(
    pullFiles.map((f) => f.filename),
    (base.commits ?? []).flatMap((c) => (c.files ?? []).map((f) => f.filename)),
  );
}

/** A status context pattern of Gitea's branch protection (a glob: `*` any text, `?` one character). */
export function contextPattern(pattern: string): RegExp {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** One commit status state as landing reads it (Gitea counts a warning as a failure). */
function checkState(status: string): LandingCheck['state'] {
  if (status === 'success' || status === 'skipped') return 'success';
  if (status === 'pending') return 'pending';
  return 'failure';
}

/** Every check of the head, the required ones marked; a required pattern nothing matched is `missing`. */
export function landingChecks(combined: CombinedStatus, branch: Branch): LandingCheck[] {
  const required = branch.enable_status_check ? (branch.status_check_contexts ?? []) : [];
  const patterns = required.map((p) => ({ p, re: contextPattern(p) }));
  const checks: LandingCheck[] = (combined.statuses ?? []).map((s) => ({
    name: s.context,
    state: checkState(s.status),
    required: patterns.some(({ re }) => re.test(s.context)),
    ...(s.target_url ? { url: s.target_url } : {}),
  }));
  for (const { p, re } of patterns)
    if (!checks.some((c) => re.test(c.name))) checks.push({ name: p, state: 'missing', required: true });
  return checks;
}

/** The latest verdict per reviewer (requests, unsent drafts and dismissed reviews left out). */
function latestReviews(reviews: Reviews): Reviews {
  const latest = new Map<string, Reviews[number]>();
  for (const r of reviews) {
    if (!r.user || r.dismissed || ['PENDING', 'REQUEST_REVIEW'].includes(r.state)) continue;
    latest.set(r.user.login, r);
  }
  return [...latest.values()];
}

export class GiteaForge implements Forge {
  readonly kind = 'gitea';
  private readonly api: string;
  private readonly pacer: Pacer;

  constructor(private readonly options: GiteaForgeOptions) {
    const { config } = options;
    this.api = `${config.baseUrl.replace(/\/+$/, '')}/api/v1`;
    this.pacer = pacerFor(`${forgeHost(config.baseUrl)}\n${config.tokenEnv}`, config.minIntervalMs);
  }

  async findOrCreatePullRequest(spec: PullRequestSpec): Promise<{ pullRequest: PullRequestRecord; created: boolean }> {
    return this.call(`open a pull request for ${spec.repo}`, async () => {
      const repo = this.repoPath(spec.repo);
      let found = await this.findOpen(repo, spec.head);
      let created = false;
      if (!found) {
        try {
          const title = this.options.config.draft ? `${DRAFT_PREFIX}${spec.title}` : spec.title;
          const labels = await this.labelIds(repo);
          const data = await this.request('POST', `${repo}/pulls`, {
            head: spec.head,
            base: spec.base,
            title,
            body: spec.body,
            labels,
          });
          found = answer(PullRequest, 'POST /repos/{owner}/{repo}/pulls', data);
          created = true;
        } catch (err) {
          if (!httpError(err).alreadyExists) throw err;
          found = await this.findOpen(repo, spec.head);
          if (!found)
            throw new Error(
              `Gitea says a pull request for ${spec.head} already exists in ${this.options.slugOf(spec.repo)}, but none is open`,
            );
        }
      }
      found = await this.ensurePeople(repo, found);
      return { pullRequest: this.record(spec.repo, found), created };
    });
  }

  async updatePullRequest(
    repo: string,
    number: number,
    update: Pick<PullRequestSpec, 'title' | 'body' | 'commit'>,
  ): Promise<PullRequestRecord> {
    return this.call(`update pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const current = await this.get(path, number);
      // The title carries the draft state: keep it as it is.
      const title = this.isDraft(current) ? `${DRAFT_PREFIX}${update.title}` : update.title;
      const data = await this.request('PATCH', `${path}/pulls/${number}`, { title, body: update.body });
      return this.record(repo, answer(PullRequest, EDIT, data));
    });
  }

  async listPullRequests(repo: string): Promise<PullRequestRecord[]> {
    return this.call(`list the pull requests of ${repo}`, async () => {
      const all = await this.pages(PullRequests, LIST, `${this.repoPath(repo)}/pulls`, { state: 'all' });
      return all.map((pr) => this.record(repo, pr)).sort((a, b) => a.number - b.number);
    });
  }

  async pullRequestStatus(repo: string, number: number): Promise<PullRequestStatus> {
    return this.call(`read pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const pr = await this.get(path, number);
      const [combined, reviews] = await Promise.all([this.status(path, pr.head.sha), this.reviews(path, number)]);
      const states = (combined.statuses ?? []).map((s) => checkState(s.status));
      const checks =
        states.length === 0
          ? 'none'
          : states.includes('failure')
            ? 'failing'
            : states.includes('pending')
              ? 'pending'
              : 'passing';
      const verdicts = latestReviews(reviews);
      return {
        pullRequest: this.record(repo, pr),
        checks,
        reviews: {
          approved: verdicts.filter((r) => r.state === 'APPROVED' && !r.stale).length,
          changesRequested: verdicts.filter((r) => r.state === 'REQUEST_CHANGES').length,
          commented: verdicts.filter((r) => r.state === 'COMMENT').length,
        },
      };
    });
  }

  async markReady(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`mark pull request #${number} of ${repo} ready for review`, async () => {
      const path = this.repoPath(repo);
      const pr = await this.get(path, number);
      if (!this.isDraft(pr) || pr.state !== 'open') return this.record(repo, pr);
      // Removing the work-in-progress prefix is how Gitea turns a draft ready.
      const data = await this.request('PATCH', `${path}/pulls/${number}`, { title: pr.title.replace(WIP, '') });
      return this.record(repo, answer(PullRequest, EDIT, data));
    });
  }

  async closePullRequest(repo: string, number: number): Promise<PullRequestRecord> {
    return this.call(`close pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const pr = await this.get(path, number);
      if (pr.state !== 'open') return this.record(repo, pr);
      const data = await this.request('PATCH', `${path}/pulls/${number}`, { state: 'closed' });
      return this.record(repo, answer(PullRequest, EDIT, data));
    });
  }

  async landingState(repo: string, number: number): Promise<LandingState> {
    return this.call(`read the landing state of pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const pr = await this.settledPull(path, number);
      const [branch, combined, reviews, commit] = await Promise.all([
        this.branch(path, pr.base.ref),
        this.status(path, pr.head.sha),
        this.reviews(path, number),
        this.request('GET', `${path}/git/commits/${pr.head.sha}`, undefined, {
          stat: 'false',
          verification: 'false',
          files: 'false',
        }).then((d) => answer(Commit, 'GET /repos/{owner}/{repo}/git/commits/{sha}', d)),
      ]);
      const open = pr.state === 'open' && !pr.merged;
      const verdicts = latestReviews(reviews);
      const author = commit.commit.author;
      return {
        pullRequest: this.record(repo, pr),
        headAuthor:
          author.email === LOCKSTEP_AUTHOR.email ? null : (commit.author?.login ?? `${author.name} <${author.email}>`),
        checks: landingChecks(combined, branch),
        reviews: {
          // What branch protection counts: official approvals on the current head.
          approved: verdicts.filter((r) => r.state === 'APPROVED' && r.official !== false && !r.stale).length,
          required: branch.required_approvals ?? 0,
          changesRequested: verdicts.filter((r) => r.state === 'REQUEST_CHANGES').map((r) => r.user?.login ?? ''),
        },
        behind: open && (await this.behindBy(path, pr.head.sha, pr.base.ref)) > 0,
        mergeable: open ? pr.mergeable : null,
        // Gitea's API does not name a pull request's conflicting files.
        conflicts: [],
        mergedSha: pr.merged ? (pr.merge_commit_sha ?? null) : null,
      };
    });
  }

  async mergePullRequest(request: MergeRequest): Promise<MergeOutcome> {
    const { repo, number, sha, method } = request;
    return this.call(`merge pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const before = await this.get(path, number);
      if (before.merged) return this.alreadyMerged(before, sha);
      if (before.state !== 'open') return { merged: false, kind: 'closed', reason: 'the pull request is closed' };
      for (let attempt = 1; ; attempt++) {
        try {
          await this.request('POST', `${path}/pulls/${number}/merge`, {
            Do: method,
            head_commit_id: sha,
            delete_branch_after_merge: false,
          });
          break;
        } catch (err) {
          if (!(err instanceof GiteaError) || ![405, 409].includes(err.status)) throw err;
          const now = await this.settledPull(path, number);
          // A merge whose answer was lost, retried: Gitea says "The PR is already merged".
          if (now.merged) return this.alreadyMerged(now, sha);
          if (!/try again later/i.test(err.message))
            return { merged: false, reason: err.message, kind: refusalKind(err.message) };
          // "Please try again later": Gitea was still checking the PR against its base (after a
          // push to either); still unmergeable once it is done, the PR is in conflict.
          if (!now.mergeable)
            return {
              merged: false,
              reason: `${err.message} (Gitea finds it in conflict with its base)`,
              kind: 'conflict',
            };
          if (attempt >= MERGEABLE_READS) return { merged: false, reason: err.message, kind: 'refused' };
        }
      }
      const merged = await this.get(path, number);
      if (!merged.merged || !merged.merge_commit_sha)
        throw new Error(`Gitea answered the merge of #${number} with 200, but the pull request is not merged`);
      return { merged: true, mergedSha: merged.merge_commit_sha, alreadyMerged: false };
    });
  }

  async updatePullRequestBranch(repo: string, number: number, sha: string): Promise<UpdateOutcome> {
    return this.call(`update the branch of pull request #${number} of ${repo}`, async () => {
      const path = this.repoPath(repo);
      const pr = await this.get(path, number);
      if (pr.head.sha !== sha)
        return { updated: false, conflicts: [], reason: `the head moved: it is ${pr.head.sha}, not ${sha}` };
      // Gitea answers 500 to an update of a head that is not behind: there is nothing to do.
      if ((await this.behindBy(path, sha, pr.base.ref)) === 0) return { updated: true, headSha: sha };
      try {
        await this.request('POST', `${path}/pulls/${number}/update`, undefined, { style: 'merge' });
      } catch (err) {
        if (!(err instanceof GiteaError) || err.status !== 409) throw err;
        const conflicts = conflictFiles(err.message);
        if (conflicts.length > 0) return { updated: false, conflicts, reason: err.message };
        // Gitea says only "merge failed because of conflict": name where to look, as what it is.
        const [pullFiles, base] = await Promise.all([
          this.pages(ChangedFiles, 'GET /repos/{owner}/{repo}/pulls/{index}/files', `${path}/pulls/${number}/files`),
          this.compare(path, sha, pr.base.ref),
        ]);
        return conflictRefusal(err.message, changedInPullAndBase(pullFiles, base));
      }
      // The branch, not the PR record: Gitea updates the PR's head asynchronously after the push.
      return { updated: true, headSha: (await this.branch(path, pr.head.ref)).commit.id };
    });
  }

  private alreadyMerged(pr: PullRequest, sha: string): MergeOutcome {
    if (pr.head.sha === sha && pr.merge_commit_sha)
      return { merged: true, mergedSha: pr.merge_commit_sha, alreadyMerged: true };
    return {
      merged: false,
      kind: 'head-moved',
      reason: `the pull request was merged at head ${pr.head.sha}, not at ${sha}`,
    };
  }

  private repoPath(repo: string): string {
    const slug = this.options.slugOf(repo);
    return `/repos/${slug.split('/').map(encodeURIComponent).join('/')}`;
  }

  private async get(path: string, number: number): Promise<PullRequest> {
    return answer(PullRequest, PULL, await this.request('GET', `${path}/pulls/${number}`));
  }

  /** The PR, read again while Gitea reports it unmergeable (it may still be checking it against its base). */
  private async settledPull(path: string, number: number): Promise<PullRequest> {
    let pr = await this.get(path, number);
    for (let read = 1; read < MERGEABLE_READS && pr.state === 'open' && !pr.merged && !pr.mergeable; read++) {
      await sleep(MERGEABLE_WAIT_MS);
      pr = await this.get(path, number);
    }
    return pr;
  }

  private async branch(path: string, name: string): Promise<Branch> {
    const data = await this.request('GET', `${path}/branches/${encodeURIComponent(name)}`);
    return answer(Branch, 'GET /repos/{owner}/{repo}/branches/{branch}', data);
  }

  private async status(path: string, sha: string): Promise<CombinedStatus> {
    const data = await this.request('GET', `${path}/commits/${sha}/status`, undefined, { limit: String(PAGE) });
    return answer(CombinedStatus, 'GET /repos/{owner}/{repo}/commits/{ref}/status', data);
  }

  private reviews(path: string, number: number): Promise<Reviews> {
    return this.pages(Reviews, 'GET /repos/{owner}/{repo}/pulls/{index}/reviews', `${path}/pulls/${number}/reviews`);
  }

  /** Commits on the base branch that the head does not have. */
  private async behindBy(path: string, head: string, base: string): Promise<number> {
    return (await this.compare(path, head, base)).total_commits;
  }

  /** The commits on `base` since its merge base with `head`. */
  private async compare(path: string, head: string, base: string): Promise<Compare> {
    const data = await this.request('GET', `${path}/compare/${head}...${encodeURIComponent(base)}`);
    return answer(Compare, 'GET /repos/{owner}/{repo}/compare/{basehead}', data);
  }

  private async findOpen(path: string, head: string): Promise<PullRequest | null> {
    const open = await this.pages(PullRequests, LIST, `${path}/pulls`, { state: 'open' });
    return open.find((pr) => pr.head.ref === head) ?? null;
  }

  /** The ids of the configured labels, each created in the repository when it has none of that name. */
  private async labelIds(path: string): Promise<number[]> {
    const wanted = this.options.config.labels;
    if (wanted.length === 0) return [];
    const endpoint = 'GET /repos/{owner}/{repo}/labels';
    let known = await this.pages(Labels, endpoint, `${path}/labels`);
    const ids: number[] = [];
    for (const name of wanted) {
      let label = known.find((l) => l.name.toLowerCase() === name.toLowerCase());
      if (!label) {
        try {
          const data = await this.request('POST', `${path}/labels`, { name, color: '#1d76db' });
          label = answer(Label, 'POST /repos/{owner}/{repo}/labels', data);
        } catch (err) {
          // Made meanwhile by another call (a sibling's retry): find it.
          known = await this.pages(Labels, endpoint, `${path}/labels`);
          label = known.find((l) => l.name.toLowerCase() === name.toLowerCase());
          if (!label) throw err;
        }
      }
      ids.push(label.id);
    }
    return ids;
  }

  /** Adds the configured labels, assignees and reviewers that the PR lacks (nothing when it has them all). */
  private async ensurePeople(path: string, pr: PullRequest): Promise<PullRequest> {
    const { labels, assignees, reviewers } = this.options.config;
    const has = (names: string[]) => new Set(names.map((n) => n.toLowerCase()));
    const hasLabels = has((pr.labels ?? []).map((l) => l.name));
    let changed = false;
    if (labels.some((l) => !hasLabels.has(l.toLowerCase()))) {
      await this.request('POST', `${path}/issues/${pr.number}/labels`, { labels: await this.labelIds(path) });
      changed = true;
    }
    const current = (pr.assignees ?? []).map((a) => a.login);
    const hasAssignees = has(current);
    const missingAssignees = assignees.filter((a) => !hasAssignees.has(a.toLowerCase()));
    if (missingAssignees.length > 0) {
      // Gitea's edit replaces the assignees: send the ones it has with the missing ones.
      await this.request('PATCH', `${path}/pulls/${pr.number}`, { assignees: [...current, ...missingAssignees] });
      changed = true;
    }
    const hasReviewers = has((pr.requested_reviewers ?? []).map((r) => r.login));
    const author = pr.user?.login.toLowerCase();
    // Gitea refuses a review request to the PR's own author.
    const missingReviewers = reviewers.filter((r) => !hasReviewers.has(r.toLowerCase()) && r.toLowerCase() !== author);
    if (missingReviewers.length > 0) {
      await this.request('POST', `${path}/pulls/${pr.number}/requested_reviewers`, { reviewers: missingReviewers });
      changed = true;
    }
    return changed ? this.get(path, pr.number) : pr;
  }

  /** Every page of a list (Gitea pages by `page` and `limit`). */
  private async pages<T>(
    schema: z.ZodType<T[]>,
    endpoint: string,
    path: string,
    query: Record<string, string> = {},
  ): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const data = await this.request('GET', path, undefined, { ...query, page: String(page), limit: String(PAGE) });
      const items = answer(schema, endpoint, data ?? []);
      all.push(...items);
      if (items.length < PAGE) break;
    }
    return all;
  }

  /** One API request, paced, retried on 429, 5xx and lost connections; any other failure is a GiteaError. */
  private async request(
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, string> = {},
  ): Promise<unknown> {
    const url = new URL(`${this.api}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const { response, lost } = await sendWithRetries(
      this.pacer,
      method,
      () =>
        fetch(url, {
          method,
          headers: {
            Authorization: `token ${this.options.token}`,
            Accept: 'application/json',
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        }),
      { maxRetries: this.options.config.maxRetries, baseMs: this.options.retryBaseMs ?? 1000 },
    );
    const text = response ? await response.text() : '';
    if (response?.ok) return text ? (JSON.parse(text) as unknown) : null;
    throw new GiteaError(
      response?.status ?? 0,
      method,
      url.pathname,
      (response ? errorMessage(text) : lost).slice(0, 2000),
    );
  }

  private isDraft(pr: PullRequest): boolean {
    return pr.draft ?? WIP.test(pr.title);
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
      state: pr.merged ? 'merged' : pr.state === 'closed' ? 'closed' : 'open',
      draft: this.isDraft(pr),
      createdAt: pr.created_at,
      updatedAt: pr.updated_at,
    };
  }

  /**
   * Runs one forge operation and turns a failure into a message that names the operation, the
   * request and Gitea's answer, and never the token; GITEA_FAILURES says which answers fail at
   * once and which Temporal retries.
   */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { tokenEnv, maxRetries } = this.options.config;
    return callForge(GITEA_FAILURES, httpError, { tokenEnv, maxRetries, token: this.options.token }, what, fn);
  }
}

/** Gitea's message in an error answer: `message` of its JSON, a merge conflict's git output, or the text. */
function errorMessage(text: string): string {
  let data: unknown = text;
  try {
    data = JSON.parse(text) as unknown;
  } catch {
    return text;
  }
  const said = ErrorBody.safeParse(data);
  if (said.success && said.data.message) return said.data.message;
  // A merge conflict answers with the failed git command's output (StdOut, StdErr), not a message.
  return JSON.stringify(data);
}

/** What kind of refusal a 405 or 409 answer to a merge is, from Gitea's own message. */
function refusalKind(message: string): Extract<MergeOutcome, { merged: false }>['kind'] {
  if (/head out of date/i.test(message)) return 'head-moved';
  if (/conflict/i.test(message) || conflictFiles(message).length > 0) return 'conflict';
  if (
    /required status checks|approvals|requested changes|review requests|behind the base|protected files|not allowed to merge|PushRejected/i.test(
      message,
    )
  )
    return 'protected';
  return 'refused';
}
