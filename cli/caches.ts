/** `lockstep cache list` as a table. */
import type { CacheEntry } from '../client/machine/caches.ts';

export function renderCaches(entries: readonly CacheEntry[]): string {
  if (entries.length === 0) return 'no caches on this host\n';
  const rows = entries.map((e) => [
    e.repo,
    e.key,
    `${(e.bytes / 1024 / 1024).toFixed(1)} MB`,
    new Date(e.usedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
  ]);
  const head = ['REPO', 'KEY', 'SIZE', 'LAST USED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const total = entries.reduce((s, e) => s + e.bytes, 0);
  return `${[line(head), ...rows.map(line)].join('\n')}\n${entries.length} caches, ${(total / 1024 / 1024).toFixed(1)} MB\n`;
}
