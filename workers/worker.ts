/**
 * A Lockstep worker: polls the shared task queue (workflows, workspace preparation, forge
 * calls) and this host's own queue (sandbox, git commit/push), sweeps orphaned sandboxes left
 * by dead workers before it takes any work, and reconciles this host's sandboxes and work trees
 * against Temporal while it runs.
 */
import {
  Runtime,
  Worker,
  bundleWorkflowCode,
  type BundleOptions,
  type NativeConnection,
  type WorkflowBundle,
} from '@temporalio/worker';
import Docker from 'dockerode';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createForgeActivities,
  createHostActivities,
  createSharedActivities,
  type ActivityDeps,
} from '../activities/index.ts';
import { createForgeResolver } from '../activities/forges/index.ts';
import { gitCredentials } from '../activities/forges/git-credentials.ts';
import { useGitSpawner } from '../activities/git/spawner.ts';
import type { ForgeConfig } from '../config/repos.ts';
import { forgeQueue } from '../core/forge-queue.ts';
import type { Forge } from '../activities/forges/forge.ts';
import { LocalForge } from '../activities/forges/local/index.ts';
import { reapOrphans } from '../activities/sandbox/docker.ts';
import { ownerAlive } from '../activities/sandbox/owner.ts';
import { startReconciler, type Reconciler } from '../activities/sandbox/reconcile.ts';
import { workerTemporal } from './reconciler.ts';
import { temporalBlobStore } from './blobs.ts';
import { Client } from '@temporalio/client';
import { modelClientFromEnv } from '../activities/llm/client.ts';
import type OpenAI from 'openai';
import { projectRoot, taskQueue, toolsDir } from '../config/paths.ts';
import { egressDepsFor } from '../activities/egress/sandbox.ts';

export const SANDBOX_UID = 10001;

export interface LockstepWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  stateDir: string;
  /** Names this host's task queue; defaults to LOCKSTEP_HOST_ID or the hostname. */
  hostId?: string;
  docker?: Docker;
  forge?: Forge;
  /**
   * Remote forges this worker serves: it polls each one's task queue (one request budget per
   * host and token) and gives git their tokens, read from this process's environment.
   */
  forges?: ForgeConfig[];
  /** Base of the forge clients' retry backoff in ms (default 1000; tests shorten it). */
  forgeRetryBaseMs?: number;
  /** The model endpoint; defaults to OPENAI_API_KEY / OPENAI_BASE_URL from the environment. */
  openai?: OpenAI | null;
  sharedTaskQueue?: string;
  /** Override activities (tests inject failures); defaults to the real ones. */
  activities?: { shared?: object; host?: object };
  maxConcurrentActivities?: number;
  onReaped?: (names: string[]) => void;
  /** The Temporal server's address, labelled on sandboxes; defaults to TEMPORAL_ADDRESS or localhost:7233. */
  address?: string;
  /**
   * Seconds between the reconciler's passes (activities/sandbox/reconcile.ts); defaults to
   * LOCKSTEP_RECONCILE_SECONDS or 60. 0 keeps only the passes after a repo closes.
   */
  reconcileEverySeconds?: number;
  /** Where the reconciler's lines go (default: stderr). */
  log?: (line: string) => void;
  /**
   * Seconds a shutdown (SIGTERM, SIGINT) lets running activities finish before it cancels them
   * (a cancelled sandbox command is killed and its cleanup runs); default: the SDK's, 0.
   */
  shutdownGraceSeconds?: number;
}

export interface LockstepWorker {
  /** This host's name in queue names and sandbox labels (LOCKSTEP_HOST_ID or the hostname, cleaned). */
  hostId: string;
  hostQueue: string;
  /** Removes sandboxes and work trees no live attempt uses; its metrics count what it removed. */
  reconciler: Reconciler;
  /** The forge task queues this worker polls. */
  forgeQueues: string[];
  run(): Promise<void>;
  shutdown(): void;
}

export const hostQueueName = (hostId: string): string => `lockstep-host-${hostId}`;

/** The reconciler's interval in seconds: the option, else LOCKSTEP_RECONCILE_SECONDS, else 60. */
export function reconcileEverySeconds(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (option !== undefined) return option;
  const raw = env.LOCKSTEP_RECONCILE_SECONDS;
  if (raw === undefined || raw === '') return 60;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(
      `LOCKSTEP_RECONCILE_SECONDS is "${raw}": set it to a number of seconds (0 or more; 0 runs the reconciler only after a repo closes), or unset it for 60`,
    );
  }
  return seconds;
}

/** Whether git runs through the helper process: yes unless LOCKSTEP_GIT_HELPER is 0. */
export function gitHelperWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.LOCKSTEP_GIT_HELPER;
  if (raw === undefined || raw === '' || raw === '1') return true;
  if (raw === '0') return false;
  throw new Error(
    `LOCKSTEP_GIT_HELPER is "${raw}": set it to 0 to fork git from the worker itself, or unset it (or 1) for the git helper process`,
  );
}

let bundle: Promise<WorkflowBundle> | null = null;

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * The bundler compiles `.ts` files with swc except under node_modules, which is where an
 * installed Lockstep's own sources are. Its TypeScript rule keeps its options but skips only
 * other packages' files, so the workflows bundle from source in the clone and the package alike.
 */
export function compileOwnSources(config: WebpackConfig): WebpackConfig {
  // Webpack names files by their real path; the package may be reached through a link (npm link, pnpm).
  const own = realpathSync(resolve(projectRoot));
  const rule = config.module?.rules?.find(
    (r) => typeof r === 'object' && r !== null && r.test instanceof RegExp && r.test.test('x.ts'),
  );
  if (typeof rule !== 'object' || !rule)
    throw new Error("Temporal's workflow bundler has no TypeScript rule to adjust; Lockstep needs one");
  rule.exclude = (file: string) =>
    file.includes(`${sep}node_modules${sep}`) &&
    !(file.startsWith(own + sep) && !relative(own, file).split(sep).includes('node_modules'));
  return config;
}

