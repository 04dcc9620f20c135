/**
 * Reads every workflow run of one change from Temporal: the coordinator's latest chain, every
 * child it started (found in its history, not guessed from ids), their children, every run
 * of a continued-as-new chain, its landings, and the same of its revert.
 */
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { temporal } from '@temporalio/proto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { changeWorkflowId, landingWorkflowId, repoWorkflowId, revertChangeId } from '../core/ids.ts';
import type { TemporalSession } from './connection.ts';
import { ChangeNotFoundError, isNotFound } from './errors.ts';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
export type History = temporal.api.history.v1.IHistory;
export type Failure = temporal.api.failure.v1.IFailure;

/** An activity still open in a running workflow, as describe reports it (retries show here first). */
export interface PendingActivity {
  attempt: number;
  lastFailure: string | null;
}

export interface LoadedRun {
  workflowId: string;
  runId: string;
  type: string;
  /** `running`, `completed`, `failed`, `timed_out`, `cancelled`, `terminated`, `continued_as_new`. */
  status: string;
  history: History;
  events: HistoryEvent[];
  /** By activity id; empty for closed runs. */
  pending: Map<string, PendingActivity>;
}

export interface MissingRun {
  workflowId: string;
  runId: string;
  error: string;
}

export interface LoadedChange {
  changeId: string;
  /** Parents before their children, each chain in order. */
  runs: LoadedRun[];
  /** Runs a history names that could not be read (e.g. removed by retention). */
  missing: MissingRun[];
  /** Repo workflow runs of a change in pages left unread (none of the repos asked for). */
  unread: number;
}

/**
 * Which repos' runs to read of a change in pages: its pages start thousands of repo workflows,
 * so an audit reads the coordinator and its pages, and the runs of the repos named here.
 */
export interface LoadOptions {
  repos?: readonly string[];
}

export function runStatus(events: HistoryEvent[]): string {
  const last = events.at(-1);
  if (!last) return 'running';
  if (last.workflowExecutionCompletedEventAttributes) return 'completed';
  if (last.workflowExecutionFailedEventAttributes) return 'failed';
  if (last.workflowExecutionTimedOutEventAttributes) return 'timed_out';
  if (last.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (last.workflowExecutionTerminatedEventAttributes) return 'terminated';
  if (last.workflowExecutionContinuedAsNewEventAttributes) return 'continued_as_new';
  return 'running';
}

interface RunRef {
  workflowId: string;
  runId: string;
}

async function fetchRun(session: TemporalSession, ref: RunRef): Promise<LoadedRun> {
  const history = await session.client.workflow.getHandle(ref.workflowId, ref.runId).fetchHistory();
  const events = history.events ?? [];
  const status = runStatus(events);
  const pending = new Map<string, PendingActivity>();
  if (status === 'running') {
    const described = await session.client.workflowService.describeWorkflowExecution({
      namespace: session.namespace,
      execution: { workflowId: ref.workflowId, runId: ref.runId },
    });
    for (const p of described.pendingActivities ?? []) {
      if (!p.activityId) continue;
      pending.set(p.activityId, { attempt: p.attempt ?? 1, lastFailure: p.lastFailure?.message ?? null });
    }
  }
  const type = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
  return { workflowId: ref.workflowId, runId: ref.runId, type, status, history, events, pending };
}

/**
 * The runs a history leads to: the children it started and the run it continued as. A page's
 * children are followed only when `wanted` (`unread` counts the others).
 */
function nextRefs(run: LoadedRun, wanted: (workflowId: string) => boolean): { refs: RunRef[]; unread: number } {
  const refs: RunRef[] = [];
  let unread = 0;
  for (const event of run.events) {
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) {
      if (run.type === 'pageWorkflow' && !wanted(child.workflowId)) unread++;
      else refs.push({ workflowId: child.workflowId, runId: child.runId });
    }
    const next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (next) refs.push({ workflowId: run.workflowId, runId: next });
  }
  return { refs, unread };
}

/**
 * Every run of a change, landing included, then those of its revert (`lockstep revert`) when
 * there is one: a landed and reverted set reads as one timeline.
 */
