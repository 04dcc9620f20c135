/**
 * `lockstep run`: validate, preflight, start (or attach to) the change's coordinator workflow,
 * show progress, print the result. Used by `lockstep demo` too.
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { changeInput, gateInput, resolveTasks } from '../core/inputs.ts';
import { loadChange, loadReposConfig } from '../config/load.ts';
import { taskQueue } from '../config/paths.ts';
import type { ForgeConfig } from '../config/repos.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { recordedBumpVersion, withBumpTargets } from './bump.ts';
import { changeWorkflowId } from '../core/ids.ts';
import type { ChangeInput, ChangeResult, ChangeStatusView } from '../core/change.ts';
import { EnvironmentError, EXIT, InterruptedError } from './errors.ts';
import { buildRecipeImages } from './images.ts';
import { preflight } from './preflight.ts';
import { liveStatus } from './live-status.ts';
import { ProgressPrinter, renderResult } from './progress.ts';
import { openTemporal, searchAttributesReady, startInProcessWorker, workersPolling, type InProcessWorker, type TemporalSession } from './temporal.ts';

export interface RunOptions {
  configFile: string;
  changeFile: string;
  stateDir: string;
  json: boolean;
  /** Run again even if this change already finished (side effects are idempotent). */
  rerun: boolean;
  /** 'auto': run a worker in this process when none polls; 'never': rely on external workers. */
  worker: 'auto' | 'never';
  concurrency?: number;
  /** Approval gates for this run (default: from the config's operations.approve). */
  approve?: ('plan' | 'publish')[];
  waitOnFailureSeconds?: number;
  preflight: boolean;
  log: (line: string) => void;
}

export async function runChange(options: RunOptions): Promise<{ result: ChangeResult; exitCode: number }> {
  const loaded = await loadReposConfig(options.configFile);
  const { change } = await withBumpTargets(loaded, await loadChange(options.changeFile, loaded), options.changeFile);
  const tasks = resolveTasks(loaded, change);
  // The gate may need repos outside the change: their recipe images too.
  await buildRecipeImages([...tasks.map((t) => t.sandbox), ...gateInput(loaded, tasks).repos.map((r) => r.sandbox)], options.stateDir, options.log);
  if (options.preflight) await preflight(loaded, tasks);

  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  let worker: LocalWorker | null = null;
  const input = changeInput(loaded, change, tasks, options);
  input.searchAttributes = await searchAttributesReady(session);
  if (input.bump) {
    // An earlier run of this change resolved the bump: every later run moves to that version.
    const version = await recordedBumpVersion(session.client.workflow.getHandle(changeWorkflowId(input.changeId)), input.bump);
    if (version) {
      input.bump.version = version;
      options.log(`bump: ${input.bump.package} ${version}, as resolved by the earlier run of ${input.changeId}`);
    }
  }
  try {
    worker = await ensureWorker(session, { ...options, forges: [loaded.config.forge] }, tasks.some((t) => t.mode === 'agent'));
    const result = await executeChange(session, input, options, worker);
    return { result, exitCode: result.status === 'succeeded' ? EXIT.ok : EXIT.changeFailed };
  } finally {
    await worker?.stop();
    await session.close();
  }
}

/** What the command's own worker needs: the forges of the change, so it serves their queues. */
type WorkerOptions = Pick<RunOptions, 'worker' | 'stateDir' | 'log'> & { forges?: ForgeConfig[] };

/**
 * The worker of this command, started only when needed: at once when no worker polls, or later
 * when the task queue lists pollers but none picks the change up (Temporal keeps listing a
 * stopped worker for about a minute).
 */
export class LocalWorker {
  worker: InProcessWorker | null = null;

  constructor(
    private readonly session: TemporalSession,
    private readonly options: WorkerOptions,
    private readonly needsModel: boolean,
  ) {}

  get enabled(): boolean {
    return this.options.worker === 'auto';
  }

  async start(reason: string): Promise<void> {
    if (this.worker || !this.enabled) return;
    if (this.needsModel && !process.env.OPENAI_API_KEY) {
      throw new EnvironmentError('this change needs a model (repos without steps): set OPENAI_API_KEY, and OPENAI_BASE_URL for a non-OpenAI endpoint (see docs/agents.md)');
    }
    this.options.log(`${reason}; running one in this process`);
    this.worker = await startInProcessWorker(this.session, this.options.stateDir, this.options.log, this.options.forges);
  }

  async stop(): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
  }
}

export async function ensureWorker(
  session: TemporalSession,
  options: WorkerOptions,
  needsModel: boolean,
): Promise<LocalWorker> {
  const local = new LocalWorker(session, options, needsModel);
  if (local.enabled && !(await workersPolling(session))) await local.start('no worker is polling');
  return local;
}

/** How long a started change may wait for a worker that the task queue lists before we run one. */
const PICKUP_GRACE_MS = 3000;

/** Starts the change (or follows the run already going), shows progress, returns its result. */
export async function executeChange(
  session: TemporalSession,
  input: ChangeInput,
  options: Pick<RunOptions, 'rerun' | 'json' | 'log'>,
  local: LocalWorker,
): Promise<ChangeResult> {
  const handle = await startOrAttach(session, input, options);
  if (local.enabled && !local.worker && !(await pickedUp(handle, PICKUP_GRACE_MS))) {
    await local.start('no worker picked the change up');
  }
  return follow(handle, options, local.worker);
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

async function startOrAttach(session: TemporalSession, input: ChangeInput, options: Pick<RunOptions, 'rerun' | 'log'>): Promise<WorkflowHandle<typeof changeWorkflow>> {
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
    return await session.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId,
      taskQueue: taskQueue(),
      args: [input],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'USE_EXISTING',
      memo: { title: input.title, repos: input.repos.map((r) => r.repo) },
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return existing;
    throw err;
  }
}

async function follow(handle: WorkflowHandle<typeof changeWorkflow>, options: Pick<RunOptions, 'json'>, worker: InProcessWorker | null): Promise<ChangeResult> {
  const printer = options.json ? null : new ProgressPrinter(process.stderr);
  let stop = false;
  const poll = async (): Promise<void> => {
    while (!stop) {
      try {
        const view: ChangeStatusView = await liveStatus(handle);
        printer?.update(view);
      } catch {
        // Not started yet, or between workers: the next poll will tell.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const polling = printer ? poll() : Promise.resolve();
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

export function printResult(result: ChangeResult, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(jsonResult(result), null, 2)}\n`);
  else process.stderr.write(`${renderResult(result)}\n`);
}

/** The JSON document of `run --json` and `status --json`. */
export function jsonResult(result: ChangeResult): object {
  return {
    changeId: result.changeId,
    title: result.title,
    status: result.status,
    summary: result.summary,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    mergeOrder: result.mergeOrder,
    metrics: result.metrics,
    plan: result.plan,
    gate: result.gate ?? null,
    bump: result.bump ?? null,
    repos: result.repos.map((r) => ({
      repo: r.repo,
      status: r.status,
      mode: r.mode ?? 'steps',
      branch: r.branch,
      baseCommit: r.baseCommit,
      commit: r.commit,
      changedFiles: r.changedFiles,
      tests: r.tests,
      steps: r.steps,
      attempts: r.attempts,
      durationMs: r.durationMs,
      pullRequest: r.pullRequest,
      error: r.error,
      agent: r.agent ?? null,
      baselineTests: r.baselineTests ?? null,
      regression: r.regression ?? false,
      bump: r.bump ?? null,
    })),
  };
}
