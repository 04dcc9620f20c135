/**
 * A local, strict, GitLab-compatible merge request API (`/api/v4`) for tests. GitLab publishes
 * no machine-readable description of this API, so the fields Lockstep uses are written down
 * here from GitLab's merge request and users API documentation, as JSON Schemas: unknown
 * parameters and fields, wrong types and missing required fields are refused with 400, as
 * GitLab does. It keeps merge request state (one open MR per source branch: a second is a 409),
 * and injects faults at chosen requests. Rejections the server makes on its own are recorded
 * in `violations`; injected faults are not.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** `malformed`: the request takes effect, and the answer (each item of a list) lacks `field`, as no GitLab answer does. */
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
  addProject(path: string): void;
  addUser(username: string): number;
  mergeRequests(project: string): FakeMergeRequest[];
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
  const compiled = OPERATIONS.map((op) => ({
    ...op,
    q: op.query ? coercing.compile(op.query) : null,
    b: op.body ? ajv.compile(op.body) : null,
  })) as ((typeof OPERATIONS)[number] & { q: ValidateFunction | null; b: ValidateFunction | null })[];
  const projects = new Map<string, { id: number; mrs: FakeMergeRequest[] }>();
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
  const mrJson = (path: string, mr: FakeMergeRequest, single: boolean) => ({
    id: 10_000 + mr.iid,
    iid: mr.iid,
    project_id: projects.get(path)?.id ?? 0,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: mr.created_at,
    updated_at: mr.updated_at,
    merged_at: null,
    closed_at: mr.state === 'closed' ? mr.updated_at : null,
    target_branch: mr.target_branch,
    source_branch: mr.source_branch,
    author: user(1),
    assignees: mr.assignee_ids.map(user),
    reviewers: mr.reviewer_ids.map(user),
    labels: mr.labels,
    draft: /^\s*(\[draft\]|\(draft\)|draft:|draft\s-|draft\s)/i.test(mr.title),
    work_in_progress: /^\s*(\[draft\]|\(draft\)|draft:|draft\s-|draft\s)/i.test(mr.title),
    merge_status: 'can_be_merged',
    detailed_merge_status: 'mergeable',
    sha: 'e'.repeat(40),
    web_url: `${host}/${path}/-/merge_requests/${mr.iid}`,
    references: { short: `!${mr.iid}`, full: `${path}!${mr.iid}` },
    ...(single ? { head_pipeline: null, diverged_commits_count: 0, changes_count: '1' } : {}),
  });

  function handle(
    id: string,
    params: string[],
    query: Record<string, unknown>,
    body: Record<string, unknown>,
  ): { status: number; json: unknown } {
    const path = decodeURIComponent(params[0] ?? '');
    const project = id === 'users/list' ? null : projects.get(path);
    if (id !== 'users/list' && !project) throw new HttpError(404, { message: '404 Project Not Found' }, true);
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
        return { status: 200, json: list.slice((pg - 1) * per, pg * per).map((m) => mrJson(path, m, false)) };
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
        const mr: FakeMergeRequest = {
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
      case 'mr/show':
        return { status: 200, json: mrJson(path, find(params[1]), true) };
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
      case 'mr/approvals':
        find(params[1]);
        return {
          status: 200,
          json: {
            id: 1,
            iid: Number(params[1]),
            approved: false,
            approvals_required: 0,
            approvals_left: 0,
            approved_by: [],
          },
        };
      default:
        throw new HttpError(500, { message: `the fake does not implement ${id}` }, true);
    }
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
      send(answer.status, answer.json);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.violation) violations.push(`${entry.method} ${entry.path}: ${err.status} ${err.message}`);
        return send(err.status, err.body);
      }
      violations.push(`${entry.method} ${entry.path}: fake failed: ${String(err)}`);
      send(500, { message: String(err) });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    token,
    requests,
    violations,
    addProject(path) {
      if (!projects.has(path)) projects.set(path, { id: projects.size + 1, mrs: [] });
    },
    addUser(username) {
      const id = users.get(username) ?? users.size + 1;
      users.set(username, id);
      return id;
    },
    mergeRequests: (path) => projects.get(path)?.mrs ?? [],
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
