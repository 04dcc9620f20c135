/** `lockstep status`: a change read back from Temporal, as JSON or text. */
import type { ChangeStatusView } from '../core/change.ts';
import type { TemporalSession } from '../client/connection.ts';
import { readChange } from '../client/queries.ts';
import { changeExitCode, EXIT } from './errors.ts';
import { awaitingLine, gateLines, repoLine, renderResult, seconds } from './progress.ts';
import { jsonResult } from './run.ts';
import { failureLine, renderPagedView } from './pages.ts';
import type { RepoReading } from '../client/repo-status.ts';
import type { SmallResult } from '../core/pages.ts';

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
    // A change in pages: its counts, first failures and pages; `repos` are those running now.
    paged: view.paged ?? null,
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
  if (view.paged) {
    const waiting = awaitingLine(view, now);
    return [
      ...renderPagedView(view, view.paged, now),
      ...(waiting ? [`  ${waiting}`] : []),
      ...(view.gate ? gateLines(view.gate) : []),
    ].join('\n');
  }
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

/** `status <id> --failed`: every failed repo, one line each. */
export function renderFailures(changeId: string, failures: SmallResult[]): string {
  if (failures.length === 0) return `${changeId}: no repo failed`;
  return [`${changeId}: ${failures.length} failed`, ...failures.map((f) => `  ${failureLine(f)}`)].join('\n');
}

/** `status <id> --repo <name>`: where the repo stands, from the change and from its own workflow. */
export function renderRepo(reading: RepoReading): string {
  const r = reading.result;
  const w = reading.workflow;
  const lines = [
    `${reading.changeId} / ${reading.repo}${reading.page !== null ? ` (page ${reading.page})` : ''}: ${r?.status ?? w?.status ?? 'unknown'}`,
  ];
  if (r) {
    lines.push(
      `  ${r.branch || '-'}@${r.commit ? r.commit.slice(0, 12) : '-'}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}, ${seconds(r.durationMs)}`,
    );
    if (r.error) lines.push(`  failed at ${r.error.step}: ${r.error.message}`);
  }
  if (reading.pullRequest) lines.push(`  PR #${reading.pullRequest.number} ${reading.pullRequest.url}`);
  if (w) {
    const progress = w.progress as { phase?: string; step?: string | null } | null;
    const now =
      w.status === 'running' && progress?.phase
        ? `, now ${progress.phase}${progress.step ? ` "${progress.step}"` : ''}`
        : '';
    lines.push(`  workflow ${w.workflowId}: ${w.status}${now}`);
    const tail = w.result?.error?.outputTail.trimEnd().split('\n').slice(-15) ?? [];
    if (tail.length > 0 && tail[0] !== '') lines.push(...tail.map((l) => `    │ ${l}`));
  }
  return lines.join('\n');
}
