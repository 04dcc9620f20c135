/**
 * Targets chosen by query (docs/configuration.md#targets-by-query): which fleet repos a change's
 * `targets` selects, and why. Pure: the content of the repos' base branches is read elsewhere
 * (activities/git/base.ts) and handed in.
 */
import type { ChangeTarget, ContentQuery, TargetQuery } from '../config/change.ts';
import type { RepoConfig } from '../config/repos.ts';

/** A glob as a regular expression over `/`-separated paths: `**` any folders, `*` and `?` within one, `{a,b}` either. */
export function globRegExp(glob: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` matches no folder or any number of them; a trailing `**` anything below.
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:[^/]*/)*' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** One reason a content query matched: a path, and with `text`/`regex` the line that holds it. */
export interface ContentMatch {
  path: string;
  /** 1-based; null for a path-only query. */
  line: number | null;
  /** The matching line, trimmed and cut to 200 characters; null for a path-only query. */
  excerpt: string | null;
}

/** Matches kept per repo: enough to say why it was chosen, small enough for the plan and the cache. */
export const MATCHES_KEPT = 5;

/** The paths of a tree a content query reads. */
export function queriedPaths(query: ContentQuery, paths: readonly string[]): string[] {
  const glob = globRegExp(query.path);
  return paths.filter((p) => glob.test(p));
}

/** Where the files (path → content, those `queriedPaths` chose) match the query; the first MATCHES_KEPT. */
export function contentMatches(query: ContentQuery, files: ReadonlyMap<string, string>): ContentMatch[] {
  const matches: ContentMatch[] = [];
  const paths = [...files.keys()].sort();
  if (query.text === undefined && query.regex === undefined) {
    return paths.slice(0, MATCHES_KEPT).map((path) => ({ path, line: null, excerpt: null }));
  }
  const regex = query.regex === undefined ? null : new RegExp(query.regex);
  for (const path of paths) {
    const lines = (files.get(path) ?? '').split('\n');
    for (const [i, line] of lines.entries()) {
      if (regex ? !regex.test(line) : !line.includes(query.text ?? '')) continue;
      matches.push({ path, line: i + 1, excerpt: line.trim().slice(0, 200) });
      if (matches.length >= MATCHES_KEPT) return matches;
    }
  }
  return matches;
}

/** Why a repo was selected: the queries it satisfied, in words, and its content matches. */
export interface TargetReason {
  repo: string;
  /** "listed under repos", `tag "payments"`, "consumes catalog-api", `contains src/**\/*.ts with "x"`. */
  reasons: string[];
  matches: ContentMatch[];
}

/** The reasons the fleet config gives (tags, contracts), or null when a config query rules the repo out. */
export function configReasons(query: TargetQuery, repo: RepoConfig): string[] | null {
  const reasons: string[] = [];
  if (query.tags) {
    const tags = query.tags.filter((t) => repo.tags.includes(t));
    if (tags.length === 0) return null;
    reasons.push(`tag${tags.length > 1 ? 's' : ''} ${tags.map((t) => `"${t}"`).join(', ')}`);
  }
  if (query.consumersOf !== undefined) {
    if (!repo.consumes.some((c) => c.name === query.consumersOf)) return null;
    reasons.push(`consumes ${query.consumersOf}`);
  }
  if (query.providersOf !== undefined) {
    if (!repo.provides.some((c) => c.name === query.providersOf)) return null;
    reasons.push(`provides ${query.providersOf}`);
  }
  return reasons;
}

/** The content query in words. */
export function describeContent(query: ContentQuery): string {
  if (query.text !== undefined) return `contains ${query.path} with "${query.text}"`;
  if (query.regex !== undefined) return `contains ${query.path} matching /${query.regex}/`;
  return `contains ${query.path}`;
}

/**
 * The change's target list: the explicit `repos` entries (each keeps its own steps or
 * instructions), then every selected repo not listed, with the query's `steps`/`instructions`.
 */
export function withSelected(
  explicit: readonly ChangeTarget[],
  query: Pick<TargetQuery, 'steps' | 'instructions'>,
  selected: readonly string[],
): ChangeTarget[] {
  const listed = new Set(explicit.map((t) => t.name));
  const common = {
    ...(query.steps ? { steps: query.steps } : {}),
    ...(query.instructions ? { instructions: query.instructions } : {}),
  };
  return [...explicit, ...selected.filter((name) => !listed.has(name)).map((name) => ({ name, ...common }))];
}
