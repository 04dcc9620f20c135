/**
 * Reading changes back from Temporal: a change's description, its input and result, its live
 * status, the bump version an earlier run resolved, and the list of changes. An id Temporal does
 * not know is a ChangeNotFoundError.
 */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeStatusQuery } from '../core/messages.ts';
import { changeWorkflowId } from '../core/ids.ts';
import type { BumpSpec, ResolvedBump } from '../core/bump.ts';
import type { ChangeInput, ChangeResult, ChangeStatusView } from '../core/change.ts';
import { searchAttributesReady, type TemporalSession } from './connection.ts';
import { ChangeNotFoundError, ChangeRefusedError, isNotFound } from './errors.ts';
import { liveStatus } from './live-status.ts';

export function changeHandle(session: TemporalSession, changeId: string): WorkflowHandle<typeof changeWorkflow> {
  return session.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(changeId));
}

/** Rethrows Temporal's not-found for this change as a ChangeNotFoundError, anything else as it is. */
export function notFoundAs(session: TemporalSession, changeId: string): (err: unknown) => never {
  return (err) => {
    if (isNotFound(err)) throw new ChangeNotFoundError(changeId, session.address);
    throw err;
  };
}

/** The change's latest run as the server describes it. */
export async function describeChange(
  session: TemporalSession,
  changeId: string,
): Promise<WorkflowExecutionDescription> {
  return changeHandle(session, changeId).describe().catch(notFoundAs(session, changeId));
}

/** The input the change's latest run started with (the first event of its history). */
export async function originalInput(session: TemporalSession, changeId: string): Promise<ChangeInput> {
  const history = await changeHandle(session, changeId).fetchHistory().catch(notFoundAs(session, changeId));
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`the history of change "${changeId}" has no input`);
  return defaultPayloadConverter.fromPayload<ChangeInput>(payload);
}

/** The change's result: its workflow's when it finished, else the one its status holds (published, waiting). */
export async function changeResult(session: TemporalSession, changeId: string): Promise<ChangeResult> {
  const handle = changeHandle(session, changeId);
  const description = await describeChange(session, changeId);
  if (description.status.name === 'COMPLETED') return handle.result();
  const view = await handle.query(changeStatusQuery).catch(() => null);
  if (view?.result) return view.result;
  throw new ChangeRefusedError(
    `change ${changeId} is ${description.status.name.toLowerCase()} and has not published its pull requests (see "lockstep status ${changeId}")`,
  );
}

/** A change as `lockstep status` shows it. */
export type ChangeReading =
  | { state: 'completed'; result: ChangeResult }
  /** `view` is null when no worker answers the status query. */
  | { state: 'running'; view: ChangeStatusView | null }
  | { state: 'closed'; temporalStatus: string; closeTime: Date | undefined };

export async function readChange(session: TemporalSession, changeId: string): Promise<ChangeReading> {
  const handle = changeHandle(session, changeId);
  const description = await describeChange(session, changeId);
  const temporalStatus = description.status.name;
  if (temporalStatus === 'COMPLETED') return { state: 'completed', result: await handle.result() };
  if (temporalStatus === 'RUNNING') return { state: 'running', view: await liveStatus(handle).catch(() => null) };
  return { state: 'closed', temporalStatus, closeTime: description.closeTime };
}

/** The version an earlier run of this change resolved for the same bump (its memo), or null. */
export async function recordedBumpVersion(handle: WorkflowHandle, bump: BumpSpec): Promise<string | null> {
  const description = await handle.describe().catch(() => null);
  const recorded = description?.memo?.bump as ResolvedBump | undefined;
  const same =
    recorded &&
    recorded.ecosystem === bump.ecosystem &&
    recorded.package === bump.package &&
    recorded.to === bump.to.trim();
  return same ? recorded.version : null;
}

export interface ListedChange {
  changeId: string;
  title: string;
  status: string;
  startedAt: string;
  closedAt: string | null;
  /** The repos by name; empty for a change in pages, which names only how many (`total`). */
  repos: string[];
  /** Repos in the change. */
  total: number;
  /** A change in pages: its repos are not recorded for search, so `--repo` cannot select it. */
  paged: boolean;
}

export interface ListFilter {
  status?: string | undefined;
  repo?: string | undefined;
}

/** Changes, newest first, filtered through Temporal visibility (search attributes) when the server has them. */
export async function listChanges(
  session: TemporalSession,
  limit: number,
  filter: ListFilter = {},
): Promise<ListedChange[]> {
  const changes: ListedChange[] = [];
  const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;
  const clauses = [`WorkflowType = 'changeWorkflow'`];
  const visibility = (filter.status || filter.repo) && (await searchAttributesReady(session));
  if (visibility && filter.status) clauses.push(`LockstepStatus = ${quote(filter.status)}`);
  if (visibility && filter.repo) clauses.push(`LockstepRepos = ${quote(filter.repo)}`);
  for await (const wf of session.client.workflow.list({ query: clauses.join(' AND ') })) {
    const memo = (wf.memo ?? {}) as { title?: string; repos?: string[]; outcome?: string; total?: number };
    const status =
      wf.status.name === 'RUNNING'
        ? 'running'
        : wf.status.name === 'COMPLETED'
          ? (memo.outcome ?? 'completed')
          : wf.status.name.toLowerCase();
    changes.push({
      changeId: wf.workflowId.replace(/^change\//, ''),
      title: memo.title ?? '',
      status,
      startedAt: wf.startTime.toISOString(),
      closedAt: wf.closeTime?.toISOString() ?? null,
      repos: memo.repos ?? [],
      total: memo.total ?? memo.repos?.length ?? 0,
      paged: typeof memo.total === 'number',
    });
    // Without search attributes (an older server), the same filter applies here instead.
    const last = changes.at(-1);
    if (
      !visibility &&
      last &&
      ((filter.status && last.status !== filter.status) || (filter.repo && !last.repos.includes(filter.repo)))
    )
      changes.pop();
    if (changes.length >= limit) break;
  }
  return changes;
}
