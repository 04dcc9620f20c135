/**
 * The coding agent's tools. Each checks its own boundary: file tools act on the host but only
 * inside the workspace (see boundary.ts); search and commands run in the repo's sandbox, as
 * argument vectors where the model supplies arguments. Whatever the model sends comes back as
 * an ok:false outcome it can act on; only the infrastructure (Docker, the host) or a
 * cancellation makes a tool throw.
 */
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { open } from 'node:fs/promises';
import type { CommandKind, CommandResult, EgressAsk, TestsOutcome } from '../../../core/commands.ts';
import { runInSandbox, type SandboxDeps } from '../../sandbox/docker.ts';
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

export const TOOL_NAMES = ['read_file', 'write_file', 'edit_file', 'list_directory', 'grep_codebase', 'run_command', 'run_tests', 'finish'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** The most the model reads back from one call. */
export const MODEL_OUTPUT_CHARS = 12_000;
/** Largest file write_file (or an edit's result) may produce. */
export const MAX_WRITE_BYTES = 512 * 1024;
/** Largest file read_file and edit_file will load. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
const MAX_LINE_CHARS = 2000;
const MAX_GREP_LINE_CHARS = 400;
const MAX_LIST_ENTRIES = 1000;
const MAX_COMMAND_CHARS = 64 * 1024;
const MAX_PATTERN_CHARS = 4096;
const MAX_FINISH_CHARS = 4000;
const SUMMARY_CHARS = 200;
/** How much of a command's stored log is read back to show the model. */
const LOG_READ_BYTES = 1024 * 1024;

export interface ToolContext {
  /** Absolute host path of the repo's workspace (contains .git). */
  workspace: string;
  sandbox: SandboxDeps;
  ref: { changeId: string; repo: string };
  /** The repo's test command. */
  testCommand: string;
  /** run_command's (and grep's) timeout. */
  commandTimeoutSeconds: number;
  testTimeoutSeconds: number;
  /** Stored-log cap passed to runInSandbox. */
  outputBytes: number;
  /** Log index for runInSandbox. */
  nextIndex: () => number;
  /** The task's egress ask: the agent's commands reach the network only when it says `agent`. */
  egress?: EgressAsk;
  /** Written files and created directories are chowned to this (the sandbox user) when set. */
  owner: { uid: number; gid: number } | null;
  signal?: AbortSignal;
}

export interface ToolOutcome {
  ok: boolean;
  /** What the model reads back (the tool message content), at most MODEL_OUTPUT_CHARS, with a note saying how to see more when cut. */
  content: string;
  /** One short line for workflow history and progress; no file contents; at most 200 characters. */
  summary: string;
  /** Set by run_tests. */
  tests?: TestsOutcome;
  /** Set by run_command. */
  exitCode?: number;
  /** Set by finish. */
  finished?: { summary: string };
  /** Files this call wrote (paths relative to the workspace root). */
  wrote?: string[];
}

interface ParamSpec {
  type: 'string' | 'integer';
  /** Optional: the model sends null (strict mode lists every property as required). */
  nullable?: true;
  description: string;
}

interface ToolSpec {
  description: string;
  params: Record<string, ParamSpec>;
  /** Shown when the model gets the arguments wrong. */
  example: Record<string, unknown>;
}

const TOOL_SPECS = {
  read_file: {
    description:
      'Read a text file of the repository. Returns numbered lines ("   12| text") and the total line count. For long files, read a range with start_line and end_line (1-based, inclusive).',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root, e.g. "src/index.ts".' },
      start_line: { type: 'integer', nullable: true, description: 'First line to return (1-based), or null for the start of the file.' },
      end_line: { type: 'integer', nullable: true, description: 'Last line to return (inclusive), or null for the end of the file.' },
    },
    example: { path: 'src/index.ts', start_line: null, end_line: null },
  },
  write_file: {
    description:
      'Create a file or replace its whole content. Missing parent directories are created. To change part of an existing file, prefer edit_file.',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root.' },
      content: { type: 'string', description: 'The complete new content of the file.' },
    },
    example: { path: 'src/new.ts', content: 'export const x = 1;\n' },
  },
  edit_file: {
    description:
      'Replace one exact piece of text in an existing file. old_text must match the file exactly (whitespace and indentation included) and occur exactly once; include surrounding lines to make it unique.',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root.' },
      old_text: { type: 'string', description: 'The exact text to replace; must occur exactly once in the file.' },
      new_text: { type: 'string', description: 'The text to put in its place (empty to delete it).' },
    },
    example: { path: 'src/index.ts', old_text: 'const x = 1;', new_text: 'const x = 2;' },
  },
  list_directory: {
    description: 'List the entries of a directory of the repository, sorted; directories end with "/". Use "." for the repository root.',
    params: {
      path: { type: 'string', description: 'Directory path relative to the repository root; "." for the root.' },
    },
    example: { path: '.' },
  },
  grep_codebase: {
    description:
      'Search the files of the repository for a pattern (grep basic regular expression, case-sensitive; \\| for alternation). Returns matching lines as path:line:text. Binary files and .git are skipped.',
    params: {
      pattern: { type: 'string', description: 'The pattern to search for; taken as a pattern even when it starts with "-".' },
      glob: { type: 'string', nullable: true, description: 'Only search files whose name matches this glob, e.g. "*.ts"; null for all files.' },
    },
    example: { pattern: 'createServer', glob: null },
  },
  run_command: {
    description:
      'Run a shell command with bash in the repository\'s sandbox: working directory /workspace (the repository root), no network, a time limit. Returns the exit code and the output (start and end when long).',
    params: {
      command: { type: 'string', description: 'The bash command line to run, e.g. "ls -la src && npm run build".' },
    },
    example: { command: 'ls -la' },
  },
  run_tests: {
    description: "Run the repository's test suite (its configured test command) in the sandbox and report whether it passed, with the output.",
    params: {},
    example: {},
  },
  finish: {
    description:
      'End your work on this repository. Call it when the task is done and the tests pass, or when it cannot be done; summary says what you changed and why (it goes into the pull request).',
    params: {
      summary: { type: 'string', description: 'What you changed and why, in a few sentences.' },
    },
    example: { summary: 'Renamed the user id field and updated its tests.' },
  },
} as const satisfies Record<ToolName, ToolSpec>;

