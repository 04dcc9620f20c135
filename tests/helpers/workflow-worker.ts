/**
 * A real Temporal dev server and one worker with the whole workflow bundle and the given
 * (injected) activities on `queue`, started before a workflow test file and stopped after it.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { workflowBundle } from '../../workers/worker.ts';
import { startTestTemporal } from './temporal.ts';

/** Registers the file's set-up and tear-down; the returned getter gives the server once it runs. */
export function workflowWorker(queue: string, activities: object): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> = Promise.resolve();
  beforeAll(async () => {
    env = await startTestTemporal();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: queue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the Temporal test server is not started yet (use it inside a test)');
    return env;
  };
}
