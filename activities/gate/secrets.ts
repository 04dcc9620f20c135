/**
 * Hard-coded secrets in what a change added, found by gitleaks (its default rules, pinned with
 * the binary) in the repo's sandbox. The secret itself never leaves the sandbox: gitleaks
 * redacts it, and only rule, file and line are read back from its report.
 */
import { addedLines, isAdded, type AddedLines, type DiffRange } from './diff.ts';
import { runTool, type GateExec } from './exec.ts';
import { checkedOutHead } from './head.ts';
import { GATE_RULES_MOUNT, GateToolError, toolPath } from './tools.ts';

export interface SecretFinding {
  tool: 'gitleaks';
  /** gitleaks rule id, e.g. `aws-access-token`. */
  rule: string;
  /** Repository-relative path. */
  file: string;
  line: number;
  /** What the rule looks for; never the value found. */
  message: string;
}

export interface ScanInput extends DiffRange {
  /** Runs commands in the repo's sandbox, whose /workspace is `workspace` at `head`. */
  exec: GateExec;
  /** The diff's added lines when the caller has them already. */
  added?: AddedLines;
  timeoutSeconds?: number;
}

/** Files per gitleaks run: keeps the argument list far below the kernel's limit. */
export const FILES_PER_RUN = 500;

// Only the changed files are scanned, from a copy on the sandbox's tmpfs: gitleaks always reads
// a .gitleaksignore at the root of what it scans, and the change must not be able to silence
// its own findings. Likewise our config (not a .gitleaks.toml of the repo) and inline
// gitleaks:allow ignored. The report goes to a temporary file; only four fields are printed.
const SCRIPT = `
scan="$(mktemp -d)"; report="$(mktemp)"
for f in "$@"; do
  [ -f "$f" ] && [ ! -L "$f" ] && [ "$(stat -c %s -- "$f")" -le 10485760 ] && cp --parents -- "$f" "$scan/"
done
rm -f "$scan/.gitleaksignore"
cd "$scan" || exit 125
${toolPath('gitleaks')} dir . --config ${GATE_RULES_MOUNT}/gitleaks.toml --gitleaks-ignore-path ${GATE_RULES_MOUNT} \\
  --ignore-gitleaks-allow --redact --no-banner --no-color --log-level error --max-target-megabytes 10 \\
  --report-format json --report-path "$report" --exit-code 0 >&2 || exit $?
python3 -c '
import json, sys
findings = json.load(open(sys.argv[1])) or []
json.dump([{"rule": f.get("RuleID"), "file": f.get("File"), "line": f.get("StartLine"), "message": f.get("Description")} for f in findings], sys.stdout)
' "$report"`;

export async function scanSecrets(input: ScanInput): Promise<SecretFinding[]> {
  await checkedOutHead(input.workspace, input.head);
  const added = input.added ?? (await addedLines(input));
  if (Object.keys(added).length === 0) return [];
  const files = Object.keys(added).sort();
  const raw: Array<Record<string, unknown>> = [];
  for (let i = 0; i < files.length; i += FILES_PER_RUN) {
    const run = await runTool(
      input.exec,
      'gitleaks',
      SCRIPT,
      files.slice(i, i + FILES_PER_RUN),
      input.timeoutSeconds ?? 300,
    );
    if (run.exitCode !== 0) throw new GateToolError('gitleaks', `exit ${run.exitCode}: ${run.stderrTail}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(run.report);
    } catch {
      throw new GateToolError('gitleaks', `unreadable report: ${run.stderrTail}`);
    }
    if (!Array.isArray(parsed)) throw new GateToolError('gitleaks', 'the report is not a list');
    raw.push(...(parsed as Array<Record<string, unknown>>));
  }
  const findings: SecretFinding[] = [];
  for (const item of raw) {
    const file = typeof item.file === 'string' ? item.file.replace(/^\.\//, '') : '';
    const line = typeof item.line === 'number' ? item.line : 0;
    if (!file || !isAdded(added, file, line)) continue;
    findings.push({
      tool: 'gitleaks',
      rule: typeof item.rule === 'string' ? item.rule : 'unknown',
      file,
      line,
      message: typeof item.message === 'string' ? item.message : 'possible secret',
    });
  }
  return sortFindings(findings);
}

export function sortFindings<T extends { file: string; line: number; rule: string }>(findings: T[]): T[] {
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}
