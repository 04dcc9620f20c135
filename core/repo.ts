/** One repository's part of a change: its task, its workflow's input, result and live status. */
import type { MergeMethod } from './landing.ts';
import type { BumpEcosystem, ChangeStep } from '../config/change.ts';
import type { AgentBudgets, ModelsConfig, SandboxConfig } from '../config/repos.ts';
import type { AgentOutcome } from './agent.ts';
import type { RepoBumpManifests, RepoBumpOutcome } from './bump.ts';
import type { EgressAsk, StepOutcome, TestsOutcome } from './commands.ts';
import type { PullRequestRef } from './pulls.ts';
import type { RepoRevert } from './revert.ts';

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
  /** How landing merges this repo's PR (absent: `merge`). */
  merge?: MergeMethod;
  /** Paths of the contract documents in this repo (provided and consumed copies). */
  contractPaths: string[];
  /** Egress the change asked beyond setup, granted by this repo's fleet config (absent: none). */
  egress?: EgressAsk;
  /** Continue from this commit of the change branch instead of the base (a gate fix round). */
  startCommit?: string | null;
  /** The gate fix round this task belongs to (0 or absent: the first run). */
  fixRound?: number;
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
  /** A revert (core/revert.ts): the merged PR of change `of` this repo undoes, instead of steps or an agent. */
  revert?: { of: string; repo: RepoRevert } | null;
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

export interface RepoOutcome extends RepoResult {
  pullRequest: PullRequestRef | null;
}

export type RepoPhase =
  | 'queued'
  | 'preparing'
  | 'sandbox'
  | 'setup'
  | 'bump'
  | 'baseline'
  | 'step'
  | 'agent'
  | 'tests'
  | 'pushing'
  | 'cleanup'
  | 'done';

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
