/** The one place where errors become messages and exit codes. */
import { ServiceError, WorkflowFailedError } from '@temporalio/client';
import { InputError, formatIssue } from '../config/load.ts';
import type { ChangeResult } from '../core/change.ts';
import { TemporalUnavailableError } from '../workers/dev-server.ts';
import { TemporalSettingsError } from '../config/temporal.ts';
import { ChangeNotFoundError, ChangeRefusedError, EnvironmentError, InterruptedError } from '../client/errors.ts';

export const EXIT = {
  ok: 0,
  /** The change ran and did not succeed (a repo failed, publishing failed, cancelled), or it refused what was asked. */
  changeFailed: 1,
  /** Bad config or change file, or a change id the server does not know: nothing was started. */
  badInput: 2,
  /** Temporal or Docker cannot be reached, or this machine lacks something (a tool, a file). */
  unavailable: 3,
  /** A bug in Lockstep: an error it does not expect (EX_SOFTWARE). */
  internal: 70,
  interrupted: 130,
} as const;

/** Where a bug in Lockstep goes. */
const REPORT_TO = "Lockstep's issue tracker";

/** 0 when the change succeeded, 1 otherwise. */
export function changeExitCode(result: Pick<ChangeResult, 'status'>): number {
  return result.status === 'succeeded' ? EXIT.ok : EXIT.changeFailed;
}

/** gRPC UNAVAILABLE: the Temporal server stopped answering after the command connected. */
const temporalLost = (err: unknown): boolean =>
  err instanceof ServiceError &&
  typeof err.cause === 'object' &&
  err.cause !== null &&
  'code' in err.cause &&
  err.cause.code === 14;

/** A failed system call (ECONNREFUSED on Docker's socket, EACCES on a folder): this machine, not Lockstep. */
const systemError = (err: unknown): boolean =>
  err instanceof Error &&
  'syscall' in err &&
  typeof err.syscall === 'string' &&
  'code' in err &&
  typeof err.code === 'string';

export function exitCodeFor(err: unknown): number {
  if (err instanceof InputError || err instanceof ChangeNotFoundError) return EXIT.badInput;
  if (err instanceof InterruptedError) return EXIT.interrupted;
  if (
    err instanceof TemporalUnavailableError ||
    err instanceof TemporalSettingsError ||
    err instanceof EnvironmentError ||
    temporalLost(err) ||
    systemError(err)
  )
    return EXIT.unavailable;
  // A change's workflow that ended without a result (cancelled or terminated while followed).
  if (err instanceof ChangeRefusedError || err instanceof WorkflowFailedError) return EXIT.changeFailed;
  return EXIT.internal;
}

export function renderError(err: unknown): string {
  if (err instanceof InputError) {
    const n = err.issues.length;
    return `lockstep: ${n} problem${n === 1 ? '' : 's'} in the input; nothing was started:\n${err.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`;
  }
  if (exitCodeFor(err) === EXIT.internal) {
    const trace = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    return [
      `lockstep: internal error: ${err instanceof Error ? err.message : String(err)}`,
      `This is a bug in Lockstep, not in your change or fleet. Please report it to ${REPORT_TO} with the command you ran and this trace:`,
      trace,
    ].join('\n');
  }
  if (err instanceof Error) return `lockstep: ${err.message}`;
  return `lockstep: ${String(err)}`;
}
