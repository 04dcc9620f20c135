/**
 * Connects the CLI to Temporal. With the embedded defaults (nothing answering at a loopback
 * address), it starts the dev server on the state folder's SQLite file and stops it when done;
 * and when no worker polls the task queue, it runs one in this process for the command's life
 * (worker.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { join } from 'node:path';
import { temporalAddress, temporalNamespace } from '../config/paths.ts';
import { startDevServer, temporalAnswers, TemporalUnavailableError, type DevServer } from '../workers/dev-server.ts';
import proto from '@temporalio/proto';

export interface TemporalSession {
  client: Client;
  address: string;
  namespace: string;
  devServer: DevServer | null;
  close(): Promise<void>;
}

const isLoopback = (address: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(address);

export async function openTemporal(options: {
  stateDir: string;
  startServer: boolean;
  log: (line: string) => void;
}): Promise<TemporalSession> {
  const address = temporalAddress();
  const namespace = temporalNamespace();
  let devServer: DevServer | null = null;
  if (!(await temporalAnswers(address))) {
    if (!options.startServer || !isLoopback(address)) {
      throw new TemporalUnavailableError(
        `no Temporal server answers at ${address}; start one with "lockstep server" or set TEMPORAL_ADDRESS`,
      );
    }
    options.log(`starting the embedded Temporal server at ${address} (data: ${join(options.stateDir, 'temporal.db')})`);
    devServer = await startDevServer({
      stateDir: options.stateDir,
      address,
      dbFile: join(options.stateDir, 'temporal.db'),
      namespace,
    });
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

/** The search attributes Lockstep sets on each change, so `list` can filter through visibility. */
export const SEARCH_ATTRIBUTES = {
  LockstepChangeId: 'Keyword',
  LockstepStatus: 'Keyword',
  LockstepRepos: 'KeywordList',
} as const;

/**
 * Makes sure the server knows Lockstep's search attributes (registering them when missing, as
 * the dev server allows); false when that is not possible, so changes run without them.
 */
export async function searchAttributesReady(session: TemporalSession): Promise<boolean> {
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const types = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  try {
    const known = await session.client.connection.operatorService.listSearchAttributes({
      namespace: session.namespace,
    });
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
