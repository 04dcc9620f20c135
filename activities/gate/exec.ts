/**
 * How the gate runs a tool in a repo's sandbox. The scanners receive a `GateExec`, so one gate
 * activity can hand them the sandbox it already has; `sandboxGateExec` builds one on
 * `runInSandbox`. The tool's report is framed by a random marker on stdout, so nothing else the
 * command prints (its stderr, a warning) is ever parsed as the report.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SandboxRef } from '../../core/workspace.ts';
import { runInSandbox, type SandboxDeps } from '../sandbox/docker.ts';
import { GateToolError, type GateTool } from './tools.ts';

export interface GateCommand {
  /** Human name, used for the sandbox's log file. */
  name: string;
  /** Run as is in the sandbox (no shell on the host; the first word is the program). */
  argv: string[];
  timeoutSeconds: number;
}

export interface GateCommandResult {
  exitCode: number;
  timedOut: boolean;
  /** Everything the command printed (stdout and stderr), complete or flagged as truncated. */
  output: string;
  truncated: boolean;
}

export type GateExec = (command: GateCommand) => Promise<GateCommandResult>;

export interface SandboxGateExecOptions {
  /** Number of the first command's log file; later ones count up (default 900, after the repo's own). */
  firstIndex?: number;
  /** Cap on a command's stored output (default 16 MiB). */
  outputBytes?: number;
  signal?: AbortSignal;
}

/** A `GateExec` that runs each command in the existing sandbox of `ref`. */
export function sandboxGateExec(deps: SandboxDeps, ref: SandboxRef, options: SandboxGateExecOptions = {}): GateExec {
  let index = options.firstIndex ?? 900;
  const outputBytes = options.outputBytes ?? 16 * 1024 * 1024;
  return async (command) => {
    index += 1;
    const result = await runInSandbox(
      deps,
      {
        ...ref,
        kind: 'gate',
        name: command.name,
        index,
        command: command.argv.join(' '),
        argv: command.argv,
        timeoutSeconds: command.timeoutSeconds,
        outputBytes,
      },
      options.signal,
    );
    const output = result.log ? await readFile(result.log.path, 'utf8') : result.outputTail;
    return { exitCode: result.exitCode, timedOut: result.timedOut, output, truncated: result.truncated };
  };
}

export interface ToolRun {
  exitCode: number;
  /** The tool's report (what the script printed on stdout). */
  report: string;
  /** The end of what it printed on stderr, for error messages. */
  stderrTail: string;
}

/**
 * Runs `script` (fixed text of ours, never built from input) with bash in the sandbox; values
 * such as file names go in `args` and reach the script as "$@", never as shell text.
 */
export async function runTool(
  exec: GateExec,
  tool: GateTool,
  script: string,
  args: readonly string[],
  timeoutSeconds: number,
): Promise<ToolRun> {
  const mark = `--lockstep-report-${randomBytes(12).toString('hex')}--`;
  const wrapper = [
    'mark="$1"; shift',
    'mkdir -p "$HOME" 2>/dev/null',
    'out="$(mktemp -d)" || exit 125',
    `( ${script}\n) >"$out/stdout" 2>"$out/stderr"`,
    'rc=$?',
    `printf '\\n%s\\n' "$mark"; cat "$out/stdout"; printf '\\n%s\\n' "$mark"; tail -c 4000 "$out/stderr"`,
    'rm -rf "$out"',
    'exit $rc',
  ].join('\n');
  const result = await exec({
    name: `gate ${tool}`,
    argv: ['bash', '-c', wrapper, 'lockstep-gate', mark, ...args],
    timeoutSeconds,
  });
  if (result.timedOut) throw new GateToolError(tool, `timed out after ${timeoutSeconds}s`);
  const parts = result.output.split(`\n${mark}\n`);
  if (parts.length < 3 || result.truncated) {
    throw new GateToolError(
      tool,
      `no complete report (exit ${result.exitCode}${result.truncated ? ', output over the cap' : ''}): ${result.output.slice(-2000)}`,
    );
  }
  return { exitCode: result.exitCode, report: parts[1] ?? '', stderrTail: parts.slice(2).join('\n').trim() };
}
