/**
 * A local, strict, GitHub-compatible REST server for tests, mounted like GitHub Enterprise
 * (`/api/v3`, GraphQL at `/api/graphql`). Every request is validated against GitHub's own
 * OpenAPI description of the operations the forge uses (tests/fixtures/github-operations.json,
 * extracted by scripts/extract-github-operations.ts): path and query parameters, request body,
 * and unknown fields. It keeps pull request state, answers as GitHub answers (422 for a second
 * PR of a head, 404 for an unknown repo, 401 for a bad token), checks its own answers carry the
 * fields GitHub's description requires, and injects faults at chosen points.
 *
 * For landing it keeps each repository's history (commit-graph.ts, or a real bare repository
 * with git-history.ts, whose branches the fake reads on every request): branch heads, check runs
 * and commit statuses per commit, reviews, branch protection, and the merge methods the
 * repository allows. A PR's mergeability is computed from them as GitHub reports it (null on
 * the first read after either branch moved, then dirty, blocked, behind, unstable or clean);
 * a merge refused by protection answers with GitHub's own words, and a merge that passes moves
 * the base branch.
 *
 * Every rejection the server makes on its own is recorded in `violations`, so a test can assert
 * that the client sent nothing GitHub would refuse. Injected faults are not violations.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';
import { CommitGraph, type History } from './commit-graph.ts';
import { GitHubOrgs, OwnerNotFound } from './forge-owners.ts';
import { GitHistory } from './git-history.ts';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  method: string;
  path: string;
  parameters: Parameter[];
  requestBody: { required: boolean; schema: Record<string, unknown> | null } | null;
  responses: string[];
  success: { status: number; required: string[]; type: string | null } | null;
}

export type FaultKind =
  /** 403 with GitHub's secondary rate limit message and headers (Retry-After: `retryAfter`). */
  | 'secondary-rate-limit'
  /** The request takes effect (a PR is created), and the answer is a 422 "already exists". */
  | 'already-exists'
  /** 502 Server Error, nothing changed. */
  | '5xx'
  /** The connection is dropped before the request is handled: nothing changed. */
  | 'drop'
  /**
   * The request takes effect, then the connection is dropped: the answer never arrives (a PR
   * created, a merge made or a branch updated, and the client never hears of it).
   */
  | 'crash-after-create'
  /**
   * The request takes effect and the answer is held (the connection stays open, silent) until
   * the client gives up or its process dies: the moment to kill a worker after the side effect
   * and before its activity returns (`onFault` says when).
   */
  | 'hang-after-create'
  /** The request takes effect, and the answer (each item of a list) lacks `field`, as no GitHub answer does. */
  | 'malformed';

export interface Fault {
  kind: FaultKind;
  /** The operation to hit, e.g. `pulls/create`. */
  operationId: string;
  /** Only requests for this `owner/repo` (default: any). */
  repo?: string;
  /** Skip this many matching requests first (default 0). */
  after?: number;
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** Seconds in Retry-After (secondary-rate-limit; default 1). */
  retryAfter?: number;
  /** Dot-path of the field a malformed answer lacks (default `number`). */
  field?: string;
}

export interface LoggedRequest {
  /** Milliseconds since the epoch at arrival (performance-based, sub-ms). */
  at: number;
  method: string;
  path: string;
  operationId: string | null;
  status: number | null;
  fault: FaultKind | null;
}

export interface FakePull {
  id: number;
  node_id: string;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  draft: boolean;
  merged: boolean;
  head: { ref: string; sha: string };
  base: { ref: string };
  labels: string[];
  assignees: string[];
  reviewers: string[];
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  merged_at: string | null;
  merge_commit_sha: string | null;
  /** GitHub is computing mergeability: the next read answers `mergeable: null` (then it knows). */
  computing: boolean;
  reviews: FakeReview[];
}

export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';

export interface FakeReview {
  id: number;
  user: string;
  state: ReviewState;
  body: string;
  commit_id: string;
  submitted_at: string;
}

/** What a branch's protection requires (GitHub's required status checks and pull request reviews). */
export interface FakeProtection {
  /** Require the branch to be up to date with its base before merging. */
  strict?: boolean;
  /** Required status check contexts (commit status contexts or check run names). */
  contexts?: string[];
  /** Required approving reviews (omit for no review requirement). */
  approvals?: number;
}

export type MergeMethodName = 'merge' | 'squash' | 'rebase';

export interface FakeGitHub {
  /** e.g. http://127.0.0.1:PORT/api/v3 (a GitHub Enterprise API root). */
  baseUrl: string;
  token: string;
  /** The login the token belongs to (the author of every PR). */
  login: string;
  requests: LoggedRequest[];
  violations: string[];
  /**
   * Adds a repository (`owner/repo`) with its default branch `main`: its history in memory, or,
   * given `gitDir`, the bare repository there (pushes to it are seen, merges are made in it).
   */
  addRepo(slug: string, options?: { gitDir?: string }): void;
  /** Organizations and the repositories they list (`GET /orgs/{org}/repos`). */
  orgs: GitHubOrgs;
  pulls(slug: string): FakePull[];
  /** Commits `files` on `branch` (created from `from`, default `main`) as `author`; returns the new head. */
  push(slug: string, branch: string, files: string[], options?: { author?: string; from?: string }): string;
  branchHead(slug: string, branch: string): string | undefined;
  /** The repository's history (parents, files and authors of the fake's commits). */
  history(slug: string): History;
  /** Protects `branch` (null removes the protection: GitHub's 404 "Branch not protected"). */
  protect(slug: string, branch: string, protection: FakeProtection | null): void;
  /** A check run as a CI app reports it on a commit (the latest per name counts). */
  checkRun(
    slug: string,
    sha: string,
    name: string,
    status: 'queued' | 'in_progress' | 'completed',
    conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required',
  ): void;
  /** A review by someone other than the token's user (GitHub refuses a review of one's own PR). */
  review(slug: string, number: number, user: string, state: ReviewState): void;
  /** The merge methods the repository allows (all three by default). */
  allowMergeMethods(slug: string, methods: MergeMethodName[]): void;
  inject(fault: Fault): void;
  /** Faults still armed. */
  pendingFaults(): Fault[];
  close(): Promise<void>;
}

