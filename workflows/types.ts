/**
 * Data that crosses the workflow boundary: workflow inputs and results, activity inputs and
 * results, progress. Everything here is plain JSON and small (history stays small: large
 * output is stored by activities and referenced by path + sha256).
 */
import type { BumpEcosystem, ChangeStep } from '../config/change.ts';
import type { ContractProblem as CheckProblem, OperationUse } from '../activities/contracts/types.ts';
import type { AgentBudgets, ContractKind, ForgeConfig, ModelsConfig, SandboxConfig, Waiver } from '../config/repos.ts';

export const changeWorkflowId = (changeId: string): string => `change/${changeId}`;
export const repoWorkflowId = (changeId: string, repo: string): string => `change/${changeId}/repo/${repo}`;
export const changeBranch = (changeId: string): string => `lockstep/${changeId}`;

/** One repository's part of a change, fully resolved from config and change file. */
export interface RepoTask {
  repo: string;
  /** sha256 of what the repo is asked to do (set by the CLI), to detect a changed change file on resume. */
  taskHash?: string;
  /** Absolute path or git URL of the remote. */
  url: string;
  baseBranch: string;
  branch: string;
  sandbox: SandboxConfig;
  /** `steps`: run the change file's commands. `agent`: a coding agent works on `instructions`. */
  mode: 'steps' | 'agent';
  steps: ChangeStep[];
  /** The agent's task; null until the coordinator's plan fills it in. */
  instructions: string | null;
  /** From the plan: files the repo is expected to touch, and what done means. */
  expectedFiles: string[];
  acceptance: string | null;
  /** Contract names this repo provides / consumes (used for the merge order). */
  provides: string[];
  consumes: string[];
  /** Paths of the contract documents in this repo (provided and consumed copies). */
  contractPaths: string[];
  /** Egress the change asked beyond setup, granted by this repo's fleet config (absent: none). */
  egress?: EgressAsk;
  /** Continue from this commit of the change branch instead of the base (a gate fix round). */
  startCommit?: string | null;
  /** The gate fix round this task belongs to (0 or absent: the first run). */
  fixRound?: number;
}

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

/** A problem of a contract check (see activities/contracts), placed in its repo; `failed`: a check command failed. */
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

/** A change file's `bump`, and once resolved the one concrete version every repo gets. */
export interface BumpSpec {
  ecosystem: BumpEcosystem;
  package: string;
  /** As the change file says: a version, a range or query, or "latest". */
  to: string;
  /**
   * The concrete version `to` resolved to. Absent in a fresh run (the coordinator resolves it,
   * once); set by `resume` and `run --rerun` from the earlier run, so they never move to a
   * version published meanwhile.
   */
  version?: string;
}

/** A resolved bump, as the result and the memo record it. */
export interface ResolvedBump {
  ecosystem: BumpEcosystem;
  package: string;
  to: string;
  version: string;
}

/** One manifest (or lockfile) of a repo that declares the bumped package. */
export interface BumpManifest {
  /** Path in the repo. */
  path: string;
  /** The spec as written: "^2.1.3", "v1.60.0", "==2.31.0", ">=2"; for a lockfile, the locked version. */
  spec: string;
  /** npm: the package.json section; pip: "pin" when the line pins with ==, "compiled" when a sibling .in file is compiled with pip-compile. */
  kind: string;
}

/** What a repo's base branch says about the bumped package (read from the remote, no work tree). */
export interface RepoBumpManifests {
  repo: string;
  /** Whether any manifest declares the package. */
  declares: boolean;
  /** The version in use: the lockfile's (npm), go.mod's, or the pinned one (pip); null when only a range is declared. */
  current: string | null;
  manifests: BumpManifest[];
  /** Why it cannot be bumped as it is (declared, but in no form Lockstep can move), or null. */
  problem: string | null;
}

/** How a work tree declares the bumped package, as the guard around the agent's fix compares it. */
export type BumpDeclaration = Pick<RepoBumpManifests, 'declares' | 'current' | 'manifests'>;

export interface BumpDeclarationInput {
  workspace: string;
  ecosystem: BumpEcosystem;
  package: string;
  /** The manifests to read, relative to the workspace. */
  paths: string[];
}

/** A repo's bump in its result. */
export interface RepoBumpOutcome {
  package: string;
  version: string;
  from: string | null;
  /** `bumped`: moved (green); `already`: at the version; `not-declared`: the repo does not use the package. */
  outcome: 'bumped' | 'already' | 'not-declared' | 'failed';
}

