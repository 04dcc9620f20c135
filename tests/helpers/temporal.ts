/** A real Temporal dev server (the installed CLI binary), one per test file, in memory. */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort, temporalBinary } from '../../workers/dev-server.ts';
import { installRuntime } from '../../workers/runtime.ts';

export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  installRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBinary() },
      ip: '127.0.0.1',
      port: await freePort(),
      ui: false,
      extraArgs: ['--log-level', 'error'],
    },
  });
}

/** Unique names per test file, so files running side by side never share queues or ids. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
