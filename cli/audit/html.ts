/**
 * The audit as one self-contained HTML page: inline CSS, an inline SVG timeline (one lane for
 * the coordinator and one per repo), and the table of entries. No scripts, no external URLs; a
 * Content-Security-Policy forbids both, and every string is escaped, because repository
 * content and model output end up in titles and previews.
 */
import {
  COORDINATOR_LANE,
  detailPairs,
  formatDuration,
  laneOf,
  lanesOf,
  offset,
  type AuditEntry,
  type AuditKind,
  type AuditReport,
} from './report.ts';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const h = escapeHtml;

const COLORS: Record<AuditKind, string> = {
  change: '#475569',
  repo: '#94a3b8',
  plan: '#c026d3',
  model: '#7c3aed',
  tool: '#0284c7',
  command: '#64748b',
  test: '#059669',
  gate: '#0d9488',
  forge: '#d97706',
  human: '#2563eb',
  retry: '#ea580c',
  failure: '#dc2626',
};

const MARKER_KINDS: readonly AuditKind[] = ['human', 'failure', 'retry'];

/** Activities drawn as bars (every entry that stands for an activity). */
const isActivity = (e: AuditEntry): boolean => typeof e.details.activity === 'string' && !MARKER_KINDS.includes(e.kind);
/** A workflow run's lifetime: drawn as the lane's thin span line. */
const isSpan = (e: AuditEntry): boolean => !isActivity(e) && !MARKER_KINDS.includes(e.kind) && e.durationMs !== null;

/** Something went wrong in the entry itself: a red outline on its bar. */
function isBad(e: AuditEntry): boolean {
  const d = e.details;
  return (
    d.ok === false ||
    (typeof d.exitCode === 'number' && d.exitCode !== 0) ||
    d.timedOut === true ||
    d.outcome === 'failed' ||
    d.outcome === 'timed out'
  );
}

function niceStep(totalMs: number): number {
  const steps = [
    100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000,
  ];
  return steps.find((s) => totalMs / s <= 12) ?? 7_200_000;
}

