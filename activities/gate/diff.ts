/**
 * Which lines a change added, per file, from `git diff --unified=0 base head` on the host. The
 * guardrails report only findings on these lines: what was already on the base branch is not
 * the change's doing.
 */
import { git } from '../git/workspace.ts';

/** Inclusive, 1-based line numbers in the file as it is at head. */
export interface LineRange {
  start: number;
  end: number;
}

/** Repository-relative path (as at head) → the ranges of lines added or changed there. */
export type AddedLines = Record<string, LineRange[]>;

export interface DiffRange {
  /** The git checkout that holds both commits. */
  workspace: string;
  base: string;
  /** Defaults to HEAD. */
  head?: string;
}

export async function addedLines(input: DiffRange): Promise<AddedLines> {
  const repo = git(input.workspace);
  // No external diff drivers or textconv filters: repository config must not run code here.
  const text = await repo.raw([
    'diff',
    '--no-ext-diff',
    '--no-textconv',
    '--no-color',
    '--unified=0',
    '--find-renames',
    '--diff-filter=ACMR',
    input.base,
    input.head ?? 'HEAD',
    '--',
  ]);
  return parseUnifiedZero(text);
}

/** True when `line` of `file` is one of the added lines. */
export function isAdded(lines: AddedLines, file: string, line: number): boolean {
  return (lines[file] ?? []).some((r) => line >= r.start && line <= r.end);
}

/** True when any line of `start..end` of `file` was added. */
export function touchesAdded(lines: AddedLines, file: string, start: number, end: number): boolean {
  return (lines[file] ?? []).some((r) => r.start <= end && start <= r.end);
}

/** Parses the output of `git diff --unified=0` (without `-z`; paths may be C-quoted). */
export function parseUnifiedZero(text: string): AddedLines {
  const out: AddedLines = {};
  let file: string | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('+++ ')) {
      const target = line.slice(4);
      file = target === '/dev/null' ? null : stripPrefix(unquote(target));
      if (file !== null) out[file] ??= [];
      continue;
    }
    if (line.startsWith('diff --git ')) {
      file = null;
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (hunk && file !== null) {
      const start = Number(hunk[1]);
      const count = hunk[2] === undefined ? 1 : Number(hunk[2]);
      if (count > 0) out[file]?.push({ start, end: start + count - 1 });
    }
  }
  for (const [name, ranges] of Object.entries(out)) if (ranges.length === 0) delete out[name];
  return out;
}

function stripPrefix(path: string): string {
  return path.startsWith('b/') ? path.slice(2) : path;
}

/** Undoes git's C-style quoting of unusual paths ("a\tb", octal escapes for non-ASCII bytes). */
function unquote(path: string): string {
  if (!path.startsWith('"') || !path.endsWith('"')) return path;
  const bytes: number[] = [];
  const body = path.slice(1, -1);
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] ?? '';
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
