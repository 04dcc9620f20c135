/**
 * A change's `targets` resolved on this machine before anything starts: the fleet config answers
 * tags and contracts; a content query reads each candidate's base branch (a shallow fetch into a
 * scratch bare repository, no checkout, nothing of the repo runs: activities/git/base.ts), a few
 * repos at a time, cached per repo, base commit and query under `<state>/targets/`. The resolved
 * list becomes the change's `repos`, so the coordinator's input (its history) records the set and
 * `resume` works on it without scanning again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withBaseTree } from '../../activities/git/base.ts';
import { gitCredentials } from '../../activities/forges/git-credentials.ts';
import { remoteBranchCommit } from '../../activities/git/workspace.ts';
import type { Change, ContentQuery } from '../../config/change.ts';
import { egressIssues, InputError, type InputIssue, type LoadedConfig } from '../../config/load.ts';
import type { RepoConfig } from '../../config/repos.ts';
import { inLanes } from '../../core/lanes.ts';
import {
  configReasons,
  contentMatches,
  describeContent,
  queriedPaths,
  withSelected,
  type ContentMatch,
  type TargetReason,
} from '../../core/targets.ts';
import { withBumpTargets } from './bump.ts';

/** Base branches read at once. */
const SCAN_LANES = 4;
/** Files larger than this are not searched (generated or binary content, not what a query is about). */
const MAX_SCANNED_BYTES = 1024 * 1024;

export interface TargetPlan {
  changeId: string;
  /** The queries in words. */
  query: string[];
  /** Every target, in the order the change runs them through: listed ones first. */
  targets: TargetReason[];
  /** Fleet repos the change file excludes. */
  excluded: string[];
  /** Candidates whose base branch could not be read: the change does not start while any is. */
  unscannable: { repo: string; reason: string }[];
  /** Base branches read now, and answers taken from the cache (same repo, base commit and query). */
  scans: { read: number; cached: number };
}

/** Where one scan's answer is kept: per repo, base commit and query. */
function cacheFile(stateDir: string, repo: string, commit: string, query: ContentQuery): string {
  const key = createHash('sha256').update(JSON.stringify([query.path, query.text ?? null, query.regex ?? null]));
  return join(stateDir, 'targets', repo, `${commit}.${key.digest('hex').slice(0, 16)}.json`);
}

type Scan = { matches: ContentMatch[]; cached: boolean } | { error: string };

/** What a repo's base branch holds that the query asks about; a failure is an answer, not a throw. */
async function scanRepo(
  stateDir: string,
  repo: RepoConfig,
  query: ContentQuery,
  credentials: ReturnType<typeof gitCredentials>,
): Promise<Scan> {
  try {
    const head = await remoteBranchCommit(repo.url, repo.baseBranch, credentials);
    if (head === null) return { error: `branch "${repo.baseBranch}" does not exist on its remote` };
    const cached = await readFile(cacheFile(stateDir, repo.name, head, query), 'utf8').then(
      (t) => JSON.parse(t) as ContentMatch[],
      () => null,
    );
    if (cached) return { matches: cached, cached: true };
    return await withBaseTree(
      { repo: repo.name, url: repo.url, baseBranch: repo.baseBranch },
      credentials,
      async (tree) => {
        const matches = contentMatches(query, await tree.read(queriedPaths(query, tree.paths), MAX_SCANNED_BYTES));
        const file = cacheFile(stateDir, repo.name, tree.commit, query);
        await mkdir(join(stateDir, 'targets', repo.name), { recursive: true });
        // Written whole, then renamed: a concurrent resolve never reads half a file.
        await writeFile(`${file}.${process.pid}`, JSON.stringify(matches));
        await rename(`${file}.${process.pid}`, file);
        return { matches, cached: false };
      },
    );
  } catch (err) {
    return { error: ((err as Error).message.split('\n')[0] ?? String(err)).trim() };
  }
}

