/**
 * `lockstep revert <changeId>`: the revert of a landed change is a change of its own
 * (`<changeId>-revert`, core/revert.ts), built from what Temporal holds of the original (its
 * input and its last landing) and started like any change, so it gets a repo workflow per merged
 * repo, each repo's tests, the contract gate and linked pull requests. Asked again, it follows
 * the revert already running or shows the one that succeeded; one that did not succeed runs again.
 */
import { InputError } from '../config/load.ts';
import type { ChangeResult } from '../core/change.ts';
import { landingWorkflowId, revertChangeId } from '../core/ids.ts';
import { revertInput } from '../core/revert.ts';
import { DEFAULT_LANDING_TIMEOUT_SECONDS } from '../core/landing-plan.ts';
import { openTemporal } from './connection.ts';
import { isNotFound } from './errors.ts';
import type { OnProgress } from './follow.ts';
import { endedLanding } from './landing.ts';
import { buildRecipeImages } from './machine/images.ts';
import { changeHandle, originalInput } from './queries.ts';
import { executeChange } from './start.ts';
import { ensureWorker, type WorkerOptions } from './worker.ts';

export interface RevertOptions extends Pick<WorkerOptions, 'stateDir' | 'log' | 'worker'> {
  changeId: string;
  onProgress?: OnProgress;
  /** `revert --land`: the revert's coordinator lands its PRs once they open, as `land: true` does. */
  land?: boolean;
}

export async function revertChange(options: RevertOptions): Promise<ChangeResult> {
  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  try {
    const original = await originalInput(session, options.changeId);
    const running = await session.client.workflow
      .getHandle(landingWorkflowId(options.changeId))
      .describe()
      .then(
        (d) => d.status.name === 'RUNNING',
        (err: unknown) => {
          if (isNotFound(err)) return false;
          throw err;
        },
      );
    const input = revertInput(original, running ? 'landing' : await endedLanding(session, options.changeId));
    if ('refused' in input)
      throw new InputError([{ file: 'command line', path: '<change-id>', message: input.refused, fix: input.fix }]);
    if (options.land) input.landing = { land: true, timeoutSeconds: DEFAULT_LANDING_TIMEOUT_SECONDS };
    await buildRecipeImages(
      [...input.repos.map((t) => t.sandbox), ...(input.gate?.repos.map((r) => r.sandbox) ?? [])],
      options.stateDir,
      options.log,
    );
    // A revert that ended otherwise than succeeded (a conflict fixed by hand since) runs again.
    const before = await changeHandle(session, revertChangeId(options.changeId))
      .describe()
      .catch(() => null);
    const last = before?.status.name === 'COMPLETED' ? await changeHandle(session, input.changeId).result() : null;
    const rerun = last !== null && last.status !== 'succeeded';
    options.log(
      `reverting ${options.changeId} as change ${input.changeId}: ${input.revert?.repos.map((r) => r.repo).join(', ')}`,
    );
    const worker = await ensureWorker(session, { ...options, forges: [input.forge] }, false);
    try {
      return await executeChange(session, input, { rerun, log: options.log, onProgress: options.onProgress }, worker);
    } finally {
      await worker.stop();
    }
  } finally {
    await session.close();
  }
}
