/** What `lockstep fleet import` prints: what it adds, updates, leaves and skips, and whether it wrote the file. */
import { relative } from 'node:path';
import type { FleetImportReport } from '../client/machine/fleet-import.ts';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const shown = (value: unknown): string => JSON.stringify(value);

export function renderFleetImport(report: FleetImportReport, dryRun: boolean): string {
  const file = relative(process.cwd(), report.file) || report.file;
  const lines: string[] = [];
  for (const r of report.added)
    lines.push(`  add     ${r.name}  ${r.url}  ${r.baseBranch}${r.tags?.length ? `  tags: ${r.tags.join(', ')}` : ''}`);
  for (const u of report.updated)
    lines.push(
      `  update  ${u.name}  ${u.changes.map((c) => `${c.field}: ${shown(c.from)} -> ${shown(c.to)}`).join('; ')}`,
    );
  for (const g of report.gone)
    lines.push(
      g.removed
        ? `  remove  ${g.name}  (${g.url}: no longer imported from the ${report.source})`
        : `  keep    ${g.name}  (${g.url}: no longer imported from the ${report.source}; --prune removes it)`,
    );
  for (const s of report.skipped) lines.push(`  skip    ${s.slug}: ${s.reason}`);
  for (const n of report.notes) lines.push(`  note    ${n}`);
  const counts = [
    `${report.added.length} added`,
    `${report.updated.length} updated`,
    `${report.unchanged.length} unchanged`,
    `${report.gone.filter((g) => g.removed).length} removed`,
    `${report.gone.filter((g) => !g.removed).length} gone but kept`,
    `${report.skipped.length} skipped`,
  ].join(', ');
  const changed = report.added.length + report.updated.length + report.gone.filter((g) => g.removed).length > 0;
  const verdict = dryRun
    ? `dry run: ${file} is not ${report.created ? 'written' : 'changed'}`
    : report.written
      ? `${report.created ? 'wrote' : 'updated'} ${file}`
      : changed
        ? `${file} is not written`
        : `${file} is up to date`;
  return [
    `${report.source}: ${counts} (${plural(report.unchanged.length + report.added.length + report.updated.length, 'repo')} imported); ${verdict}`,
    ...lines,
  ].join('\n');
}
