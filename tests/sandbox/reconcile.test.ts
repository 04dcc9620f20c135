/**
 * The reconciler on real parts: a real Temporal server whose workflows are open or closed, real
 * containers made by createSandbox with the labels a worker gives them, real work trees. It
 * must remove exactly what no live attempt uses and nothing Temporal cannot answer for.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import Docker from 'dockerode';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { createSharedActivities, mayBeSuperseded } from '../../activities/index.ts';
import { LABEL_CHANGE, createSandbox, removeRepoSandboxes, type SandboxDeps } from '../../activities/sandbox/docker.ts';
import { reconcileOnce, startReconciler, type ReconcilerOptions } from '../../activities/sandbox/reconcile.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { workerTemporal } from '../../workers/reconciler.ts';
import { SANDBOX_UID, reconcileEverySeconds } from '../../workers/worker.ts';
import { repoWorkflowId } from '../../core/ids.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const suffix = uniqueSuffix().replace(/[^a-z0-9]/g, '');
const change = `rec${suffix}`;
const queue = `reconcile-${suffix}`;
const docker = new Docker();
let env: TestWorkflowEnvironment;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let root = '';
let cluster = '';

/** A work tree where a worker keeps one, with a file in it. */
async function tree(...parts: string[]): Promise<string> {
  const dir = join(root, ...parts);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'README.md'), 'work\n');
  return dir;
}

async function sandbox(
  repo: string,
  options: { attempt?: number; host?: string; cluster?: string; state?: string } = {},
): Promise<string> {
  const state = options.state ?? 'state';
  const workspace = repo.startsWith('gate-')
    ? await tree(state, 'gate', change, 'r1-a1', repo)
    : await tree(state, 'workspaces', change, repo);
  const deps: SandboxDeps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `test:${process.pid}`,
    workerEnv: {},
    logDir: join(root, 'logs'),
    host: options.host ?? 'lockstep-host-a',
    cluster: options.cluster ?? cluster,
  };
  return createSandbox(deps, {
    changeId: change,
    repo,
    workspace,
    sandbox: SandboxConfig.parse({ test: 'true' }),
    ...(options.attempt ? { attempt: options.attempt } : {}),
  });
}

async function openRepo(repo: string, attempt: number, hostQueue: string | null): Promise<void> {
  await env.client.workflow.start('repoStatusStub', {
    taskQueue: queue,
    workflowId: repoWorkflowId(change, repo),
    args: [attempt, hostQueue],
  });
}

/** A reconciler of this test's cluster and state folder; passes only when asked or kicked, unless told. */
function reconcilerWith(options: Partial<ReconcilerOptions> = {}) {
  return startReconciler({
    docker,
    temporal: workerTemporal(connection, 'default'),
    cluster,
    stateDir: join(root, 'state'),
    everyMs: 0,
    log: () => undefined,
    ...options,
  });
}

async function closed(workflowId: string): Promise<void> {
  const handle = await env.client.workflow.start('repoStatusStub', { taskQueue: queue, workflowId, args: [1, null] });
  await handle.terminate('closed for the test');
}

