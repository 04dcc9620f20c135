/**
 * The organizations (fake GitHub) and groups (fake GitLab) whose repositories `lockstep fleet
 * import` lists, kept apart from the pull request state of the fakes so that each server only
 * routes to it. Lists are paginated as the forges paginate them: GitHub's `per_page` (at most
 * 100, default 30) and `page` with a `Link` header naming the next and last pages; GitLab's
 * `per_page` (1-100, default 20) and `page` with its `x-*` pagination headers and a `Link`
 * header. An owner neither knows is a 404 with the forge's own words.
 */

export interface FakeOwnedRepo {
  /** The repository's name (GitLab: the project's path). */
  name: string;
  topics?: string[];
  archived?: boolean;
  fork?: boolean;
  /** Default `main`; null for an empty repository. */
  defaultBranch?: string | null;
}

export interface Page {
  status: number;
  json: unknown;
  headers: Record<string, string>;
}

/** A failure the fake answers with `status` and `body` (the servers turn it into their own error). */
export class OwnerNotFound extends Error {
  constructor(readonly body: Record<string, unknown>) {
    super(String(body.message));
  }
}

function slice<T>(items: T[], page: number, perPage: number): T[] {
  return items.slice((page - 1) * perPage, page * perPage);
}

/** A Link header for the pages around `page` of `last`, each URL `at(page)`. */
function linkHeader(page: number, last: number, at: (page: number) => string): string {
  const links: string[] = [];
  if (page > 1) links.push(`<${at(page - 1)}>; rel="prev"`, `<${at(1)}>; rel="first"`);
  if (page < last) links.push(`<${at(page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
  return links.join(', ');
}

/** GitHub organizations and their repositories, as `GET /orgs/{org}/repos` lists them. */
export class GitHubOrgs {
  private readonly orgs = new Map<string, FakeOwnedRepo[]>();
  private nextId = 90_000;

  /** Adds (or replaces, by name) repositories of `org`, creating the organization. */
  add(org: string, repos: FakeOwnedRepo[]): void {
    const list = this.orgs.get(org.toLowerCase()) ?? [];
    for (const repo of repos) {
      const at = list.findIndex((r) => r.name === repo.name);
      if (at >= 0) list[at] = repo;
      else list.push(repo);
    }
    this.orgs.set(org.toLowerCase(), list);
  }

  /** The answer to `repos/list-for-org`, its query already validated against GitHub's description. */
  list(base: string, params: Record<string, unknown>): Page {
    const org = String(params.org);
    const repos = this.orgs.get(org.toLowerCase());
    if (!repos) {
      throw new OwnerNotFound({
        message: 'Not Found',
        documentation_url: 'https://docs.github.com/rest/repos/repos#list-organization-repositories',
        status: '404',
      });
    }
    const type = (params.type as string | undefined) ?? 'all';
    const chosen = repos.filter((r) => (type === 'forks' ? r.fork : type === 'sources' ? !r.fork : true));
    // GitHub caps per_page at 100 rather than refusing more.
    const perPage = Math.min(Number(params.per_page ?? 30), 100);
    const page = Number(params.page ?? 1);
    const last = Math.max(1, Math.ceil(chosen.length / perPage));
    const query = new URLSearchParams(
      Object.entries(params).flatMap(([k, v]): [string, string][] =>
        k === 'org' || k === 'page' ? [] : [[k, String(v)]],
      ),
    );
    const at = (n: number) => `${base}/orgs/${org}/repos?${query.toString()}${query.size ? '&' : ''}page=${n}`;
    const link = linkHeader(page, last, at);
    return {
      status: 200,
      json: slice(chosen, page, perPage).map((r) => this.json(base, org, r)),
      headers: link ? { link } : {},
    };
  }

  /** A "minimal repository" with every field GitHub's description requires of it. */
  private json(base: string, org: string, r: FakeOwnedRepo): Record<string, unknown> {
    const full = `${org}/${r.name}`;
    const url = `${base}/repos/${full}`;
    const owner = { login: org, id: 7, node_id: 'O_kgDO', type: 'Organization', site_admin: false };
    const urls = Object.fromEntries(
      [
        'archive',
        'assignees',
        'blobs',
        'branches',
        'collaborators',
        'comments',
        'commits',
        'compare',
        'contents',
        'contributors',
        'deployments',
        'downloads',
        'events',
        'forks',
        'git_commits',
        'git_refs',
        'git_tags',
        'hooks',
        'issue_comment',
        'issue_events',
        'issues',
        'keys',
        'labels',
        'languages',
        'merges',
        'milestones',
        'notifications',
        'pulls',
        'releases',
        'stargazers',
        'statuses',
        'subscribers',
        'subscription',
        'tags',
        'teams',
        'trees',
      ].map((k) => [`${k}_url`, `${url}/${k.replace(/_/g, '/')}`]),
    );
    return {
      id: this.idOf(full),
      node_id: `R_${full}`,
      name: r.name,
      full_name: full,
      owner,
      private: false,
      html_url: `http://github.test/${full}`,
      description: null,
      fork: r.fork ?? false,
      url,
      ...urls,
      clone_url: `http://github.test/${full}.git`,
      ...(r.defaultBranch === null ? {} : { default_branch: r.defaultBranch ?? 'main' }),
      topics: r.topics ?? [],
      archived: r.archived ?? false,
      visibility: 'public',
    };
  }

  private readonly ids = new Map<string, number>();
  private idOf(full: string): number {
    const id = this.ids.get(full) ?? this.nextId++;
    this.ids.set(full, id);
    return id;
  }
}