export async function loadChangeRuns(
  session: TemporalSession,
  changeId: string,
  options: LoadOptions = {},
): Promise<LoadedChange> {
  const own = await loadOwnRuns(session, changeId, options);
  const revert = await loadOwnRuns(session, revertChangeId(changeId), options).catch((err: unknown) => {
    if (err instanceof ChangeNotFoundError) return null;
    throw err;
  });
  if (!revert) return own;
  return {
    changeId,
    runs: [...own.runs, ...revert.runs],
    missing: [...own.missing, ...revert.missing],
    unread: own.unread + revert.unread,
  };
}

async function loadOwnRuns(session: TemporalSession, changeId: string, options: LoadOptions): Promise<LoadedChange> {
  const repos = new Set((options.repos ?? []).map((repo) => repoWorkflowId(changeId, repo)));
  const wanted = (workflowId: string) => repos.has(workflowId);
  let unread = 0;
  const workflowId = changeWorkflowId(changeId);
  let latestRunId: string;
  try {
    latestRunId = (await session.client.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    if (isNotFound(err)) throw new ChangeNotFoundError(changeId, session.address);
    throw err;
  }
  // The coordinator's chain starts at its first run: an audit covers every run of it.
  const latest = await fetchRun(session, { workflowId, runId: latestRunId });
  const first = latest.events[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
  const root = first && first !== latestRunId ? await fetchRun(session, { workflowId, runId: first }) : latest;

  const runs: LoadedRun[] = [root];
  const missing: MissingRun[] = [];
  const seen = new Set([`${root.workflowId}\n${root.runId}`]);
  const known = new Map([[`${latest.workflowId}\n${latest.runId}`, latest]]);
  let wave = nextRefs(root, wanted).refs;
  while (wave.length > 0) {
    const fresh = wave.filter((ref) => {
      const key = `${ref.workflowId}\n${ref.runId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const loaded = await Promise.all(
      fresh.map(async (ref): Promise<LoadedRun | MissingRun> => {
        const cached = known.get(`${ref.workflowId}\n${ref.runId}`);
        if (cached) return cached;
        try {
          return await fetchRun(session, ref);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          return { ...ref, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    wave = [];
    for (const item of loaded) {
      if ('error' in item) {
        missing.push(item);
        continue;
      }
      runs.push(item);
      const next = nextRefs(item, wanted);
      unread += next.unread;
      wave.push(...next.refs);
    }
  }
  for (const ref of await landingRuns(session, changeId)) {
    const key = `${ref.workflowId}\n${ref.runId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    runs.push(await fetchRun(session, ref));
  }
  return { changeId, runs, missing, unread };
}

/**
 * Every run of the change's landing (each `lockstep land` after the last ended starts one, and a
 * long wait continues as new), oldest first: from visibility, plus the latest run, which
 * visibility may not list yet.
 */
async function landingRuns(session: TemporalSession, changeId: string): Promise<RunRef[]> {
  const workflowId = landingWorkflowId(changeId);
  const latest = await session.client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
  if (!latest) return [];
  const listed: { runId: string; startTime: Date }[] = [];
  for await (const w of session.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    listed.push({ runId: w.runId, startTime: w.startTime });
  if (!listed.some((w) => w.runId === latest.runId)) listed.push({ runId: latest.runId, startTime: latest.startTime });
  return listed
    .sort((a, b) => a.startTime.getTime() - b.startTime.getTime())
    .map((w) => ({ workflowId, runId: w.runId }));
}

/** `change/x/repo/y` + run id -> `change__x__repo__y__<runId>.json`, safe as one file name. */
export function historyFileName(workflowId: string, runId: string): string {
  const safe = (s: string) => s.replaceAll('/', '__').replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe(workflowId)}__${safe(runId)}.json`;
}

/** Writes each run's raw history as Temporal's JSON (replayable); returns the paths. */
export async function exportHistories(
  session: TemporalSession,
  changeId: string,
  dir: string,
  options: LoadOptions = {},
): Promise<string[]> {
  const { runs } = await loadChangeRuns(session, changeId, options);
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const run of runs) {
    const path = join(dir, historyFileName(run.workflowId, run.runId));
    await writeFile(path, `${historyToJSON(run.history)}\n`);
    paths.push(path);
  }
  return paths;
}
