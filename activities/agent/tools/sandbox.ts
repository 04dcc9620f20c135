/**
 * The tools that run in the repo's sandbox, never on the host: search, commands and the tests,
 * as argument vectors where the model supplies arguments.
 */
import { open } from 'node:fs/promises';
import type { CommandKind, CommandResult } from '../../../core/commands.ts';
import { runInSandbox } from '../../sandbox/docker.ts';
import { Refusal, quote } from './boundary.ts';
import type { ArgsOf } from './spec.ts';
import { MODEL_OUTPUT_CHARS, SUMMARY_CHARS, capped, clip, takeHead, takeTail } from './text.ts';
import type { ToolContext, ToolOutcome } from './tool.ts';

const MAX_GREP_LINE_CHARS = 400;
const MAX_COMMAND_CHARS = 64 * 1024;
const MAX_PATTERN_CHARS = 4096;
/** How much of a command's stored log is read back to show the model. */
const LOG_READ_BYTES = 1024 * 1024;

export async function grepTool(ctx: ToolContext, args: ArgsOf<'grep_codebase'>): Promise<ToolOutcome> {
  const pattern = args.pattern;
  const glob = args.glob === '' ? null : args.glob;
  if (pattern === '')
    throw new Refusal('pattern is empty; give the text or regular expression to search for', 'empty pattern');
  if (pattern.length > MAX_PATTERN_CHARS)
    throw new Refusal(`pattern is ${pattern.length} characters; the limit is ${MAX_PATTERN_CHARS}`, 'pattern too long');
  if (pattern.includes('\0') || glob?.includes('\0'))
    throw new Refusal('pattern and glob cannot contain NUL bytes', 'NUL byte');
  // The pattern follows -e, the paths follow --: nothing the model sends is read as an option.
  const argv = ['grep', '-rnI', '--exclude-dir=.git', ...(glob ? ['--include', glob] : []), '-e', pattern, '--', '.'];
  const result = await sandboxRun(
    ctx,
    'agent',
    'grep_codebase',
    argv.map(shellWord).join(' '),
    argv,
    ctx.commandTimeoutSeconds,
  );
  const what = `grep_codebase ${quote(clip(pattern, 60))}${glob ? ` in ${clip(glob, 40)}` : ''}`;
  if (result.timedOut) {
    return {
      ok: false,
      content: capped(
        `Error: the search timed out after ${ctx.commandTimeoutSeconds}s; narrow it with a glob or a more specific pattern.`,
      ),
      summary: clip(`${what}: timed out`, SUMMARY_CHARS),
    };
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
    return {
      ok: false,
      content: capped(`Error: grep failed (exit code ${result.exitCode}):\n${text}`),
      summary: clip(`${what}: grep exit ${result.exitCode}`, SUMMARY_CHARS),
    };
  }
  const matches = lines.filter((l) => /^[^:\n]+:\d+:/.test(l)).length;
  const complete = !result.truncated && result.outputBytes <= MODEL_OUTPUT_CHARS;
  return {
    ok: true,
    content: capped(text),
    summary: clip(`${what}: ${matches}${complete ? '' : '+'} matching lines`, SUMMARY_CHARS),
  };
}

export async function runCommandTool(ctx: ToolContext, args: ArgsOf<'run_command'>): Promise<ToolOutcome> {
  const command = args.command;
  if (command.trim() === '') throw new Refusal('command is empty', 'empty command');
  if (command.includes('\0')) throw new Refusal('command contains a NUL byte', 'NUL byte');
  if (command.length > MAX_COMMAND_CHARS)
    throw new Refusal(
      `command is ${command.length} characters; the limit is ${MAX_COMMAND_CHARS} (write a script with write_file and run that)`,
      'command too long',
    );
  // The sandbox is the boundary here: the command runs there, never on the host.
  const result = await sandboxRun(
    ctx,
    'agent',
    `run_command ${command}`,
    command,
    undefined,
    ctx.commandTimeoutSeconds,
  );
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

export async function runTestsTool(ctx: ToolContext): Promise<ToolOutcome> {
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
    summary: passed
      ? 'run_tests: passed'
      : result.timedOut
        ? `run_tests: timed out after ${ctx.testTimeoutSeconds}s`
        : `run_tests: exit ${result.exitCode}`,
    tests: {
      exitCode: result.exitCode,
      passed,
      timedOut: result.timedOut,
      durationMs: result.durationMs,
      outputTail: result.outputTail,
      log: result.log,
    },
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

/** A word as a shell would need it, for the human-readable label of an argv. */
function shellWord(word: string): string {
  return /^[\w./=@%+:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
