/** The shape of an audit: one change's timeline, read back from Temporal's histories. */

export type AuditKind =
  'change' | 'plan' | 'model' | 'tool' | 'command' | 'test' | 'gate' | 'forge' | 'human' | 'retry' | 'failure' | 'repo';

export type AuditValue = string | number | boolean | null;

export interface AuditEntry {
  /** ISO time of the event that opened the entry (an activity's scheduling, a signal, ...). */
  at: string;
  workflowId: string;
  /** The repository the entry is about; null for the coordinator's own work. */
  repo: string | null;
  kind: AuditKind;
  title: string;
  details: Record<string, AuditValue>;
  durationMs: number | null;
}

export interface AuditWorkflowRun {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  events: number;
}

export interface AuditTotals {
  modelCalls: number;
  toolCalls: number;
  promptTokens: number;
  completionTokens: number;
  commands: number;
  retries: number;
  failures: number;
}

export interface AuditReport {
  changeId: string;
  status: string;
  startedAt: string | null;
  closedAt: string | null;
  workflows: AuditWorkflowRun[];
  /** Sorted by time. */
  entries: AuditEntry[];
  /** A change in pages: the repo workflow runs its pages started that were not read (`--repo` reads them). */
  unread?: number;
  totals: AuditTotals;
}

/** Previews and messages are cut here: an audit shows what happened, never file contents. */
export const PREVIEW_CHARS = 160;

/** One line, at most `max` characters (an ellipsis marks the cut). */
export function short(text: string, max = PREVIEW_CHARS): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The lane an entry belongs to in charts and tables. */
export const COORDINATOR_LANE = 'coordinator';
export const laneOf = (entry: Pick<AuditEntry, 'repo'>): string => entry.repo ?? COORDINATOR_LANE;

/** Lanes in a stable order: the coordinator first, then repos as they first appear. */
export function lanesOf(report: AuditReport): string[] {
  const lanes = [COORDINATOR_LANE];
  for (const e of report.entries) {
    const lane = laneOf(e);
    if (!lanes.includes(lane)) lanes.push(lane);
  }
  return lanes;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** Seconds since the change started, e.g. `+12.3s`. */
export function offset(report: AuditReport, at: string): string {
  const origin = report.startedAt ?? report.entries[0]?.at;
  if (!origin) return '';
  return `+${((Date.parse(at) - Date.parse(origin)) / 1000).toFixed(1)}s`;
}

/** `key=value` pairs of the details that say something (nulls left out). */
export function detailPairs(details: Record<string, AuditValue>): [string, string][] {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => [k, String(v)]);
}
