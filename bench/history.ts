/**
 * Where a repo workflow's time goes, read from its history: time inside activities (by type),
 * time activities waited between scheduled and started (task queue latency), time of workflow
 * tasks (scheduled to completed), and the rest (child start, timers, result delivery).
 */
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

export interface Breakdown {
  totalMs: number;
  activityMs: Record<string, number>;
  activityCount: number;
  queueWaitMs: number;
  workflowTaskMs: number;
}

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export function breakdown(history: History): Breakdown {
  const events = history.events ?? [];
  const at = new Map<string, number>();
  const activityType = new Map<string, string>();
  const out: Breakdown = { totalMs: 0, activityMs: {}, activityCount: 0, queueWaitMs: 0, workflowTaskMs: 0 };
  for (const e of events) {
    const id = String(e.eventId ?? '');
    const time = ms(e.eventTime);
    at.set(id, time);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) activityType.set(id, scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) out.queueWaitMs += time - (at.get(String(started.scheduledEventId ?? '')) ?? time);
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (done) {
      const type = activityType.get(String(done.scheduledEventId ?? '')) ?? '?';
      const start = at.get(String(done.startedEventId ?? '')) ?? time;
      out.activityMs[type] = (out.activityMs[type] ?? 0) + (time - start);
      out.activityCount++;
    }
    const wtDone = e.workflowTaskCompletedEventAttributes;
    if (wtDone) out.workflowTaskMs += time - (at.get(String(wtDone.scheduledEventId ?? '')) ?? time);
  }
  if (events.length > 0) out.totalMs = ms(events.at(-1)?.eventTime) - ms(events[0]?.eventTime);
  return out;
}
