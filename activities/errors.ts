/**
 * Failure types activities raise on purpose. A fatal one ends the repo at once (retrying cannot
 * help: a missing image, an unreachable remote); any other failure retries the repo's attempt.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FATAL_ERROR_TYPES, type FatalErrorType } from '../core/errors.ts';

export function fatal(type: FatalErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The sandbox disappeared (its host restarted, the sweep removed it): start the attempt over. */
export function sandboxGone(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SandboxGone', message, nonRetryable: true });
}

/**
 * The Docker engine stopped answering. The activity is not retried on the same engine; the
 * repo's attempt is (from a fresh workspace, possibly on another host).
 */
export function dockerUnresponsive(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'DockerUnresponsive', message, nonRetryable: true });
}

export { FATAL_ERROR_TYPES };
