/**
 * Heartbeats, sent one way. An activity heartbeats either on a clock while its work runs
 * (`heartbeating`), or whenever something it watches answers (the Docker ping calls `beat`). The
 * target is the activity's context; outside an activity (unit tests, scripts) there is none, and
 * the work just runs.
 */
import { activityContext } from './context.ts';

/** Where heartbeats go: the activity's `Context`, or what keeps their details for another clock's beat. */
export interface HeartbeatTarget<D = undefined> {
  heartbeat(details: D): void;
}

export const HEARTBEAT_EVERY_MS = 5_000;

/** One heartbeat, when there is an activity to send it for. */
export function beat<D>(target: HeartbeatTarget<D> | null | undefined, details: D): void {
  target?.heartbeat(details);
}

export interface HeartbeatOptions {
  everyMs?: number | undefined;
}

/** Heartbeats every `everyMs` (default 5 s) while `work` runs, each beat with `details()` of that moment. */
export function heartbeating<T>(
  target: HeartbeatTarget | null | undefined,
  work: () => Promise<T>,
  options?: HeartbeatOptions,
): Promise<T>;
export function heartbeating<T, D>(
  target: HeartbeatTarget<D> | null | undefined,
  work: () => Promise<T>,
  options: HeartbeatOptions & { details: () => D },
): Promise<T>;
export async function heartbeating<T>(
  target: HeartbeatTarget<unknown> | null | undefined,
  work: () => Promise<T>,
  options: HeartbeatOptions & { details?: () => unknown } = {},
): Promise<T> {
  if (!target) return work();
  const timer = setInterval(() => beat(target, options.details?.()), options.everyMs ?? HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Heartbeats every few seconds while `work` runs, so a worker that dies in the middle of a
 * forge call (after the forge acted, before the activity returned) is noticed within the
 * heartbeat timeout and the call is retried elsewhere, where find-or-create finds what the dead
 * one made. A forge call may wait out a rate limit for minutes: the heartbeat says the process
 * lives, not that the forge answered. Outside an activity (unit tests) it just runs `work`.
 */
export function whileAlive<T>(work: () => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  return heartbeating(activityContext(), work, { everyMs });
}
