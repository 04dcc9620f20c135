/**
 * `buf breaking` in a sandbox, offline. Two uses: the provider's protobuf files at head against
 * the same module at the base commit (which buf reads itself from the read-only `.git`), and a
 * consumer's copy as the baseline against the provider's files (at head, or at a commit).
 */
import { isAbsolute, normalize } from 'node:path';
import { runTool, type GateExec } from './exec.ts';
import { GateToolError, toolPath } from './tools.ts';

export interface BreakingProblem {
  kind: 'breaking';
  /** buf's rule id, e.g. `FIELD_NO_DELETE`. */
  rule: string;
  /** Repository-relative path of the .proto file in the checked input. */
  file: string;
  /** `file:line:column` where buf points. */
  location: string;
  message: string;
}

export interface BufBreakingInput {
  exec: GateExec;
  /** The base commit (or a branch/tag of the workspace's repository) to compare against. */
  base: string;
  /** The module's root folder, relative to the repository root (default "."). */
  module?: string;
  /** buf breaking rules or categories (default ["FILE"]). */
  rules?: readonly string[];
  timeoutSeconds?: number;
}

export interface BufCopyInput {
  exec: GateExec;
  /**
   * A folder of the workspace holding the consumer's copy (and the files it imports) at the
   * paths the provider's module uses. The workspace's copy of it is never compiled as part of
   * the provider's module: it is excluded there, and buf reads it from a private temporary copy.
   */
  copies: string;
  /** The provider's files: its work tree (null) or this commit of it. */
  at: string | null;
  /** buf breaking rules or categories (default ["WIRE_JSON"]). */
  rules?: readonly string[];
  timeoutSeconds?: number;
}

// Our config on both sides, so the rule set is the fleet's, not whatever buf.yaml the repo has.
// buf refuses a baseline folder inside the input's module: the copies are read from a temporary
// copy outside it.
const SCRIPT = [
  'input="$1"; against="$2"',
  'if [ -n "$5" ]; then tmp="$(mktemp -d)" && cp -R "$5/." "$tmp/" && against="$tmp"; fi',
  `${toolPath('buf')} breaking "$input" --against "$against" --config "$3" --against-config "$4" --error-format json`,
].join('\n');

/** buf's exit code when it found file annotations (breaking changes or compile errors). */
const BUF_ANNOTATIONS = 100;

/** Where the gate writes files of its own into a checkout; never part of a repository's module. */
export const GATE_SCRATCH = '.lockstep-gate';

const REF = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export async function bufBreaking(input: BufBreakingInput): Promise<BreakingProblem[]> {
  const module = normalize(input.module ?? '.').replace(/\/+$/, '') || '.';
  if (isAbsolute(module) || module === '..' || module.startsWith('../')) {
    throw new Error(`protobuf module "${input.module ?? ''}" must be a folder inside the repository`);
  }
  // The git input's syntax uses "," and "#"; a ref is a commit id or a plain ref name.
  if (!REF.test(input.base)) throw new Error(`base "${input.base}" is not a commit id or ref name`);
  const config = bufConfig(module, input.rules, ['FILE'], true);
  return runBreaking(input.exec, ['.', `.git#ref=${input.base}`, config, config, ''], input.timeoutSeconds);
}

/** What of the copy the provider's files no longer honour (empty: the copy fits). */
export async function bufCopyBreaking(input: BufCopyInput): Promise<BreakingProblem[]> {
  const copies = normalize(input.copies).replace(/\/+$/, '');
  if (isAbsolute(copies) || copies === '.' || copies.startsWith('..') || !copies.startsWith(`${GATE_SCRATCH}/`)) {
    throw new Error(`copies folder "${input.copies}" must be inside ${GATE_SCRATCH}/ of the workspace`);
  }
  if (input.at !== null && !REF.test(input.at)) throw new Error(`commit "${input.at}" is not a commit id or ref name`);
  const source = input.at === null ? '.' : `.git#ref=${input.at}`;
  return runBreaking(
    input.exec,
    [
      source,
      '',
      bufConfig('.', input.rules, ['WIRE_JSON'], input.at === null),
      bufConfig('.', input.rules, ['WIRE_JSON'], false),
      copies,
    ],
    input.timeoutSeconds,
  );
}

function bufConfig(
  module: string,
  rules: readonly string[] | undefined,
  fallback: string[],
  excludeScratch: boolean,
): string {
  const use = rules?.length ? [...rules] : fallback;
  // A work tree may hold the gate's own files (handed pacts, copies); they are no protobuf of the repo's.
  const excludes = excludeScratch && module === '.' ? { excludes: [GATE_SCRATCH] } : {};
  return JSON.stringify({ version: 'v2', modules: [{ path: module, ...excludes }], breaking: { use } });
}

async function runBreaking(exec: GateExec, args: string[], timeoutSeconds = 300): Promise<BreakingProblem[]> {
  const run = await runTool(exec, 'buf', SCRIPT, args, timeoutSeconds);
  if (run.exitCode !== 0 && run.exitCode !== BUF_ANNOTATIONS) {
    throw new GateToolError('buf', `exit ${run.exitCode}: ${run.stderrTail.slice(0, 2000)}`);
  }
  const problems: BreakingProblem[] = [];
  for (const line of run.report.split('\n')) {
    if (!line.trim()) continue;
    let a: { path?: string; start_line?: number; start_column?: number; type?: string; message?: string };
    try {
      a = JSON.parse(line) as typeof a;
    } catch {
      throw new GateToolError('buf', `unreadable line in its report: ${line.slice(0, 200)}`);
    }
    const file = a.path ?? '';
    problems.push({
      kind: 'breaking',
      rule: a.type ?? 'UNKNOWN',
      file,
      location: `${file}:${a.start_line ?? 0}:${a.start_column ?? 0}`,
      message: a.message ?? '',
    });
  }
  if (run.exitCode === BUF_ANNOTATIONS && problems.length === 0) {
    throw new GateToolError('buf', `reported a failure without annotations: ${run.stderrTail.slice(0, 2000)}`);
  }
  return problems;
}
