/**
 * A workflow that answers the repo workflow's status query with a fixed attempt and host, and
 * waits: the reconciler test's stand-in for a repo workflow in the middle of an attempt.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { repoStatusQuery } from '../../core/messages.ts';

export async function repoStatusStub(attempt: number, hostQueue: string | null): Promise<void> {
  setHandler(repoStatusQuery, () => ({
    repo: 'stub',
    status: 'running',
    phase: 'step',
    step: null,
    attempt,
    hostQueue,
    startedAt: null,
    phaseStartedAt: null,
    finishedAt: null,
    result: null,
  }));
  await condition(() => false);
}