export interface FakeGitHubOptions {
  token?: string;
  login?: string;
  /** Where a head branch points (a real remote), or null when it does not exist; default: any branch exists. */
  headCommit?: (slug: string, branch: string) => Promise<string | null>;
  /** Called when an injected fault has taken effect (for `*-after-create`, after the create). */
  onFault?: (fault: Fault, request: LoggedRequest) => void;
}

const fixture = JSON.parse(readFileSync(join(projectRoot, 'tests', 'fixtures', 'github-operations.json'), 'utf8')) as {
  operations: Operation[];
};
const API = '/api/v3';
const SECONDARY_MESSAGE =
  'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    /** A rejection that a correct client never provokes (recorded as a violation). */
    readonly violation: boolean,
  ) {
    super(String(body.message));
  }
}

const validation = (message: string, errors: unknown[] = []): HttpError =>
  new HttpError(
    422,
    { message: 'Validation Failed', errors, documentation_url: 'https://docs.github.com/rest', status: '422' },
    true,
  );

interface CheckRunRecord {
  id: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  at: string;
}
interface StatusRecord {
  id: number;
  context: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  target_url: string | null;
  description: string | null;
  at: string;
}
interface FakeRepo {
  id: number;
  pulls: FakePull[];
  graph: History;
  /** The history is a real repository: branches move without the fake, which looks on each request. */
  git: boolean;
  protection: Map<string, FakeProtection>;
  checkRuns: Map<string, CheckRunRecord[]>;
  statuses: Map<string, StatusRecord[]>;
  methods: MergeMethodName[];
}

const notFound = (message = 'Not Found'): HttpError =>
  new HttpError(404, { message, documentation_url: 'https://docs.github.com/rest', status: '404' }, true);

/** A refusal GitHub gives a correct client too (a merge blocked by protection, a moved head): not a violation. */
const refusal = (status: number, message: string, documentation = 'https://docs.github.com/rest'): HttpError =>
  new HttpError(status, { message, documentation_url: documentation, status: String(status) }, false);

interface CompiledOperation extends Operation {
  pattern: RegExp;
  names: string[];
  params: ValidateFunction;
  body: ValidateFunction | null;
}

function compile(ajv: Ajv, coercing: Ajv): CompiledOperation[] {
  return fixture.operations.map((op) => {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    const inputs = op.parameters.filter((p) => p.in === 'path' || p.in === 'query');
    const params = coercing.compile({
      type: 'object',
      properties: Object.fromEntries(inputs.map((p) => [p.name, p.schema])),
      required: inputs.filter((p) => p.required).map((p) => p.name),
      additionalProperties: false,
    });
    const body = op.requestBody?.schema ? ajv.compile(op.requestBody.schema) : null;
    return { ...op, pattern, names, params, body };
  });
}

