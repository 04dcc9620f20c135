/** `lockstep run --plan` and `lockstep validate --targets`: a change's targets and why each was chosen. */
import type { TargetPlan } from '../client/machine/targets.ts';

export function renderTargetPlan(plan: TargetPlan, canStart: boolean): string {
  const width = Math.max(4, ...plan.targets.map((t) => t.repo.length), ...plan.unscannable.map((u) => u.repo.length));
  const lines = [
    `targets of ${plan.changeId}: ${plan.targets.length} repo${plan.targets.length === 1 ? '' : 's'}${plan.query.length ? ` (${plan.query.join('; ')})` : ''}`,
  ];
  for (const t of plan.targets) {
    lines.push(`  ${t.repo.padEnd(width)}  ${t.reasons.join('; ')}`);
    for (const m of t.matches)
      lines.push(`  ${''.padEnd(width)}    ${m.path}${m.line !== null ? `:${m.line}  ${m.excerpt ?? ''}` : ''}`);
  }
  if (plan.excluded.length) lines.push(`excluded: ${plan.excluded.join(', ')}`);
  for (const u of plan.unscannable) lines.push(`not scanned: ${u.repo.padEnd(width)}  ${u.reason}`);
  if (plan.scans.read + plan.scans.cached > 0)
    lines.push(`base branches: ${plan.scans.read} read, ${plan.scans.cached} from the cache`);
  lines.push(canStart ? 'plan only: nothing started' : 'plan only: this change cannot start (see above)');
  return lines.join('\n');
}
