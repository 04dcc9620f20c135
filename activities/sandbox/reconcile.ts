/**
 * The reconciler: while a worker runs, it compares the Lockstep sandboxes on this host's Docker
 * engine and the work trees under its state folder with what Temporal says about the workflows
 * that made them, and removes what no live attempt uses. It asks Temporal (describe, and the
 * repo workflow's status query) rather than trusting the owner label: a worker that lives can
 * still leave a sandbox behind (an `openWorkspace` that completed after the server gave up on
 * it), and one that died may have left one a live attempt on another host no longer uses.
 * Whatever Temporal cannot answer for is kept: a container of another server or namespace (or
 * one without that label), of a workflow this server does not know, or of one whose status it
 * could not read.
 */
import type Docker from 'dockerode';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type { MetricMeter } from '@temporalio/common';
import { reconcilerPass, reconcilerRemoval } from '../../core/metrics.ts';
import { repoWorkflowId } from '../../core/ids.ts';
import {
  LABEL_ATTEMPT,
  LABEL_CHANGE,
  LABEL_CLUSTER,
  LABEL_HOST,
  LABEL_REPO,
  LABEL_RUN,
  LABEL_WORKFLOW,
  LABEL_WORKSPACE,
} from './docker.ts';

export interface WorkflowFacts {
  /** `missing`: this server does not know the workflow; `unknown`: it could not say. */
  status: 'open' | 'closed' | 'missing' | 'unknown';
  /** The latest run's id, when known. */
  runId: string | null;
}

/** What the reconciler asks Temporal (workers/reconciler.ts gives the real client). */
export interface TemporalFacts {
  describe(workflowId: string): Promise<WorkflowFacts>;
  /** A live repo workflow's attempt and the host queue holding its sandbox; null when it cannot answer. */
  repoStatus(workflowId: string): Promise<{ attempt: number; hostQueue: string | null } | null>;
}

export interface ReconcileDeps {
  docker: Docker;
  temporal: TemporalFacts;
  /** `address/namespace` of this worker's Temporal: containers labelled with another are left alone. */
  cluster: string;
  /** This worker's state folder: its `workspaces/<change>/<repo>` and `gate/<change>` trees. */
  stateDir: string;
}

export type RemovalReason = 'workflow-closed' | 'run-closed' | 'attempt-superseded' | 'other-host';

export interface Removal {
  kind: 'container' | 'work tree';
  /** Container name or folder. */
  name: string;
  reason: RemovalReason;
  /** One line for the log: what was removed and why. */
  detail: string;
}