type Specs = typeof TOOL_SPECS;
type ParamValue<P> = (P extends { type: 'integer' } ? number : string) | (P extends { nullable: true } ? null : never);
type ArgsOf<N extends ToolName> = { -readonly [K in keyof Specs[N]['params']]: ParamValue<Specs[N]['params'][K]> };

/** Tool definitions for Chat Completions, strict mode: every property required, optional ones nullable, no extra properties. */
export function toolDefinitions(): ChatCompletionTool[] {
  return TOOL_NAMES.map((name) => {
    const spec: ToolSpec = TOOL_SPECS[name];
    const properties: Record<string, unknown> = {};
    for (const [param, p] of Object.entries(spec.params)) {
      properties[param] = { type: p.nullable ? [p.type, 'null'] : p.type, description: p.description };
    }
    return {
      type: 'function',
      function: {
        name,
        description: spec.description,
        strict: true,
        parameters: { type: 'object', properties, required: Object.keys(spec.params), additionalProperties: false },
      },
    };
  });
}

const isToolName = (name: string): name is ToolName => (TOOL_NAMES as readonly string[]).includes(name);

/**
 * Runs one tool call. Never throws because of the model: unknown tools, bad arguments, paths
 * outside the workspace and failing commands are ok:false outcomes. Throws for infrastructure
 * failures (sandbox gone, Docker down, workspace missing) and when `ctx.signal` aborts.
 */
export async function executeTool(ctx: ToolContext, name: string, rawArguments: string): Promise<ToolOutcome> {
  ctx.signal?.throwIfAborted();
  if (!isToolName(name)) {
    return failed(
      `unknown tool ${quote(clip(name, 80))}; the tools are: ${TOOL_NAMES.join(', ')}`,
      `unknown tool ${clip(name, 60)}`,
    );
  }
  const parsed = parseArguments(name, rawArguments);
  if (typeof parsed === 'string') return failed(parsed, `${name}: invalid arguments`);
  try {
    return await dispatch(ctx, name, parsed);
  } catch (err) {
    if (err instanceof Refusal) return failed(err.message, `${name}${target(name, parsed)}: ${err.reason}`);
    const fsCode = modelFsError(err);
    if (fsCode !== null && !ctx.signal?.aborted) {
      return failed(
        `${name} failed${target(name, parsed)}: ${fsCode} (${FS_CODE_TEXT[fsCode] ?? 'file system error'})`,
        `${name}${target(name, parsed)}: ${fsCode}`,
      );
    }
    throw err;
  }
}

