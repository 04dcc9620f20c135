/**
 * What the forge end-to-end files share: a Lockstep worker in the test process that serves the
 * fleet's forge queue (it reads the forge's token from this process's environment, as a real
 * worker does), and the cents change on a fleet, built as `lockstep run` builds its input.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { stringify } from 'yaml';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { changeInput, resolveTasks } from '../../core/inputs.ts';
import type { ChangeInput } from '../../core/change.ts';
import { createLockstepWorker, type LockstepWorker } from '../../workers/worker.ts';
import type { Harness } from './harness.ts';

export interface ForgeWorker {
  worker: LockstepWorker;
  stop(): Promise<void>;
}

/** A worker on the harness's server and queues, with the forge of `configFile`. */
export async function startForgeWorker(h: Harness, configFile: string): Promise<ForgeWorker> {
  const loaded = await loadReposConfig(configFile);
  const connection = await NativeConnection.connect({ address: h.env.address });
  const worker = await createLockstepWorker({
    connection,
    namespace: 'default',
    stateDir: h.fleet.stateDir,
    hostId: h.hostId,
    sharedTaskQueue: h.queue,
    forges: [loaded.config.forge],
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

/** The change `id` that appends "cents" to every repo's README.md, written into `root`. */
export async function centsChange(
  root: string,
  configFile: string,
  id: string,
  repos: readonly string[],
  concurrency: number,
): Promise<ChangeInput> {
  const file = join(root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: 'Prices in cents',
      description: 'Every service moves to integer cents.',
      repos: repos.map((name) => ({ name, steps: [{ name: 'note', run: 'echo cents >> README.md' }] })),
    }),
  );
  const loaded = await loadReposConfig(configFile);
  const change = await loadChange(file, loaded);
  return changeInput(loaded, change, resolveTasks(loaded, change), { concurrency });
}
