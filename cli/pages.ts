/**
 * What people read of a change in pages (core/pages.ts), at any size: counts by status, the
 * failures first, the repos running now, pages done, and while publishing the pull requests
 * opened and an ETA. Every block is capped, so 10,000 repos read in a screenful; `--json` and
 * `lockstep status <id> --failed` give the rest.
 */
import type { ChangeResult, ChangeStatusView, PagedView } from '../core/change.ts';
import { addCounts, type PageSummary, type SmallResult } from '../core/pages.ts';
import type { RepoStatus, RepoStatusView } from '../core/repo.ts';
import { repoLine, seconds } from './progress.ts';

/** Lines of running repos, and of failures, shown before "and N more". */
export const SHOWN_RUNNING = 10;
export const SHOWN_FAILURES = 10;

/** The order statuses are counted in: what needs a look first. */
const ORDER: RepoStatus[] = ['failed', 'cancelled', 'running', 'pending', 'green', 'unchanged', 'skipped'];

const thousands = (n: number): string => n.toLocaleString('en-US');

/** "3 failed · 1,200 green · 8,797 not done yet" (the repos no finished page counted yet). */
export function countsLine(counts: Partial<Record<RepoStatus, number>>, total: number): string {
  const parts = ORDER.flatMap((s) => (counts[s] ? [`${thousands(counts[s])} ${s}`] : []));
  const counted = Object.values(counts).reduce((n, v) => n + (v ?? 0), 0);
  if (counted < total) parts.push(`${thousands(total - counted)} not done yet`);
  return parts.join(' · ') || 'nothing counted yet';
}

/** Time left at the pace so far (elapsed / done × remaining); null before anything is done. */
export function eta(startedAt: number | null, done: number, total: number, now: number): number | null {
  if (startedAt === null || done <= 0 || total <= done) return null;
  return Math.round(((now - startedAt) / done) * (total - done));
}

/** A failed repo in one line: where and why. */
export function failureLine(f: SmallResult): string {
  return `✖ ${f.repo} ${f.status} at ${f.error?.step ?? 'unknown step'}: ${f.error?.message.split('\n')[0] ?? ''}`;
}

/** The first failures, then how many more and the command that lists them all. */
export function failureLines(changeId: string, failures: SmallResult[], failed: number, indent = '  '): string[] {
  if (failed === 0 && failures.length === 0) return [];
  const shown = failures.slice(0, SHOWN_FAILURES);
  const more = Math.max(failed, failures.length) - shown.length;
  return [
    `${indent}failures (${thousands(Math.max(failed, failures.length))}):`,
    ...shown.map((f) => `${indent}  ${failureLine(f)}`),
    ...(more > 0 ? [`${indent}  … and ${thousands(more)} more: lockstep status ${changeId} --failed`] : []),
  ];
}

const failedOf = (counts: Partial<Record<RepoStatus, number>>): number =>
  (counts.failed ?? 0) + (counts.cancelled ?? 0);

/** Pull requests to open while publishing: the green repos the run counted. */
const toPublish = (paged: PagedView): number => paged.counts.green ?? 0;

/** "publishing: 3,400 of 9,950 pull requests opened, about 4m10s left". */
export function publishingLine(paged: PagedView, now: number): string {
  const total = toPublish(paged);
  const left = eta(paged.stageStartedAt, paged.pullRequests, total, now);
  return `publishing: ${thousands(paged.pullRequests)} of ${thousands(total)} pull requests opened${left === null ? '' : `, about ${seconds(left)} left`}`;
}

/**
 * A running change in pages. `view.repos` holds the repos running now in the running pages
 * (client/live-status.ts merges the pages' own views); the coordinator's own view has none.
 */
export function renderPagedView(view: ChangeStatusView, paged: PagedView, now = Date.now()): string[] {
  const running = view.repos.filter((r) => r.status === 'running');
  const width = Math.max(...running.slice(0, SHOWN_RUNNING).map((r) => r.repo.length), 4);
  const stage = view.phase === 'publishing' ? 'publishing' : 'running';
  const lines = [
    `${view.changeId}: ${view.status}, ${view.phase} for ${seconds(now - view.startedAt)} — ${thousands(paged.total)} repos in ${paged.pages} pages of ${paged.pageSize}, ${paged.pagesDone}/${paged.pages} pages ${stage === 'publishing' ? 'published' : 'done'}`,
    `  ${countsLine(paged.counts, paged.total)}`,
    ...failureLines(view.changeId, paged.failures, failedOf(paged.counts)),
  ];
  if (view.phase === 'publishing') lines.push(`  ${publishingLine(paged, now)}`);
  else if (view.phase === 'running') {
    const left = eta(paged.stageStartedAt, paged.pagesDone, paged.pages, now);
    if (left !== null) lines.push(`  about ${seconds(left)} left at the pace of the pages done`);
  }
  if (running.length > 0 || paged.running.length > 0) {
    lines.push(`  running now: ${running.length} repos in ${paged.running.length} pages`);
    lines.push(...runningLines(running, now, width));
  }
  return lines;
}

function runningLines(running: RepoStatusView[], now: number, width: number): string[] {
  const shown = running.slice(0, SHOWN_RUNNING);
  const more = running.length - shown.length;
  return [
    ...shown.map((r) => `    ${repoLine(r, now, width)}`),
    ...(more > 0 ? [`    … and ${thousands(more)} more`] : []),
  ];
}

/** The counts, failures and pull requests of a finished change in pages, summed over its pages. */
export function pagedTotals(pages: PageSummary[]): {
  counts: Partial<Record<RepoStatus, number>>;
  failures: SmallResult[];
  pullRequests: number;
  repos: number;
} {
  const counts: Partial<Record<RepoStatus, number>> = {};
  for (const p of pages) addCounts(counts, p.counts);
  return {
    counts,
    failures: pages.flatMap((p) => p.failures),
    pullRequests: pages.reduce((n, p) => n + (p.pullRequests?.opened ?? 0), 0),
    repos: pages.reduce((n, p) => n + p.repos, 0),
  };
}

/** The result of a change in pages: counts, the failures first, pages that could not publish. */
export function renderPagedResult(result: ChangeResult, pages: PageSummary[]): string[] {
  const t = pagedTotals(pages);
  const total = Math.max(result.metrics.repos, t.repos);
  const broken = pages.filter((p) => p.error);
  return [
    `  ${thousands(total)} repos in ${pages.length} pages: ${countsLine(t.counts, total)}`,
    ...failureLines(result.changeId, t.failures, failedOf(t.counts)),
    ...broken.slice(0, SHOWN_FAILURES).map((p) => `  ✖ page ${p.index} could not publish: ${p.error ?? ''}`),
    ...(t.pullRequests > 0
      ? [`  ${thousands(t.pullRequests)} pull requests open: lockstep prs ${result.changeId}`]
      : []),
  ];
}
