/**
 * How GitHub's answers read as landing's terms: check runs and commit statuses as one list of
 * checks (the base branch's protection marks the required ones, and a required one that never
 * reported is `missing`), and reviews as each reviewer's latest verdict.
 */
import type { LandingCheck } from '../../../core/landing.ts';
import type { BranchProtection, CheckRuns, CombinedStatus, Reviews } from './schemas.ts';

/** A check run's state: only a completed run has a verdict; neutral and skipped do not block. */
export function runState(run: { status: string; conclusion: string | null }): 'success' | 'failure' | 'pending' {
  if (run.status !== 'completed') return 'pending';
  return ['success', 'neutral', 'skipped'].includes(run.conclusion ?? '') ? 'success' : 'failure';
}

/** A commit status's state (`error` fails like `failure`). */
export function statusState(state: string): 'success' | 'failure' | 'pending' {
  return state === 'success' ? 'success' : state === 'pending' ? 'pending' : 'failure';
}

/** The contexts the branch's protection requires (the old `contexts` list and the newer `checks`). */
export function requiredContexts(protection: BranchProtection | null): string[] {
  const required = protection?.required_status_checks;
  return [...new Set([...(required?.contexts ?? []), ...(required?.checks ?? []).map((c) => c.context)])];
}

/**
 * Check runs and statuses of the head, one per name, sorted by name. GitHub lets a required
 * context pass by either a status or a check run of that name, so a success wins a tie.
 */
export function landingChecks(runs: CheckRuns, statuses: CombinedStatus, required: string[]): LandingCheck[] {
  const byName = new Map<string, LandingCheck>();
  const add = (name: string, state: LandingCheck['state'], url: string | null) => {
    if (byName.get(name)?.state === 'success') return;
    byName.set(name, { name, state, required: required.includes(name), ...(url ? { url } : {}) });
  };
  for (const run of runs.check_runs) add(run.name, runState(run), run.html_url);
  for (const status of statuses.statuses) add(status.context, statusState(status.state), status.target_url);
  for (const name of required) if (!byName.has(name)) add(name, 'missing', null);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Each reviewer's latest review state. A comment does not replace an approval or a request for
 * changes, and a pending review is not submitted yet; a dismissed one counts as none.
 */
export function latestVerdicts(reviews: Reviews): Map<string, string> {
  const latest = new Map<string, string>();
  for (const r of reviews) {
    if (!r.user || r.state === 'PENDING') continue;
    if (r.state === 'COMMENTED' && latest.has(r.user.login)) continue;
    latest.set(r.user.login, r.state);
  }
  return latest;
}
