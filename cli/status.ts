/** `lockstep status` and `lockstep list`: read changes back from Temporal. */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeWorkflowId } from '../core/ids.ts';
import type { ChangeResult, ChangeStatusView } from '../core/change.ts';
import { liveStatus } from './live-status.ts';
import { awaitingLine, gateLines, repoLine, renderResult, seconds } from './progress.ts';
import { jsonResult } from './run.ts';
import { searchAttributesReady, type TemporalSession } from './temporal.ts';

export interface StatusReport {
  json: object;
  text: string;
  /** Exit code: 0 when succeeded or still running, 1 otherwise. */
  exitCode: number;
}

export async function changeStatus(session: TemporalSession, changeId: string): Promise<StatusReport> {
  const handle = session.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(changeId));
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no change "${changeId}" on ${session.address} (see "lockstep list")`);
    throw err;
  }
  const temporalStatus = description.status.name;
  if (temporalStatus === 'COMPLETED') {
    const result: ChangeResult = await handle.result();
    return { json: jsonResult(result), text: renderResult(result), exitCode: result.status === 'succeeded' ? 0 : 1 };
  }
  if (temporalStatus === 'RUNNING') {
    try {
      const view = await liveStatus(handle);
      return { json: jsonView(view), text: renderView(view), exitCode: 0 };
    } catch {
      const text = `${changeId}: running, but no worker answers (start one with "lockstep worker")`;
      return { json: { changeId, status: 'running', phase: 'unknown', repos: [] }, text, exitCode: 0 };
    }
  }
  const status = temporalStatus === 'CANCELLED' ? 'cancelled' : 'failed';
  const text = `${changeId}: ${status} (workflow ${temporalStatus.toLowerCase()} at ${description.closeTime?.toISOString() ?? '?'})`;
  return { json: { changeId, status, temporalStatus, repos: [] }, text, exitCode: 1 };
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
  const plan = view.plan && view.awaiting?.kind === 'approval' && view.awaiting.gate === 'plan' ? view.plan.repos.map((r) => `  plan ${r.repo}: ${r.task}`) : [];
  const diff =
    view.awaiting?.kind === 'approval' && view.awaiting.gate === 'publish'
      ? view.repos.map((r) => `  ${r.repo}: ${r.result?.changedFiles.length ?? 0} files changed (${(r.result?.changedFiles ?? []).slice(0, 5).join(', ')}), tests ${r.result?.tests?.passed ? 'passed' : 'not run'}`)
      : [];
  return [
    `${view.changeId}: ${view.status}, ${view.phase} for ${seconds(now - view.startedAt)}`,
    ...(view.bump ? [`  bump ${view.bump.ecosystem} ${view.bump.package} to "${view.bump.to}": ${view.bump.version} in every repo`] : []),
    ...view.repos.map((r) => `  ${repoLine(r, now, width)}`),
    ...(waiting ? [`  ${waiting}`] : []),
    ...plan,
    ...diff,
    ...(view.gate ? gateLines(view.gate) : []),
  ].join('\n');
}

export interface ListedChange {
  changeId: string;
  title: string;
  status: string;
  startedAt: string;
  closedAt: string | null;
  repos: string[];
}

export interface ListFilter {
  status?: string | undefined;
  repo?: string | undefined;
}

/** Changes, newest first, filtered through Temporal visibility (search attributes) when the server has them. */
export async function listChanges(session: TemporalSession, limit: number, filter: ListFilter = {}): Promise<ListedChange[]> {
  const changes: ListedChange[] = [];
  const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;
  const clauses = [`WorkflowType = 'changeWorkflow'`];
  const visibility = (filter.status || filter.repo) && (await searchAttributesReady(session));
  if (visibility && filter.status) clauses.push(`LockstepStatus = ${quote(filter.status)}`);
  if (visibility && filter.repo) clauses.push(`LockstepRepos = ${quote(filter.repo)}`);
  for await (const wf of session.client.workflow.list({ query: clauses.join(' AND ') })) {
    const memo = (wf.memo ?? {}) as { title?: string; repos?: string[]; outcome?: string };
    const status = wf.status.name === 'RUNNING' ? 'running' : wf.status.name === 'COMPLETED' ? (memo.outcome ?? 'completed') : wf.status.name.toLowerCase();
    changes.push({
      changeId: wf.workflowId.replace(/^change\//, ''),
      title: memo.title ?? '',
      status,
      startedAt: wf.startTime.toISOString(),
      closedAt: wf.closeTime?.toISOString() ?? null,
      repos: memo.repos ?? [],
    });
    // Without search attributes (an older server), the same filter applies here instead.
    const last = changes.at(-1);
    if (!visibility && last && ((filter.status && last.status !== filter.status) || (filter.repo && !last.repos.includes(filter.repo)))) changes.pop();
    if (changes.length >= limit) break;
  }
  return changes;
}
