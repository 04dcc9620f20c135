/**
 * Suite-wide checks around all test files: Docker and the Temporal CLI must be there (the
 * bootstrap installs them), and no Lockstep sandbox may be left behind when the suite ends.
 */
import Docker from 'dockerode';
import { temporalBinary } from '../workers/dev-server.ts';
import { LABEL_CHANGE } from '../activities/sandbox/docker.ts';

export async function setup(): Promise<void> {
  temporalBinary();
  await new Docker().ping();
}

export async function teardown(): Promise<void> {
  const left = await new Docker().listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
  if (left.length > 0) {
    throw new Error(`sandboxes left after the suite: ${left.map((c) => c.Names.join(',')).join('; ')}`);
  }
}
