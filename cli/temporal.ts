/**
 * Connects the CLI to Temporal. With the embedded defaults (nothing answering at a loopback
 * address), it starts the dev server on the state folder's SQLite file and stops it when done;
 * and when no worker polls the task queue, it runs one in this process for the command's life.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { join } from 'node:path';
import { taskQueue, temporalAddress, temporalNamespace } from '../config/paths.ts';
import { startDevServer, temporalAnswers, TemporalUnavailableError, type DevServer } from '../workers/dev-server.ts';
import { installRuntime } from '../workers/runtime.ts';
import { createLockstepWorker, type LockstepWorker } from '../workers/worker.ts';
import proto from '@temporalio/proto';
import type { ForgeConfig } from '../config/repos.ts';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

export interface TemporalSession {
  client: Client;
  address: string;
  namespace: string;
  devServer: DevServer | null;
  close(): Promise<void>;
}

const isLoopback = (address: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(address);

export async function openTemporal(options: { stateDir: string; startServer: boolean; log: (line: string) => void }): Promise<TemporalSession> {
  const address = temporalAddress();
  const namespace = temporalNamespace();
  let devServer: DevServer | null = null;
  if (!(await temporalAnswers(address))) {
    if (!options.startServer || !isLoopback(address)) {
      throw new TemporalUnavailableError(`no Temporal server answers at ${address}; start one with "lockstep server" or set TEMPORAL_ADDRESS`);
    }
    options.log(`starting the embedded Temporal server at ${address} (data: ${join(options.stateDir, 'temporal.db')})`);
    devServer = await startDevServer({ stateDir: options.stateDir, address, dbFile: join(options.stateDir, 'temporal.db'), namespace });
    if (devServer.uiUrl) options.log(`Temporal Web UI: ${devServer.uiUrl}`);
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    client,
    address,
    namespace,
    devServer,
    async close() {
      await connection.close();
      await devServer?.stop();
    },
  };
}

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
): Promise<InProcessWorker> {
  installRuntime();
  const connection = await NativeConnection.connect({ address: session.address });
  const worker = await createLockstepWorker({
    connection,
    namespace: session.namespace,
    stateDir,
    forges,
    address: session.address,
    log,
    onReaped: (names) => {
      if (names.length > 0) log(`removed ${names.length} orphaned sandbox${names.length === 1 ? '' : 'es'}: ${names.join(', ')}`);
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

/** The search attributes Lockstep sets on each change, so `list` can filter through visibility. */
export const SEARCH_ATTRIBUTES = { LockstepChangeId: 'Keyword', LockstepStatus: 'Keyword', LockstepRepos: 'KeywordList' } as const;

/**
 * Makes sure the server knows Lockstep's search attributes (registering them when missing, as
 * the dev server allows); false when that is not possible, so changes run without them.
 */
export async function searchAttributesReady(session: TemporalSession): Promise<boolean> {
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const types = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST };
  try {
    const known = await session.client.connection.operatorService.listSearchAttributes({ namespace: session.namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (known.customAttributes ?? {})));
    if (missing.length === 0) return true;
    await session.client.connection.operatorService.addSearchAttributes({
      namespace: session.namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
    });
    return true;
  } catch {
    return false;
  }
}
