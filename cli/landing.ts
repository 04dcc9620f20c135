/** What `lockstep land` shows: a line per change of where each PR stands, then the result. */
import { describeLandingRepo, type LandingView } from '../core/landing-plan.ts';
import { seconds } from './progress.ts';

/** One line on stderr each time a PR's standing changes: which repo, which step, since when. */
export function landingProgressOnStderr(): (view: LandingView) => void {
  const started = Date.now();
  const shown = new Map<string, { line: string; since: number }>();
  return (view) => {
    for (const r of view.repos) {
      const line = describeLandingRepo(r);
      const before = shown.get(r.repo);
      if (before?.line === line) continue;
      const now = Date.now();
      const took = before ? ` (after ${seconds(now - before.since)})` : '';
      shown.set(r.repo, { line, since: now });
      process.stderr.write(
        `[${seconds(now - started).padStart(7)}] step ${r.step + 1}/${view.steps.length}  ${line}${took}\n`,
      );
    }
  };
}

export function renderLanding(view: LandingView): string {
  const w = Math.max(...view.repos.map((r) => r.repo.length));
  const lines = view.repos.map((r) => {
    const merge = r.merge
      ? `${r.merge.found ? 'found merged' : 'merged'} at ${r.merge.sha.slice(0, 12)} (${r.merge.method}) ${r.merge.at}${r.checksWaitedFor.length > 0 ? `; waited for ${r.checksWaitedFor.join(', ')}` : ''}`
      : (r.reason ?? r.state);
    return `  ${String(r.step + 1).padStart(2)}. ${r.repo.padEnd(w)}  #${String(r.number).padEnd(5)} ${r.state.padEnd(8)} ${merge}`;
  });
  const next = view.next ? `\n  next: ${view.next}` : '';
  return `${view.changeId}: ${view.status} — ${view.summary}\n${lines.join('\n')}${view.status === 'landing' ? next : ''}`;
}
