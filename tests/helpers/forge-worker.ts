/**
 * What the forge end-to-end files share: a Lockstep worker in the test process that serves the
 * fleet's forge queue (it reads the forge's token from this process's environment, as a real
 * worker does). The change they run is tests/helpers/durable.ts's smallReposChange.
 */
import { NativeConnection } from '@temporalio/worker';
import { loadReposConfig } from '../../config/load.ts';
import { createLockstepWorker, type LockstepWorker } from '../../workers/worker.ts';
import type { Harness } from './harness.ts';

export interface ForgeWorker {
  worker: LockstepWorker;
  stop(): Promise<void>;
}

/** A worker on the harness's server and queues, with the forge of each config file. */
export async function startForgeWorker(h: Harness, ...configFiles: string[]): Promise<ForgeWorker> {
  const forges = await Promise.all(configFiles.map(async (file) => (await loadReposConfig(file)).config.forge));
  const connection = await NativeConnection.connect({ address: h.env.address });
  const worker = await createLockstepWorker({
    connection,
    namespace: 'default',
    stateDir: h.fleet.stateDir,
    hostId: h.hostId,
    sharedTaskQueue: h.queue,
    forges,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