/** Which repos the change's `targets` (with its listed `repos`) selects, and why; starts nothing. */
export async function planTargets(loaded: LoadedConfig, change: Change, stateDir: string): Promise<TargetPlan> {
  const query = change.targets;
  const listed: TargetReason[] = change.repos.map((t) => ({
    repo: t.name,
    reasons: ['listed under repos'],
    matches: [],
  }));
  const plan: TargetPlan = {
    changeId: change.id,
    query: [],
    targets: listed,
    excluded: [],
    unscannable: [],
    scans: { read: 0, cached: 0 },
  };
  if (!query) return plan;
  plan.query = [
    ...(query.tags ? [`tags: any of ${query.tags.join(', ')}`] : []),
    ...(query.consumersOf !== undefined ? [`consumers of ${query.consumersOf}`] : []),
    ...(query.providersOf !== undefined ? [`provider of ${query.providersOf}`] : []),
    ...(query.contains ? [describeContent(query.contains)] : []),
  ];
  plan.excluded = query.exclude;
  const candidates = loaded.config.repos
    .filter((r) => !query.exclude.includes(r.name))
    .flatMap((repo) => {
      const reasons = configReasons(query, repo);
      return reasons ? [{ repo, reasons }] : [];
    });
  const credentials = gitCredentials([loaded.config.forge], process.env);
  const contains = query.contains;
  const scans = contains
    ? await inLanes(candidates, SCAN_LANES, (c) => scanRepo(stateDir, c.repo, contains, credentials))
    : candidates.map((): Scan => ({ matches: [], cached: false }));
  const selected: TargetReason[] = [];
  candidates.forEach((c, i) => {
    const scan = scans[i] as Scan;
    if ('error' in scan) {
      plan.unscannable.push({ repo: c.repo.name, reason: scan.error });
      return;
    }
    if (contains) plan.scans[scan.cached ? 'cached' : 'read']++;
    if (contains && scan.matches.length === 0) return;
    selected.push({
      repo: c.repo.name,
      reasons: [...c.reasons, ...(contains ? [describeContent(contains)] : [])],
      matches: scan.matches,
    });
  });
  for (const s of selected) {
    const entry = listed.find((l) => l.repo === s.repo);
    if (entry) entry.reasons.push(...s.reasons);
    else plan.targets.push(s);
  }
  return plan;
}

/** Why the change cannot start with this plan: an unscannable candidate, or no target at all. */
export function planIssues(file: string, change: Change, plan: TargetPlan): InputIssue[] {
  const issues: InputIssue[] = plan.unscannable.map((u) => ({
    file,
    path: 'targets.contains',
    message: `repo "${u.repo}" could not be scanned: ${u.reason}`,
    fix: `make its base branch readable (its url and baseBranch in the fleet config), or add "${u.repo}" to targets.exclude to run without it`,
  }));
  if (issues.length === 0 && plan.targets.length === 0 && change.targets)
    issues.push({
      file,
      path: 'targets',
      message: `no repo of the fleet matches ${plan.query.join(' and ')}${plan.excluded.length ? ` (excluding ${plan.excluded.join(', ')})` : ''}`,
      fix: 'widen the query, or list the repos under "repos"',
    });
  return issues;
}

/**
 * The change with every target explicit: its `targets` resolved into `repos` (unscannable
 * candidates or an empty selection: bad input, nothing starts), then a bump's targets by
 * manifest (client/machine/bump.ts).
 */
export async function withChangeTargets(
  loaded: LoadedConfig,
  change: Change,
  changeFile: string,
  stateDir: string,
): Promise<{ change: Change; plan: TargetPlan | null }> {
  if (!change.targets) return { change: (await withBumpTargets(loaded, change, changeFile)).change, plan: null };
  const plan = await planTargets(loaded, change, stateDir);
  const issues = planIssues(changeFile, change, plan);
  if (issues.length > 0) throw new InputError(issues);
  const explicit = recordedTargets(
    change,
    plan.targets.map((t) => t.repo),
  );
  const refused = egressIssues(changeFile, explicit, loaded);
  if (refused.length > 0) throw new InputError(refused);
  return { change: explicit, plan };
}

/** The change with `targets` replaced by these repos (resolved now, or as an earlier run recorded them). */
export function recordedTargets(change: Change, repos: readonly string[]): Change {
  const { targets, ...rest } = change;
  return { ...rest, repos: targets ? withSelected(change.repos, targets, repos) : change.repos };
}