async function names(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${change}`] } });
  return list.map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id).sort();
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-reconcile-'));
  env = await startTestTemporal();
  cluster = `${env.address}/default`;
  connection = await NativeConnection.connect({ address: env.address });
  worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: queue,
    workflowsPath: fileURLToPath(new URL('./status-stub.workflow.ts', import.meta.url)),
  });
  running = worker.run();
});

afterAll(async () => {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${change}`] } });
  for (const c of list)
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  worker?.shutdown();
  await running?.catch(() => undefined);
  await connection?.close();
  await env?.teardown();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('reconciler', () => {
  it('removes sandboxes and work trees no live attempt uses, asking Temporal, and keeps the rest', async () => {
    const temporal = workerTemporal(connection, 'default');
    await closed(repoWorkflowId(change, 'done'));
    await closed(`change/${change}`);
    await closed(repoWorkflowId(change, 'foreign'));
    await openRepo('live', 2, 'lockstep-host-a');
    await openRepo('stale', 2, 'lockstep-host-a');
    await openRepo('moved', 2, 'lockstep-host-b');
    await openRepo('opening', 2, null);

    await sandbox('done', { attempt: 1 });
    await sandbox('gate-r1-a1-done');
    await sandbox('live', { attempt: 2 });
    await sandbox('stale', { attempt: 1 });
    await sandbox('moved', { attempt: 2 });
    await sandbox('opening', { attempt: 2 });
    await sandbox('unknown', { attempt: 1 });
    // Another server's worker, with its own state folder on this machine.
    await sandbox('foreign', { attempt: 1, cluster: 'elsewhere:7233/default', state: 'other-state' });
    const orphanTree = await tree('state', 'workspaces', change, 'orphan');
    await closed(repoWorkflowId(change, 'orphan'));

    const lines: string[] = [];
    const reconciler = reconcilerWith({ log: (l) => lines.push(l) });
    const removed = await reconciler.pass();
    await reconciler.stop();

    const byName = Object.fromEntries(removed.filter((r) => r.kind === 'container').map((r) => [r.name, r.reason]));
    expect(byName).toEqual({
      [`lockstep-${change}-done`]: 'workflow-closed',
      [`lockstep-${change}-gate-r1-a1-done`]: 'workflow-closed',
      [`lockstep-${change}-stale`]: 'attempt-superseded',
      [`lockstep-${change}-moved`]: 'other-host',
    });
    expect(await names()).toEqual(
      [
        `lockstep-${change}-foreign`,
        `lockstep-${change}-live`,
        `lockstep-${change}-opening`,
        `lockstep-${change}-unknown`,
      ].sort(),
    );

    const trees = removed
      .filter((r) => r.kind === 'work tree')
      .map((r) => r.name)
      .sort();
    expect(trees).toEqual(
      [join(root, 'state', 'gate', change), join(root, 'state', 'workspaces', change, 'done'), orphanTree].sort(),
    );
    expect(await exists(join(root, 'state', 'workspaces', change, 'done'))).toBe(false);
    expect(await exists(orphanTree)).toBe(false);
    expect(await exists(join(root, 'state', 'workspaces', change, 'live'))).toBe(true);
    expect(await exists(join(root, 'state', 'workspaces', change, 'stale'))).toBe(true);
    expect(await exists(join(root, 'other-state', 'workspaces', change, 'foreign'))).toBe(true);

    expect(reconciler.metrics).toMatchObject({
      passes: 1,
      failedPasses: 0,
      containersRemoved: 4,
      workTreesRemoved: 3,
      byReason: { 'workflow-closed': 5, 'attempt-superseded': 1, 'other-host': 1 },
    });
    expect(lines).toContain(
      `reconciler: removed sandbox lockstep-${change}-stale: made for attempt 1 of ${repoWorkflowId(change, 'stale')}, which is on attempt 2`,
    );
    expect(lines.filter((l) => l.startsWith('reconciler: removed')).length).toBe(7);

    // Nothing is left to judge differently: a second pass removes nothing.
    expect(await reconcileOnce({ docker, temporal, cluster, stateDir: join(root, 'state') })).toEqual([]);
  });

  it('passes on its interval, and after a kick, until stopped', async () => {
    await sandbox('later', { attempt: 1 });
    const lines: string[] = [];
    const reconciler = reconcilerWith({ everyMs: 300, kickDelayMs: 10, log: (l) => lines.push(l) });
    try {
      while (reconciler.metrics.passes < 2) await new Promise((r) => setTimeout(r, 100));
      expect(await names()).toContain(`lockstep-${change}-later`);
      await closed(repoWorkflowId(change, 'later'));
      reconciler.kick();
      while (reconciler.metrics.containersRemoved < 1) await new Promise((r) => setTimeout(r, 100));
      expect(await names()).not.toContain(`lockstep-${change}-later`);
      expect(reconciler.metrics.byReason).toEqual({ 'workflow-closed': 2 });
    } finally {
      await reconciler.stop();
    }
    const passes = reconciler.metrics.passes;
    await new Promise((r) => setTimeout(r, 700));
    expect(reconciler.metrics.passes).toBe(passes);
  });

  it('runs one pass for the kicks that come while one waits', async () => {
    const reconciler = reconcilerWith({ kickDelayMs: 200 });
    try {
      for (let i = 0; i < 5; i++) reconciler.kick();
      while (reconciler.metrics.passes < 1) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 400));
      expect(reconciler.metrics.passes).toBe(1);
      // A kick after that pass started gets a pass of its own.
      reconciler.kick();
      while (reconciler.metrics.passes < 2) await new Promise((r) => setTimeout(r, 50));
      expect(reconciler.metrics.failedPasses).toBe(0);
    } finally {
      await reconciler.stop();
    }
  });

  it('says whether an activity attempt is still current', async () => {
    const temporal = workerTemporal(connection, 'default');
    const handle = await env.client.workflow.start('repoStatusStub', {
      taskQueue: queue,
      workflowId: `current-${suffix}`,
      args: [1, null],
    });
    expect(await temporal.activityCurrent(handle.workflowId, handle.firstExecutionRunId, '1', 1)).toBe(false);
    await handle.terminate();
    expect(await temporal.activityCurrent(handle.workflowId, handle.firstExecutionRunId, '1', 1)).toBe(false);
  });

  it('asks whether an attempt is current only once the server may have given up on it', () => {
    const info = { heartbeatTimeoutMs: 30_000, startToCloseTimeoutMs: 600_000 };
    expect(mayBeSuperseded(info, 1_000, 15_999)).toBe(false);
    expect(mayBeSuperseded(info, 1_000, 16_000)).toBe(true);
    expect(mayBeSuperseded({ heartbeatTimeoutMs: undefined, startToCloseTimeoutMs: 8_000 }, 0, 4_000)).toBe(true);
    expect(mayBeSuperseded({ heartbeatTimeoutMs: undefined, startToCloseTimeoutMs: 8_000 }, 0, 3_999)).toBe(false);
    // No limit known: always ask.
    expect(mayBeSuperseded({ heartbeatTimeoutMs: undefined, startToCloseTimeoutMs: 0 }, 0, 0)).toBe(true);
  });

  it('an openWorkspace retry the server no longer waits for makes nothing', async () => {
    const asked: unknown[][] = [];
    const activities = createSharedActivities({
      stateDir: join(root, 'state'),
      docker,
      hostQueue: 'lockstep-host-a',
      forge: new LocalForge(join(root, 'forge')),
      sandboxUser: `${SANDBOX_UID}:${SANDBOX_UID}`,
      workspaceOwner: null,
      owner: `test:${process.pid}`,
      workerEnv: {},
      openai: null,
      cluster,
      activityCurrent: (...args) => {
        asked.push(args);
        return Promise.resolve(false);
      },
    });
    const input = {
      changeId: change,
      repo: 'late',
      url: join(root, 'no-remote.git'),
      baseBranch: 'main',
      branch: `lockstep/${change}`,
      startCommit: null,
      sandbox: SandboxConfig.parse({ test: 'true' }),
      attempt: 1,
    };
    const err = await new MockActivityEnvironment({ attempt: 2 })
      .run((i: typeof input) => activities.openWorkspace(i), input)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('AttemptSuperseded');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.[3]).toBe(2);
    expect(await exists(join(root, 'state', 'workspaces', change, 'late'))).toBe(false);
    expect(await names()).not.toContain(`lockstep-${change}-late`);
  });

  it('removes every sandbox of a repo by label, and reads its interval from the environment', async () => {
    await sandbox('cleanup', { attempt: 3, host: 'lockstep-host-c' });
    expect(await removeRepoSandboxes(docker, { changeId: change, repo: 'cleanup' })).toEqual([
      `lockstep-${change}-cleanup`,
    ]);
    expect(await names()).not.toContain(`lockstep-${change}-cleanup`);
    expect(reconcileEverySeconds(undefined, {})).toBe(60);
    expect(reconcileEverySeconds(undefined, { LOCKSTEP_RECONCILE_SECONDS: '2' })).toBe(2);
    expect(reconcileEverySeconds(5, { LOCKSTEP_RECONCILE_SECONDS: '2' })).toBe(5);
    expect(() => reconcileEverySeconds(undefined, { LOCKSTEP_RECONCILE_SECONDS: 'soon' })).toThrow(
      /LOCKSTEP_RECONCILE_SECONDS is "soon": set it to a number of seconds/,
    );
  });
});