export interface ChangeInput {
  changeId: string;
  title: string;
  description: string;
  forge: ForgeConfig;
  concurrency: number;
  repos: RepoTask[];
  /** Attempts per repo when the infrastructure (not the repo's own commands) fails. */
  maxRepoAttempts?: number;
  models: ModelsConfig;
  budgets: AgentBudgets;
  /** Results of an earlier run of this change: green repos whose branch is still there are not redone. */
  previous?: Record<string, RepoResult> | null;
  /** Human gates: wait for `lockstep approve` after the plan and/or before publishing. */
  approvals?: { plan: boolean; publish: boolean; timeoutSeconds: number };
  /** How long a failed repo waits for `lockstep retry|skip|abort` before the change ends failed (0: at once). */
  decisionTimeoutSeconds?: number;
  /** Set by the CLI once the server knows Lockstep's search attributes. */
  searchAttributes?: boolean;
  /** Contracts and guardrails checked before any pull request opens (none: no gate). */
  gate?: GateInput | null;
  /** A dependency bump (docs/bumps.md): resolved once, before any repo starts. */
  bump?: BumpSpec | null;
}

export interface RepoWorkflowInput {
  changeId: string;
  title: string;
  description: string;
  task: RepoTask;
  maxAttempts: number;
  models: ModelsConfig;
  budgets: AgentBudgets;
  /** The bump this repo makes: the resolved version and what its base branch declares. */
  bump?: { ecosystem: BumpEcosystem; package: string; version: string; manifests: RepoBumpManifests } | null;
}

/** Token counts of model calls. */
export interface TokenUsage {
  prompt: number;
  completion: number;
}

/** The plan of a change, made by the coordinator model (validated with zod). */
export interface PlannedRepo {
  repo: string;
  task: string;
  files: string[];
  acceptance: string;
}
export interface ChangePlan {
  summary: string;
  repos: PlannedRepo[];
  /** Providers before consumers. */
  order: string[];
}

/** What one agent loop did, for the result, status and metrics. */
export interface AgentOutcome {
  resolved: boolean;
  /** Why the loop ended: the model finished with green tests, or which budget ran out. */
  reason: 'finished' | 'turns' | 'test-iterations' | 'tokens' | 'wall-time' | 'model-error';
  message: string;
  /** The model's own summary when it called finish. */
  summary: string | null;
  turns: number;
  testIterations: number;
  usage: TokenUsage;
  lastTests: TestsOutcome | null;
}

export interface AgentWorkflowInput {
  changeId: string;
  repo: string;
  attempt: number;
  hostQueue: string;
  workspace: string;
  /** To recreate the sandbox when its host's worker restarted and swept it away. */
  sandbox: SandboxConfig;
  /** The coordinator, told each turn's tools for live progress (null when run alone). */
  progressWorkflowId: string | null;
  model: string;
  budgets: AgentBudgets;
  testCommand: string;
  testTimeoutSeconds: number;
  commandTimeoutSeconds: number;
  outputBytes: number;
  /** Carried across continue-as-new. */
  state: AgentLoopState | null;
  /** The task's egress ask: the agent's commands go out only when it says `agent`. */
  egress?: EgressAsk;
  /** Turns per workflow run before continuing as new (default 30). */
  turnsPerRun?: number;
  requestTimeoutSeconds: number;
}

export interface AgentLoopState {
  turn: number;
  testIterations: number;
  usage: TokenUsage;
  startedAt: number;
  lastTests: TestsOutcome | null;
  /** Log index for sandbox commands, so log file names stay unique. */
  commandIndex: number;
}

export interface StartTranscriptInput {
  changeId: string;
  repo: string;
  attempt: number;
  title: string;
  description: string;
  instructions: string;
  expectedFiles: string[];
  acceptance: string | null;
  testCommand: string;
}

export interface ModelTurnInput {
  changeId: string;
  repo: string;
  attempt: number;
  turn: number;
  model: string;
  timeoutSeconds: number;
}

export interface ToolCallSummary {
  id: string;
  name: string;
  /** The first characters of the arguments, for the audit trail; the full text stays in the transcript. */
  preview: string;
}

export interface ModelTurnResult {
  toolCalls: ToolCallSummary[];
  /** The assistant's text, truncated. */
  content: string;
  finishReason: string;
  usage: TokenUsage;
  model: string;
  durationMs: number;
  /** sha256 of the request's messages, so an audit can tell identical prompts apart. */
  promptHash: string;
}

export interface AgentToolInput {
  changeId: string;
  repo: string;
  attempt: number;
  turn: number;
  callId: string;
  workspace: string;
  testCommand: string;
  testTimeoutSeconds: number;
  commandTimeoutSeconds: number;
  outputBytes: number;
  commandIndex: number;
  egress?: EgressAsk;
}

