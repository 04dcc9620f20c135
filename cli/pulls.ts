/** `lockstep prs|publish|close`: the linked PR set of a change as a table. */
import type { PullRequestsReport } from '../client/pulls.ts';
import { describeLandingRepo } from '../core/landing-plan.ts';

export function renderPullRequests(report: PullRequestsReport): string {
  if (report.pullRequests.length === 0) return `${report.changeId}: no pull requests`;
  const w = Math.max(...report.pullRequests.map((p) => p.repo.length));
  const lines = report.pullRequests.map((p, i) => {
    const reviews = `${p.reviews.approved} approved, ${p.reviews.changesRequested} changes requested`;
    return `  ${String(i + 1).padStart(2)}. ${p.repo.padEnd(w)}  #${String(p.number).padEnd(5)} ${p.state.padEnd(7)} checks ${p.checks.padEnd(8)} ${reviews}${p.next ? '  ← next to merge' : ''}  ${p.url}`;
  });
  const open = report.pullRequests.filter((p) => p.state === 'open' || p.state === 'draft').length;
  const deleted =
    report.deletedBranches.length > 0 ? `\n  deleted the branch in ${report.deletedBranches.join(', ')}` : '';
  const l = report.landing;
  const landing = l
    ? `\n  landing ${l.status}: ${l.repos.map(describeLandingRepo).join('; ')}${l.status === 'landing' && l.next ? `; next ${l.next}` : ''}`
    : '';
  return `${report.changeId}: ${report.pullRequests.length} pull requests, ${open} open (merge order: ${report.mergeOrder.join(' → ')})\n${lines.join('\n')}${deleted}${landing}`;
}
