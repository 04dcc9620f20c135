/**
 * `lockstep land <changeId>` (and `run --land`, `land: true`): the landing workflow of a change
 * that published its linked set, started once per change id (a second `land` while one runs
 * follows it; after one ended, starts the next run, which finds merged PRs merged), followed to
 * its result with its status every half second.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { taskQueue } from '../config/paths.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import { landingWorkflowId } from '../core/ids.ts';
import { landingArgs, type LandingInput, type LandingView } from '../core/landing-plan.ts';
import { landingStatusQuery } from '../core/messages.ts';
import type { landingWorkflow } from '../workflows/landing.ts';
import { openTemporal, type TemporalSession } from './connection.ts';
import { ChangeRefusedError, isNotFound } from './errors.ts';
import { followWorkflow } from './follow.ts';
import { changeResult, originalInput } from './queries.ts';
import { ensureWorker, type InProcessWorker } from './worker.ts';

export interface LandOptions {
  stateDir: string;
  changeId: string;
  worker: 'auto' | 'never';
  log: (line: string) => void;
  onProgress?: (view: LandingView) => void;
  /** Overrides the change file's `landing.timeout` (seconds). */
  timeoutSeconds?: number;
  /** Waits between looks at a waiting PR (seconds; tests shorten them). */
  pollSeconds?: { first: number; max: number };
  /** The change's coordinator started the landing (`land: true`, `run --land`): follow that one. */
  startedByChange?: boolean;
}

/** The landing input of a change that published its PRs; refused (nothing started) otherwise. */
export function landingInput(
  input: ChangeInput,
  result: ChangeResult,
  options: Pick<LandOptions, 'timeoutSeconds' | 'pollSeconds'> = {},
): LandingInput {
  const args = landingArgs(input, result, options);
  if ('refused' in args) throw new ChangeRefusedError(args.refused);
  return args;
}

export async function landChange(options: LandOptions): Promise<LandingView> {
  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  try {
    const input = await originalInput(session, options.changeId);
    const args = landingInput(input, await changeResult(session, options.changeId), options);
    const worker = await ensureWorker(
      session,
      { worker: options.worker, stateDir: options.stateDir, log: options.log, forges: [input.forge] },
      false,
    );
    try {
      if (options.startedByChange) {
        const started = session.client.workflow.getHandle<typeof landingWorkflow>(landingWorkflowId(options.changeId));
        if (await exists(started)) return await followLanding(started, options.onProgress, worker.worker);
      }
      const before = await endedLanding(session, options.changeId);
      if (before) args.earlier = before.repos.map((r) => ({ repo: r.repo, head: r.head, testedHead: r.testedHead }));
      return await startLanding(session, args, options, worker.worker);
    } finally {
      await worker.stop();
    }
  } finally {
    await session.close();
  }
}

/** Starts landing (or follows the one running) and follows it to its result. */
export async function startLanding(
  session: TemporalSession,
  args: LandingInput,
  options: Pick<LandOptions, 'log' | 'onProgress'>,
  worker: InProcessWorker | null,
): Promise<LandingView> {
  const handle = await session.client.workflow.start<typeof landingWorkflow>('landingWorkflow', {
    workflowId: landingWorkflowId(args.changeId),
    taskQueue: taskQueue(),
    args: [args],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return followLanding(handle, options.onProgress, worker);
}

const exists = (handle: WorkflowHandle): Promise<boolean> =>
  handle.describe().then(
    () => true,
    (err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    },
  );

/** The result of the change's last landing, when one ran and ended (its result needs no worker). */
export async function endedLanding(session: TemporalSession, changeId: string): Promise<LandingView | null> {
  const handle = session.client.workflow.getHandle<typeof landingWorkflow>(landingWorkflowId(changeId));
  const description = await handle.describe().catch((err: unknown) => {
    if (isNotFound(err)) return null;
    throw err;
  });
  if (description?.status.name !== 'COMPLETED') return null;
  return handle.result();
}

/** Where the landing of a change stands, or null when it never started. */
export async function landingStatus(session: TemporalSession, changeId: string): Promise<LandingView | null> {
  try {
    return await session.client.workflow.getHandle(landingWorkflowId(changeId)).query(landingStatusQuery);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

function followLanding(
  handle: WorkflowHandle<typeof landingWorkflow>,
  onProgress: LandOptions['onProgress'],
  worker: InProcessWorker | null,
): Promise<LandingView> {
  return followWorkflow(
    handle,
    onProgress ? async () => onProgress(await handle.query(landingStatusQuery)) : undefined,
    worker,
    `the worker stopped; the landing of ${handle.workflowId.replace(/^change\/|\/land$/g, '')} is kept by Temporal and continues when a worker runs ("lockstep land" again, or "lockstep worker")`,
  );
}
