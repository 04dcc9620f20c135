/**
 * Starting a change: validate, build its recipe images, preflight, start (or attach to) the
 * change's coordinator workflow and follow it to its result. `lockstep run`, `demo`, `eval` and
 * the bench start changes this way; what they print is theirs (cli/).
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { changeInput, gateInput, resolveTasks } from '../core/inputs.ts';
import { loadChange, loadReposConfig } from '../config/load.ts';
import { taskQueue } from '../config/paths.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeWorkflowId } from '../core/ids.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import { openTemporal, searchAttributesReady, type TemporalSession } from './connection.ts';
import { followChange, type OnProgress } from './follow.ts';
import { buildRecipeImages } from './machine/images.ts';
import { preflight } from './machine/preflight.ts';
import { withChangeTargets } from './machine/targets.ts';
import { recordedBumpVersion } from './queries.ts';
import { ensureWorker, type LocalWorker } from './worker.ts';
import { blobStore, inPages } from './pages.ts';

export interface RunOptions {
  configFile: string;
  changeFile: string;
  stateDir: string;
  /** Run again even if this change already finished (side effects are idempotent). */
  rerun: boolean;
  /** 'auto': run a worker in this process when none polls; 'never': rely on external workers. */
  worker: 'auto' | 'never';
  concurrency?: number;
  /** Approval gates for this run (default: from the config's operations.approve). */
  approve?: ('plan' | 'publish')[];
  waitOnFailureSeconds?: number;
  /** Land the linked set once it is open (`run --land`; the change file's `land: true` does too). */
  land?: boolean;
  preflight: boolean;
  log: (line: string) => void;
  onProgress?: OnProgress;
}

export async function runChange(options: RunOptions): Promise<ChangeResult> {
  const loaded = await loadReposConfig(options.configFile);
  const { change } = await withChangeTargets(
    loaded,
    await loadChange(options.changeFile, loaded),
    options.changeFile,
    options.stateDir,
  );
  const tasks = resolveTasks(loaded, change);
  // The gate may need repos outside the change: their recipe images too.
  await buildRecipeImages(
    [...tasks.map((t) => t.sandbox), ...gateInput(loaded, tasks).repos.map((r) => r.sandbox)],
    options.stateDir,
    options.log,
  );
  if (options.preflight) await preflight(loaded, tasks);

  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  let worker: LocalWorker | null = null;
  const input = changeInput(loaded, change, tasks, options);
  input.searchAttributes = await searchAttributesReady(session);
  if (input.bump) {
    // An earlier run of this change resolved the bump: every later run moves to that version.
    const version = await recordedBumpVersion(
      session.client.workflow.getHandle(changeWorkflowId(input.changeId)),
      input.bump,
    );
    if (version) {
      input.bump.version = version;
      options.log(`bump: ${input.bump.package} ${version}, as resolved by the earlier run of ${input.changeId}`);
    }
  }
  try {
    worker = await ensureWorker(
      session,
      { ...options, forges: [loaded.config.forge] },
      tasks.some((t) => t.mode === 'agent'),
    );
    return await executeChange(session, input, options, worker);
  } finally {
    await worker?.stop();
    await session.close();
  }
}

/** How long a started change may wait for a worker that the task queue lists before we run one. */
const PICKUP_GRACE_MS = 3000;

/** Starts the change (or follows the run already going), reports progress, returns its result. */
export async function executeChange(
  session: TemporalSession,
  input: ChangeInput,
  options: Pick<RunOptions, 'rerun' | 'log' | 'onProgress'> & Partial<Pick<RunOptions, 'changeFile'>>,
  local: LocalWorker,
): Promise<ChangeResult> {
  const handle = await startOrAttach(session, input, options);
  if (local.enabled && !local.worker && !(await pickedUp(handle, PICKUP_GRACE_MS))) {
    await local.start('no worker picked the change up');
  }
  return followChange(handle, options.onProgress, local.worker);
}

/** Whether a worker has run the change's first workflow task within `ms`. */
async function pickedUp(handle: WorkflowHandle, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING' || description.historyLength > 2) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startOrAttach(
  session: TemporalSession,
  input: ChangeInput,
  options: Pick<RunOptions, 'rerun' | 'log'> & Partial<Pick<RunOptions, 'changeFile'>>,
): Promise<WorkflowHandle<typeof changeWorkflow>> {
  const workflowId = changeWorkflowId(input.changeId);
  const existing = session.client.workflow.getHandle<typeof changeWorkflow>(workflowId);
  const description = await existing.describe().catch(() => null);
  if (description?.status.name === 'RUNNING') {
    options.log(`change ${input.changeId} is already running; following it`);
    return existing;
  }
  if (description?.status.name === 'COMPLETED' && !options.rerun) {
    options.log(`change ${input.changeId} already finished; showing its result (use --rerun to run it again)`);
    return existing;
  }
  try {
    // A change of many repos starts with its tasks stored by reference (client/pages.ts).
    const toStart = await inPages(blobStore(session), input, options.changeFile);
    return await session.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId,
      taskQueue: taskQueue(),
      args: [toStart],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
      memo: toStart.pages
        ? { title: input.title, repos: [], total: toStart.pages.total }
        : { title: input.title, repos: input.repos.map((r) => r.repo) },
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return existing;
    throw err;
  }
}
