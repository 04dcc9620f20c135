/**
 * `buf breaking` in the provider's sandbox: the protobuf files at head against the same module
 * at the base commit, which buf reads itself from the read-only `.git` (its git input), offline.
 */
import { isAbsolute, normalize } from 'node:path';
import { runTool, type GateExec } from './exec.ts';
import { GateToolError, toolPath } from './tools.ts';

export interface BreakingProblem {
  kind: 'breaking';
  /** buf's rule id, e.g. `FIELD_NO_DELETE`. */
  rule: string;
  /** Repository-relative path of the .proto file at head. */
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

// Our config on both sides, so the rule set is the fleet's, not whatever buf.yaml the repo has.
const SCRIPT = `${toolPath('buf')} breaking . --against "$1" --config "$2" --against-config "$2" --error-format json`;

/** buf's exit code when it found file annotations (breaking changes or compile errors). */
const BUF_ANNOTATIONS = 100;

export async function bufBreaking(input: BufBreakingInput): Promise<BreakingProblem[]> {
  const module = normalize(input.module ?? '.').replace(/\/+$/, '') || '.';
  if (isAbsolute(module) || module === '..' || module.startsWith('../')) {
    throw new Error(`protobuf module "${input.module ?? ''}" must be a folder inside the repository`);
  }
  // The git input's syntax uses "," and "#"; a ref is a commit id or a plain ref name.
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(input.base)) throw new Error(`base "${input.base}" is not a commit id or ref name`);
  const rules = input.rules?.length ? [...input.rules] : ['FILE'];
  const config = JSON.stringify({ version: 'v2', modules: [{ path: module }], breaking: { use: rules } });
  const run = await runTool(input.exec, 'buf', SCRIPT, [`.git#ref=${input.base}`, config], input.timeoutSeconds ?? 300);
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
