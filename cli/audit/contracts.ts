/** What an audit says of one contract verdict: who fits, who breaks and why, what no declared consumer uses. */
import type { ContractVerdict } from '../../core/gate.ts';
import { short, type AuditValue } from './report.ts';

/** Longer than a preview: a reason names an operation, a field and two shapes. */
const REASON_CHARS = 400;

export function verdictDetails(verdict: ContractVerdict | undefined): Record<string, AuditValue> {
  // Verdicts recorded before per-consumer verdicts existed say nothing of them.
  const consumers = verdict?.verdicts;
  if (verdict === undefined || consumers === undefined)
    return { audience: null, fits: null, breaks: null, unused: null, unusedFirst: null };
  const fits = consumers.filter((c) => c.status === 'fits').map((c) => c.consumer);
  const breaks = consumers
    .filter((c) => c.status === 'breaks')
    .map((c) => `${c.consumer}: ${c.why[0] ?? 'does not fit'}${c.why.length > 1 ? ` (+${c.why.length - 1})` : ''}`);
  const unused = verdict.unused ?? [];
  return {
    audience: verdict.audience ?? null,
    fits: fits.length > 0 ? short(fits.join(', '), REASON_CHARS) : null,
    breaks: breaks.length > 0 ? short(breaks.join('; '), REASON_CHARS) : null,
    unused: verdict.unusedCount ?? unused.length,
    unusedFirst: unused[0] ? short(unused[0].message, REASON_CHARS) : null,
  };
}
