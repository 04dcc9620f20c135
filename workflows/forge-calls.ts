/**
 * The forge activities as a workflow calls them: a remote forge's go to its own rate-limited
 * task queue (one budget per host and token), the local forge's stay on the shared queue.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ForgeActivities } from '../activities/index.ts';
import type { ForgeConfig } from '../config/repos.ts';
import { forgeQueue } from './forge-queue.ts';

const local = proxyActivities<ForgeActivities>({
  startToCloseTimeout: '2 minutes',
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
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
  });
}
