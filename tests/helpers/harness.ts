/**
 * The end-to-end harness every real-parts test file shares: a Temporal dev server, the seeded
 * demo fleet, optionally a Lockstep worker (and the strict fake model endpoint), the CLI run
 * against them, and change inputs built the way the CLI builds them.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { createModelClient } from '../../activities/llm/client.ts';
import { withChangeTargets } from '../../client/machine/targets.ts';
import { changeInput } from '../../core/inputs.ts';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { resolveTasks } from '../../core/inputs.ts';
import { projectRoot } from '../../config/paths.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import { createLockstepWorker, type LockstepWorker } from '../../workers/worker.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.ts';
import { seedTestFleet, type TestFleet } from './fleet.ts';
import { startTestTemporal, uniqueSuffix } from './temporal.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  env: TestWorkflowEnvironment;
  fleet: TestFleet;
  /** The shared task queue of this file (its own, so files never steal each other's work). */
  queue: string;
  hostId: string;
  worker: LockstepWorker | null;
  fake: FakeOpenAI | null;
  /** `lockstep <args>` as a user runs it, against this harness's server, state and queue. */
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The coordinator input for a change file, built as `lockstep run` builds it. */
  changeInput(changeFile: string, overrides?: { concurrency?: number }): Promise<ChangeInput>;
  /** Runs a change to its result on this harness's queue (a rerun of the same id is allowed). */
  run(input: ChangeInput): Promise<ChangeResult>;
  close(): Promise<void>;
}

export async function startHarness(
  name: string,
  options: { worker?: boolean; fakeModel?: boolean; fleet?: string } = {},
): Promise<Harness> {
  const suffix = uniqueSuffix();
  const queue = `${name}-${suffix}`;
  const hostId = `${name}-host-${suffix}`;
  const [env, fleet, fake] = await Promise.all([
    startTestTemporal(),
    seedTestFleet(options.fleet ?? null),
    options.fakeModel ? startFakeOpenAI() : Promise.resolve(null),
  ]);
  let connection: NativeConnection | null = null;
  let worker: LockstepWorker | null = null;
  let running: Promise<void> = Promise.resolve();
  if (options.worker !== false) {
    connection = await NativeConnection.connect({ address: env.address });
    worker = await createLockstepWorker({
      connection,
      namespace: 'default',
      stateDir: fleet.stateDir,
      hostId,
      address: env.address,
      sharedTaskQueue: queue,
      ...(fake
        ? {
            openai: createModelClient({ apiKey: fake.apiKey, baseURL: fake.baseURL, maxRetries: 1, timeoutMs: 30_000 }),
          }
        : {}),
    });
    running = worker.run();
  }
  return {
    env,
    fleet,
    queue,
    hostId,
    worker,
    fake,
    cli: (args, extraEnv = {}) =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          [join(projectRoot, 'bin', 'lockstep.js'), ...args],
          {
            cwd: fleet.root,
            env: {
              ...process.env,
              TEMPORAL_ADDRESS: env.address,
              LOCKSTEP_STATE_DIR: fleet.stateDir,
              LOCKSTEP_TASK_QUEUE: queue,
              CI: 'true',
              ...extraEnv,
            },
            maxBuffer: 16 * 1024 * 1024,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      }),
    async changeInput(changeFile, overrides = {}) {
      const loaded = await loadReposConfig(fleet.configFile);
      const { change } = await withChangeTargets(
        loaded,
        await loadChange(changeFile, loaded),
        changeFile,
        fleet.stateDir,
      );
      return changeInput(loaded, change, resolveTasks(loaded, change), { concurrency: overrides.concurrency ?? 3 });
    },
    run: (input) =>
      env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
        workflowId: changeWorkflowId(input.changeId),
        taskQueue: queue,
        args: [input],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      }),
    async close() {
      worker?.shutdown();
      await running;
      await connection?.close();
      await env.teardown();
      await fake?.close();
      await fleet.cleanup();
    },
  };
}