/** Removes what no live attempt uses; returns what it removed. */
export async function reconcileOnce(deps: ReconcileDeps): Promise<Removal[]> {
  const facts = new Map<string, Promise<WorkflowFacts>>();
  const describe = (id: string): Promise<WorkflowFacts> => {
    let pending = facts.get(id);
    if (!pending) {
      pending = deps.temporal.describe(id).catch((): WorkflowFacts => ({ status: 'unknown', runId: null }));
      facts.set(id, pending);
    }
    return pending;
  };
  const removed: Removal[] = [];
  const containers = await deps.docker.listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
  for (const c of containers) {
    const labels = c.Labels;
    // Only what this server and namespace made: another's workflow ids may be the same, and
    // a sandbox made before the label existed is the start-up sweep's (dead owners only).
    if (labels[LABEL_CLUSTER] !== deps.cluster) continue;
    const verdict = await judge(labels, describe, deps.temporal);
    if (!verdict) continue;
    const name = c.Names[0]?.replace(/^\//, '') ?? c.Id;
    const gone = await deps.docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .then(() => true)
      .catch((err: unknown) => statusCode(err) === 404 || statusCode(err) === 409);
    if (!gone) continue;
    removed.push({
      kind: 'container',
      name,
      reason: verdict.reason,
      detail: `removed sandbox ${name}: ${verdict.detail}`,
    });
    // A closed workflow's work tree goes with its sandbox, wherever on this machine it is (the
    // state folder of a worker that died); a superseded attempt's tree may be the live one's.
    const tree = verdict.reason === 'workflow-closed' ? workTreeOf(labels) : null;
    if (tree && (await removeTree(tree))) {
      removed.push({
        kind: 'work tree',
        name: tree,
        reason: 'workflow-closed',
        detail: `removed work tree ${tree}: ${verdict.detail}`,
      });
    }
  }
  removed.push(...(await reconcileTrees(deps.stateDir, describe)));
  return removed;
}

interface Verdict {
  reason: RemovalReason;
  detail: string;
}

async function judge(
  labels: Record<string, string>,
  describe: (id: string) => Promise<WorkflowFacts>,
  temporal: TemporalFacts,
): Promise<Verdict | null> {
  const change = labels[LABEL_CHANGE];
  const repo = labels[LABEL_REPO];
  if (!change || !repo) return null;
  if (repo.startsWith('gate-')) {
    // A gate check's sandbox lives as long as the activity of the workflow that runs the gate.
    const id = labels[LABEL_WORKFLOW] ?? `change/${change}`;
    const facts = await describe(id);
    return facts.status === 'closed' ? { reason: 'workflow-closed', detail: `workflow ${id} is closed` } : null;
  }
  const id = repoWorkflowId(change, repo);
  const facts = await describe(id);
  if (facts.status === 'closed') return { reason: 'workflow-closed', detail: `repo workflow ${id} is closed` };
  if (facts.status !== 'open') return null;
  const run = labels[LABEL_RUN];
  if (labels[LABEL_WORKFLOW] === id && run && facts.runId && run !== facts.runId) {
    return { reason: 'run-closed', detail: `made by run ${run} of ${id}, whose current run is ${facts.runId}` };
  }
  const attempt = Number(labels[LABEL_ATTEMPT] ?? NaN);
  const host = labels[LABEL_HOST];
  if (!Number.isInteger(attempt) && !host) return null;
  const status = await temporal.repoStatus(id).catch(() => null);
  if (!status) return null;
  if (Number.isInteger(attempt) && attempt < status.attempt) {
    return {
      reason: 'attempt-superseded',
      detail: `made for attempt ${attempt} of ${id}, which is on attempt ${status.attempt}`,
    };
  }
  if (
    host &&
    status.hostQueue &&
    host !== status.hostQueue &&
    (!Number.isInteger(attempt) || attempt === status.attempt)
  ) {
    return {
      reason: 'other-host',
      detail: `made on ${host}; attempt ${status.attempt} of ${id} has its sandbox on ${status.hostQueue}`,
    };
  }
  return null;
}

/** The work tree a sandbox's label names, when it has the shape of one Lockstep made. */
function workTreeOf(labels: Record<string, string>): string | null {
  const path = labels[LABEL_WORKSPACE];
  const change = labels[LABEL_CHANGE];
  const repo = labels[LABEL_REPO];
  if (!path || !change || !repo || !isAbsolute(path) || normalize(path) !== path) return null;
  if (repo.startsWith('gate-')) return null; // the gate's checkouts go with the gate folder below
  return path.endsWith(`/workspaces/${change}/${repo}`) ? path : null;
}

async function removeTree(path: string): Promise<boolean> {
  const existed = await readdir(path).then(
    () => true,
    () => false,
  );
  if (!existed) return false;
  await rm(path, { recursive: true, force: true });
  return true;
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

/** This worker's work trees and gate checkouts whose workflow is closed. */
async function reconcileTrees(stateDir: string, describe: (id: string) => Promise<WorkflowFacts>): Promise<Removal[]> {
  const removed: Removal[] = [];
  const workspaces = join(stateDir, 'workspaces');
  for (const change of await subfolders(workspaces)) {
    for (const repo of await subfolders(join(workspaces, change))) {
      const id = repoWorkflowId(change, repo);
      if ((await describe(id)).status !== 'closed') continue;
      const tree = join(workspaces, change, repo);
      if (await removeTree(tree))
        removed.push({
          kind: 'work tree',
          name: tree,
          reason: 'workflow-closed',
          detail: `removed work tree ${tree}: repo workflow ${id} is closed`,
        });
    }
    await rmdir(join(workspaces, change)).catch(() => undefined); // only once empty
  }
  const gate = join(stateDir, 'gate');
  for (const change of await subfolders(gate)) {
    const id = `change/${change}`;
    if ((await describe(id)).status !== 'closed') continue;
    const tree = join(gate, change);
    if (await removeTree(tree))
      removed.push({
        kind: 'work tree',
        name: tree,
        reason: 'workflow-closed',
        detail: `removed gate checkouts ${tree}: workflow ${id} is closed`,
      });
  }
  return removed;
}

export interface ReconcilerMetrics {
  passes: number;
  /** Passes that failed (Docker or Temporal did not answer); the next one tries again. */
  failedPasses: number;
  containersRemoved: number;
  workTreesRemoved: number;
  /** Removals by reason. */
  byReason: Partial<Record<RemovalReason, number>>;
}

export interface Reconciler {
  readonly metrics: ReconcilerMetrics;
  /** A pass soon (a repo workflow is closing), shared by the kicks that come meanwhile; passes never overlap. */
  kick(): void;
  /** One pass now, after any that runs. */
  pass(): Promise<Removal[]>;
  stop(): Promise<void>;
}

export interface ReconcilerOptions extends ReconcileDeps {
  /** Time between passes (0: only kicked passes). */
  everyMs: number;
  /** Delay of a kicked pass, so the workflow that kicked it has closed by then. */
  kickDelayMs?: number;
  log(line: string): void;
  /** Where the counts also go (the worker's Prometheus endpoint); none: in `metrics` only. */
  meter?: MetricMeter;
}

/** Runs `reconcileOnce` every `everyMs` and when kicked, one pass at a time, counting removals. */
export function startReconciler(options: ReconcilerOptions): Reconciler {
  const metrics: ReconcilerMetrics = {
    passes: 0,
    failedPasses: 0,
    containersRemoved: 0,
    workTreesRemoved: 0,
    byReason: {},
  };
  let running: Promise<Removal[]> = Promise.resolve([]);
  let stopped = false;
  let kicked: NodeJS.Timeout | null = null;
  const pass = (): Promise<Removal[]> => {
    running = running.then(async () => {
      if (stopped) return [];
      try {
        // A Docker engine or a Temporal server that stopped answering must not hold every later pass.
        const removed = await withTimeout(
          reconcileOnce(options),
          PASS_TIMEOUT_MS,
          `no answer within ${PASS_TIMEOUT_MS / 1000}s`,
        );
        metrics.passes++;
        if (options.meter) reconcilerPass(options.meter, 'ok');
        for (const r of removed) {
          if (r.kind === 'container') metrics.containersRemoved++;
          else metrics.workTreesRemoved++;
          metrics.byReason[r.reason] = (metrics.byReason[r.reason] ?? 0) + 1;
          if (options.meter) reconcilerRemoval(options.meter, r.kind, r.reason);
          options.log(`reconciler: ${r.detail}`);
        }
        return removed;
      } catch (err) {
        metrics.failedPasses++;
        if (options.meter) reconcilerPass(options.meter, 'failed');
        options.log(
          `reconciler: pass failed, next one in ${Math.round(options.everyMs / 1000)}s: ${err instanceof Error ? err.message : String(err)}`,
        );
        return [];
      }
    });
    return running;
  };
  const timer = options.everyMs > 0 ? setInterval(() => void pass(), options.everyMs) : null;
  timer?.unref();
  return {
    metrics,
    kick() {
      // Kicks while one waits share its pass: a pass sees every closed repo at once, and a
      // fleet closing a repo every few hundred ms would otherwise queue a pass (a Docker list,
      // a describe and a query per live sandbox) for each of them.
      if (stopped || kicked) return;
      kicked = setTimeout(() => {
        kicked = null;
        void pass();
      }, options.kickDelayMs ?? 2_000);
      kicked.unref();
    },
    pass,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (kicked) clearTimeout(kicked);
      kicked = null;
      // A pass in flight finishes (or times out) on its own; shutting down does not wait long for it.
      await withTimeout(running, 5_000, 'stopping').catch(() => undefined);
    },
  };
}

/** How long one pass may take before it counts as failed. */
const PASS_TIMEOUT_MS = 120_000;

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : undefined;
}
