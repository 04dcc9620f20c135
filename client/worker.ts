/**
 * The command's own worker: when no worker polls the task queue, `run`, `resume`, `eval`, `prs`
 * and the like run one in this process for the command's life, so the embedded defaults need
 * nothing but the CLI. It lives in client/, not cli/, because starting and following a change
 * depend on it: a change nobody picks up starts it, and its stopping ends the wait.
 */
import { NativeConnection } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { taskQueue } from '../config/paths.ts';
import type { ForgeConfig } from '../config/repos.ts';
import { installRuntime } from '../workers/runtime.ts';
import { createLockstepWorker, type LockstepWorker, type LockstepWorkerOptions } from '../workers/worker.ts';
import { connectNaming, type TemporalSession } from './connection.ts';
import { EnvironmentError } from './errors.ts';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** Whether any worker has polled the shared workflow queue recently. */
export async function workersPolling(session: TemporalSession): Promise<boolean> {
  const response = await session.client.workflowService.describeTaskQueue({
    namespace: session.namespace,
    taskQueue: { name: taskQueue(), kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (response.pollers ?? []).length > 0;
}

export interface InProcessWorker {
  worker: LockstepWorker;
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startInProcessWorker(
  session: TemporalSession,
  stateDir: string,
  log: (line: string) => void,
  forges: ForgeConfig[] = [],
  options: Pick<LockstepWorkerOptions, 'shutdownGraceSeconds' | 'activities' | 'maxConcurrentActivities'> = {},
): Promise<InProcessWorker> {
  installRuntime();
  // The same settings as the command's client: a TLS or API-key cluster serves the worker too.
  const connection = await connectNaming(session.settings, (options) => NativeConnection.connect(options));
  const worker = await createLockstepWorker({
    connection,
    namespace: session.namespace,
    stateDir,
    forges,
    address: session.address,
    log,
    ...options,
    onReaped: (names) => {
      if (names.length > 0)
        log(`removed ${names.length} orphaned sandbox${names.length === 1 ? '' : 'es'}: ${names.join(', ')}`);
    },
  });
  const done = worker.run();
  return {
    worker,
    done,
    async stop() {
      worker.shutdown();
      await done.catch(() => undefined);
      await connection.close();
    },
  };
}

/** What the command's own worker needs: the forges of the change, so it serves their queues. */
export interface WorkerOptions {
  /** 'auto': run a worker in this process when none polls; 'never': rely on external workers. */
  worker: 'auto' | 'never';
  stateDir: string;
  log: (line: string) => void;
  forges?: ForgeConfig[];
}

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
      throw new EnvironmentError(
        'this change needs a model (repos without steps): set OPENAI_API_KEY, and OPENAI_BASE_URL for a non-OpenAI endpoint (see docs/agents.md)',
      );
    }
    this.options.log(`${reason}; running one in this process`);
    this.worker = await startInProcessWorker(
      this.session,
      this.options.stateDir,
      this.options.log,
      this.options.forges,
    );
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
