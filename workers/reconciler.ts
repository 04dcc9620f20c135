/**
 * What the reconciler (activities/sandbox/reconcile.ts) asks Temporal, through the worker's own
 * connection, and whether an activity's attempt is still the one the server waits for.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { TemporalFacts, WorkflowFacts } from '../activities/sandbox/reconcile.ts';
import { repoStatusQuery } from '../core/messages.ts';

/** A query goes to a workflow worker; with none polling, give up rather than hold the pass. */
const QUERY_DEADLINE_MS = 5_000;

const CLOSED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW']);

export interface WorkerTemporal extends TemporalFacts {
  /**
   * Whether activity `activityId` of the workflow run still waits for attempt `attempt`: false
   * when the run closed, the activity is no longer pending (another attempt completed it) or a
   * later attempt runs. True when the server cannot say, so doubt never stops real work.
   */
  activityCurrent(workflowId: string, runId: string, activityId: string, attempt: number): Promise<boolean>;
}

export function workerTemporal(connection: NativeConnection, namespace: string): WorkerTemporal {
  const client = new Client({ connection, namespace });
  return {
    async describe(workflowId: string): Promise<WorkflowFacts> {
      try {
        const d = await client.workflow.getHandle(workflowId).describe();
        const name = d.status.name;
        return { status: name === 'RUNNING' ? 'open' : CLOSED.has(name) ? 'closed' : 'unknown', runId: d.runId };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { status: 'missing', runId: null };
        throw err;
      }
    },
    async repoStatus(workflowId: string) {
      try {
        const view = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          client.workflow.getHandle(workflowId).query(repoStatusQuery),
        );
        return { attempt: view.attempt, hostQueue: view.hostQueue ?? null };
      } catch {
        return null;
      }
    },
    async activityCurrent(workflowId: string, runId: string, activityId: string, attempt: number): Promise<boolean> {
      try {
        const d = await client.workflow.getHandle(workflowId, runId).describe();
        if (d.status.name !== 'RUNNING') return false;
        const pending = (d.raw.pendingActivities ?? []).find((a) => a.activityId === activityId);
        return pending ? (pending.attempt ?? attempt) <= attempt : false;
      } catch (err) {
        return !(err instanceof WorkflowNotFoundError);
      }
    },
  };
}
