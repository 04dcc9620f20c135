/** The contract and guardrail gate: what it checks, and its verdicts. */
import type { ContractKind, SandboxConfig, Waiver } from '../config/repos.ts';
import type { ContractProblem as CheckProblem, OperationUse } from './contracts/types.ts';

/** One declared contract, as the gate checks it (built from repos.config.json by the CLI). */
export interface ContractSpec {
  name: string;
  kind: ContractKind;
  provider: string;
  /** The provider's document (openapi, protobuf, json-schema). */
  path: string | null;
  /** `command` contracts: the check, run in the sandbox of `runIn`. */
  command: string | null;
  runIn: string;
  /** `protobuf`: buf breaking rules. */
  rules: string[];
  /** `protobuf`: buf breaking rules a consumer's copy is checked with (absent: WIRE_JSON). */
  copyRules?: string[];
  /** gate.strict: drift that predates the change blocks too. */
  strict?: boolean;
  /** `pact`: the provider's verification command, and the variable naming the pact file. */
  verify: string | null;
  pactEnv: string;
  consumers: ContractConsumerSpec[];
  /** Who may use it: `public` (absent: recorded before audiences existed) or only the declared `fleet`. */
  audience?: ContractAudience;
}

export interface ContractConsumerSpec {
  repo: string;
  /** Its copy of the document, its Pact file, or its usage file; for `pact`, where its tests write the pact. */
  path: string | null;
  uses: OperationUse[] | null;
  /** `pact`: the command that writes the pact file (default: the repo's tests). */
  command: string | null;
}

/** A repo the gate looks at: changed by this change, or a consumer checked at its base. */
export interface GateRepo {
  repo: string;
  url: string;
  baseBranch: string;
  sandbox: SandboxConfig;
  inChange: boolean;
}

export interface GateInput {
  contracts: ContractSpec[];
  repos: GateRepo[];
  secrets: boolean;
  insecure: boolean;
  /** Agent mode: rounds in which the report goes back to the repo agents. */
  rounds: number;
  waive: Waiver[];
}

/** Which commits the gate compares for a repo: the base it started from and the change's head. */
export interface GateRevision {
  repo: string;
  /** A commit, or null for the tip of the base branch (a repo outside the change). */
  base: string | null;
  head: string | null;
}

/** A problem of a contract check (see core/contracts), placed in its repo; `failed`: a check command failed. */
export interface ContractProblem extends Omit<CheckProblem, 'kind' | 'repo'> {
  kind: CheckProblem['kind'] | 'failed';
  repo: string;
}

export type ContractStatus = 'passed' | 'breaking' | 'mismatch' | 'failed';

/** Whether clients outside the declared fleet may use a contract (see docs/contracts.md). */
export type ContractAudience = 'public' | 'fleet';

/** One declared consumer, judged by what it uses. */
export interface ConsumerVerdict {
  consumer: string;
  inChange: boolean;
  /** `breaks`: something it uses broke, or its usage does not fit the head. */
  status: 'fits' | 'breaks';
  /** Why it breaks, one short line each (bounded); for a fit in the change, that it was updated. */
  why: string[];
}

export interface ContractVerdict {
  contract: string;
  kind: ContractKind;
  provider: string;
  consumers: string[];
  status: ContractStatus;
  /** What blocks the change. */
  problems: ContractProblem[];
  /** Breaking changes let through because every consumer is part of the change and fits the new contract. */
  accepted: ContractProblem[];
  /** Consumer drift already there at the base commits, reported but not blocking (absent: none). */
  preExisting?: ContractProblem[];
  /** Repos whose work the verdict sends back in a fix round. */
  blame: string[];
  durationMs: number;
  audience?: ContractAudience;
  /** Every declared consumer, fitting or breaking (absent in verdicts recorded before per-consumer verdicts). */
  verdicts?: ConsumerVerdict[];
  /** Breaking findings no declared consumer uses: blocking for a public contract, notes for a fleet one. */
  unused?: ContractProblem[];
  /** How many there were before `unused` was cut to size. */
  unusedCount?: number;
}

export interface GuardrailFinding {
  repo: string;
  tool: string;
  rule: string;
  file: string;
  line: number;
  message: string;
  /** The waiver's reason when the config accepts this rule. */
  waived: string | null;
}

export interface GateReport {
  round: number;
  passed: boolean;
  summary: string;
  contracts: ContractVerdict[];
  findings: GuardrailFinding[];
  durationMs: number;
}

export interface CheckContractInput {
  changeId: string;
  round: number;
  contract: ContractSpec;
  repos: GateRepo[];
  revisions: GateRevision[];
}

export interface ScanRepoInput {
  changeId: string;
  round: number;
  repo: GateRepo;
  base: string;
  head: string;
  secrets: boolean;
  insecure: boolean;
}