export interface AgentToolResult {
  ok: boolean;
  summary: string;
  exitCode: number | null;
  tests: TestsOutcome | null;
  finished: { summary: string } | null;
}

export interface AppendUserMessageInput {
  changeId: string;
  repo: string;
  attempt: number;
  turn: number;
  text: string;
}

export interface PlanInput {
  changeId: string;
  title: string;
  description: string;
  model: string;
  timeoutSeconds: number;
  /** The repos to plan, with what the coordinator knows of each. */
  repos: { repo: string; provides: string[]; consumes: string[]; instructions: string | null; index: RepoIndex | null }[];
  /** Earlier invalid answer and its validation errors, when re-asking. */
  previous: { answer: string; errors: string[] } | null;
}

export interface PlanTurnResult {
  plan: ChangePlan | null;
  errors: string[];
  answer: string;
  usage: TokenUsage;
}

/** What the scout learned about a repo at a commit (cached by commit sha; a few KB at most). */
export interface RepoIndex {
  repo: string;
  commit: string;
  files: number;
  tree: string[];
  languages: Record<string, number>;
  testCommand: string;
  contractFiles: string[];
  agentsMd: string | null;
  readme: string | null;
  /** One line per relevant file, by the small model; empty when no model is configured. */
  summaries: { path: string; summary: string }[];
}

/** A file written by an activity, referenced from history instead of its content. */
export interface ArtifactRef {
  path: string;
  sha256: string;
  bytes: number;
}

/** `agent`: a command the repo's agent asked for (run_command, grep_codebase); its tests run as `test`. `bump`: a bump's package-manager command (the steps phase's egress). */
export type CommandKind = 'setup' | 'bump' | 'step' | 'agent' | 'test' | 'gate';

export interface CommandResult {
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
  /** All bytes the command wrote (stdout + stderr), kept or not. */
  outputBytes: number;
  truncated: boolean;
  /** The last few KB of combined output, for errors and the model. */
  outputTail: string;
  log: ArtifactRef | null;
  /** What the command reached through the egress proxy (setup, steps, agent commands of a repo with sandbox.egress). */
  egress?: EgressSummary;
  /**
   * Processes the command left running when it returned, killed before the next command
   * (absent: none). A command whose leftovers could not all be killed one by one had its
   * container killed, which counts as one or more.
   */
  leftovers?: number;
}

/**
 * The phases of a repo's commands that may reach the network, each with its own policy in
 * `sandbox.egress` (activities/egress/phases.ts maps command kinds to them).
 */
export type EgressPhase = 'setup' | 'steps' | 'agent';

/** What a change asks beyond setup (`egress:` in the change file), checked against the fleet before any repo starts. */
export interface EgressAsk {
  steps: boolean;
  agent: boolean;
}

/** One command's egress, small on purpose (it travels through workflow history). */
export interface EgressSummary {
  /** The phase whose policy applied (absent in runs recorded before phases: setup). */
  phase?: EgressPhase;
  /** Tunnels and plain requests let through. */
  connections: number;
  /** Requests seen inside TLS and let through (phases with a method policy only). */
  requests?: number;
  denied: number;
  bytesUp: number;
  bytesDown: number;
  /** Hosts reached (at most 10). */
  hosts: string[];
  /** Hosts refused, with the first reason (at most 10); a refused request names its method and path. */
  deniedHosts: { host: string; port: number; reason: string; method?: string; path?: string }[];
  /** The JSON-lines log of every connection, relative to the worker's log folder. */
  log: string;
}

export interface StepOutcome {
  kind: CommandKind;
  name: string;
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
  /** What it reached through the egress proxy, when the repo configures sandbox.egress. */
  egress?: EgressSummary;
  /** Processes it left running, killed when it returned (absent: none). */
  leftovers?: number;
}

export interface TestsOutcome {
  exitCode: number;
  passed: boolean;
  timedOut: boolean;
  durationMs: number;
  outputTail: string;
  log: ArtifactRef | null;
}

/** A test command's result as a verdict: passed means exit 0 within the timeout. */
export function testsOutcome(r: CommandResult): TestsOutcome {
  return { exitCode: r.exitCode, passed: r.exitCode === 0 && !r.timedOut, timedOut: r.timedOut, durationMs: r.durationMs, outputTail: r.outputTail, log: r.log };
}

export interface RepoError {
  /** The step that failed: a step name, "setup", "tests", or an infrastructure phase. */
  step: string;
  message: string;
  outputTail: string;
}