/** The query GitLab's "List a group's projects" takes (GitLab's REST docs: Groups), as a JSON Schema. */
export const GROUP_PROJECTS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    archived: { type: 'boolean' },
    visibility: { enum: ['public', 'internal', 'private'] },
    order_by: {
      enum: ['id', 'name', 'path', 'created_at', 'updated_at', 'similarity', 'star_count', 'last_activity_at'],
    },
    sort: { enum: ['asc', 'desc'] },
    search: { type: 'string' },
    simple: { type: 'boolean' },
    owned: { type: 'boolean' },
    starred: { type: 'boolean' },
    topic: { type: 'string' },
    with_issues_enabled: { type: 'boolean' },
    with_merge_requests_enabled: { type: 'boolean' },
    with_shared: { type: 'boolean' },
    include_subgroups: { type: 'boolean' },
    min_access_level: { enum: [10, 15, 20, 30, 40, 50] },
    with_custom_attributes: { type: 'boolean' },
    with_security_reports: { type: 'boolean' },
    per_page: { type: 'integer', minimum: 1, maximum: 100 },
    page: { type: 'integer', minimum: 1 },
  },
};

/** The operation the fake GitLab routes here: the group is URL-encoded (`acme%2Fplatform`) or its id. */
export const GROUP_PROJECTS_OPERATION: { id: string; method: string; path: RegExp; query: object; body?: object } = {
  id: 'groups/projects',
  method: 'GET',
  path: /^\/groups\/([^/]+)\/projects$/,
  query: GROUP_PROJECTS_QUERY,
};

/** GitLab groups (with subgroups by path, `acme/platform`) and their projects. */
export class GitLabGroups {
  private readonly groups = new Map<string, { id: number; projects: FakeOwnedRepo[] }>();

  /** Adds (or replaces, by path) projects of `group` (a full path), creating it and its parents. */
  add(group: string, projects: FakeOwnedRepo[]): void {
    const parts = group.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join('/');
      if (!this.groups.has(path)) this.groups.set(path, { id: 300 + this.groups.size, projects: [] });
    }
    const list = this.groups.get(group)?.projects ?? [];
    for (const p of projects) {
      const at = list.findIndex((q) => q.name === p.name);
      if (at >= 0) list[at] = p;
      else list.push(p);
    }
  }

  /** The answer to `groups/projects`, its query already validated; `host` is the server's root. */
  list(host: string, rawId: string, query: Record<string, unknown>): Page {
    const id = decodeURIComponent(rawId);
    const entry = [...this.groups].find(([path, g]) => path === id || String(g.id) === id);
    if (!entry) throw new OwnerNotFound({ message: '404 Group Not Found' });
    const [path] = entry;
    const flag = (v: unknown) => v === true || v === 'true';
    const within = flag(query.include_subgroups)
      ? [...this.groups].filter(([p]) => p === path || p.startsWith(`${path}/`))
      : [entry];
    let all = within.flatMap(([p, g]) => g.projects.map((project) => ({ group: p, project })));
    if (query.archived !== undefined)
      all = all.filter(({ project }) => (project.archived ?? false) === flag(query.archived));
    if (typeof query.topic === 'string') {
      const wanted = query.topic.split(',');
      all = all.filter(({ project }) => wanted.every((t) => (project.topics ?? []).includes(t)));
    }
    const perPage = Number(query.per_page ?? 20);
    const page = Number(query.page ?? 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const rest = new URLSearchParams(
      Object.entries(query).flatMap(([k, v]): [string, string][] => (k === 'page' ? [] : [[k, String(v)]])),
    );
    const at = (n: number) =>
      `${host}/api/v4/groups/${encodeURIComponent(path)}/projects?${rest.toString()}${rest.size ? '&' : ''}page=${n}`;
    const link = linkHeader(page, last, at);
    return {
      status: 200,
      json: slice(all, page, perPage).map(({ group, project }, i) => this.json(host, group, project, i)),
      headers: {
        'x-page': String(page),
        'x-per-page': String(perPage),
        'x-total': String(all.length),
        'x-total-pages': String(last),
        'x-next-page': page < last ? String(page + 1) : '',
        'x-prev-page': page > 1 ? String(page - 1) : '',
        ...(link ? { link } : {}),
      },
    };
  }

  private json(host: string, group: string, p: FakeOwnedRepo, i: number): Record<string, unknown> {
    const full = `${group}/${p.name}`;
    const namespace = this.groups.get(group);
    return {
      id: 7000 + (namespace?.id ?? 0) * 100 + i,
      description: null,
      name: p.name,
      name_with_namespace: full.split('/').join(' / '),
      path: p.name,
      path_with_namespace: full,
      created_at: '2026-01-01T00:00:00.000Z',
      default_branch: p.defaultBranch === undefined ? 'main' : p.defaultBranch,
      tag_list: p.topics ?? [],
      topics: p.topics ?? [],
      ssh_url_to_repo: `git@gitlab.test:${full}.git`,
      http_url_to_repo: `${host}/${full}.git`,
      web_url: `${host}/${full}`,
      archived: p.archived ?? false,
      visibility: 'private',
      namespace: {
        id: namespace?.id,
        name: group.split('/').at(-1),
        path: group.split('/').at(-1),
        kind: 'group',
        full_path: group,
      },
      ...(p.fork ? { forked_from_project: { id: 1, path_with_namespace: `upstream/${p.name}` } } : {}),
    };
  }
}
