/**
 * Suite-wide checks around all test files: Docker and the Temporal CLI must be there (the
 * bootstrap installs them), and no Lockstep sandbox of this suite may be left behind when it
 * ends. Every temporary folder of the suite (fleets, state, workspaces) lives under one root of
 * its own (TMPDIR, inherited by the test processes), so the check counts this suite's sandboxes
 * only, and another checkout's suite can run beside it on the same Docker engine.
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { temporalBinary } from '../workers/dev-server.ts';
import { LABEL_CHANGE, LABEL_WORKSPACE } from '../activities/sandbox/docker.ts';

let suiteRoot = '';

export async function setup(): Promise<void> {
  temporalBinary();
  await new Docker().ping();
  suiteRoot = await mkdtemp(join(tmpdir(), 'lockstep-suite-'));
  process.env.TMPDIR = suiteRoot;
}

export async function teardown(): Promise<void> {
  // Setup failed before the suite had a root: there is nothing of this suite to count.
  if (!suiteRoot) return;
  const all = await new Docker().listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
  const left = all.filter((c) => (c.Labels[LABEL_WORKSPACE] ?? '').startsWith(suiteRoot + sep));
  if (left.length > 0) {
    throw new Error(`sandboxes left after the suite: ${left.map((c) => c.Names.join(',')).join('; ')}`);
  }
  await rm(suiteRoot, { recursive: true, force: true });
}
