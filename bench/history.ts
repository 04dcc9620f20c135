/**
 * Where a repo workflow's time goes, read from its history: time inside activities (by type),
 * time activities waited between scheduled and started (task queue latency), time of workflow
 * tasks (scheduled to completed), and the time no activity of the repo was running at all (the
 * orchestration's own share of the repo's wall time: round trips through the server and the
 * workflow tasks between one activity and the next).
 */
import proto from '@temporalio/proto';

// A default import: the package is CommonJS, and Node's ESM loader (npm run bench) finds no
// named export in it, where vitest's would.
type History = proto.temporal.api.history.v1.IHistory;

export interface Breakdown {
  /** The workflow's first event (epoch ms), to order repos along a run. */
  startedAtMs: number;
  totalMs: number;
  activityMs: Record<string, number>;
  activityCount: number;
  queueWaitMs: number;
  workflowTaskMs: number;
  /** Workflow start to end, minus the union of the activities' started-to-closed intervals. */
  idleMs: number;
}

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export function breakdown(history: History): Breakdown {
  const events = history.events ?? [];
  const at = new Map<string, number>();
  const activityType = new Map<string, string>();
  const out: Breakdown = {
    startedAtMs: ms(events[0]?.eventTime),
    totalMs: 0,
    activityMs: {},
    activityCount: 0,
    queueWaitMs: 0,
    workflowTaskMs: 0,
    idleMs: 0,
  };
  const running: [number, number][] = [];
  for (const e of events) {
    const id = String(e.eventId ?? '');
    const time = ms(e.eventTime);
    at.set(id, time);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) activityType.set(id, scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) out.queueWaitMs += time - (at.get(String(started.scheduledEventId ?? '')) ?? time);
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (done) {
      const type = activityType.get(String(done.scheduledEventId ?? '')) ?? '?';
      const start = at.get(String(done.startedEventId ?? '')) ?? time;
      out.activityMs[type] = (out.activityMs[type] ?? 0) + (time - start);
      out.activityCount++;
      running.push([start, time]);
    }
    const wtDone = e.workflowTaskCompletedEventAttributes;
    if (wtDone) out.workflowTaskMs += time - (at.get(String(wtDone.scheduledEventId ?? '')) ?? time);
  }
  if (events.length > 0) out.totalMs = ms(events.at(-1)?.eventTime) - ms(events[0]?.eventTime);
  out.idleMs = out.totalMs - unionMs(running);
  return out;
}

/** Total length of a set of intervals, overlaps counted once. */
export function unionMs(intervals: readonly [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** The coordinator's phases, read from its history (ms). */
export interface CoordinatorBreakdown {
  totalMs: number;
  /** Workflow start to the first child's start command (set-up, resume checks). */
  beforeFanOutMs: number;
  /** First child initiated to last child completed. */
  fanOutMs: number;
  /** Last child completed to the end (pull requests; in a change in pages, the gate and the publishing pages). */
  publishMs: number;
  /** Median of child initiated → child started. */
  childStartMs: number;
  /**
   * Median time a lane stood idle: from a child's completion to the next child's start
   * command (the coordinator must run a workflow task in between).
   */
  laneGapMs: number;
  workflowTasks: number;
  workflowTaskMs: number;
  signals: number;
}

const isPublishPage = (workflowId: string | null | undefined): boolean =>
  /\/page\/publish\/\d+$/.test(workflowId ?? '');

export function coordinatorBreakdown(history: History): CoordinatorBreakdown {
  const events = history.events ?? [];
  const at = new Map<string, number>();
  const initiated: number[] = [];
  const completed: number[] = [];
  const startLatency: number[] = [];
  const gaps: number[] = [];
  let wfts = 0;
  let wftMs = 0;
  let signals = 0;
  for (const e of events) {
    const time = ms(e.eventTime);
    at.set(String(e.eventId ?? ''), time);
    const initiating = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (initiating && !isPublishPage(initiating.workflowId)) {
      const lastDone = completed.at(-1);
      // A start command after some child completed fills a lane that child freed.
      if (lastDone !== undefined) gaps.push(time - lastDone);
      initiated.push(time);
    }
    const started = e.childWorkflowExecutionStartedEventAttributes;
    if (started) startLatency.push(time - (at.get(String(started.initiatedEventId ?? '')) ?? time));
    const done = e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes;
    // A change in pages publishes through child workflows too: those count as publishing.
    if (done && !isPublishPage(done.workflowExecution?.workflowId)) completed.push(time);
    if (e.workflowExecutionSignaledEventAttributes) signals++;
    const wtDone = e.workflowTaskCompletedEventAttributes;
    if (wtDone) {
      wfts++;
      wftMs += time - (at.get(String(wtDone.scheduledEventId ?? '')) ?? time);
    }
  }
  const first = ms(events[0]?.eventTime);
  const last = ms(events.at(-1)?.eventTime);
  const firstChild = initiated[0] ?? first;
  const lastChild = completed.at(-1) ?? firstChild;
  const med = (v: number[]): number => {
    const s = [...v].sort((a, b) => a - b);
    return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] ?? 0);
  };
  return {
    totalMs: last - first,
    beforeFanOutMs: firstChild - first,
    fanOutMs: lastChild - firstChild,
    publishMs: last - lastChild,
    childStartMs: med(startLatency),
    laneGapMs: med(gaps),
    workflowTasks: wfts,
    workflowTaskMs: wftMs,
    signals,
  };
}

/**
 * What a workflow's history weighs: its events, its size as the server stores it (protobuf),
 * and its largest payload (an input, a result, a memo), which Temporal caps at 2 MB.
 */
export interface HistoryBounds {
  events: number;
  bytes: number;
  largestPayload: number;
}

export function historyBounds(history: History): HistoryBounds {
  const events = history.events ?? [];
  let largest = 0;
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    if (value instanceof Uint8Array) return;
    const maybe = value as { data?: unknown; metadata?: unknown };
    if (maybe.data instanceof Uint8Array && typeof maybe.metadata === 'object') {
      largest = Math.max(largest, maybe.data.length);
      return;
    }
    for (const v of Object.values(value)) walk(v);
  };
  for (const e of events) walk(e);
  return {
    events: events.length,
    bytes: proto.temporal.api.history.v1.History.encode(history).finish().length,
    largestPayload: largest,
  };
}
