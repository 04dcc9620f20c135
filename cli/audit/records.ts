/**
 * What a run's history says, read once: event times, failures and their causes, each activity
 * from its scheduling to its close, and the run's own input and result. Decoded payloads are
 * JSON of whatever shape the recording version wrote; the small readers here guard each field.
 */
import type proto from '@temporalio/proto';
import { changeWorkflowId, revertChangeId } from '../../core/ids.ts';
import type { Failure, LoadedRun } from '../../client/histories.ts';
import { short } from './report.ts';

type Payloads = { payloads?: proto.temporal.api.common.v1.IPayload[] | null } | null | undefined;
export type Decoder = (payloads: Payloads) => Promise<unknown[]>;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** Protobuf int64 fields arrive as Long objects (or numbers, or strings from JSON). */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'object' && v !== null && 'toNumber' in v && typeof v.toNumber === 'function')
    return Number((v as { toNumber(): unknown }).toNumber());
  return 0;
}
export const ms = (ts: Timestamp): number => (ts ? toNumber(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : 0);
export const iso = (t: number): string => new Date(t).toISOString();
const idOf = (id: unknown): string => String(toNumber(id));
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** The messages of a failure and its causes, outermost first, without repeats. */
export function failureMessage(failure: Failure | null | undefined): string {
  const parts: string[] = [];
  for (let f = failure; f; f = f.cause) {
    const m = f.message?.trim();
    if (m && !parts.includes(m)) parts.push(m);
  }
  return short(parts.join(': ') || 'failed without a message');
}

export const failureType = (failure: Failure | null | undefined): string | null => {
  for (let f = failure; f; f = f.cause) {
    const type = f.applicationFailureInfo?.type;
    if (type) return type;
  }
  return null;
};

export interface ActivityRecord {
  activityId: string;
  type: string;
  input: unknown;
  scheduledAt: number;
  startedAt: number | null;
  attempt: number;
  lastFailure: string | null;
  lastFailureAt: number | null;
  closedAt: number | null;
  outcome: 'completed' | 'failed' | 'timed out' | 'cancelled' | 'running';
  result: unknown;
  failure: Failure | null;
  inputPayloads: Payloads;
  resultPayloads: Payloads;
}

/** What a run's history says about its activities, in the order they were scheduled. */
export function activitiesOf(run: LoadedRun): ActivityRecord[] {
  const bySchedule = new Map<string, ActivityRecord>();
  for (const e of run.events) {
    const at = ms(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      bySchedule.set(idOf(e.eventId), {
        activityId: s.activityId ?? '',
        type: s.activityType?.name ?? 'unknown',
        input: undefined,
        inputPayloads: s.input,
        scheduledAt: at,
        startedAt: null,
        attempt: 1,
        lastFailure: null,
        lastFailureAt: null,
        closedAt: null,
        outcome: 'running',
        result: undefined,
        resultPayloads: null,
        failure: null,
      });
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const r = bySchedule.get(idOf(started.scheduledEventId));
      if (r) {
        r.startedAt = at;
        r.attempt = started.attempt ?? 1;
        if (started.lastFailure) {
          r.lastFailure = failureMessage(started.lastFailure);
          r.lastFailureAt = at;
        }
      }
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    const failed = e.activityTaskFailedEventAttributes;
    const timedOut = e.activityTaskTimedOutEventAttributes;
    const cancelled = e.activityTaskCanceledEventAttributes;
    const closing = done ?? failed ?? timedOut ?? cancelled;
    if (!closing) continue;
    const r = bySchedule.get(idOf(closing.scheduledEventId));
    if (!r) continue;
    r.closedAt = at;
    if (done) {
      r.outcome = 'completed';
      r.resultPayloads = done.result;
    } else if (failed) {
      r.outcome = 'failed';
      r.failure = failed.failure ?? null;
    } else if (timedOut) {
      r.outcome = 'timed out';
      r.failure = timedOut.failure ?? null;
    } else {
      r.outcome = 'cancelled';
    }
  }
  for (const r of bySchedule.values()) {
    if (r.closedAt !== null) continue;
    // An open activity's retries are not in history yet; describe knows them.
    const pending = run.pending.get(r.activityId);
    if (pending && pending.attempt > r.attempt) {
      r.attempt = pending.attempt;
      r.lastFailure = pending.lastFailure ? short(pending.lastFailure) : r.lastFailure;
    }
  }
  return [...bySchedule.values()];
}

export interface Context {
  changeId: string;
  decode: Decoder;
  /** Tool name and argument preview by `<workflowId>|<turn>|<callId>`, from the model turns. */
  calls: Map<string, { name: string; preview: string }>;
  /** planChange calls seen so far per workflow: the plan attempt number. */
  planAttempts: Map<string, number>;
}

/** The repo a workflow of the change (or of its revert, which the audit shows with it) works on. */
export function repoOfWorkflow(changeId: string, workflowId: string): string | null {
  for (const id of [changeId, revertChangeId(changeId)]) {
    const prefix = `${changeWorkflowId(id)}/repo/`;
    if (workflowId.startsWith(prefix)) return workflowId.slice(prefix.length).split('/')[0] ?? null;
  }
  return null;
}

/** Whether a workflow belongs to the change's revert (`lockstep revert`), not to the change. */
export function ofRevert(changeId: string, workflowId: string): boolean {
  const root = changeWorkflowId(revertChangeId(changeId));
  return workflowId === root || workflowId.startsWith(`${root}/`);
}

export interface RunFacts {
  startedAt: number;
  closedAt: number | null;
  input: unknown;
  result: unknown;
}

export async function runFacts(run: LoadedRun, decode: Decoder): Promise<RunFacts> {
  const first = run.events[0];
  const last = run.events.at(-1);
  const started = first?.workflowExecutionStartedEventAttributes;
  const completed = last?.workflowExecutionCompletedEventAttributes;
  return {
    startedAt: ms(first?.eventTime),
    closedAt: run.status === 'running' ? null : ms(last?.eventTime),
    input: started ? (await decode(started.input))[0] : undefined,
    result: completed ? (await decode(completed.result))[0] : undefined,
  };
}
