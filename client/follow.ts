/**
 * Following a started change: its result, and meanwhile its status every half second for the
 * caller to show (cli/progress.ts draws it). Nothing here prints.
 */
import type { WorkflowHandle } from '@temporalio/client';
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
  let stop = false;
  const poll = async (show: OnProgress): Promise<void> => {
    while (!stop) {
      try {
        const view: ChangeStatusView = await liveStatus(handle);
        show(view);
      } catch {
        // Not started yet, or between workers: the next poll will tell.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const polling = onProgress ? poll(onProgress) : Promise.resolve();
  try {
    const resultPromise = handle.result();
    if (!worker) return await resultPromise;
    // If our in-process worker stops (Ctrl-C), the change is safe in Temporal: say how to go on
    // instead of waiting for a result that no worker will produce.
    const stopped = worker.done.then(() => {
      throw new InterruptedError(
        `the worker stopped; change ${handle.workflowId.replace(/^change\//, '')} is kept by Temporal and continues when a worker runs ("lockstep run" again, or "lockstep worker")`,
      );
    });
    return await Promise.race([resultPromise, stopped]);
  } finally {
    stop = true;
    await polling;
  }
}
