/** What `lockstep doctor` prints: one line per check, its fix under a failure or a warning. */
import type { DoctorCheck } from '../client/machine/doctor.ts';

const MARK = { pass: 'ok  ', fail: 'FAIL', warn: 'warn' } as const;

export function renderDoctor(checks: DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${MARK[check.status]} ${check.name.padEnd(width)}  ${check.detail}`);
    for (const line of check.lines ?? []) lines.push(`     ${' '.repeat(width)}    ${line}`);
    if (check.fix) lines.push(`     ${' '.repeat(width)}  fix: ${check.fix}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  lines.push(
    failed === 0 ? 'everything Lockstep needs is here' : `${failed} required check${failed === 1 ? '' : 's'} failed`,
  );
  return lines.join('\n');
}