/**
 * `unchanged`: green, but nothing changed, so there is nothing to publish. `skipped`: failed,
 * and a person chose to publish the others without it.
 */
export type RepoStatus = 'pending' | 'running' | 'green' | 'unchanged' | 'failed' | 'skipped' | 'cancelled';

export interface RepoResult {
  repo: string;
  status: RepoStatus;
  mode?: 'steps' | 'agent';
  /** Set in agent mode: what the agent did and what it cost. */
  agent?: AgentOutcome | null;
  /** Agent mode: the test command on the untouched base, run before the agent starts. */
  baselineTests?: { exitCode: number; passed: boolean } | null;
  /** The tests passed on the base branch and fail at the end: the change broke them. */
  regression?: boolean;
  branch: string;
  baseCommit: string | null;
  commit: string | null;
  changedFiles: string[];
  steps: StepOutcome[];
  tests: TestsOutcome | null;
  error: RepoError | null;
  attempts: number;
  durationMs: number;
  /** True when this result was carried over from an earlier run (resume) after checking the branch. */
  reused?: boolean;
  /** sha256 of the repo's task, so a resume can tell whether the change file or config changed. */
  taskHash?: string;
  /** A bump change: the version this repo was moved to, from what, and how it went. */
  bump?: RepoBumpOutcome;
}

export interface PullRequestRef {
  url: string;
  number: number;
}

export interface RepoOutcome extends RepoResult {
  pullRequest: PullRequestRef | null;
}

/** `blocked`: every repo is green but the gate found a broken contract or a guardrail finding. */
export type ChangeStatus = 'running' | 'succeeded' | 'failed' | 'blocked' | 'rejected' | 'cancelled';

export interface ChangeResult {
  changeId: string;
  title: string;
  status: ChangeStatus;
  /** Why the change ended as it did, in one sentence. */
  summary: string;
  startedAt: string;
  finishedAt: string | null;
  /** Providers before consumers: the order in which the PRs should merge. */
  mergeOrder: string[];
  /** The coordinator's plan, when a model planned the change. */
  plan: ChangePlan | null;
  metrics: ChangeMetrics;
  repos: RepoOutcome[];
  /** The last report of the contract and guardrail gate (null when it did not run). */
  gate?: GateReport | null;
  /** A bump change: the version every repo was moved to (absent: not a bump). */
  bump?: ResolvedBump;
}

/** Per-run figures (per-repo ones are on each repo's result). */
export interface ChangeMetrics {
  repos: number;
  /** Repos green or unchanged. */
  resolved: number;
  /** Repos whose tests passed on the base branch and fail at the end. */
  regressions: number;
  /** Model turns of all repo agents. */
  turns: number;
  usage: TokenUsage;
  durationMs: number;
}

export type RepoPhase = 'queued' | 'preparing' | 'sandbox' | 'setup' | 'bump' | 'baseline' | 'step' | 'agent' | 'tests' | 'pushing' | 'cleanup' | 'done';
export type ChangePhase = 'starting' | 'resolving' | 'planning' | 'running' | 'awaiting-decision' | 'gate' | 'fixing' | 'awaiting-approval' | 'publishing' | 'done';

/** Sent by a repo workflow to its coordinator whenever it enters a new phase or step. */
export interface RepoProgress {
  repo: string;
  phase: RepoPhase;
  /** The step being run, in phase `step` (or setup/tests). */
  step: string | null;
  attempt: number;
  /** Epoch milliseconds (workflow time). */
  at: number;
}

export interface RepoStatusView {
  repo: string;
  status: RepoStatus;
  phase: RepoPhase;
  step: string | null;
  attempt: number;
  /**
   * The host queue whose Docker holds this attempt's sandbox, once its workspace is open (null
   * before; absent in runs recorded before it): the reconciler keeps only that sandbox.
   */
  hostQueue?: string | null;
  startedAt: number | null;
  phaseStartedAt: number | null;
  finishedAt: number | null;
  result: RepoOutcome | null;
}

export interface ChangeStatusView {
  changeId: string;
  title: string;
  status: ChangeStatus;
  phase: ChangePhase;
  startedAt: number;
  mergeOrder: string[];
  plan: ChangePlan | null;
  repos: RepoStatusView[];
  result: ChangeResult | null;
  /** What the change waits for, when it waits for a person. */
  awaiting: { kind: 'decision'; repos: string[]; until: number } | { kind: 'approval'; gate: Approval['gate']; until: number } | null;
  /** Every decision and approval received, in order. */
  humans: ((Decision | Approval) & { at: number })[];
  /** The gate's latest report, while and after it runs. */
  gate: GateReport | null;
  /** A bump's version, once resolved (absent in views of workers from before bumps). */
  bump?: ResolvedBump | null;
}

