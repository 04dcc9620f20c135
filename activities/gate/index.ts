/**
 * The gate's guardrails and protobuf check, run with maintained tools in the repo's sandbox:
 * `bufBreaking` (buf), `scanSecrets` (gitleaks), `scanInsecure` (semgrep with our rules), each
 * restricted to what the change did. docs/guardrails.md says which tools, versions and rules.
 */
export {
  addedLines,
  isAdded,
  parseUnifiedZero,
  touchesAdded,
  type AddedLines,
  type DiffRange,
  type LineRange,
} from './diff.ts';
export {
  runTool,
  sandboxGateExec,
  type GateCommand,
  type GateCommandResult,
  type GateExec,
  type SandboxGateExecOptions,
} from './exec.ts';
export { bufBreaking, bufCopyBreaking, type BreakingProblem, type BufBreakingInput, type BufCopyInput } from './buf.ts';
export { scanSecrets, type ScanInput, type SecretFinding } from './secrets.ts';
export { scanInsecure, type InsecureFinding } from './insecure.ts';
export { checkedOutHead } from './head.ts';
export {
  GATE_RULES_MOUNT,
  GATE_TOOLS,
  GATE_TOOLS_MOUNT,
  GateToolError,
  gateMounts,
  gateRulesDir,
  gateToolsDir,
  missingGateTools,
  type GateTool,
} from './tools.ts';
