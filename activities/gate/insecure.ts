/**
 * Insecure patterns (SQL and shell built from strings, unsafe deserialisation, disabled TLS
 * checks) in what a change added, found by semgrep with the project's own rules
 * (activities/gate/rules/*.yaml) in the repo's sandbox, offline.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { addedLines, touchesAdded } from './diff.ts';
import { runTool } from './exec.ts';
import { checkedOutHead } from './head.ts';
import { FILES_PER_RUN, sortFindings, type ScanInput } from './secrets.ts';
import { GATE_RULES_MOUNT, GateToolError, toolPath } from './tools.ts';

export interface InsecureFinding {
  tool: 'semgrep';
  /** Our rule id, e.g. `lockstep.sql.python-built-from-strings`. */
  rule: string;
  file: string;
  line: number;
  message: string;
}

// No version check, no metrics, no `nosemgrep` comments: a change cannot silence its own finding.
// Not `--quiet`: it hides semgrep's own errors (such as why its semgrep-core child died) from
// stderr, whose tail is what a failed scan reports.
const SCRIPT = `
export SEMGREP_ENABLE_VERSION_CHECK=0 SEMGREP_SEND_METRICS=off
configs=()
for rule in ${GATE_RULES_MOUNT}/*.yaml; do configs+=(--config "$rule"); done
${toolPath('semgrep')} scan --metrics=off --disable-version-check --disable-nosem --no-git-ignore \\
  --json "\${configs[@]}" -- "$@"`;

/** semgrep prefixes rule ids with the folder of the rule file: `opt.lockstep-rules.` */
const ID_PREFIX = `${GATE_RULES_MOUNT.slice(1).replaceAll('/', '.')}.`;

interface SemgrepReport {
  results?: Array<{
    check_id?: string;
    path?: string;
    start?: { line?: number };
    end?: { line?: number };
    extra?: { message?: string };
  }>;
  errors?: Array<{ level?: string; type?: unknown; message?: string }>;
}

export async function scanInsecure(input: ScanInput): Promise<InsecureFinding[]> {
  await checkedOutHead(input.workspace, input.head);
  const added = input.added ?? (await addedLines(input));
  // A symbolic link's content is its target, not code; semgrep refuses a link given as a
  // target and the whole scan would fail. Links are left out; what they point to in the change
  // is in the list on its own.
  const files = (await regularFiles(input.workspace, Object.keys(added))).sort();
  const findings: InsecureFinding[] = [];
  for (let i = 0; i < files.length; i += FILES_PER_RUN) {
    const batch = files.slice(i, i + FILES_PER_RUN);
    const run = await runTool(input.exec, 'semgrep', SCRIPT, batch, input.timeoutSeconds ?? 600);
    let report: SemgrepReport;
    try {
      report = JSON.parse(run.report) as SemgrepReport;
    } catch {
      throw new GateToolError(
        'semgrep',
        `exit ${run.exitCode}, unreadable report (${run.report.length} bytes: ${JSON.stringify(run.report.slice(0, 200))}): ${run.stderrTail.slice(-1500)}`,
      );
    }
    // 0: scanned (findings or not). Anything else, or a broken rule, means the scan did not happen.
    const fatalErrors = (report.errors ?? []).filter((e) => e.level === 'error' && !isTargetParseError(e.type));
    if (run.exitCode !== 0 || fatalErrors.length > 0) {
      const detail = fatalErrors.map((e) => e.message ?? JSON.stringify(e.type)).join('; ') || run.stderrTail;
      throw new GateToolError('semgrep', `exit ${run.exitCode}: ${detail.slice(0, 2000)}`);
    }
    for (const r of report.results ?? []) {
      const file = (r.path ?? '').replace(/^\.\//, '');
      const start = r.start?.line ?? 0;
      const end = r.end?.line ?? start;
      if (!file || !touchesAdded(added, file, start, end)) continue;
      const id = r.check_id ?? 'unknown';
      findings.push({
        tool: 'semgrep',
        rule: id.startsWith(ID_PREFIX) ? id.slice(ID_PREFIX.length) : id,
        file,
        line: start,
        message: (r.extra?.message ?? '').trim(),
      });
    }
  }
  return sortFindings(findings);
}

/** A file semgrep could not fully parse is still scanned for the rest: not a failed scan. */
function isTargetParseError(type: unknown): boolean {
  const name = Array.isArray(type) ? String(type[0]) : String(type);
  return /Syntax error|Lexical error|Partial parsing|Other syntax error/i.test(name);
}

async function regularFiles(workspace: string, paths: string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const path of paths) {
    const info = await lstat(join(workspace, path)).catch(() => null);
    if (!info?.isSymbolicLink()) kept.push(path);
  }
  return kept;
}