/** Activity inputs. */
export interface PrepareWorkspaceInput {
  changeId: string;
  repo: string;
  url: string;
  baseBranch: string;
  branch: string;
  /** Check out this commit of the pushed change branch (a gate fix round); the base stays the diff's base. */
  startCommit?: string | null;
}

/** A workspace and its sandbox in one step, on one host (`openWorkspace`). */
export interface OpenWorkspaceInput extends PrepareWorkspaceInput {
  sandbox: SandboxConfig;
  /** The repo workflow's attempt, labelled on the sandbox (absent in runs recorded before). */
  attempt?: number;
}

export interface PreparedWorkspace {
  /** The task queue of the worker whose host holds the workspace (and will hold the sandbox). */
  hostQueue: string;
  workspace: string;
  baseCommit: string;
}

export interface SandboxRef {
  changeId: string;
  repo: string;
}

export interface CreateSandboxInput extends SandboxRef {
  workspace: string;
  sandbox: SandboxConfig;
  /** The repo workflow's attempt, labelled on the sandbox (absent in runs recorded before). */
  attempt?: number;
}

export interface CloseWorkspaceInput extends SandboxRef {
  workspace: string;
}

export interface RunInSandboxInput extends SandboxRef {
  kind: CommandKind;
  /** Human name of the command (step name, "setup", "tests"), used for the log file. */
  name: string;
  /** Position in the repo's command sequence; keeps log file names unique and ordered. */
  index: number;
  /** Run with `bash -c`; only a human-readable label when `argv` is given. */
  command: string;
  /** Run exactly this argument vector, no shell in between (for model-supplied arguments). */
  argv?: string[];
  timeoutSeconds: number;
  outputBytes: number;
  /**
   * A setup run again after a bump: its snapshot of the prepared work tree keeps these paths as
   * the first setup left them, so the bump's edits to them stay part of the change while
   * everything else the bump and this setup wrote stays out of the commit.
   */
  keepPrepared?: string[];
  /** The task's egress ask (RepoTask.egress): whether a step's or the agent's phase may go out. */
  egress?: EgressAsk;
}

export interface CommitAndPushInput {
  changeId: string;
  repo: string;
  workspace: string;
  url: string;
  branch: string;
  baseCommit: string;
  message: string;
  /** The repo's commands are done: remove its sandbox while git works. */
  releaseSandbox?: boolean;
}

export interface CommitAndPushResult {
  commit: string | null;
  changedFiles: string[];
}

export interface PullRequestSibling {
  repo: string;
  pullRequest: PullRequestRef;
  commit: string;
}

export interface OpenPullRequestInput {
  /** The change's forge; absent means the worker's own (local) forge. Holds no secret. */
  forge?: ForgeConfig;
  changeId: string;
  repo: string;
  url: string;
  title: string;
  description: string;
  head: string;
  base: string;
  commit: string;
}

export interface LinkPullRequestInput extends OpenPullRequestInput {
  pullRequest: PullRequestRef;
  mergeOrder: string[];
  siblings: PullRequestSibling[];
  /** The gate's report, shown as a short table in every body. */
  gate?: GateReport | null;
}

/** One PR of a linked set, addressed for the forge activities behind `lockstep prs|publish|close`. */
export interface PullRequestTarget {
  forge: ForgeConfig;
  repo: string;
  number: number;
}

/** Activity failure types after which retrying the repo cannot help. */
export const FATAL_ERROR_TYPES = ['SandboxImageMissing', 'RemoteUnreachable', 'BaseBranchMissing', 'InvalidInput', 'ModelNotConfigured', 'ModelRequestRejected'] as const;
export type FatalErrorType = (typeof FATAL_ERROR_TYPES)[number];

/** A person's decision on a failed repo while the change is live (`lockstep retry|skip|abort`). */
export interface Decision {
  action: 'retry' | 'skip' | 'abort';
  /** The repo it is about; null for `abort` (the whole change). */
  repo: string | null;
  /** Who decided (the CLI sends the local user name). */
  by: string;
  reason: string;
}

/** A person's answer at an approval gate (`lockstep approve|reject`). */
export interface Approval {
  gate: 'plan' | 'publish';
  approved: boolean;
  by: string;
  reason: string;
}

/** What the workflow says back to a decision or an approval. */
export interface DecisionAck {
  accepted: boolean;
  message: string;
}