function tickLabel(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

function tooltip(report: AuditReport, e: AuditEntry): string {
  const details = detailPairs(e.details)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  return `${offset(report, e.at)} ${laneOf(e)} · ${e.kind}${e.durationMs !== null ? ` · ${formatDuration(e.durationMs)}` : ''}\n${e.title}${details ? `\n${details}` : ''}`;
}

function chart(report: AuditReport): string {
  const lanes = lanesOf(report);
  const times = report.entries.flatMap((e) => [Date.parse(e.at), Date.parse(e.at) + (e.durationMs ?? 0)]);
  const t0 = report.startedAt ? Date.parse(report.startedAt) : Math.min(...times, Date.now());
  const t1 = Math.max(report.closedAt ? Date.parse(report.closedAt) : 0, ...times, t0 + 1000);
  const width = 1320;
  const labelWidth = 150;
  const plotLeft = labelWidth + 10;
  const plotWidth = width - plotLeft - 20;
  const x = (t: number): number => plotLeft + ((t - t0) / (t1 - t0)) * plotWidth;
  const ROW = 13;
  const MAX_ROWS = 6;
  const parts: string[] = [];
  let y = 34;

  for (const lane of lanes) {
    const laneEntries = report.entries.filter((e) => laneOf(e) === lane);
    // Bars share a lane in rows, each bar in the first row where it does not overlap another.
    const rowEnds: number[] = [];
    const bars = laneEntries.filter(isActivity).map((e) => {
      const start = x(Date.parse(e.at));
      const end = e.durationMs === null ? x(t1) : x(Date.parse(e.at) + e.durationMs);
      return { e, start, end: Math.max(end, start + 2), open: e.durationMs === null };
    });
    const placed = bars.map((b) => {
      let row = rowEnds.findIndex((end) => end <= b.start);
      if (row === -1) row = rowEnds.length < MAX_ROWS ? rowEnds.length : MAX_ROWS - 1;
      rowEnds[row] = Math.max(rowEnds[row] ?? 0, b.end + 1);
      return { ...b, row };
    });
    const rows = Math.max(1, rowEnds.length);
    // One thin line per workflow in the lane (the repo's workflow, each agent run), above the bars.
    const spanWorkflows = [...new Set(laneEntries.filter(isSpan).map((e) => e.workflowId))];
    const barsTop = 20 + Math.max(1, spanWorkflows.length) * 6 + 4;
    const laneHeight = barsTop + rows * ROW + 8;
    parts.push(`<g class="lane">`);
    parts.push(
      `<rect x="0" y="${y}" width="${width}" height="${laneHeight}" fill="${lanes.indexOf(lane) % 2 === 0 ? '#f8fafc' : '#ffffff'}"/>`,
    );
    const label = lane.length > 20 ? `${lane.slice(0, 19)}…` : lane;
    parts.push(
      `<text x="10" y="${y + 20}" class="lane-label"${lane === COORDINATOR_LANE ? ' font-style="italic"' : ''}>${h(label)}<title>${h(lane)}</title></text>`,
    );
    for (const e of laneEntries.filter(isSpan)) {
      const start = x(Date.parse(e.at));
      const end = x(Date.parse(e.at) + (e.durationMs ?? 0));
      const spanTop = y + 17 + spanWorkflows.indexOf(e.workflowId) * 6;
      parts.push(
        `<rect x="${start.toFixed(1)}" y="${spanTop}" width="${Math.max(2, end - start).toFixed(1)}" height="4" rx="2" fill="${COLORS[e.kind]}" opacity="0.55"><title>${h(tooltip(report, e))}</title></rect>`,
      );
    }
    for (const b of placed) {
      const top = y + barsTop + b.row * ROW;
      const stroke = isBad(b.e) ? ` stroke="${COLORS.failure}" stroke-width="1.5"` : '';
      const open = b.open ? ' stroke-dasharray="3 2" fill-opacity="0.45"' : '';
      parts.push(
        `<rect x="${b.start.toFixed(1)}" y="${top}" width="${(b.end - b.start).toFixed(1)}" height="${ROW - 3}" rx="2" fill="${COLORS[b.e.kind]}"${stroke}${open}><title>${h(tooltip(report, b.e))}</title></rect>`,
      );
    }
    for (const e of laneEntries.filter((m) => MARKER_KINDS.includes(m.kind))) {
      const cx = x(Date.parse(e.at)).toFixed(1);
      const cy = y + 9;
      const title = `<title>${h(tooltip(report, e))}</title>`;
      if (e.kind === 'human')
        parts.push(`<path d="M ${cx} ${cy - 6} l 6 6 l -6 6 l -6 -6 z" fill="${COLORS.human}">${title}</path>`);
      else if (e.kind === 'failure')
        parts.push(`<path d="M ${cx} ${cy - 6} l 6 11 l -12 0 z" fill="${COLORS.failure}">${title}</path>`);
      else parts.push(`<circle cx="${cx}" cy="${cy}" r="4.5" fill="${COLORS.retry}">${title}</circle>`);
    }
    parts.push(`</g>`);
    y += laneHeight;
  }

  const axis: string[] = [];
  const step = niceStep(t1 - t0);
  for (let t = 0; t <= t1 - t0; t += step) {
    const tx = x(t0 + t).toFixed(1);
    axis.push(`<line x1="${tx}" y1="26" x2="${tx}" y2="${y}" class="grid"/>`);
    axis.push(`<text x="${tx}" y="20" class="tick">${h(tickLabel(t))}</text>`);
  }
  const height = y + 10;
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="timeline of the change by repository">${axis.join('')}${parts.join('')}</svg>`;
}

function legend(): string {
  const kinds = Object.entries(COLORS) as [AuditKind, string][];
  return `<ul class="legend">${kinds.map(([k, c]) => `<li><span class="swatch" style="background:${c}"></span>${h(k)}</li>`).join('')}<li><span class="swatch bad"></span>failed exit code or tool</li></ul>`;
}

export function renderAuditHtml(r: AuditReport): string {
  const t = r.totals;
  const took = r.startedAt
    ? formatDuration((r.closedAt ? Date.parse(r.closedAt) : Date.now()) - Date.parse(r.startedAt))
    : '';
  const figures: [string, string][] = [
    ['status', r.status],
    ['duration', took || '—'],
    ['model calls', String(t.modelCalls)],
    ['tool calls', String(t.toolCalls)],
    ['tokens', `${t.promptTokens} + ${t.completionTokens}`],
    ['commands & tests', String(t.commands)],
    ['retries', String(t.retries)],
    ['failures', String(t.failures)],
  ];
  const rows = r.entries
    .map((e) => {
      const details = detailPairs(e.details)
        .map(([k, v]) => `<span class="kv"><b>${h(k)}</b>=${h(v)}</span>`)
        .join(' ');
      return `<tr class="k-${e.kind}${isBad(e) ? ' bad' : ''}"><td class="num" title="${h(e.at)}">${h(offset(r, e.at))}</td><td class="lane">${h(laneOf(e))}</td><td class="kind"><span class="chip" style="background:${COLORS[e.kind]}">${h(e.kind)}</span></td><td>${h(e.title)}</td><td class="num">${h(formatDuration(e.durationMs))}</td><td class="details">${details}</td></tr>`;
    })
    .join('\n');
  const runs = r.workflows
    .map(
      (w) =>
        `<tr><td>${h(w.workflowId)}</td><td class="mono">${h(w.runId)}</td><td>${h(w.type)}</td><td>${h(w.status)}</td><td class="num">${w.events}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit of change ${h(r.changeId)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #0f172a; margin: 24px; background: #fff; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 28px 0 8px; }
  .sub { color: #475569; margin-bottom: 16px; }
  .figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0 20px; padding: 0; list-style: none; }
  .figures li { border: 1px solid #e2e8f0; border-radius: 6px; padding: 6px 12px; min-width: 90px; }
  .figures b { display: block; font-size: 18px; }
  .figures span { color: #64748b; font-size: 12px; }
  .chart { max-width: 100%; height: auto; border: 1px solid #e2e8f0; border-radius: 6px; }
  .chart .lane-label { font-size: 13px; fill: #0f172a; }
  .chart .tick { font-size: 11px; fill: #64748b; text-anchor: middle; }
  .chart .grid { stroke: #e2e8f0; stroke-width: 1; }
  .legend { display: flex; flex-wrap: wrap; gap: 14px; list-style: none; padding: 0; font-size: 12px; color: #334155; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -2px; }
  .swatch.bad { background: #fff; border: 2px solid #dc2626; width: 9px; height: 9px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e2e8f0; vertical-align: top; overflow-wrap: anywhere; }
  th { background: #f1f5f9; position: sticky; top: 0; }
  td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  td.lane, td.kind { white-space: nowrap; }
  .mono, .details { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
  .kv { margin-right: 8px; }
  .kv b { font-weight: 600; color: #475569; }
  .chip { color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 11px; }
  tr.bad td, tr.k-failure td { background: #fef2f2; }
  tr.k-human td { background: #eff6ff; }
</style>
</head>
<body>
<h1>Audit of change ${h(r.changeId)}</h1>
<div class="sub">started ${h(r.startedAt ?? '?')} · ${r.closedAt ? `closed ${h(r.closedAt)}` : 'still open'} · ${r.workflows.length} workflow runs</div>
<ul class="figures">${figures.map(([label, value]) => `<li><b>${h(value)}</b><span>${h(label)}</span></li>`).join('')}</ul>
<h2>Timeline by repository</h2>
${chart(r)}
${legend()}
<h2>Entries</h2>
<table>
<thead><tr><th>time</th><th>repo</th><th>kind</th><th>what</th><th>took</th><th>details</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<h2>Workflow runs</h2>
<table>
<thead><tr><th>workflow</th><th>run</th><th>type</th><th>status</th><th>events</th></tr></thead>
<tbody>
${runs}
</tbody>
</table>
</body>
</html>
`;
}
