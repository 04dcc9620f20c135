/** Statistics, the printed table and the SVG plot of the benchmarks (no dependencies). */

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function summary(values: number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}

export interface Row {
  figure: string;
  lockstep: Summary | null;
  baseline: Summary | null;
  ratio: number | null;
  goal: string;
  met: boolean | null;
  baselineLabel?: string;
  note?: string;
}

const num = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
export const cell = (s: Summary | null): string =>
  s ? `${num(s.median)} [${num(s.min)}–${num(s.max)}] n=${s.runs}` : '—';

export function renderTable(
  rows: Row[],
  history: {
    n: number;
    history: { coordinator: { events: number; bytes: number }; perRepo: { events: number; bytes: number } } | null;
  }[],
): string {
  const header = ['figure', 'Lockstep median [min–max]', 'baseline median [min–max]', 'ratio', 'goal'];
  const body = rows.map((r) => [
    r.figure,
    r.note ?? cell(r.lockstep),
    r.baseline ? `${cell(r.baseline)}${r.baselineLabel ? ` (${r.baselineLabel})` : ''}` : '—',
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.met === null ? r.goal : `${r.goal} ${r.met ? 'met' : 'missed'}`,
  ]);
  const lines = [header, ...body];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]): string => `| ${l.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const out = [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(fmt)];
  const hist = history.filter((h) => h.history);
  if (hist.length > 0) {
    out.push(
      '',
      '| N | coordinator events | coordinator bytes | per-repo events (child, median) | per-repo bytes (child, median) |',
      '|---|---|---|---|---|',
    );
    for (const h of hist) {
      const x = h.history;
      if (!x) continue;
      out.push(
        `| ${h.n} | ${x.coordinator.events} | ${x.coordinator.bytes} | ${x.perRepo.events} | ${x.perRepo.bytes} |`,
      );
    }
  }
  return out.join('\n');
}

/** Wall time (median, with min–max bars) against N, one line each for Lockstep and the baseline. */
export function renderSvg(points: { n: number; lockstep: Summary; baseline: Summary }[]): string {
  const W = 640;
  const H = 400;
  const m = { left: 60, right: 20, top: 30, bottom: 50 };
  const maxN = Math.max(1, ...points.map((p) => p.n));
  const maxY = Math.max(1, ...points.flatMap((p) => [p.lockstep.max, p.baseline.max])) * 1.1;
  const x = (n: number): number => m.left + (n / maxN) * (W - m.left - m.right);
  const y = (s: number): number => H - m.bottom - (s / maxY) * (H - m.top - m.bottom);
  const f = (v: number): string => v.toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Wall time against number of repositories (median, min–max)</text>`,
  );
  // Axes and ticks.
  parts.push(`<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="black"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="black"/>`);
  for (const p of points) {
    parts.push(
      `<line x1="${f(x(p.n))}" y1="${H - m.bottom}" x2="${f(x(p.n))}" y2="${H - m.bottom + 5}" stroke="black"/>`,
    );
    parts.push(`<text x="${f(x(p.n))}" y="${H - m.bottom + 18}" text-anchor="middle">${p.n}</text>`);
  }
  const step = niceStep(maxY / 5);
  for (let v = 0; v <= maxY; v += step) {
    parts.push(`<line x1="${m.left - 5}" y1="${f(y(v))}" x2="${W - m.right}" y2="${f(y(v))}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 8}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle">repositories (N)</text>`);
  parts.push(`<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">wall time (s)</text>`);
  const series: { key: 'lockstep' | 'baseline'; label: string; color: string }[] = [
    { key: 'lockstep', label: 'Lockstep', color: '#1f77b4' },
    { key: 'baseline', label: 'baseline script', color: '#d62728' },
  ];
  series.forEach((s, i) => {
    const pts = points.map((p) => `${f(x(p.n))},${f(y(p[s.key].median))}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`);
    for (const p of points) {
      const v = p[s.key];
      parts.push(
        `<line x1="${f(x(p.n))}" y1="${f(y(v.min))}" x2="${f(x(p.n))}" y2="${f(y(v.max))}" stroke="${s.color}"/>`,
      );
      parts.push(
        `<circle cx="${f(x(p.n))}" cy="${f(y(v.median))}" r="3" fill="${s.color}"><title>${s.label} N=${p.n}: ${v.median.toFixed(1)} s</title></circle>`,
      );
    }
    parts.push(`<rect x="${m.left + 15}" y="${m.top + 8 + i * 18}" width="14" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${m.left + 35}" y="${m.top + 13 + i * 18}">${s.label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function niceStep(raw: number): number {
  const pow = 10 ** Math.floor(Math.log10(raw));
  const r = raw / pow;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * pow;
}
