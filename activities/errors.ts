/**
 * Failure types activities raise on purpose. A fatal one ends the repo at once (retrying cannot
 * help: a missing image, an unreachable remote); any other failure retries the repo's attempt.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FATAL_ERROR_TYPES, type FatalErrorType } from '../workflows/types.ts';

export function fatal(type: FatalErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The sandbox disappeared (its host restarted, the sweep removed it): start the attempt over. */
export function sandboxGone(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SandboxGone', message, nonRetryable: true });
}

export { FATAL_ERROR_TYPES };
