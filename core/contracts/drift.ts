/**
 * Drift that predates a change is not the change's fault. A problem found at head is
 * pre-existing when the same problem is found at the base commits (consumer base against
 * provider base); only problems the change adds block. "The same" ignores line and column
 * numbers, which any edit above a declaration shifts. Pure: no I/O.
 */

export interface Identified {
  rule: string;
  file: string;
  location: string;
  message: string;
  repo?: string | undefined;
  consumer?: string | undefined;
}

/** Line numbers (`:12`, `:12:3`, `L12`, `line 12`) say where, not what: they are left out. */
const withoutLines = (text: string): string =>
  text
    .replace(/:\d+(:\d+)?(?=\b|$)/g, '')
    .replace(/\bL\d+\b/g, 'L')
    .replace(/\blines?\s+\d+/gi, 'line')
    .replace(/\s+/g, ' ')
    .trim();

/** rule + repo + file + location + message, insensitive to line numbers. */
export function problemIdentity(p: Identified): string {
  return [p.rule, p.consumer ?? p.repo ?? '', p.file, withoutLines(p.location), withoutLines(p.message)].join('\n');
}

/**
 * Splits the problems at head into those the change introduced and those already there at base.
 * Counted: a problem found twice at head and once at base is once new.
 */
export function splitPreExisting<T extends Identified>(
  head: readonly T[],
  base: readonly Identified[],
): { introduced: T[]; preExisting: T[] } {
  const seen = new Map<string, number>();
  for (const p of base) seen.set(problemIdentity(p), (seen.get(problemIdentity(p)) ?? 0) + 1);
  const introduced: T[] = [];
  const preExisting: T[] = [];
  for (const p of head) {
    const id = problemIdentity(p);
    const left = seen.get(id) ?? 0;
    if (left > 0) {
      seen.set(id, left - 1);
      preExisting.push(p);
    } else introduced.push(p);
  }
  return { introduced, preExisting };
}
