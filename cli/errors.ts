/** The one place where errors become messages and exit codes. */
import { InputError, formatIssue } from '../config/load.ts';
import { TemporalUnavailableError } from '../workers/dev-server.ts';

export const EXIT = {
  ok: 0,
  /** The change ran and did not succeed (a repo failed, publishing failed, cancelled). */
  changeFailed: 1,
  /** Bad config or change file: nothing was started. */
  badInput: 2,
  /** Temporal or Docker cannot be reached. */
  unavailable: 3,
  interrupted: 130,
} as const;

/** Something this machine lacks (Docker, an image): says what to install or start. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/** The command was stopped before the change finished; the change itself goes on. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof InputError) return EXIT.badInput;
  if (err instanceof InterruptedError) return EXIT.interrupted;
  if (err instanceof TemporalUnavailableError || err instanceof EnvironmentError) return EXIT.unavailable;
  return EXIT.changeFailed;
}

export function renderError(err: unknown): string {
  if (err instanceof InputError) {
    const n = err.issues.length;
    return `lockstep: ${n} problem${n === 1 ? '' : 's'} in the input; nothing was started:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`;
  }
  if (err instanceof Error) return `lockstep: ${err.message}`;
  return `lockstep: ${String(err)}`;
}
