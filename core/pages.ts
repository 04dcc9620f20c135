/**
 * A change of many repositories runs in pages, so the coordinator's history and every payload
 * stay bounded whatever the number of repos: the tasks are stored once by reference (blobs, in
 * merge order, `pageSize` to a page), a page workflow runs each page's repos as the coordinator
 * runs a small change (workflows/page.ts), and what reaches the coordinator is a page's summary:
 * counts by status, its first failures, the revisions the gate asked for, and its results by
 * reference. Publishing works page by page the same way.
 */
import type { BlobRef } from './blobs.ts';
import type { ChangeInput } from './change.ts';
import type { GateInput, GateReport, GateRevision, GuardrailFinding } from './gate.ts';
import type { PullRequestRef } from './pulls.ts';
import type { RepoResult, RepoStatus } from './repo.ts';

/** Repos to a page, and the number of repos from which a change runs in pages. */
export const DEFAULT_PAGE_SIZE = 100;

/** The failures a page names in its summary (all are in its results blob). */
export const MAX_PAGE_FAILURES = 20;

/** A change's tasks by reference. */
export interface PagedTasks {
  /** Repos in all. */
  total: number;
  pageSize: number;
  /** What every page shares: the change's input without its repos (a `SharedChange`). */
  shared: BlobRef;
  /** The pages in merge order, each a `RepoTask[]`. */
  pages: { tasks: BlobRef; repos: number; first: string; last: string }[];
}

/** The change as every page sees it: the coordinator's input, less what is per page or by reference. */
export type SharedChange = Omit<ChangeInput, 'repos' | 'pages' | 'previous' | 'gate' | 'landing' | 'searchAttributes'>;

/** A repo's result as a page keeps it: what resume, the gate, publishing and `status` need. */
export interface SmallResult {
  repo: string;
  status: RepoStatus;
  branch: string;
  baseCommit: string | null;
  commit: string | null;
  taskHash?: string;
  attempts: number;
  durationMs: number;
  /** Where and why it failed, shortened. */
  error?: { step: string; message: string } | null;
  reused?: boolean;
  bump?: RepoResult['bump'];
}

export interface PageInput {
  changeId: string;
  index: number;
  /** Pages in all, and repos in all (for messages). */
  pages: number;
  total: number;
  shared: BlobRef;
  tasks: BlobRef;
  /** Lanes of this page (the change's concurrency shared among the pages running at once). */
  concurrency: number;
  /** `run`: run the page's repos. `publish`: open and link their pull requests. */
  mode: 'run' | 'publish';
  /** A resumed change: the page's results of the run before (`SmallResult[]`), green repos kept. */
  previous?: BlobRef | null;
  /** A bump's resolved version (the coordinator resolves it once). */
  bump?: ChangeInput['bump'];
  /** Repos whose revisions the coordinator's gate needs (contract repos). */
  watch: string[];
  /** The gate's guardrail scans, run by each page on its own green repos. */
  scan?: Pick<GateInput, 'secrets' | 'insecure' | 'waive'> | null;
  /** publish: the page's results of the run, and the gate's report for the bodies. */
  results?: BlobRef | null;
  gate?: GateReport | null;
}

export interface PageSummary {
  index: number;
  repos: number;
  counts: Partial<Record<RepoStatus, number>>;
  /** Failed or cancelled repos, the first MAX_PAGE_FAILURES. */
  failures: SmallResult[];
  /** The revisions of the watched repos this page holds. */
  revisions: GateRevision[];
  /** The page's guardrail findings (waived ones included). */
  findings: GuardrailFinding[];
  /** Every repo's SmallResult, by reference (null when the page itself failed). */
  results: BlobRef | null;
  /** publish mode: pull requests opened (and found) and their refs (`PagePullRequest[]`). */
  pullRequests?: { opened: number; refs: BlobRef } | null;
  /** Why a page could not publish. */
  error?: string | null;
}

export interface PagePullRequest {
  repo: string;
  pullRequest: PullRequestRef;
}

/** The pages of a change's tasks, in merge order. */
export function pagesOf<T>(tasks: readonly T[], pageSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < tasks.length; i += pageSize) out.push(tasks.slice(i, i + pageSize));
  return out;
}

/** Whether a change of `repos` repositories runs in pages. */
export const runsInPages = (repos: number, pageSize = DEFAULT_PAGE_SIZE): boolean => repos > pageSize;

/** Pages running at once, and lanes in each: the change's concurrency, shared (a page's tail overlaps the next). */
export function pageLanes(concurrency: number, pages: number): { pages: number; lanes: number } {
  const running = Math.max(1, Math.min(pages, Math.max(2, Math.ceil(concurrency / 8))));
  return { pages: running, lanes: Math.max(1, Math.ceil(concurrency / running)) };
}

export function smallResult(r: RepoResult): SmallResult {
  return {
    repo: r.repo,
    status: r.status,
    branch: r.branch,
    baseCommit: r.baseCommit,
    commit: r.commit,
    ...(r.taskHash ? { taskHash: r.taskHash } : {}),
    attempts: r.attempts,
    durationMs: r.durationMs,
    error: r.error ? { step: r.error.step, message: r.error.message.slice(0, 300) } : null,
    ...(r.reused ? { reused: true } : {}),
    ...(r.bump ? { bump: r.bump } : {}),
  };
}

/** A kept result as the fan-out reuses it (a resume's green repo). */
export function fromSmall(s: SmallResult): RepoResult {
  return {
    repo: s.repo,
    status: s.status,
    branch: s.branch,
    baseCommit: s.baseCommit,
    commit: s.commit,
    changedFiles: [],
    steps: [],
    tests: null,
    error: s.error ? { ...s.error, outputTail: '' } : null,
    attempts: s.attempts,
    durationMs: s.durationMs,
    ...(s.taskHash ? { taskHash: s.taskHash } : {}),
    ...(s.bump ? { bump: s.bump } : {}),
  };
}

/** Counts by status, summed over pages. */
export function addCounts(
  into: Partial<Record<RepoStatus, number>>,
  more: Partial<Record<RepoStatus, number>>,
): Partial<Record<RepoStatus, number>> {
  for (const [k, v] of Object.entries(more) as [RepoStatus, number][]) into[k] = (into[k] ?? 0) + v;
  return into;
}
