/**
 * Following a started change (or its landing): its result, and meanwhile its status every half
 * second for the caller to show (cli/progress.ts draws it). Nothing here prints.
 */
import type { Workflow, WorkflowHandle, WorkflowResultType } from '@temporalio/client';
import type { changeWorkflow } from '../workflows/change.ts';
import type { ChangeResult, ChangeStatusView } from '../core/change.ts';
import { InterruptedError } from './errors.ts';
import { liveStatus } from './live-status.ts';
import type { InProcessWorker } from './worker.ts';

/** Called with each status the poll reads while the change runs; without it, nothing is polled. */
export type OnProgress = (view: ChangeStatusView) => void;

export async function followChange(
  handle: WorkflowHandle<typeof changeWorkflow>,
  onProgress: OnProgress | undefined,
  worker: InProcessWorker | null,
): Promise<ChangeResult> {
  return followWorkflow(
    handle,
    onProgress ? async () => onProgress(await liveStatus(handle)) : undefined,
    worker,
    // If our in-process worker stops (Ctrl-C), the change is safe in Temporal: say how to go on
    // instead of waiting for a result that no worker will produce.
    `the worker stopped; change ${handle.workflowId.replace(/^change\//, '')} is kept by Temporal and continues when a worker runs ("lockstep run" again, or "lockstep worker")`,
  );
}

/**
 * A started workflow's result, calling `show` every half second meanwhile (a failed read is
 * skipped: not started yet, or between workers). When our in-process worker stops first, says
 * `stoppedMessage` instead of waiting for a result no worker will produce.
 */
export async function followWorkflow<W extends Workflow>(
  handle: WorkflowHandle<W>,
  show: (() => Promise<void>) | undefined,
  worker: InProcessWorker | null,
  stoppedMessage: string,
): Promise<WorkflowResultType<W>> {
  let stop = false;
  const poll = async (read: () => Promise<void>): Promise<void> => {
    while (!stop) {
      await read().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const polling = show ? poll(show) : Promise.resolve();
  try {
    const resultPromise = handle.result();
    if (!worker) return await resultPromise;
    const stopped = worker.done.then(() => {
      throw new InterruptedError(stoppedMessage);
    });
    return await Promise.race([resultPromise, stopped]);
  } finally {
    stop = true;
    await polling;
  }
}
