/** `lockstep status`: a change read back from Temporal, as JSON or text. */
import type { ChangeStatusView } from '../core/change.ts';
import type { TemporalSession } from '../client/connection.ts';
import { readChange } from '../client/queries.ts';
import { changeExitCode, EXIT } from './errors.ts';
import { awaitingLine, gateLines, repoLine, renderResult, seconds } from './progress.ts';
import { jsonResult } from './run.ts';

export interface StatusReport {
  json: object;
  text: string;
  /** Exit code: 0 when succeeded or still running, 1 otherwise. */
  exitCode: number;
}

export async function changeStatus(session: TemporalSession, changeId: string): Promise<StatusReport> {
  const reading = await readChange(session, changeId);
  if (reading.state === 'completed') {
    const result = reading.result;
    return { json: jsonResult(result), text: renderResult(result), exitCode: changeExitCode(result) };
  }
  if (reading.state === 'running') {
    const view = reading.view;
    if (view) return { json: jsonView(view), text: renderView(view), exitCode: EXIT.ok };
    const text = `${changeId}: running, but no worker answers (start one with "lockstep worker")`;
    return { json: { changeId, status: 'running', phase: 'unknown', repos: [] }, text, exitCode: EXIT.ok };
  }
  const { temporalStatus } = reading;
  const status = temporalStatus === 'CANCELLED' ? 'cancelled' : 'failed';
  const text = `${changeId}: ${status} (workflow ${temporalStatus.toLowerCase()} at ${reading.closeTime?.toISOString() ?? '?'})`;
  return { json: { changeId, status, temporalStatus, repos: [] }, text, exitCode: EXIT.changeFailed };
}

function jsonView(view: ChangeStatusView): object {
  return {
    changeId: view.changeId,
    title: view.title,
    status: view.status,
    phase: view.phase,
    startedAt: new Date(view.startedAt).toISOString(),
    mergeOrder: view.mergeOrder,
    repos: view.repos.map((r) => ({
      repo: r.repo,
      status: r.status,
      phase: r.phase,
      step: r.step,
      attempt: r.attempt,
      branch: r.result?.branch ?? null,
      commit: r.result?.commit ?? null,
      tests: r.result?.tests ?? null,
      pullRequest: r.result?.pullRequest ?? null,
      error: r.result?.error ?? null,
      agent: r.result?.agent ?? null,
      regression: r.result?.regression ?? false,
    })),
    plan: view.plan,
    bump: view.bump ?? null,
    gate: view.gate,
    awaiting: view.awaiting,
    humans: view.humans,
  };
}

function renderView(view: ChangeStatusView): string {
  const now = Date.now();
  const width = Math.max(...view.repos.map((r) => r.repo.length), 4);
  const waiting = awaitingLine(view, now);
  const plan =
    view.plan && view.awaiting?.kind === 'approval' && view.awaiting.gate === 'plan'
      ? view.plan.repos.map((r) => `  plan ${r.repo}: ${r.task}`)
      : [];
  const diff =
    view.awaiting?.kind === 'approval' && view.awaiting.gate === 'publish'
      ? view.repos.map(
          (r) =>
            `  ${r.repo}: ${r.result?.changedFiles.length ?? 0} files changed (${(r.result?.changedFiles ?? []).slice(0, 5).join(', ')}), tests ${r.result?.tests?.passed ? 'passed' : 'not run'}`,
        )
      : [];
  return [
    `${view.changeId}: ${view.status}, ${view.phase} for ${seconds(now - view.startedAt)}`,
    ...(view.bump
      ? [`  bump ${view.bump.ecosystem} ${view.bump.package} to "${view.bump.to}": ${view.bump.version} in every repo`]
      : []),
    ...view.repos.map((r) => `  ${repoLine(r, now, width)}`),
    ...(waiting ? [`  ${waiting}`] : []),
    ...plan,
    ...diff,
    ...(view.gate ? gateLines(view.gate) : []),
  ].join('\n');
}