export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const token = options.token ?? `ghp_fake${Math.random().toString(36).slice(2, 14)}`;
  const login = options.login ?? 'lockstep-bot';
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const coercing = new Ajv({ strict: false, validateFormats: false, allErrors: true, coerceTypes: true });
  const operations = compile(ajv, coercing);
  const repos = new Map<string, FakeRepo>();
  const orgs = new GitHubOrgs();
  const requests: LoggedRequest[] = [];
  const violations: string[] = [];
  const faults: (Fault & { seen: number; hits: number })[] = [];
  const sockets = new Set<Socket>();
  let nextId = 1000;
  let requestSeq = 0;

  const user = (name: string) => ({
    login: name,
    id: 1,
    node_id: 'MDQ6VXNlcjE=',
    avatar_url: '',
    gravatar_id: '',
    url: `${API}/users/${name}`,
    html_url: `http://github.test/${name}`,
    followers_url: '',
    following_url: '',
    gists_url: '',
    starred_url: '',
    subscriptions_url: '',
    organizations_url: '',
    repos_url: '',
    events_url: '',
    received_events_url: '',
    type: 'User',
    site_admin: false,
  });
  const label = (name: string) => ({
    id: name.length,
    node_id: `L_${name}`,
    url: '',
    name,
    description: null,
    color: 'ededed',
    default: false,
  });

  function pullJson(
    base: string,
    slug: string,
    pr: FakePull,
    full: boolean,
    mergeability: { mergeable: boolean | null; state: string } = { mergeable: null, state: 'unknown' },
  ): Record<string, unknown> {
    const [owner = ''] = slug.split('/');
    const url = `${base}/repos/${slug}/pulls/${pr.number}`;
    const html = `http://github.test/${slug}/pull/${pr.number}`;
    const json: Record<string, unknown> = {
      url,
      id: pr.id,
      node_id: pr.node_id,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: `${base}/repos/${slug}/issues/${pr.number}`,
      commits_url: `${url}/commits`,
      review_comments_url: `${url}/comments`,
      review_comment_url: `${base}/repos/${slug}/pulls/comments{/number}`,
      comments_url: `${base}/repos/${slug}/issues/${pr.number}/comments`,
      statuses_url: `${base}/repos/${slug}/statuses/${pr.head.sha}`,
      number: pr.number,
      state: pr.state,
      locked: false,
      title: pr.title,
      user: user(login),
      body: pr.body,
      labels: pr.labels.map(label),
      milestone: null,
      active_lock_reason: null,
      created_at: pr.created_at,
      updated_at: pr.updated_at,
      closed_at: pr.closed_at,
      merged_at: pr.merged_at,
      merge_commit_sha: pr.merge_commit_sha,
      assignee: pr.assignees[0] ? user(pr.assignees[0]) : null,
      assignees: pr.assignees.map(user),
      requested_reviewers: pr.reviewers.map(user),
      requested_teams: [],
      head: { label: `${owner}:${pr.head.ref}`, ref: pr.head.ref, sha: pr.head.sha, user: user(owner), repo: null },
      base: {
        label: `${owner}:${pr.base.ref}`,
        ref: pr.base.ref,
        sha: repos.get(slug)?.graph.head(pr.base.ref) ?? '0'.repeat(40),
        user: user(owner),
        repo: null,
      },
      _links: { self: { href: url }, html: { href: html } },
      author_association: 'MEMBER',
      auto_merge: null,
      draft: pr.draft,
    };
    if (full) {
      Object.assign(json, {
        merged: pr.merged,
        mergeable: mergeability.mergeable,
        rebaseable: mergeability.mergeable,
        mergeable_state: mergeability.state,
        merged_by: null,
        comments: 0,
        review_comments: 0,
        maintainer_can_modify: false,
        commits: 1,
        additions: 1,
        deletions: 0,
        changed_files: 1,
      });
    }
    return json;
  }

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  function takeFault(operationId: string, slug: string | null): (Fault & { seen: number; hits: number }) | null {
    for (const f of faults) {
      if (f.operationId !== operationId || (f.repo && f.repo !== slug)) continue;
      if (f.hits >= (f.times ?? 1)) continue;
      f.seen++;
      if (f.seen <= (f.after ?? 0)) continue;
      f.hits++;
      return f;
    }
    return null;
  }

  function findRepo(slug: string): FakeRepo {
    const repo = repos.get(slug);
    if (!repo) throw notFound();
    return repo;
  }
  function findPull(slug: string, n: number): FakePull {
    const pr = findRepo(slug).pulls.find((p) => p.number === n);
    if (!pr) throw notFound();
    return pr;
  }

  /** A branch moved: open PRs from or into it follow their head, and GitHub computes their mergeability again. */
  function moved(repo: FakeRepo, branch: string): void {
    for (const pr of repo.pulls) {
      if (pr.state !== 'open' || (pr.head.ref !== branch && pr.base.ref !== branch)) continue;
      if (pr.head.ref === branch) pr.head.sha = repo.graph.head(branch) ?? pr.head.sha;
      pr.computing = true;
    }
  }

  /** The base head each open PR of a real repository was last computed against. */
  const seenBase = new WeakMap<FakePull, string | undefined>();
  /** Pushes to a real repository: open PRs follow their head, and a moved head or base is computed again. */
  function sync(repo: FakeRepo): void {
    if (!repo.git) return;
    for (const pr of repo.pulls) {
      if (pr.state !== 'open') continue;
      const head = repo.graph.head(pr.head.ref);
      const baseHead = repo.graph.head(pr.base.ref);
      if (head && head !== pr.head.sha) {
        pr.head.sha = head;
        pr.computing = true;
      }
      if (seenBase.has(pr) && seenBase.get(pr) !== baseHead) pr.computing = true;
      seenBase.set(pr, baseHead);
    }
  }

  /** The latest report of `context` on `sha`, from a commit status or a check run of that name. */
  function reported(repo: FakeRepo, sha: string, context: string): 'success' | 'failure' | 'pending' | 'missing' {
    const status = (repo.statuses.get(sha) ?? []).filter((s) => s.context === context).at(-1);
    const run = (repo.checkRuns.get(sha) ?? []).filter((r) => r.name === context).at(-1);
    const fromStatus = status
      ? status.state === 'success'
        ? 'success'
        : status.state === 'pending'
          ? 'pending'
          : 'failure'
      : null;
    const fromRun = run
      ? run.status !== 'completed'
        ? 'pending'
        : ['success', 'neutral', 'skipped'].includes(run.conclusion ?? '')
          ? 'success'
          : 'failure'
      : null;
    if (fromStatus === 'success' || fromRun === 'success') return 'success';
    return fromStatus ?? fromRun ?? 'missing';
  }

  /** Latest review state per reviewer, as GitHub counts them (comments do not replace a verdict). */
  function verdicts(pr: FakePull): Map<string, ReviewState> {
    const latest = new Map<string, ReviewState>();
    for (const r of pr.reviews) if (r.state !== 'COMMENTED' && r.state !== 'PENDING') latest.set(r.user, r.state);
    return latest;
  }

  /** Why GitHub would refuse to merge `pr` now (its 405 message), or null. */
  function blockedBy(repo: FakeRepo, pr: FakePull): string | null {
    const protection = repo.protection.get(pr.base.ref);
    if (!protection) return null;
    for (const context of protection.contexts ?? []) {
      const state = reported(repo, pr.head.sha, context);
      if (state === 'failure') return `Required status check "${context}" is failing.`;
      if (state !== 'success') return `Required status check "${context}" is expected.`;
    }
    const needed = protection.approvals ?? 0;
    if (needed > 0) {
      const states = [...verdicts(pr).values()];
      if (states.includes('CHANGES_REQUESTED') || states.filter((v) => v === 'APPROVED').length < needed)
        return needed === 1
          ? 'At least 1 approving review is required by reviewers with write access.'
          : `At least ${needed} approving reviews are required by reviewers with write access.`;
    }
    return null;
  }

  /** `mergeable` and `mergeable_state` of an open PR as GitHub reports them once it has computed them. */
  function mergeability(repo: FakeRepo, pr: FakePull): { mergeable: boolean | null; state: string } {
    if (pr.state !== 'open') return { mergeable: null, state: 'unknown' };
    const baseHead = repo.graph.head(pr.base.ref) ?? pr.head.sha;
    if (repo.graph.conflicts(baseHead, pr.head.sha).length > 0) return { mergeable: false, state: 'dirty' };
    if (pr.draft) return { mergeable: true, state: 'draft' };
    if (blockedBy(repo, pr)) return { mergeable: true, state: 'blocked' };
    if (repo.protection.get(pr.base.ref)?.strict && repo.graph.behindBy(baseHead, pr.head.sha) > 0)
      return { mergeable: true, state: 'behind' };
    const runs = [...new Set((repo.checkRuns.get(pr.head.sha) ?? []).map((r) => r.name))];
    const contexts = [...new Set((repo.statuses.get(pr.head.sha) ?? []).map((r) => r.context))];
    if ([...runs, ...contexts].some((c) => reported(repo, pr.head.sha, c) === 'failure'))
      return { mergeable: true, state: 'unstable' };
    return { mergeable: true, state: 'clean' };
  }

  function commitJson(base: string, slug: string, sha: string): Record<string, unknown> {
    const commit = findRepo(slug).graph.get(sha);
    if (!commit) throw refusal(422, `No commit found for SHA: ${sha}`);
    const person = {
      name: commit.author,
      email: `${commit.author}@users.noreply.github.test`,
      date: '2026-01-01T00:00:00Z',
    };
    return {
      url: `${base}/repos/${slug}/commits/${sha}`,
      sha,
      node_id: `C_${sha.slice(0, 12)}`,
      html_url: `http://github.test/${slug}/commit/${sha}`,
      comments_url: `${base}/repos/${slug}/commits/${sha}/comments`,
      commit: {
        url: `${base}/repos/${slug}/git/commits/${sha}`,
        author: person,
        committer: person,
        message: commit.message,
        comment_count: 0,
        tree: { sha: sha.split('').reverse().join(''), url: '' },
      },
      author: user(commit.author),
      committer: user(commit.author),
      parents: commit.parents.map((p) => ({ sha: p, url: `${base}/repos/${slug}/commits/${p}` })),
      files: commit.files.map(diffEntry),
    };
  }

  /** A changed file as GitHub lists it in commits and comparisons (its counts are not kept). */
  function diffEntry(filename: string): Record<string, unknown> {
    return {
      sha: null,
      filename,
      status: 'modified',
      additions: 1,
      deletions: 0,
      changes: 1,
      blob_url: '',
      raw_url: '',
      contents_url: '',
    };
  }

  /** A ref as GitHub resolves it in commits/{ref} routes: a branch name or a known sha. */
  function resolve(repo: FakeRepo, ref: string): string {
    const sha = repo.graph.head(ref) ?? (repo.graph.get(ref) ? ref : undefined);
    if (!sha) throw refusal(422, `No commit found for SHA: ${ref}`);
    return sha;
  }

  /** The operation's effect and answer. */
  async function handle(
    op: CompiledOperation,
    base: string,
    p: Record<string, unknown>,
    body: Record<string, unknown> | null,
  ): Promise<{ status: number; json: unknown; headers?: Record<string, string> }> {
    const slug = `${String(p.owner)}/${String(p.repo)}`;
    const now = new Date().toISOString();
    const known = repos.get(slug);
    if (known) sync(known);
    switch (op.operationId) {
      case 'repos/list-for-org':
        try {
          return orgs.list(base, p);
        } catch (err) {
          // GitHub's answer for an organization that does not exist (or that the token cannot see).
          if (err instanceof OwnerNotFound) throw new HttpError(404, err.body, false);
          throw err;
        }
      case 'pulls/list': {
        const repo = findRepo(slug);
        const state = (p.state as string | undefined) ?? 'open';
        let list = repo.pulls.filter((pr) => state === 'all' || pr.state === state);
        if (typeof p.head === 'string') {
          const [owner, ref] = p.head.includes(':') ? p.head.split(':', 2) : [undefined, p.head];
          list = list.filter((pr) => pr.head.ref === ref && (owner === undefined || owner === slug.split('/')[0]));
        }
        const perPage = Number(p.per_page ?? 30);
        const page = Number(p.page ?? 1);
        return {
          status: 200,
          json: list.slice((page - 1) * perPage, page * perPage).map((pr) => pullJson(base, slug, pr, false)),
        };
      }
      case 'pulls/create': {
        const repo = findRepo(slug);
        const b = body ?? {};
        if (
          typeof b.head !== 'string' ||
          typeof b.base !== 'string' ||
          (typeof b.title !== 'string' && b.issue === undefined)
        ) {
          throw validation('head, base and title are required', [{ resource: 'PullRequest', code: 'missing_field' }]);
        }
        if (!repo.graph.head(b.base)) repo.graph.setHead(b.base, repo.graph.head(repo.graph.defaultBranch) ?? '');
        let sha: string | null;
        if (options.headCommit) {
          // The branch lives in a real remote: its head becomes a commit of this history, on the base.
          sha = await options.headCommit(slug, b.head);
          if (sha) {
            repo.graph.adopt(sha, repo.graph.head(b.base) ?? '', login);
            repo.graph.setHead(b.head, sha);
          }
        } else {
          // A real repository has the head the client pushed, or none (then GitHub's 422).
          sha = repo.graph.head(b.head) ?? (repo.git ? null : repo.graph.push(b.head, [], login, b.base));
        }
        if (!sha)
          throw new HttpError(
            422,
            {
              message: 'Validation Failed',
              errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
              status: '422',
            },
            true,
          );
        if (repo.pulls.some((pr) => pr.state === 'open' && pr.head.ref === b.head)) {
          // What GitHub answers to a second PR of a head; a correct client looks first, or recovers.
          throw new HttpError(
            422,
            {
              message: 'Validation Failed',
              errors: [
                {
                  resource: 'PullRequest',
                  code: 'custom',
                  message: `A pull request already exists for ${slug.split('/')[0] ?? ''}:${b.head}.`,
                },
              ],
              documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
              status: '422',
            },
            false,
          );
        }
        const number = repo.pulls.length + 1;
        const pr: FakePull = {
          id: nextId++,
          node_id: `PR_kw${repo.id}n${number}`,
          number,
          title: String(b.title),
          body: typeof b.body === 'string' ? b.body : null,
          state: 'open',
          draft: b.draft === true,
          merged: false,
          head: { ref: b.head, sha },
          base: { ref: b.base },
          labels: [],
          assignees: [],
          reviewers: [],
          created_at: now,
          updated_at: now,
          closed_at: null,
          merged_at: null,
          merge_commit_sha: null,
          computing: true,
          reviews: [],
        };
        repo.pulls.push(pr);
        return { status: 201, json: pullJson(base, slug, pr, true) };
      }
      case 'pulls/get': {
        const repo = findRepo(slug);
        const pr = findPull(slug, Number(p.pull_number));
        // The first read after a push starts GitHub's background job: mergeable is null until it is done.
        const known = pr.computing ? { mergeable: null, state: 'unknown' } : mergeability(repo, pr);
        pr.computing = false;
        return { status: 200, json: pullJson(base, slug, pr, true, known) };
      }
      case 'pulls/update': {
        const pr = findPull(slug, Number(p.pull_number));
        const b = body ?? {};
        if (typeof b.title === 'string') pr.title = b.title;
        if (typeof b.body === 'string') pr.body = b.body;
        if (b.state === 'closed' && pr.state === 'open') {
          pr.state = 'closed';
          pr.closed_at = now;
        } else if (b.state === 'open') {
          pr.state = 'open';
          pr.closed_at = null;
        }
        pr.updated_at = now;
        return { status: 200, json: pullJson(base, slug, pr, true) };
      }
      case 'pulls/list-reviews': {
        const pr = findPull(slug, Number(p.pull_number));
        const perPage = Number(p.per_page ?? 30);
        const page = Number(p.page ?? 1);
        return {
          status: 200,
          json: pr.reviews.slice((page - 1) * perPage, page * perPage).map((r) => reviewJson(base, slug, pr, r)),
        };
      }
      case 'pulls/create-review': {
        const pr = findPull(slug, Number(p.pull_number));
        const b = body ?? {};
        const event = b.event as string | undefined;
        if (pr.state !== 'open') throw refusal(422, 'Unprocessable Entity');
        // GitHub's answers to reviewing one's own pull request, and to a verdict without the body it needs.
        if (event === 'APPROVE') throw validation('own pull request', ['Can not approve your own pull request']);
        if (event === 'REQUEST_CHANGES')
          throw validation('own pull request', ['Can not request changes on your own pull request']);
        if (event === 'COMMENT' && typeof b.body !== 'string')
          throw validation('comment without body', ['Body is required when using COMMENT']);
        const review: FakeReview = {
          id: nextId++,
          user: login,
          state: event === 'COMMENT' ? 'COMMENTED' : 'PENDING',
          body: typeof b.body === 'string' ? b.body : '',
          commit_id: typeof b.commit_id === 'string' ? b.commit_id : pr.head.sha,
          submitted_at: now,
        };
        pr.reviews.push(review);
        return { status: 200, json: reviewJson(base, slug, pr, review) };
      }
      case 'pulls/merge':
        return mergePull(base, slug, Number(p.pull_number), body ?? {}, now);
      case 'pulls/update-branch': {
        const repo = findRepo(slug);
        const pr = findPull(slug, Number(p.pull_number));
        const expected = (body ?? {}).expected_head_sha;
        if (pr.state !== 'open') throw refusal(422, 'Pull request is not open');
        if (typeof expected === 'string' && expected !== pr.head.sha)
          throw refusal(422, 'expected head sha didn’t match current head ref.');
        const baseHead = repo.graph.head(pr.base.ref) ?? pr.head.sha;
        if (repo.graph.behindBy(baseHead, pr.head.sha) === 0)
          throw refusal(422, 'There are no new commits on the base branch.');
        if (repo.graph.conflicts(baseHead, pr.head.sha).length > 0)
          throw refusal(422, 'merge conflict between base and head');
        const merged = repo.graph.mergeCommit(
          pr.head.sha,
          baseHead,
          login,
          `Merge branch '${pr.base.ref}' into ${pr.head.ref}`,
        );
        repo.graph.setHead(pr.head.ref, merged);
        moved(repo, pr.head.ref);
        pr.updated_at = now;
        return {
          status: 202,
          json: { message: 'Updating pull request branch.', url: `http://github.test/${slug}/pull/${pr.number}` },
        };
      }
      case 'repos/get-branch-protection': {
        const repo = findRepo(slug);
        const branch = String(p.branch);
        if (!repo.graph.head(branch)) throw refusal(404, 'Branch not found');
        const protection = repo.protection.get(branch);
        if (!protection)
          throw refusal(
            404,
            'Branch not protected',
            'https://docs.github.com/rest/branches/branch-protection#get-branch-protection',
          );
        const url = `${base}/repos/${slug}/branches/${encodeURIComponent(branch)}/protection`;
        const contexts = protection.contexts ?? [];
        return {
          status: 200,
          json: {
            url,
            required_status_checks: {
              url: `${url}/required_status_checks`,
              strict: protection.strict ?? false,
              contexts,
              contexts_url: `${url}/required_status_checks/contexts`,
              checks: contexts.map((context) => ({ context, app_id: null })),
            },
            ...(protection.approvals === undefined
              ? {}
              : {
                  required_pull_request_reviews: {
                    url: `${url}/required_pull_request_reviews`,
                    dismiss_stale_reviews: false,
                    require_code_owner_reviews: false,
                    required_approving_review_count: protection.approvals,
                    require_last_push_approval: false,
                  },
                }),
            enforce_admins: { url: `${url}/enforce_admins`, enabled: true },
            required_linear_history: { enabled: false },
            allow_force_pushes: { enabled: false },
            allow_deletions: { enabled: false },
          },
        };
      }
      case 'repos/compare-commits': {
        const repo = findRepo(slug);
        const from = resolve(repo, String(p.base));
        const to = resolve(repo, String(p.head));
        const ahead = repo.graph.aheadBy(from, to);
        const behind = repo.graph.behindBy(from, to);
        const mergeBase = [...repo.graph.ancestors(to)].find((sha) => repo.graph.ancestors(from).has(sha)) ?? from;
        return {
          status: 200,
          json: {
            url: `${base}/repos/${slug}/compare/${from}...${to}`,
            html_url: `http://github.test/${slug}/compare/${from}...${to}`,
            permalink_url: `http://github.test/${slug}/compare/${from}...${to}`,
            diff_url: '',
            patch_url: '',
            base_commit: commitJson(base, slug, from),
            merge_base_commit: commitJson(base, slug, mergeBase),
            status: ahead && behind ? 'diverged' : ahead ? 'ahead' : behind ? 'behind' : 'identical',
            ahead_by: ahead,
            behind_by: behind,
            total_commits: ahead,
            commits: [],
            // Three dots: what `head` changed since it left `base` (GitHub lists them on the first page).
            files: Number(p.page ?? 1) === 1 ? repo.graph.changedFiles(from, to).map(diffEntry) : [],
          },
        };
      }
      case 'repos/get-commit':
        return { status: 200, json: commitJson(base, slug, resolve(findRepo(slug), String(p.ref))) };
      case 'repos/create-commit-status': {
        const repo = findRepo(slug);
        const sha = String(p.sha);
        if (!repo.graph.get(sha)) throw refusal(422, `No commit found for SHA: ${sha}`);
        const b = body ?? {};
        const record: StatusRecord = {
          id: nextId++,
          context: typeof b.context === 'string' ? b.context : 'default',
          state: b.state as StatusRecord['state'],
          target_url: typeof b.target_url === 'string' ? b.target_url : null,
          description: typeof b.description === 'string' ? b.description : null,
          at: now,
        };
        repo.statuses.set(sha, [...(repo.statuses.get(sha) ?? []), record]);
        return { status: 201, json: statusJson(base, slug, record) };
      }
      case 'pulls/request-reviewers': {
        const pr = findPull(slug, Number(p.pull_number));
        const reviewers = ((body ?? {}).reviewers as string[] | undefined) ?? [];
        if (reviewers.some((r) => r.toLowerCase() === login.toLowerCase())) {
          throw validation('Review cannot be requested from pull request author.');
        }
        for (const r of reviewers) if (!pr.reviewers.includes(r)) pr.reviewers.push(r);
        return { status: 201, json: pullJson(base, slug, pr, false) };
      }
      case 'issues/add-labels': {
        const pr = findPull(slug, Number(p.issue_number));
        const raw = Array.isArray(body) ? (body as unknown[]) : (((body ?? {}).labels as unknown[] | undefined) ?? []);
        for (const l of raw) {
          const name = typeof l === 'string' ? l : String((l as { name?: string }).name);
          if (!pr.labels.includes(name)) pr.labels.push(name);
        }
        return { status: 200, json: pr.labels.map(label) };
      }
      case 'issues/add-assignees': {
        const pr = findPull(slug, Number(p.issue_number));
        for (const a of ((body ?? {}).assignees as string[] | undefined) ?? [])
          if (!pr.assignees.includes(a)) pr.assignees.push(a);
        const issue = pullJson(base, slug, pr, false);
        return {
          status: 201,
          json: {
            ...issue,
            comments: 0,
            events_url: '',
            labels_url: '',
            repository_url: `${base}/repos/${slug}`,
            pull_request: { url: issue.url },
          },
        };
      }
      case 'checks/list-for-ref': {
        const repo = findRepo(slug);
        const sha = resolve(repo, String(p.ref));
        const all = repo.checkRuns.get(sha) ?? [];
        // filter=latest (the default): the most recent run of each name.
        const runs = p.filter === 'all' ? all : all.filter((r) => all.filter((o) => o.name === r.name).at(-1) === r);
        return {
          status: 200,
          json: {
            total_count: runs.length,
            check_runs: runs.map((r) => ({
              id: r.id,
              head_sha: sha,
              node_id: `CR_${r.id}`,
              external_id: null,
              url: `${base}/repos/${slug}/check-runs/${r.id}`,
              html_url: `http://github.test/${slug}/runs/${r.id}`,
              details_url: null,
              status: r.status,
              conclusion: r.conclusion,
              started_at: r.at,
              completed_at: r.status === 'completed' ? r.at : null,
              output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: '' },
              name: r.name,
              check_suite: null,
              app: null,
              pull_requests: [],
            })),
          },
        };
      }
      case 'repos/get-combined-status-for-ref': {
        const repo = findRepo(slug);
        const sha = resolve(repo, String(p.ref));
        const all = repo.statuses.get(sha) ?? [];
        const latest = [...new Map(all.map((r) => [r.context, r])).values()];
        const states = latest.map((r) => r.state);
        return {
          status: 200,
          json: {
            state:
              states.includes('failure') || states.includes('error')
                ? 'failure'
                : states.length === 0 || states.includes('pending')
                  ? 'pending'
                  : 'success',
            sha,
            total_count: latest.length,
            statuses: latest.map((r) => statusJson(base, slug, r)),
            repository: { full_name: slug },
            commit_url: `${base}/repos/${slug}/commits/${sha}`,
            url: `${base}/repos/${slug}/commits/${sha}/status`,
          },
        };
      }
      default:
        throw new HttpError(500, { message: `the fake does not implement ${op.operationId}` }, true);
    }
  }

  function reviewJson(base: string, slug: string, pr: FakePull, r: FakeReview): Record<string, unknown> {
    const html = `http://github.test/${slug}/pull/${pr.number}#pullrequestreview-${r.id}`;
    return {
      id: r.id,
      node_id: `PRR_${r.id}`,
      user: user(r.user),
      body: r.body,
      state: r.state,
      commit_id: r.commit_id,
      html_url: html,
      pull_request_url: `${base}/repos/${slug}/pulls/${pr.number}`,
      _links: { html: { href: html }, pull_request: { href: `${base}/repos/${slug}/pulls/${pr.number}` } },
      author_association: 'MEMBER',
      ...(r.state === 'PENDING' ? {} : { submitted_at: r.submitted_at }),
    };
  }

  function statusJson(base: string, slug: string, r: StatusRecord): Record<string, unknown> {
    return {
      url: `${base}/repos/${slug}/statuses/${r.id}`,
      avatar_url: null,
      id: r.id,
      node_id: `SC_${r.id}`,
      state: r.state,
      description: r.description,
      target_url: r.target_url,
      context: r.context,
      created_at: r.at,
      updated_at: r.at,
      creator: user(login),
    };
  }

  /** PUT pulls/merge: refused as GitHub refuses it, or merged with the method asked, moving the base branch. */
  function mergePull(
    base: string,
    slug: string,
    number: number,
    body: Record<string, unknown>,
    now: string,
  ): { status: number; json: unknown } {
    const repo = findRepo(slug);
    const pr = findPull(slug, number);
    const method = (body.merge_method as MergeMethodName | undefined) ?? 'merge';
    if (pr.state !== 'open') throw refusal(405, 'Pull Request is not mergeable');
    if (typeof body.sha === 'string' && body.sha !== pr.head.sha)
      throw refusal(409, 'Head branch was modified. Review and try the merge again.');
    if (!repo.methods.includes(method))
      throw refusal(
        405,
        { merge: 'Merge commits', squash: 'Squash merges', rebase: 'Rebase merges' }[method] +
          ' are not allowed on this repository.',
      );
    if (pr.draft) throw refusal(405, 'Pull Request is still a draft');
    const baseHead = repo.graph.head(pr.base.ref) ?? '';
    if (repo.graph.conflicts(baseHead, pr.head.sha).length > 0) throw refusal(405, 'Pull Request is not mergeable');
    const blocked = blockedBy(repo, pr);
    if (blocked) throw refusal(405, blocked, 'https://docs.github.com/articles/about-protected-branches');
    if (repo.protection.get(pr.base.ref)?.strict && repo.graph.behindBy(baseHead, pr.head.sha) > 0)
      throw refusal(405, 'Base branch was modified. Review and try the merge again.');
    const title =
      typeof body.commit_title === 'string'
        ? body.commit_title
        : method === 'squash'
          ? `${pr.title} (#${pr.number})`
          : `Merge pull request #${pr.number} from ${slug.split('/')[0] ?? ''}/${pr.head.ref}`;
    const sha = repo.graph.land(pr.base.ref, pr.head.sha, method, login, title);
    Object.assign(pr, { state: 'closed', merged: true, merged_at: now, closed_at: now, updated_at: now });
    pr.merge_commit_sha = sha;
    moved(repo, pr.base.ref);
    return { status: 200, json: { sha, merged: true, message: 'Pull Request successfully merged' } };
  }

  /** The one GraphQL mutation the forge sends: markPullRequestReadyForReview. */
  function graphql(body: Record<string, unknown> | null): { status: number; json: unknown } {
    const query = body?.query;
    const variables = (body?.variables ?? {}) as Record<string, unknown>;
    if (typeof query !== 'string') throw new HttpError(400, { message: 'Problems parsing JSON' }, true);
    const mutation =
      /^\s*mutation\b[\s\S]*markPullRequestReadyForReview\s*\(\s*input\s*:\s*\{\s*pullRequestId\s*:\s*\$(\w+)\s*\}\s*\)/.exec(
        query,
      );
    if (!mutation?.[1]) {
      violations.push(`graphql: unsupported document: ${query.slice(0, 200)}`);
      return { status: 200, json: { errors: [{ message: 'the fake only knows markPullRequestReadyForReview' }] } };
    }
    const id = variables[mutation[1]];
    for (const repo of repos.values()) {
      const pr = repo.pulls.find((p) => p.node_id === id);
      if (pr) {
        pr.draft = false;
        pr.updated_at = new Date().toISOString();
        return {
          status: 200,
          json: { data: { markPullRequestReadyForReview: { pullRequest: { number: pr.number, isDraft: false } } } },
        };
      }
    }
    violations.push(`graphql: unknown node id ${String(id)}`);
    return {
      status: 200,
      json: {
        data: null,
        errors: [{ type: 'NOT_FOUND', message: `Could not resolve to a node with the global id of '${String(id)}'` }],
      },
    };
  }

  const server = createServer((req, res) => {
    void serve(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.timeOrigin + performance.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: LoggedRequest = {
      at,
      method: req.method ?? 'GET',
      path: url.pathname,
      operationId: null,
      status: null,
      fault: null,
    };
    requests.push(entry);
    const requestId = `FAKE:${++requestSeq}`;
    const send = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'x-github-request-id': requestId,
        ...headers,
      });
      res.end(json === undefined ? '' : JSON.stringify(json));
    };
    try {
      const text = await readBody(req);
      const auth = req.headers.authorization ?? '';
      if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
        violations.push(`${entry.method} ${entry.path}: bad credentials`);
        send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        return;
      }
      let body: Record<string, unknown> | null = null;
      if (text.length > 0) {
        if (!/application\/json/.test(req.headers['content-type'] ?? ''))
          throw new HttpError(415, { message: 'Unsupported Media Type' }, true);
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new HttpError(400, { message: 'Problems parsing JSON' }, true);
        }
      }
      if (entry.method === 'POST' && url.pathname === '/api/graphql') {
        entry.operationId = 'graphql';
        const answer = graphql(body);
        send(answer.status, answer.json);
        return;
      }
      if (!url.pathname.startsWith(`${API}/`)) throw new HttpError(404, { message: 'Not Found' }, true);
      const path = url.pathname.slice(API.length);
      const op = operations.find((o) => o.method === entry.method && o.pattern.test(path));
      if (!op)
        throw new HttpError(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }, true);
      entry.operationId = op.operationId;
      const values = op.pattern.exec(path) ?? [];
      const params: Record<string, unknown> = Object.fromEntries(
        op.names.map((n, i) => [n, decodeURIComponent(values[i + 1] ?? '')]),
      );
      for (const [k, v] of url.searchParams) params[k] = v;
      if (!op.params(params))
        throw validation(`parameters: ${coercing.errorsText(op.params.errors)}`, op.params.errors ?? []);
      if (op.requestBody?.required && body === null) throw validation('a request body is required');
      if (body !== null) {
        if (!op.body) throw validation(`${op.operationId} takes no body`);
        if (!op.body(body)) throw validation(`body: ${ajv.errorsText(op.body.errors)}`, op.body.errors ?? []);
        const known = (op.requestBody?.schema?.properties ?? null) as Record<string, unknown> | null;
        const unknown = known && !Array.isArray(body) ? Object.keys(body).filter((k) => !(k in known)) : [];
        if (unknown.length > 0) throw validation(`unknown body fields: ${unknown.join(', ')}`);
      }

      const slug =
        typeof params.owner === 'string' && typeof params.repo === 'string' ? `${params.owner}/${params.repo}` : null;
      const fault = takeFault(op.operationId, slug);
      entry.fault = fault?.kind ?? null;
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === '5xx') {
        send(502, { message: 'Server Error' });
        return;
      }
      if (fault?.kind === 'secondary-rate-limit') {
        const reset = Math.floor(Date.now() / 1000) + 3600;
        send(
          403,
          {
            message: `${SECONDARY_MESSAGE}${requestId}.`,
            documentation_url:
              'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
            status: '403',
          },
          {
            'retry-after': String(fault.retryAfter ?? 1),
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '4987',
            'x-ratelimit-reset': String(reset),
            'x-ratelimit-used': '13',
            'x-ratelimit-resource': 'core',
          },
        );
        return;
      }
      const answer = await handle(op, `${url.protocol}//${req.headers.host ?? ''}${API}`, params, body);
      if (fault?.kind === 'crash-after-create') {
        req.socket.destroy();
        options.onFault?.(fault, entry);
        return;
      }
      if (fault?.kind === 'hang-after-create') {
        options.onFault?.(fault, entry);
        return;
      }
      if (fault?.kind === 'already-exists') {
        send(422, {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'PullRequest',
              code: 'custom',
              message: `A pull request already exists for ${String(params.owner)}:${String(body?.head)}.`,
            },
          ],
          documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
          status: '422',
        });
        return;
      }
      if (fault?.kind === 'malformed') {
        send(answer.status, withoutField(answer.json, fault.field ?? 'number'));
        return;
      }
      checkAnswer(op, answer);
      send(answer.status, answer.json, answer.headers);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.violation) violations.push(`${entry.method} ${entry.path}: ${err.status} ${err.message}`);
        send(err.status, err.body);
        return;
      }
      violations.push(`${entry.method} ${entry.path}: fake failed: ${String(err)}`);
      send(500, { message: String(err) });
    }
  }

  /** A copy of an answer whose object (each, for a list) lacks the field at `path`. */
  function withoutField(json: unknown, path: string): unknown {
    const copy = structuredClone(json);
    const keys = path.split('.');
    const last = keys.pop() ?? '';
    for (const item of Array.isArray(copy) ? copy : [copy]) {
      const parent = keys.reduce<unknown>(
        (at, k) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined),
        item,
      );
      if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[last];
    }
    return copy;
  }

  /** The fake's own answers must carry what GitHub's description says every answer has. */
  function checkAnswer(op: CompiledOperation, answer: { status: number; json: unknown }): void {
    if (!op.success) return;
    if (answer.status !== op.success.status)
      violations.push(`fake answered ${op.operationId} with ${answer.status}, GitHub with ${op.success.status}`);
    const items = Array.isArray(answer.json) ? answer.json : [answer.json];
    for (const item of items as Record<string, unknown>[]) {
      const missing = op.success.required.filter((k) => !(k in item));
      if (missing.length > 0) violations.push(`fake answer to ${op.operationId} lacks ${missing.join(', ')}`);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}${API}`,
    token,
    login,
    requests,
    violations,
    orgs,
    addRepo(slug, { gitDir } = {}) {
      if (!repos.has(slug))
        repos.set(slug, {
          pulls: [],
          id: repos.size + 1,
          graph: gitDir ? new GitHistory(gitDir) : new CommitGraph('main', slug.split('/')[0] ?? login),
          git: gitDir !== undefined,
          protection: new Map(),
          checkRuns: new Map(),
          statuses: new Map(),
          methods: ['merge', 'squash', 'rebase'],
        });
    },
    pulls: (slug) => repos.get(slug)?.pulls ?? [],
    push(slug, branch, files, { author = 'someone-else', from } = {}) {
      const repo = findRepo(slug);
      const sha = repo.graph.push(branch, files, author, from);
      moved(repo, branch);
      return sha;
    },
    branchHead: (slug, branch) => repos.get(slug)?.graph.head(branch),
    history: (slug) => findRepo(slug).graph,
    protect(slug, branch, protection) {
      const repo = findRepo(slug);
      if (protection) repo.protection.set(branch, protection);
      else repo.protection.delete(branch);
    },
    checkRun(slug, sha, name, status, conclusion) {
      const repo = findRepo(slug);
      const run: CheckRunRecord = {
        id: nextId++,
        name,
        status,
        conclusion: status === 'completed' ? (conclusion ?? 'success') : null,
        at: new Date().toISOString(),
      };
      repo.checkRuns.set(sha, [...(repo.checkRuns.get(sha) ?? []), run]);
    },
    review(slug, number, reviewer, state) {
      if (reviewer.toLowerCase() === login.toLowerCase())
        throw new Error(`GitHub refuses a review of one's own pull request (${reviewer})`);
      const pr = findPull(slug, number);
      pr.reviews.push({
        id: nextId++,
        user: reviewer,
        state,
        body: '',
        commit_id: pr.head.sha,
        submitted_at: new Date().toISOString(),
      });
    },
    allowMergeMethods(slug, methods) {
      findRepo(slug).methods = methods;
    },
    inject(fault) {
      faults.push({ ...fault, seen: 0, hits: 0 });
    },
    pendingFaults: () => faults.filter((f) => f.hits < (f.times ?? 1)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
