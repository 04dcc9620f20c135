/**
 * A local, strict, GitHub-compatible REST server for tests, mounted like GitHub Enterprise
 * (`/api/v3`, GraphQL at `/api/graphql`). Every request is validated against GitHub's own
 * OpenAPI description of the operations the forge uses (tests/fixtures/github-operations.json,
 * extracted by scripts/extract-github-operations.ts): path and query parameters, request body,
 * and unknown fields. It keeps pull request state, answers as GitHub answers (422 for a second
 * PR of a head, 404 for an unknown repo, 401 for a bad token), checks its own answers carry the
 * fields GitHub's description requires, and injects faults at chosen points.
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
  /** The request takes effect, then the connection is dropped: the answer never arrives. */
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
}

export interface FakeGitHub {
  /** e.g. http://127.0.0.1:PORT/api/v3 (a GitHub Enterprise API root). */
  baseUrl: string;
  token: string;
  /** The login the token belongs to (the author of every PR). */
  login: string;
  requests: LoggedRequest[];
  violations: string[];
  /** Adds a repository (`owner/repo`) with its default branch. */
  addRepo(slug: string): void;
  pulls(slug: string): FakePull[];
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
  const repos = new Map<string, { pulls: FakePull[]; id: number }>();
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

  function pullJson(base: string, slug: string, pr: FakePull, full: boolean): Record<string, unknown> {
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
      merge_commit_sha: null,
      assignee: pr.assignees[0] ? user(pr.assignees[0]) : null,
      assignees: pr.assignees.map(user),
      requested_reviewers: pr.reviewers.map(user),
      requested_teams: [],
      head: { label: `${owner}:${pr.head.ref}`, ref: pr.head.ref, sha: pr.head.sha, user: user(owner), repo: null },
      base: { label: `${owner}:${pr.base.ref}`, ref: pr.base.ref, sha: '0'.repeat(40), user: user(owner), repo: null },
      _links: { self: { href: url }, html: { href: html } },
      author_association: 'MEMBER',
      auto_merge: null,
      draft: pr.draft,
    };
    if (full) {
      Object.assign(json, {
        merged: pr.merged,
        mergeable: true,
        rebaseable: true,
        mergeable_state: 'clean',
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

  function findRepo(slug: string) {
    const repo = repos.get(slug);
    if (!repo)
      throw new HttpError(
        404,
        { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
        true,
      );
    return repo;
  }
  function findPull(slug: string, n: number): FakePull {
    const pr = findRepo(slug).pulls.find((p) => p.number === n);
    if (!pr)
      throw new HttpError(
        404,
        { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' },
        true,
      );
    return pr;
  }

  /** The operation's effect and answer. */
  async function handle(
    op: CompiledOperation,
    base: string,
    p: Record<string, unknown>,
    body: Record<string, unknown> | null,
  ): Promise<{ status: number; json: unknown }> {
    const slug = `${String(p.owner)}/${String(p.repo)}`;
    const now = new Date().toISOString();
    switch (op.operationId) {
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
        const sha = options.headCommit ? await options.headCommit(slug, b.head) : 'f'.repeat(40);
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
        };
        repo.pulls.push(pr);
        return { status: 201, json: pullJson(base, slug, pr, true) };
      }
      case 'pulls/get':
        return { status: 200, json: pullJson(base, slug, findPull(slug, Number(p.pull_number)), true) };
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
      case 'pulls/list-reviews':
        findPull(slug, Number(p.pull_number));
        return { status: 200, json: [] };
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
      case 'checks/list-for-ref':
        findRepo(slug);
        return { status: 200, json: { total_count: 0, check_runs: [] } };
      case 'repos/get-combined-status-for-ref':
        findRepo(slug);
        return {
          status: 200,
          json: {
            state: 'pending',
            sha: String(p.ref),
            total_count: 0,
            statuses: [],
            repository: { full_name: slug },
            commit_url: '',
            url: '',
          },
        };
      default:
        throw new HttpError(500, { message: `the fake does not implement ${op.operationId}` }, true);
    }
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
      send(answer.status, answer.json);
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
    addRepo(slug) {
      if (!repos.has(slug)) repos.set(slug, { pulls: [], id: repos.size + 1 });
    },
    pulls: (slug) => repos.get(slug)?.pulls ?? [],
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
