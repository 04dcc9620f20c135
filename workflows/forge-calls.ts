/**
 * The forge activities as a workflow calls them: a remote forge's go to its own rate-limited
 * task queue (one budget per host and token), the local forge's stay on the shared queue.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ForgeActivities } from '../activities/index.ts';
import type { ForgeConfig } from '../config/repos.ts';
import { forgeQueue } from '../core/forge-queue.ts';

/**
 * Forge activities heartbeat while they run (see `whileAlive`): a worker killed between the
 * forge's answer and the activity's return is noticed within the heartbeat timeout, not at the
 * end of the start-to-close timeout, and the retry finds the PR instead of creating another.
 */
const HEARTBEAT_TIMEOUT = '20 seconds';

const local = proxyActivities<ForgeActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8 },
});

export function forgeCalls(config: ForgeConfig): ForgeActivities {
  const taskQueue = forgeQueue(config);
  if (!taskQueue) return local;
  // Rate limits are waited out inside an attempt (Retry-After), so attempts may be long; past
  // the last one the change fails and "lockstep resume" publishes the rest.
  return proxyActivities<ForgeActivities>({
    taskQueue,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
  });
}
