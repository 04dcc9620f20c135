/** The audit as terminal text and as Markdown. Repository content and model output are hostile: both are neutralised. */
import { detailPairs, formatDuration, laneOf, offset, type AuditEntry, type AuditReport } from './report.ts';

/** No control characters or bidi overrides reach a terminal: they could rewrite what it shows. */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '�');
}

/** The few figures worth a glance on the timeline line itself. */
function glance(e: AuditEntry): string {
  const d = e.details;
  if ((e.kind === 'model' || e.kind === 'plan') && typeof d.promptTokens === 'number')
    return ` (${d.promptTokens}+${String(d.completionTokens ?? 0)} tokens)`;
  if (e.kind === 'tool' && typeof d.exitCode === 'number') return ` (exit ${d.exitCode})`;
  return '';
}

function totalsLine(r: AuditReport): string {
  const t = r.totals;
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  return [
    n(t.modelCalls, 'model call', 'model calls'),
    n(t.toolCalls, 'tool call', 'tool calls'),
    `${t.promptTokens}+${t.completionTokens} tokens`,
    n(t.commands, 'command or test run', 'commands and test runs'),
    n(t.retries, 'retry', 'retries'),
    n(t.failures, 'failure', 'failures'),
  ].join(', ');
}

function took(r: AuditReport): string {
  if (!r.startedAt) return '';
  const end = r.closedAt ? Date.parse(r.closedAt) : Date.now();
  return formatDuration(end - Date.parse(r.startedAt));
}

export function renderAuditText(r: AuditReport): string {
  const lines: string[] = [];
  lines.push(`change ${r.changeId}: ${r.status}`);
  lines.push(
    `  started ${r.startedAt ?? '?'}, ${r.closedAt ? `closed ${r.closedAt} (${took(r)})` : `still open (${took(r)} so far)`}`,
  );
  lines.push(`  ${r.workflows.length} workflow run${r.workflows.length === 1 ? '' : 's'}:`);
  for (const w of r.workflows)
    lines.push(`    ${w.workflowId}  ${w.type}  ${w.status}  ${w.events} events  run ${w.runId}`);
  if (r.unread)
    lines.push(
      `  ${r.unread} repo workflow runs of its pages not read: lockstep audit ${r.changeId} --repo <name> reads a repo's`,
    );
  lines.push(`  ${totalsLine(r)}`);
  lines.push('');
  const laneWidth = Math.min(24, Math.max(...r.entries.map((e) => laneOf(e).length), 11));
  const offsets = r.entries.map((e) => offset(r, e.at));
  const offsetWidth = Math.max(...offsets.map((o) => o.length), 6);
  r.entries.forEach((e, i) => {
    const lane = laneOf(e).slice(0, laneWidth).padEnd(laneWidth);
    const duration = e.durationMs === null ? '' : `  ${formatDuration(e.durationMs)}`;
    lines.push(
      `${(offsets[i] ?? '').padStart(offsetWidth)}  ${lane}  ${e.kind.padEnd(7)}  ${e.title}${glance(e)}${duration}`,
    );
  });
  return lines.map(terminalSafe).join('\n');
}

/** Text inside a Markdown table cell: no HTML, no table breaks, no emphasis or links. */
export function markdownCell(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]()#!~|{}])/g, '\\$1');
}

export function renderAuditMarkdown(r: AuditReport): string {
  const md = markdownCell;
  const out: string[] = [];
  out.push(`# Audit of change ${md(r.changeId)}`, '');
  out.push(`- **status:** ${md(r.status)}`);
  out.push(`- **started:** ${md(r.startedAt ?? '?')}`);
  out.push(`- **closed:** ${r.closedAt ? `${md(r.closedAt)} (${took(r)})` : 'still open'}`);
  if (r.unread) out.push(`- **repo workflow runs not read:** ${r.unread} (\`--repo <name>\` reads a repo's)`);
  out.push(`- **totals:** ${md(totalsLine(r))}`, '');
  out.push('## Workflow runs', '', '| workflow | run | type | status | events |', '|---|---|---|---|---:|');
  for (const w of r.workflows)
    out.push(`| ${md(w.workflowId)} | ${md(w.runId)} | ${md(w.type)} | ${md(w.status)} | ${w.events} |`);
  out.push(
    '',
    '## Timeline',
    '',
    '| time | at | repo | kind | what | took | details |',
    '|---:|---|---|---|---|---:|---|',
  );
  for (const e of r.entries) {
    const details = detailPairs(e.details)
      .map(([k, v]) => `${md(k)}=${md(v)}`)
      .join(', ');
    out.push(
      `| ${md(offset(r, e.at))} | ${md(e.at)} | ${md(laneOf(e))} | ${e.kind} | ${md(e.title)} | ${formatDuration(e.durationMs)} | ${details} |`,
    );
  }
  return `${out.join('\n')}\n`;
}