async function dispatch(ctx: ToolContext, name: ToolName, args: Record<string, unknown>): Promise<ToolOutcome> {
  // The parser checked every argument against TOOL_SPECS[name], so the casts below hold.
  switch (name) {
    case 'read_file':
      return readFileTool(ctx, args as ArgsOf<'read_file'>);
    case 'write_file':
      return writeFileTool(ctx, args as ArgsOf<'write_file'>);
    case 'edit_file':
      return editFileTool(ctx, args as ArgsOf<'edit_file'>);
    case 'list_directory':
      return listDirectoryTool(ctx, args as ArgsOf<'list_directory'>);
    case 'grep_codebase':
      return grepTool(ctx, args as ArgsOf<'grep_codebase'>);
    case 'run_command':
      return runCommandTool(ctx, args as ArgsOf<'run_command'>);
    case 'run_tests':
      return runTestsTool(ctx);
    case 'finish':
      return finishTool(args as ArgsOf<'finish'>);
  }
}

/** Checks arguments against the tool's spec; returns them, or a message naming every problem. */
function parseArguments(name: ToolName, raw: string): Record<string, unknown> | string {
  const spec: ToolSpec = TOOL_SPECS[name];
  const usage = `Call it with a JSON object like ${JSON.stringify(spec.example)}.`;
  let value: unknown;
  // Some models send nothing at all for a tool without parameters.
  if (raw.trim() === '') value = {};
  else {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return `the arguments of ${name} are not valid JSON (${clip(reason, 120)}). ${usage}`;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `the arguments of ${name} must be a JSON object, not ${describe(value)}. ${usage}`;
  }
  const args = value as Record<string, unknown>;
  const problems: string[] = [];
  const known = Object.keys(spec.params);
  for (const key of Object.keys(args)) {
    // Own keys only: `in` would take "constructor" or "__proto__" for parameters of every tool.
    if (!Object.hasOwn(spec.params, key)) {
      problems.push(`unknown argument ${quote(clip(key, 60))} (${name} takes ${known.length ? known.join(', ') : 'no arguments'})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(spec.params)) {
    const v = args[key];
    const wanted = p.type === 'integer' ? 'an integer' : 'a string';
    if (v === undefined || v === null) {
      // Lenient with omitted optional arguments: not every endpoint enforces strict schemas.
      if (p.nullable) out[key] = null;
      else problems.push(`missing required argument ${quote(key)} (${wanted}: ${p.description})`);
      continue;
    }
    const fits = p.type === 'integer' ? typeof v === 'number' && Number.isSafeInteger(v) : typeof v === 'string';
    if (!fits) {
      problems.push(`argument ${quote(key)} must be ${wanted}${p.nullable ? ' or null' : ''}, not ${describe(v)}`);
      continue;
    }
    out[key] = v;
  }
  if (problems.length > 0) return `invalid arguments for ${name}: ${problems.join('; ')}. ${usage}`;
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${quote(clip(value, 40))})`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the number ${value}` : `a fractional number (${value})`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** " <path>" or " <pattern>" for summary lines. */
function target(name: ToolName, args: Record<string, unknown>): string {
  const value = name === 'grep_codebase' ? args.pattern : args.path;
  return typeof value === 'string' ? ` ${showPath(value)}` : '';
}

function failed(message: string, summary: string): ToolOutcome {
  return { ok: false, content: capped(`Error: ${message}`), summary: clip(summary, SUMMARY_CHARS) };
}

async function rootOf(ctx: ToolContext): Promise<WorkspaceRoot> {
  try {
    return await workspaceRoot(ctx.workspace);
  } catch (err) {
    // Not the model's doing: a plain error (no fs code), so executeTool rethrows it.
    throw new Error(`the workspace of ${ctx.ref.repo} is not available: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// File tools (host, inside the workspace)

async function readFileTool(ctx: ToolContext, args: ArgsOf<'read_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  const root = await rootOf(ctx);
  const realRel = await resolveExisting(root, rel, args.path);
  const bytes = await readRealFile(root, realRel, args.path, MAX_READ_BYTES);
  if (bytes.includes(0)) {
    throw new Refusal(`${quote(args.path)} is a binary file (it contains NUL bytes); read_file shows text files only`, 'binary file');
  }
  const lines = splitLines(bytes.toString('utf8'));
  const total = lines.length;
  const shown = showPath(rel);
  if (total === 0) return { ok: true, content: `${rel}: empty file (0 lines)`, summary: clip(`read_file ${shown} (empty)`, SUMMARY_CHARS) };

  const start = args.start_line ?? 1;
  const end = Math.min(args.end_line ?? total, total);
  if (start < 1) throw new Refusal(`start_line must be 1 or more, not ${start}`, 'bad line range');
  if (start > total) throw new Refusal(`start_line ${start} is past the end of ${quote(rel)}, which has ${total} lines`, 'bad line range');
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
    summary: clip(`read_file ${shown} ${whole ? `(${count(total, 'line')})` : `lines ${start}-${last} of ${total}`}`, SUMMARY_CHARS),
  };
}

async function writeFileTool(ctx: ToolContext, args: ArgsOf<'write_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  const data = Buffer.from(args.content, 'utf8');
  if (data.length > MAX_WRITE_BYTES) {
    throw new Refusal(`content is ${data.length} bytes; write_file writes at most ${MAX_WRITE_BYTES} bytes per file`, 'content too large');
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
    summary: clip(`write_file ${showPath(written)} (${target.exists ? 'replaced' : 'created'}, ${count(lineCount, 'line')})`, SUMMARY_CHARS),
    wrote: [written],
  };
}

async function editFileTool(ctx: ToolContext, args: ArgsOf<'edit_file'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, false);
  if (args.old_text === '') throw new Refusal('old_text is empty; give the exact text to replace (to create a file, use write_file)', 'empty old_text');
  if (args.old_text === args.new_text) throw new Refusal('old_text and new_text are the same; nothing would change', 'no change');
  const root = await rootOf(ctx);
  const target = await resolveForWrite(root, rel, args.path);
  if (!target.exists) throw new Refusal(`${quote(args.path)} does not exist; use write_file to create a new file`, 'not found');
  const written = joinRel(target.dir, target.name);
  const bytes = await readRealFile(root, written, args.path, MAX_READ_BYTES);
  if (bytes.includes(0)) throw new Refusal(`${quote(args.path)} is a binary file (it contains NUL bytes); edit_file edits text files only`, 'binary file');
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
    note = ' (matched with the file\'s CRLF line endings, which are kept)';
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
    throw new Refusal(`the edited file would be ${data.length} bytes; files are limited to ${MAX_WRITE_BYTES} bytes`, 'result too large');
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
    content: capped(`Edited ${rel}${via}: replaced ${count(oldLines, 'line')} at line ${firstLine} with ${count(newLines, 'line')}${note}. Now:\n${snippet.join('\n')}`),
    summary: clip(`edit_file ${showPath(written)} at line ${firstLine} (-${oldLines} +${newLines})`, SUMMARY_CHARS),
    wrote: [written],
  };
}

async function listDirectoryTool(ctx: ToolContext, args: ArgsOf<'list_directory'>): Promise<ToolOutcome> {
  const rel = checkRelativePath(args.path, true);
  const root = await rootOf(ctx);
  const realRel = rel === '' ? '' : await resolveExisting(root, rel, args.path);
  const entries = await listRealDir(root, realRel, args.path).catch((err: unknown) => {
    if (modelFsError(err) === 'ENOTDIR') throw new Refusal(`${quote(args.path)} is a file, not a directory; use read_file`, 'not a directory');
    throw err;
  });
  const shown = rel === '' ? '.' : rel;
  const lines: string[] = [];
  let used = 0;
  for (const entry of entries.slice(0, MAX_LIST_ENTRIES)) {
    const name = listedName(entry.name);
    const line = entry.kind === 'dir' ? `${name}/` : entry.kind === 'link' ? `${name} -> ${listedName(entry.target ?? '?')}` : name;
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

// ---------------------------------------------------------------------------------------------
// Sandbox tools

async function grepTool(ctx: ToolContext, args: ArgsOf<'grep_codebase'>): Promise<ToolOutcome> {
  const pattern = args.pattern;
  const glob = args.glob === '' ? null : args.glob;
  if (pattern === '') throw new Refusal('pattern is empty; give the text or regular expression to search for', 'empty pattern');
  if (pattern.length > MAX_PATTERN_CHARS) throw new Refusal(`pattern is ${pattern.length} characters; the limit is ${MAX_PATTERN_CHARS}`, 'pattern too long');
  if (pattern.includes('\0') || glob?.includes('\0')) throw new Refusal('pattern and glob cannot contain NUL bytes', 'NUL byte');
  // The pattern follows -e, the paths follow --: nothing the model sends is read as an option.
  const argv = ['grep', '-rnI', '--exclude-dir=.git', ...(glob ? ['--include', glob] : []), '-e', pattern, '--', '.'];
  const result = await sandboxRun(ctx, 'agent', 'grep_codebase', argv.map(shellWord).join(' '), argv, ctx.commandTimeoutSeconds);
  const what = `grep_codebase ${quote(clip(pattern, 60))}${glob ? ` in ${clip(glob, 40)}` : ''}`;
  if (result.timedOut) {
    return { ok: false, content: capped(`Error: the search timed out after ${ctx.commandTimeoutSeconds}s; narrow it with a glob or a more specific pattern.`), summary: clip(`${what}: timed out`, SUMMARY_CHARS) };
  }
  const output = await loggedOutput(result, 'head', 'narrow the pattern or add a glob to see the rest');
  if (result.exitCode === 1) {
    // grep's exit code 1 means no line matched; anything it printed is a warning.
    const warning = output.trim() === '' ? '' : `\n${output.trim()}`;
    return {
      ok: true,
      content: capped(`No matches for ${quote(pattern)}${glob ? ` in files matching ${quote(glob)}` : ''}.${warning}`),
      summary: clip(`${what}: no matches`, SUMMARY_CHARS),
    };
  }
  const lines = output
    .split('\n')
    .map((l) => l.replace(/^\.\//, ''))
    .map((l) => (l.length > MAX_GREP_LINE_CHARS ? `${l.slice(0, MAX_GREP_LINE_CHARS)} [… line cut]` : l));
  const text = lines.join('\n').replace(/\n+$/, '');
  if (result.exitCode !== 0) {
    return { ok: false, content: capped(`Error: grep failed (exit code ${result.exitCode}):\n${text}`), summary: clip(`${what}: grep exit ${result.exitCode}`, SUMMARY_CHARS) };
  }
  const matches = lines.filter((l) => /^[^:\n]+:\d+:/.test(l)).length;
  const complete = !result.truncated && result.outputBytes <= MODEL_OUTPUT_CHARS;
  return { ok: true, content: capped(text), summary: clip(`${what}: ${matches}${complete ? '' : '+'} matching lines`, SUMMARY_CHARS) };
}

async function runCommandTool(ctx: ToolContext, args: ArgsOf<'run_command'>): Promise<ToolOutcome> {
  const command = args.command;
  if (command.trim() === '') throw new Refusal('command is empty', 'empty command');
  if (command.includes('\0')) throw new Refusal('command contains a NUL byte', 'NUL byte');
  if (command.length > MAX_COMMAND_CHARS) throw new Refusal(`command is ${command.length} characters; the limit is ${MAX_COMMAND_CHARS} (write a script with write_file and run that)`, 'command too long');
  // The sandbox is the boundary here: the command runs there, never on the host.
  const result = await sandboxRun(ctx, 'agent', `run_command ${command}`, command, undefined, ctx.commandTimeoutSeconds);
  const output = await loggedOutput(result, 'ends', 'narrow the command (pipe it through grep, head, tail or sed -n)');
  const status = result.timedOut
    ? `timed out after ${ctx.commandTimeoutSeconds}s and was killed (exit code ${result.exitCode})`
    : `exit code ${result.exitCode}`;
  const what = `run_command ${quote(clip(command, 80))}`;
  return {
    ok: result.exitCode === 0 && !result.timedOut,
    content: capped(`${status}\n${output === '' ? '(no output)' : output}`),
    summary: clip(`${what}: ${result.timedOut ? 'timed out' : `exit ${result.exitCode}`}`, SUMMARY_CHARS),
    exitCode: result.exitCode,
  };
}

async function runTestsTool(ctx: ToolContext): Promise<ToolOutcome> {
  const result = await sandboxRun(ctx, 'test', 'tests', ctx.testCommand, undefined, ctx.testTimeoutSeconds);
  const passed = result.exitCode === 0 && !result.timedOut;
  const output = await loggedOutput(result, 'ends', 'run a narrower test command with run_command to see more');
  const status = passed
    ? 'Tests passed (exit code 0).'
    : result.timedOut
      ? `Tests timed out after ${ctx.testTimeoutSeconds}s and were killed.`
      : `Tests FAILED (exit code ${result.exitCode}).`;
  return {
    ok: passed,
    content: capped(`${status}\n${output === '' ? '(no output)' : output}`),
    summary: passed ? 'run_tests: passed' : result.timedOut ? `run_tests: timed out after ${ctx.testTimeoutSeconds}s` : `run_tests: exit ${result.exitCode}`,
    tests: { exitCode: result.exitCode, passed, timedOut: result.timedOut, durationMs: result.durationMs, outputTail: result.outputTail, log: result.log },
  };
}

function finishTool(args: ArgsOf<'finish'>): ToolOutcome {
  const summary = args.summary.trim();
  if (summary === '') throw new Refusal('summary is empty; say in a few sentences what you changed and why', 'empty summary');
  const kept = summary.length > MAX_FINISH_CHARS ? `${summary.slice(0, MAX_FINISH_CHARS - 1)}…` : summary;
  return {
    ok: true,
    content: 'Finished; your summary is recorded.',
    summary: clip(`finish: ${summary.split('\n')[0] ?? ''}`, SUMMARY_CHARS),
    finished: { summary: kept },
  };
}

function sandboxRun(
  ctx: ToolContext,
  kind: CommandKind,
  name: string,
  command: string,
  argv: string[] | undefined,
  timeoutSeconds: number,
): Promise<CommandResult> {
  return runInSandbox(
    ctx.sandbox,
    {
      changeId: ctx.ref.changeId,
      repo: ctx.ref.repo,
      kind,
      name,
      index: ctx.nextIndex(),
      command,
      ...(argv ? { argv } : {}),
      timeoutSeconds,
      outputBytes: ctx.outputBytes,
      ...(ctx.egress ? { egress: ctx.egress } : {}),
    },
    ctx.signal,
  );
}

/**
 * A command's output as the model should see it: whole when it fits, else its start (`head`,
 * for search results) or its start and end (`ends`, where errors usually are), with a note.
 */
async function loggedOutput(result: CommandResult, keep: 'head' | 'ends', hint: string): Promise<string> {
  const logged = result.log ? await readStart(result.log.path, LOG_READ_BYTES).catch(() => null) : null;
  const whole = logged && logged.complete && !result.truncated ? logged.text : null;
  const budget = MODEL_OUTPUT_CHARS - 400;
  if (whole !== null && whole.length <= budget) return whole;
  if (whole === null && !logged && result.outputTail.length <= budget) return result.outputTail;
  const note = `\n[… output cut: it was ${result.outputBytes} bytes and the model sees at most ${MODEL_OUTPUT_CHARS} characters; ${hint}]\n`;
  const start = logged?.text ?? result.outputTail;
  if (keep === 'head') return takeHead(start, budget - note.length) + note;
  const head = takeHead(start, Math.floor(budget / 3));
  return head + note + takeTail(whole ?? result.outputTail, budget - head.length - note.length);
}

async function readStart(path: string, max: number): Promise<{ text: string; complete: boolean }> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(max + 1);
    const { bytesRead } = await file.read(buffer, 0, max + 1, 0);
    return { text: buffer.subarray(0, Math.min(bytesRead, max)).toString('utf8'), complete: bytesRead <= max };
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/** Lines of a text; a final newline ends the last line rather than starting an empty one. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function numbered(n: number, line: string): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cut = text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)} [… ${text.length - MAX_LINE_CHARS} more characters on this line]` : text;
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

function takeHead(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf('\n', max);
  return text.slice(0, cut > max / 2 ? cut : max);
}

function takeTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const from = text.length - max;
  const cut = text.indexOf('\n', from);
  return text.slice(cut !== -1 && cut < from + max / 2 ? cut + 1 : from);
}

/** The final guard on what the model reads. */
function capped(text: string): string {
  if (text.length <= MODEL_OUTPUT_CHARS) return text;
  const note = `\n[… cut at ${MODEL_OUTPUT_CHARS} characters]`;
  return text.slice(0, MODEL_OUTPUT_CHARS - note.length) + note;
}

/** One line, control characters blanked, at most `max` characters. */
function clip(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function showPath(path: string): string {
  return /^[\w./@+-]+$/.test(path) ? clip(path, 120) : clip(quote(path), 120);
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
    .map((c) => (c === '"' || c === '\\' ? `\\${c}` : UNSAFE_NAME_CHARS.test(c) ? `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}` : c))
    .join('');
  return `"${escaped}"`;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** A word as a shell would need it, for the human-readable label of an argv. */
function shellWord(word: string): string {
  return /^[\w./=@%+:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const FS_CODE_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many symbolic links',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'name too long',
  EINVAL: 'invalid argument',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'cross-device link',
  EBUSY: 'resource busy',
};
