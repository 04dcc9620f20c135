/**
 * `lockstep audit <changeId> --egress [repo]`: the requests and connections of a change's egress
 * logs on this host (client/machine/egress-logs.ts reads them), one line each.
 */
import type { EgressLogLine } from '../../client/machine/egress-logs.ts';

/** One line per request or connection: when, repo, phase, verdict, method, where, bytes, why. */
export function renderEgressLogs(lines: readonly EgressLogLine[]): string {
  if (lines.length === 0) return 'no egress recorded for this change on this host';
  return lines
    .map((l) => {
      const where =
        l.path !== undefined ? `${l.host}${l.port === 443 ? '' : `:${l.port}`}${l.path}` : `${l.host}:${l.port}`;
      const verdict = l.allowed ? (l.status !== undefined ? String(l.status) : 'ok') : 'REFUSED';
      const bytes = `${Math.round(l.bytesUp / 1024)} KB up, ${Math.round(l.bytesDown / 1024)} KB down`;
      return `${l.at}  ${l.repo}  ${l.phase ?? 'setup'}  ${verdict}  ${l.method} ${where}  ${bytes}  ${l.durationMs} ms${l.reason ? `  (${l.reason})` : ''}`;
    })
    .join('\n');
}
