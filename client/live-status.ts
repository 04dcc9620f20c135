/**
 * A running change's status as people see it: the coordinator's view (which repos run, which
 * are done, what the change waits for), with each running repo's phase and step read from the
 * repo's own workflow. Repos write their progress into their workflow's memo instead of
 * signalling the coordinator (a signal cost a workflow task on both sides and a third of a
 * repo's history; docs/performance.md), and describing a workflow is answered by the server
 * alone, so this costs the workers nothing. Runs started before that change signalled the
 * coordinator; their view already holds the phases, and the newer of the two reports wins.
 */
import type { WorkflowClient, WorkflowHandle } from '@temporalio/client';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeStatusQuery } from '../core/messages.ts';
import { repoWorkflowId } from '../core/ids.ts';
import type { ChangeStatusView } from '../core/change.ts';
import type { RepoProgress, RepoStatusView } from '../core/repo.ts';

/** The coordinator's status, with each running repo's own progress. */
export async function liveStatus(handle: WorkflowHandle<typeof changeWorkflow>): Promise<ChangeStatusView> {
  return withRepoProgress(handle.client, await handle.query(changeStatusQuery));
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
