/** The file tools: they act on the host, but only inside the workspace (see boundary.ts). */
import {
  Refusal,
  checkRelativePath,
  listRealDir,
  modelFsError,
  quote,
  readRealFile,
  resolveExisting,
  resolveForWrite,
  workspaceRoot,
  writeRealFile,
  type WorkspaceRoot,
} from './boundary.ts';
import type { ArgsOf } from './spec.ts';
import { MODEL_OUTPUT_CHARS, SUMMARY_CHARS, capped, clip, count, showPath } from './text.ts';
import type { ToolContext, ToolOutcome } from './tool.ts';

/** Largest file write_file (or an edit's result) may produce. */
export const MAX_WRITE_BYTES = 512 * 1024;
/** Largest file read_file and edit_file will load. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
const MAX_LINE_CHARS = 2000;
const MAX_LIST_ENTRIES = 1000;

async function rootOf(ctx: ToolContext): Promise<WorkspaceRoot> {
  try {
    return await workspaceRoot(ctx.workspace);
  } catch (err) {
    // Not the model's doing: a plain error (no fs code), so executeTool rethrows it.
    throw new Error(
      `the workspace of ${ctx.ref.repo} is not available: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export async function readFileTool(ctx: ToolContext, args: ArgsOf<'read_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  const root = await rootOf(ctx);
  const realRel = await resolveExisting(root, rel, args.path);
  const bytes = await readRealFile(root, realRel, args.path, MAX_READ_BYTES);
  if (bytes.includes(0)) {
    throw new Refusal(
      `${quote(args.path)} is a binary file (it contains NUL bytes); read_file shows text files only`,
      'binary file',
    );
  }
  const lines = splitLines(bytes.toString('utf8'));
  const total = lines.length;
  const shown = showPath(rel);
  if (total === 0)
    return {
      ok: true,
      content: `${rel}: empty file (0 lines)`,
      summary: clip(`read_file ${shown} (empty)`, SUMMARY_CHARS),
    };

  const start = args.start_line ?? 1;
  const end = Math.min(args.end_line ?? total, total);
  if (start < 1) throw new Refusal(`start_line must be 1 or more, not ${start}`, 'bad line range');
  if (start > total)
    throw new Refusal(
      `start_line ${start} is past the end of ${quote(rel)}, which has ${total} lines`,
      'bad line range',
    );
  if (end < start) throw new Refusal(`end_line ${args.end_line} is before start_line ${start}`, 'bad line range');

  const crlf = lines.some((l) => l.endsWith('\r'));
  const header = `${rel}: lines ${start}-${end} of ${total}${crlf ? ' (CRLF line endings)' : ''}`;
  const budget = MODEL_OUTPUT_CHARS - 300;
  const body: string[] = [];
  let used = header.length + 1;
  let last = start - 1;
  for (let n = start; n <= end; n++) {
    const line = numbered(n, lines[n - 1] ?? '');
    if (used + line.length + 1 > budget && body.length > 0) break;
    body.push(line);
    used += line.length + 1;
    last = n;
  }
  let content = `${header}\n${body.join('\n')}`;
  if (last < end) {
    content += `\n[output truncated after line ${last} (the limit is ${MODEL_OUTPUT_CHARS} characters); call read_file with start_line=${last + 1} to read on]`;
  }
  const whole = start === 1 && last === total;
  return {
    ok: true,
    content: capped(content),
    summary: clip(
      `read_file ${shown} ${whole ? `(${count(total, 'line')})` : `lines ${start}-${last} of ${total}`}`,
      SUMMARY_CHARS,
    ),
  };
}

export async function writeFileTool(ctx: ToolContext, args: ArgsOf<'write_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  const data = Buffer.from(args.content, 'utf8');
  if (data.length > MAX_WRITE_BYTES) {
    throw new Refusal(
      `content is ${data.length} bytes; write_file writes at most ${MAX_WRITE_BYTES} bytes per file`,
      'content too large',
    );
  }
  const root = await rootOf(ctx);
  const target = await resolveForWrite(root, rel, args.path);
  await writeRealFile(root, target, args.path, data, ctx.owner);
  const written = joinRel(target.dir, target.name);
  const via = written === rel ? '' : ` (through a symbolic link: the file written is ${written})`;
  const lineCount = splitLines(args.content).length;
  return {
    ok: true,
    content: `${target.exists ? 'Replaced' : 'Created'} ${rel}${via}: ${count(lineCount, 'line')}, ${count(data.length, 'byte')}.`,
    summary: clip(
      `write_file ${showPath(written)} (${target.exists ? 'replaced' : 'created'}, ${count(lineCount, 'line')})`,
      SUMMARY_CHARS,
    ),
    wrote: [written],
  };
}

export async function editFileTool(ctx: ToolContext, args: ArgsOf<'edit_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  if (args.old_text === '')
    throw new Refusal(
      'old_text is empty; give the exact text to replace (to create a file, use write_file)',
      'empty old_text',
    );
  if (args.old_text === args.new_text)
    throw new Refusal('old_text and new_text are the same; nothing would change', 'no change');
  const root = await rootOf(ctx);
  const target = await resolveForWrite(root, rel, args.path);
  if (!target.exists)
    throw new Refusal(`${quote(args.path)} does not exist; use write_file to create a new file`, 'not found');
  const written = joinRel(target.dir, target.name);
  const bytes = await readRealFile(root, written, args.path, MAX_READ_BYTES);
  if (bytes.includes(0))
    throw new Refusal(
      `${quote(args.path)} is a binary file (it contains NUL bytes); edit_file edits text files only`,
      'binary file',
    );
  const text = bytes.toString('utf8');

  let oldText = args.old_text;
  let newText = args.new_text;
  let at = occurrences(text, oldText);
  let note = '';
  if (at.length === 0 && text.includes('\r\n') && !oldText.includes('\r')) {
    // The model saw the lines without their carriage returns; match the file's line endings.
    const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
    oldText = crlf(oldText);
    newText = crlf(newText);
    at = occurrences(text, oldText);
    note = " (matched with the file's CRLF line endings, which are kept)";
  }
  if (at.length === 0) {
    throw new Refusal(
      `old_text was not found in ${quote(rel)} (0 matches). It must match the file exactly, whitespace and indentation included; read_file the lines again and copy them exactly.`,
      'no match',
    );
  }
  if (at.length > 1) {
    const lineNumbers = at.slice(0, 10).map((i) => lineAt(text, i));
    throw new Refusal(
      `old_text occurs ${at.length} times in ${quote(rel)} (at lines ${lineNumbers.join(', ')}${at.length > 10 ? ', …' : ''}); it must occur exactly once: add surrounding lines to old_text (and new_text) so that only one place matches.`,
      `${at.length} matches`,
    );
  }
  const index = at[0] ?? 0;
  // Plain concatenation: String.replace would interpret "$&" and friends in new_text.
  const updated = text.slice(0, index) + newText + text.slice(index + oldText.length);
  const data = Buffer.from(updated, 'utf8');
  if (data.length > MAX_WRITE_BYTES) {
    throw new Refusal(
      `the edited file would be ${data.length} bytes; files are limited to ${MAX_WRITE_BYTES} bytes`,
      'result too large',
    );
  }
  await writeRealFile(root, target, args.path, data, ctx.owner);

  const firstLine = lineAt(updated, index);
  const oldLines = splitLines(oldText).length || 1;
  const newLines = newText === '' ? 0 : splitLines(newText).length || 1;
  const lines = splitLines(updated);
  const from = Math.max(1, firstLine - 2);
  const to = Math.min(lines.length, firstLine + Math.max(newLines, 1) + 1, from + 40);
  const snippet: string[] = [];
  for (let n = from; n <= to; n++) snippet.push(numbered(n, lines[n - 1] ?? ''));
  const via = written === rel ? '' : ` (through a symbolic link: the file written is ${written})`;
  return {
    ok: true,
    content: capped(
      `Edited ${rel}${via}: replaced ${count(oldLines, 'line')} at line ${firstLine} with ${count(newLines, 'line')}${note}. Now:\n${snippet.join('\n')}`,
    ),
    summary: clip(`edit_file ${showPath(written)} at line ${firstLine} (-${oldLines} +${newLines})`, SUMMARY_CHARS),
    wrote: [written],
  };
}

export async function listDirectoryTool(ctx: ToolContext, args: ArgsOf<'list_directory'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, true);
  const root = await rootOf(ctx);
  const realRel = rel === '' ? '' : await resolveExisting(root, rel, args.path);
  const entries = await listRealDir(root, realRel, args.path).catch((err: unknown) => {
    if (modelFsError(err) === 'ENOTDIR')
      throw new Refusal(`${quote(args.path)} is a file, not a directory; use read_file`, 'not a directory');
    throw err;
  });
  const shown = rel === '' ? '.' : rel;
  const lines: string[] = [];
  let used = 0;
  for (const entry of entries.slice(0, MAX_LIST_ENTRIES)) {
    const name = listedName(entry.name);
    const line =
      entry.kind === 'dir'
        ? `${name}/`
        : entry.kind === 'link'
          ? `${name} -> ${listedName(entry.target ?? '?')}`
          : name;
    if (used + line.length + 1 > MODEL_OUTPUT_CHARS - 400) break;
    lines.push(line);
    used += line.length + 1;
  }
  const more = entries.length - lines.length;
  const content =
    `${shown}/: ${entries.length} entries` +
    (entries.length === 0 ? ' (empty directory)' : `\n${lines.join('\n')}`) +
    (more > 0 ? `\n[… ${more} more entries not shown; list a subdirectory or use grep_codebase]` : '');
  return {
    ok: true,
    content: capped(content),
    summary: clip(`list_directory ${showPath(shown)} (${entries.length} entries)`, SUMMARY_CHARS),
  };
}

/** Lines of a text; a final newline ends the last line rather than starting an empty one. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function numbered(n: number, line: string): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cut =
    text.length > MAX_LINE_CHARS
      ? `${text.slice(0, MAX_LINE_CHARS)} [… ${text.length - MAX_LINE_CHARS} more characters on this line]`
      : text;
  return `${String(n).padStart(5)}| ${cut}`;
}

function occurrences(text: string, part: string): number[] {
  const found: number[] = [];
  for (let i = text.indexOf(part); i !== -1; i = text.indexOf(part, i + 1)) found.push(i);
  return found;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Control characters (a newline, an escape sequence), line separators and bidirectional
 * overrides in a file name would let the repository write lines of its own into the listing the
 * model reads. Such a name is shown quoted, every one of those characters as a \uXXXX escape;
 * any other name as it is.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
export function listedName(name: string): string {
  if (!UNSAFE_NAME_CHARS.test(name)) return name;
  const escaped = [...name]
    .map((c) =>
      c === '"' || c === '\\'
        ? `\\${c}`
        : UNSAFE_NAME_CHARS.test(c)
          ? `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`
          : c,
    )
    .join('');
  return `"${escaped}"`;
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