/** The workflow code, bundled once per process. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    webpackConfigHook: compileOwnSources,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m), log() {} },
  });
  return bundle;
}

/**
 * Who sandbox commands run as. As root, the workspace is handed to the image's unprivileged
 * sandbox user; otherwise the sandbox runs as this process's own (non-root) user.
 */
export function sandboxIdentity(): { sandboxUser: string; workspaceOwner: { uid: number; gid: number } | null } {
  const uid = process.getuid?.() ?? SANDBOX_UID;
  const gid = process.getgid?.() ?? SANDBOX_UID;
  if (uid === 0)
    return { sandboxUser: `${SANDBOX_UID}:${SANDBOX_UID}`, workspaceOwner: { uid: SANDBOX_UID, gid: SANDBOX_UID } };
  return { sandboxUser: `${uid}:${gid}`, workspaceOwner: null };
}

export async function createLockstepWorker(options: LockstepWorkerOptions): Promise<LockstepWorker> {
  const hostId = (options.hostId ?? process.env.LOCKSTEP_HOST_ID ?? hostname()).replace(/[^A-Za-z0-9_.-]/g, '-');
  const hostQueue = hostQueueName(hostId);
  const docker = options.docker ?? new Docker();
  const owner = `${hostId}:${process.pid}`;
  const cluster = `${options.address ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233'}/${options.namespace}`;
  const temporal = workerTemporal(options.connection, options.namespace);
  const sharedQueue = options.sharedTaskQueue ?? taskQueue();
  const everyMs = reconcileEverySeconds(options.reconcileEverySeconds) * 1000;
  const gitHelper = gitHelperWanted();
  // Started once the workers exist, so a worker that fails to start leaves no timer behind.
  let reconciler: Reconciler | null = null;
  const localForge = options.forge ?? new LocalForge(join(options.stateDir, 'forge', 'local'));
  const remoteForges = (options.forges ?? []).filter((f) => f.type !== 'local');
  const deps: ActivityDeps = {
    stateDir: options.stateDir,
    docker,
    hostQueue,
    forge: localForge,
    forges: createForgeResolver({
      local: localForge,
      env: process.env,
      ...(options.forgeRetryBaseMs !== undefined ? { retryBaseMs: options.forgeRetryBaseMs } : {}),
    }),
    gitCredentials: gitCredentials(remoteForges, process.env),
    ...sandboxIdentity(),
    owner,
    workerEnv: process.env,
    openai: options.openai === undefined ? modelClientFromEnv() : options.openai,
    egress: await egressDepsFor(options.stateDir, join(toolsDir(), 'egress', 'bin'), process.env),
    cluster,
    activityCurrent: (workflowId, runId, activityId, attempt) =>
      temporal.activityCurrent(workflowId, runId, activityId, attempt),
    onWorkspaceClosed: () => reconciler?.kick(),
    blobs: temporalBlobStore(new Client({ connection: options.connection, namespace: options.namespace }), sharedQueue),
  };

  // Git is forked by a small helper process, not by this one (activities/git/spawner.ts);
  // LOCKSTEP_GIT_HELPER=0 turns that off.
  if (gitHelper) useGitSpawner();
  const reaped = await reapOrphans(docker, ownerAlive);
  options.onReaped?.(reaped);

  const maxActivities = options.maxConcurrentActivities ?? 16;
  const grace =
    options.shutdownGraceSeconds !== undefined ? { shutdownGraceTime: options.shutdownGraceSeconds * 1000 } : {};
  const shared = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: sharedQueue,
    workflowBundle: await workflowBundle(),
    activities: { ...createSharedActivities(deps), ...options.activities?.shared },
    maxConcurrentActivityTaskExecutions: maxActivities,
    ...grace,
  });
  const host = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: hostQueue,
    activities: { ...createHostActivities(deps), ...options.activities?.host },
    maxConcurrentActivityTaskExecutions: maxActivities,
    ...grace,
  });
  // One worker per forge budget: one task at a time here, and a rate the server enforces across
  // every worker polling the queue.
  const budgets = new Map<string, ForgeConfig>();
  for (const f of remoteForges) {
    const queue = forgeQueue(f);
    if (queue && !budgets.has(queue)) budgets.set(queue, f);
  }
  const forgeWorkers = await Promise.all(
    [...budgets].map(([queue, f]) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: queue,
        activities: createForgeActivities(deps),
        maxConcurrentActivityTaskExecutions: 1,
        ...grace,
        ...(f.type !== 'local' && f.minIntervalMs > 0
          ? { maxTaskQueueActivitiesPerSecond: 1000 / f.minIntervalMs }
          : {}),
      }),
    ),
  );
  const all = [shared, host, ...forgeWorkers];
  const running = startReconciler({
    docker,
    temporal,
    cluster,
    stateDir: options.stateDir,
    everyMs,
    log: options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)),
    // The workers above created the runtime: its meter feeds the Prometheus endpoint when one is on.
    meter: Runtime.instance().metricMeter,
  });
  reconciler = running;
  return {
    hostId,
    hostQueue,
    forgeQueues: [...budgets.keys()],
    reconciler: running,
    async run() {
      try {
        await Promise.all(all.map((w) => w.run()));
      } finally {
        await running.stop();
      }
    },
    shutdown() {
      void running.stop();
      for (const w of all) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
