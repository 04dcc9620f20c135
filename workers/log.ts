/**
 * The worker process's log lines: plain text on stderr (a person at a terminal), or one JSON
 * object per line on stdout (`--log-format json`, for a log collector). Lockstep's own lines and
 * the Temporal SDK's go through the same writer, so a collector sees one shape.
 */
import type { LogEntry, LogLevel } from '@temporalio/worker';

export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Fields every line of this process carries (who wrote it). */
export interface LogContext {
  hostId?: string;
  taskQueue?: string;
}

export type Fields = Record<string, string | number | boolean | null | undefined>;

export interface LineWriter {
  (level: LogLevel, msg: string, fields?: Fields, at?: Date): void;
}

const REPO_WORKFLOW = /^change\/([^/]+)(?:\/repo\/([^/]+))?/;

/**
 * The SDK's metadata (workflowId, activityType, taskQueue, attempt…) kept as flat fields, plus
 * the change and repo read from Lockstep's workflow ids. Nested values are left out: the SDK
 * puts no secrets there, but an error object could carry a request, and a log line stays small.
 */
export function sdkFields(meta: Record<string, unknown> | undefined): Fields {
  const fields: Fields = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
    else if (typeof value === 'bigint') fields[key] = Number(value);
  }
  const workflowId = typeof meta?.workflowId === 'string' ? meta.workflowId : null;
  const ids = workflowId ? REPO_WORKFLOW.exec(workflowId) : null;
  if (ids?.[1]) fields.changeId = ids[1];
  if (ids?.[2]) fields.repo = ids[2];
  if (typeof meta?.activityType === 'string') fields.activity = meta.activityType;
  return fields;
}

export function lineWriter(
  format: LogFormat,
  context: LogContext,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): LineWriter {
  return (level, msg, fields = {}, at = new Date()) => {
    if (format === 'json') {
      const line: Record<string, unknown> = { time: at.toISOString(), level: level.toLowerCase(), msg };
      for (const [k, v] of Object.entries({ ...context, ...fields })) if (v !== undefined && !(k in line)) line[k] = v;
      out.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    out.stderr.write(`${at.toISOString()} [${level}] ${msg}${extra ? ` ${extra}` : ''}\n`);
  };
}

/** An SDK log entry through `write`. */
export function sdkEntry(write: LineWriter, entry: LogEntry): void {
  write(entry.level, entry.message, sdkFields(entry.meta), new Date(Number(entry.timestampNanos / 1_000_000n)));
}

/** The format from the flag, else LOCKSTEP_LOG_FORMAT, else text; null when neither names one. */
export function logFormat(option: string | undefined, env: NodeJS.ProcessEnv = process.env): LogFormat | null {
  const raw = option ?? env.LOCKSTEP_LOG_FORMAT ?? 'text';
  return (LOG_FORMATS as readonly string[]).includes(raw) ? (raw as LogFormat) : null;
}
