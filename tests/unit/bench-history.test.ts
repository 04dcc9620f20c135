import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { breakdown, coordinatorBreakdown, unionMs } from '../../bench/history.ts';

/** An event at `at` ms after the epoch, with the given attributes. */
const event = (eventId: number, at: number, attrs: Record<string, unknown>) => ({
  eventId,
  eventTime: { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1e6 },
  ...attrs,
});

describe('bench history breakdown', () => {
  it('counts overlapping intervals once', () => {
    expect(unionMs([])).toBe(0);
    expect(
      unionMs([
        [0, 10],
        [5, 15],
        [20, 30],
      ]),
    ).toBe(25);
    expect(
      unionMs([
        [20, 30],
        [0, 100],
      ]),
    ).toBe(100);
  });

  it('reports the time no activity ran as the orchestration share of a repo workflow', () => {
    const history = {
      events: [
        event(1, 1000, { workflowExecutionStartedEventAttributes: {} }),
        event(2, 1010, { activityTaskScheduledEventAttributes: { activityType: { name: 'openWorkspace' } } }),
        event(3, 1020, { activityTaskStartedEventAttributes: { scheduledEventId: 2 } }),
        event(4, 1120, { activityTaskCompletedEventAttributes: { scheduledEventId: 2, startedEventId: 3 } }),
        // Two activities at once: their overlap counts once.
        event(5, 1150, { activityTaskScheduledEventAttributes: { activityType: { name: 'runInSandbox' } } }),
        event(6, 1150, { activityTaskScheduledEventAttributes: { activityType: { name: 'closeWorkspace' } } }),
        event(7, 1160, { activityTaskStartedEventAttributes: { scheduledEventId: 5 } }),
        event(8, 1170, { activityTaskStartedEventAttributes: { scheduledEventId: 6 } }),
        event(9, 1260, { activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 7 } }),
        event(10, 1200, { activityTaskCompletedEventAttributes: { scheduledEventId: 6, startedEventId: 8 } }),
        event(11, 1300, { workflowExecutionCompletedEventAttributes: {} }),
      ],
    };
    // Plain numbers where the protobuf types say Long: breakdown() reads both the same way.
    const b = breakdown(history as unknown as temporal.api.history.v1.IHistory);
    expect(b.totalMs).toBe(300);
    expect(b.activityMs).toEqual({ openWorkspace: 100, runInSandbox: 100, closeWorkspace: 30 });
    expect(b.queueWaitMs).toBe(10 + 10 + 20);
    // Running: 1020–1120 and 1160–1260 (closeWorkspace's 1170–1200 lies inside): 200 of 300 ms.
    expect(b.idleMs).toBe(100);
  });

  it('counts the publishing pages of a change in pages as publishing, not fan-out', () => {
    const child = (id: string) => ({ workflowExecution: { workflowId: `change/c/page/${id}` } });
    const history = {
      events: [
        event(1, 1000, { workflowExecutionStartedEventAttributes: {} }),
        event(2, 1100, { startChildWorkflowExecutionInitiatedEventAttributes: { workflowId: 'change/c/page/run/0' } }),
        event(3, 1110, { childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 2 } }),
        event(4, 2000, { childWorkflowExecutionCompletedEventAttributes: child('run/0') }),
        event(5, 2010, { startChildWorkflowExecutionInitiatedEventAttributes: { workflowId: 'change/c/page/run/1' } }),
        event(6, 2030, { childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 5 } }),
        event(7, 3000, { childWorkflowExecutionCompletedEventAttributes: child('run/1') }),
        // The gate, then the publishing pages: neither is a lane's gap nor part of the fan-out.
        event(8, 3500, {
          startChildWorkflowExecutionInitiatedEventAttributes: { workflowId: 'change/c/page/publish/0' },
        }),
        event(9, 3510, { childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 8 } }),
        event(10, 4500, { childWorkflowExecutionCompletedEventAttributes: child('publish/0') }),
        event(11, 4600, { workflowExecutionCompletedEventAttributes: {} }),
      ],
    };
    const c = coordinatorBreakdown(history as unknown as temporal.api.history.v1.IHistory);
    expect(c.totalMs).toBe(3600);
    expect(c.beforeFanOutMs).toBe(100);
    expect(c.fanOutMs).toBe(1900);
    expect(c.publishMs).toBe(1600);
    expect(c.laneGapMs).toBe(10);
    expect(c.childStartMs).toBe(10);
  });
});
