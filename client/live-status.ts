/**
 * A running change's status as people see it: the coordinator's view (which repos run, which
 * are done, what the change waits for), with each running repo's phase and step read from the
 * repo's own workflow. Repos write their progress into their workflow's memo instead of
 * signalling the coordinator (a signal cost a workflow task on both sides and a third of a
 * repo's history; docs/performance.md), and describing a workflow is answered by the server
 * alone, so this costs the workers nothing. Runs started before that change signalled the
 * coordinator; their view already holds the phases, and the newer of the two reports wins.
 */
import { QueryRejectedError, WorkflowClient, type WorkflowHandle } from '@temporalio/client';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeStatusQuery } from '../core/messages.ts';
import { repoWorkflowId } from '../core/ids.ts';
import type { ChangeStatusView } from '../core/change.ts';
import type { RepoProgress, RepoStatusView } from '../core/repo.ts';

/**
 * The coordinator's status, with each running repo's own progress. A change in pages
 * (core/pages.ts) lists no repos in its own view: its `repos` here are those running now in its
 * running pages, read from each page workflow's own status query (a page answers like a small
 * change), so what is shown stays bounded by the change's concurrency.
 */
export async function liveStatus(
  handle: WorkflowHandle<typeof changeWorkflow>,
  timing?: StatusTiming,
): Promise<ChangeStatusView> {
  let t = performance.now();
  const lap = (key: keyof StatusTiming): void => {
    const now = performance.now();
    if (timing) timing[key] = now - t;
    t = now;
  };
  const view = await handle.query(changeStatusQuery);
  lap('coordinatorMs');
  if (!view.paged) {
    const out = await withRepoProgress(handle.client, view);
    lap('reposMs');
    return out;
  }
  const ifOpen = openOnly(handle.client);
  const pages = await Promise.all(view.paged.running.map((id) => openPageStatus(ifOpen, id).catch(() => null)));
  lap('pagesMs');
  const running = pages.flatMap((p) => p?.repos.filter((r) => r.status === 'running') ?? []);
  const out = await withRepoProgress(handle.client, { ...view, repos: running });
  lap('reposMs');
  return out;
}

/**
 * The same client (connection, namespace, data converter, interceptors), whose queries the
 * server rejects for a closed workflow (see openPageStatus). The SDK takes the condition per
 * client, not per query.
 */
export function openOnly(client: WorkflowClient): WorkflowClient {
  return new WorkflowClient({
    ...client.options,
    connection: client.connection,
    queryRejectCondition: 'NOT_OPEN',
  });
}

/**
 * A page's status, or null if the page has closed. The coordinator may still list a page that
 * has just closed, and a query to a closed workflow is answered by replaying its whole history
 * on a worker: about 2.4 s for a closed page of the light fleet's N = 10,000 run, against 0.25 s
 * for an open one (`temporal workflow query`, worker busy with the run). Through `openOnly`, the
 * server rejects such a query at once; a closed page runs no repos.
 */
export async function openPageStatus(ifOpen: WorkflowClient, workflowId: string): Promise<ChangeStatusView | null> {
  try {
    return await ifOpen.getHandle(workflowId).query(changeStatusQuery);
  } catch (err) {
    if (err instanceof QueryRejectedError) return null;
    throw err;
  }
}

/** Where a status call's time went (ms): the coordinator's query, its running pages' queries, the running repos' descriptions. */
export interface StatusTiming {
  coordinatorMs?: number;
  pagesMs?: number;
  reposMs?: number;
}

/** The view with the newest progress of each running repo (a repo that cannot be described keeps its entry). */
export async function withRepoProgress(client: WorkflowClient, view: ChangeStatusView): Promise<ChangeStatusView> {
  const repos = await Promise.all(
    view.repos.map(async (entry): Promise<RepoStatusView> => {
      if (entry.status !== 'running') return entry;
      const description = await client
        .getHandle(repoWorkflowId(view.changeId, entry.repo))
        .describe()
        .catch(() => null);
      const progress = progressOf(description?.memo?.progress, entry.repo);
      if (!progress || progress.at < (entry.phaseStartedAt ?? 0)) return entry;
      return {
        ...entry,
        phase: progress.phase,
        step: progress.step,
        attempt: progress.attempt,
        phaseStartedAt: progress.at,
      };
    }),
  );
  return { ...view, repos };
}

/** The memo's progress entry, if it is one for this repo (the memo is data a workflow wrote). */
function progressOf(value: unknown, repo: string): RepoProgress | null {
  if (typeof value !== 'object' || value === null) return null;
  const p = value as Partial<RepoProgress>;
  if (p.repo !== repo || typeof p.phase !== 'string' || typeof p.at !== 'number' || typeof p.attempt !== 'number')
    return null;
  return { repo, phase: p.phase, step: typeof p.step === 'string' ? p.step : null, attempt: p.attempt, at: p.at };
}
