/**
 * What goes wrong between a command and Temporal or this machine, as small classes: cli/errors.ts
 * turns each into a message and an exit code; anything else is a bug in Lockstep.
 */
import { WorkflowNotFoundError } from '@temporalio/client';

/** Something this machine lacks (Docker, an image): says what to install or start. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/** The command was stopped before the change finished; the change itself goes on. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/** No workflow of this change id on the server: a mistyped id, or another server or namespace. */
export class ChangeNotFoundError extends Error {
  override name = 'ChangeNotFoundError';

  constructor(
    readonly changeId: string,
    readonly address: string,
  ) {
    super(`no change "${changeId}" on ${address} (see "lockstep list" for the changes there)`);
  }
}

/**
 * The change exists but does not take what was asked (a decision it does not wait for, a resume
 * of a change that succeeded, the PRs of a change that published none): nothing was done.
 */
export class ChangeRefusedError extends Error {
  override name = 'ChangeRefusedError';
}

/** Temporal's answer for a workflow id it does not know (the gRPC NOT_FOUND of describe, query, update or history). */
export const isNotFound = (err: unknown): boolean =>
  err instanceof WorkflowNotFoundError || (typeof err === 'object' && err !== null && 'code' in err && err.code === 5);
