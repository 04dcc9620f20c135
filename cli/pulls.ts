/** `lockstep prs|publish|close`: the linked PR set of a change as a table, summed up when it is long. */
import type { PullRequestLine, PullRequestsReport } from '../client/pulls.ts';
import { describeLandingRepo } from '../core/landing-plan.ts';

/** Lines shown of a longer set (a change in pages) unless `--all`. */
export const SHOWN_PULL_REQUESTS = 20;

/** "3 open · 1 draft · 2 merged; checks: 1 failing · 5 passing". */
export function pullRequestCounts(lines: PullRequestLine[]): string {
  const count = (key: (p: PullRequestLine) => string, order: string[]): string => {
    const n = new Map<string, number>();
    for (const p of lines) n.set(key(p), (n.get(key(p)) ?? 0) + 1);
    return order.flatMap((k) => (n.get(k) ? [`${n.get(k)} ${k}`] : [])).join(' · ');
  };
  return `${count((p) => p.state, ['open', 'draft', 'merged', 'closed'])}; checks: ${count((p) => p.checks, ['failing', 'pending', 'passing', 'none'])}`;
}

export function renderPullRequests(report: PullRequestsReport, all = false): string {
  if (report.pullRequests.length === 0) return `${report.changeId}: no pull requests`;
  const long = !all && report.pullRequests.length > SHOWN_PULL_REQUESTS;
  // A long set shows what needs a look first: failing checks, then the next to merge, then in order.
  const shown = long
    ? [...report.pullRequests]
        .map((p, i) => ({ p, i, weight: p.checks === 'failing' ? 0 : p.next ? 1 : 2 }))
        .sort((a, b) => a.weight - b.weight || a.i - b.i)
        .slice(0, SHOWN_PULL_REQUESTS)
    : report.pullRequests.map((p, i) => ({ p, i }));
  const w = Math.max(...shown.map(({ p }) => p.repo.length));
  const lines = shown.map(({ p, i }) => {
    const reviews = `${p.reviews.approved} approved, ${p.reviews.changesRequested} changes requested`;
    return `  ${String(i + 1).padStart(2)}. ${p.repo.padEnd(w)}  #${String(p.number).padEnd(5)} ${p.state.padEnd(7)} checks ${p.checks.padEnd(8)} ${reviews}${p.next ? '  ← next to merge' : ''}  ${p.url}`;
  });
  if (long)
    lines.push(
      `  … and ${report.pullRequests.length - shown.length} more: lockstep prs ${report.changeId} --all (or --json)`,
    );
  const open = report.pullRequests.filter((p) => p.state === 'open' || p.state === 'draft').length;
  const deleted =
    report.deletedBranches.length > 0
      ? `\n  deleted the branch in ${long ? `${report.deletedBranches.length} repos` : report.deletedBranches.join(', ')}`
      : '';
  const l = report.landing;
  const landing = l
    ? `\n  landing ${l.status}: ${l.repos.map(describeLandingRepo).join('; ')}${l.status === 'landing' && l.next ? `; next ${l.next}` : ''}`
    : '';
  const order = long
    ? `merge order: ${report.mergeOrder.slice(0, 3).join(' → ')} → … (${report.mergeOrder.length} repos)`
    : `merge order: ${report.mergeOrder.join(' → ')}`;
  const counts = long ? `\n  ${pullRequestCounts(report.pullRequests)}` : '';
  return `${report.changeId}: ${report.pullRequests.length} pull requests, ${open} open (${order})${counts}\n${lines.join('\n')}${deleted}${landing}`;
}
