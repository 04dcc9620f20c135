/**
 * The coding agent's tools. Each checks its own boundary: file tools act on the host but only
 * inside the workspace (see boundary.ts); search and commands run in the repo's sandbox, as
 * argument vectors where the model supplies arguments. Whatever the model sends comes back as
 * an ok:false outcome it can act on; only the infrastructure (Docker, the host) or a
 * cancellation makes a tool throw.
 */
import { parseArguments } from './arguments.ts';
import { Refusal, modelFsError, quote } from './boundary.ts';
import { editFileTool, listDirectoryTool, readFileTool, writeFileTool } from './files.ts';
import { grepTool, runCommandTool, runTestsTool } from './sandbox.ts';
import { TOOL_NAMES, isToolName, type ArgsOf, type ToolName } from './spec.ts';
import { SUMMARY_CHARS, capped, clip, showPath } from './text.ts';
import type { ToolContext, ToolOutcome } from './tool.ts';

export { TOOL_NAMES, toolDefinitions } from './spec.ts';
export { MODEL_OUTPUT_CHARS } from './text.ts';
export type { ToolContext, ToolOutcome } from './tool.ts';

const MAX_FINISH_CHARS = 4000;

/** Each tool by name, given the arguments its spec describes. */
const TOOLS: { [N in ToolName]: (ctx: ToolContext, args: ArgsOf<N>) => Promise<ToolOutcome> | ToolOutcome } = {
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_directory: listDirectoryTool,
  grep_codebase: grepTool,
  run_command: runCommandTool,
  run_tests: runTestsTool,
  finish: (_ctx, args) => finishTool(args),
};

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
  return runTool(ctx, name, rawArguments);
}

/** One `N` for the parser and the table: the arguments parsed for a tool are the ones it takes. */
async function runTool<N extends ToolName>(ctx: ToolContext, name: N, rawArguments: string): Promise<ToolOutcome> {
  const parsed = parseArguments(name, rawArguments);
  if (typeof parsed === 'string') return failed(parsed, `${name}: invalid arguments`);
  try {
    return await TOOLS[name](ctx, parsed);
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

/** " <path>" or " <pattern>" for summary lines. */
function target(name: ToolName, args: Record<string, unknown>): string {
  const value = name === 'grep_codebase' ? args.pattern : args.path;
  return typeof value === 'string' ? ` ${showPath(value)}` : '';
}

function failed(message: string, summary: string): ToolOutcome {
  return { ok: false, content: capped(`Error: ${message}`), summary: clip(summary, SUMMARY_CHARS) };
}

function finishTool(args: ArgsOf<'finish'>): ToolOutcome {
  const summary = args.summary.trim();
  if (summary === '')
    throw new Refusal('summary is empty; say in a few sentences what you changed and why', 'empty summary');
  const kept = summary.length > MAX_FINISH_CHARS ? `${summary.slice(0, MAX_FINISH_CHARS - 1)}…` : summary;
  return {
    ok: true,
    content: 'Finished; your summary is recorded.',
    summary: clip(`finish: ${summary.split('\n')[0] ?? ''}`, SUMMARY_CHARS),
    finished: { summary: kept },
  };
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
