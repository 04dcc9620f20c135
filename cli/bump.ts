/** `lockstep run --dry-run` of a bump change, as text. */
import type { DryRun } from '../client/machine/bump.ts';

export function renderDryRun(d: DryRun): string {
  const width = Math.max(4, ...d.repos.map((r) => r.repo.length));
  const lines = [
    `bump ${d.bump.ecosystem} ${d.bump.package} to "${d.bump.to}": resolves to ${d.bump.version} (dry run: nothing started)`,
  ];
  for (const r of d.repos)
    lines.push(`  ${r.repo.padEnd(width)}  ${r.action}${r.manifests.length ? `  (${r.manifests.join(', ')})` : ''}`);
  return lines.join('\n');
}
