/**
 * Data that crosses the workflow boundary: workflow inputs and results, activity inputs and
 * results, progress. Everything here is plain JSON and small (history stays small: large
 * output is stored by activities and referenced by path + sha256).
 */
import type { ChangeStep } from '../config/change.ts';
import type { ForgeConfig, SandboxConfig } from '../config/repos.ts';

export const changeWorkflowId = (changeId: string): string => `change/${changeId}`;
export const repoWorkflowId = (changeId: string, repo: string): string => `change/${changeId}/repo/${repo}`;
export const changeBranch = (changeId: string): string => `lockstep/${changeId}`;

/** One repository's part of a change, fully resolved from config and change file. */
export interface RepoTask {
  repo: string;
  /** Absolute path or git URL of the remote. */
  url: string;
  baseBranch: string;
  branch: string;
  sandbox: SandboxConfig;
  steps: ChangeStep[];
  /** Contract names this repo provides / consumes (used for the merge order). */
  provides: string[];
  consumes: string[];
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
}

export interface RepoWorkflowInput {
  changeId: string;
  title: string;
  description: string;
  task: RepoTask;
  maxAttempts: number;
}

/** A file written by an activity, referenced from history instead of its content. */
export interface ArtifactRef {
  path: string;
  sha256: string;
  bytes: number;
}

export type CommandKind = 'setup' | 'step' | 'test';

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
}

export interface StepOutcome {
  kind: CommandKind;
  name: string;
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
}

export interface TestsOutcome {
  exitCode: number;
  passed: boolean;
  timedOut: boolean;
  durationMs: number;
  outputTail: string;
  log: ArtifactRef | null;
}

export interface RepoError {
  /** The step that failed: a step name, "setup", "tests", or an infrastructure phase. */
  step: string;
  message: string;
  outputTail: string;
}

/** `unchanged`: green, but the steps changed no file, so there is nothing to publish. */
export type RepoStatus = 'pending' | 'running' | 'green' | 'unchanged' | 'failed' | 'cancelled';

export interface RepoResult {
  repo: string;
  status: RepoStatus;
  branch: string;
  baseCommit: string | null;
  commit: string | null;
  changedFiles: string[];
  steps: StepOutcome[];
  tests: TestsOutcome | null;
  error: RepoError | null;
  attempts: number;
  durationMs: number;
}

export interface PullRequestRef {
  url: string;
  number: number;
}

export interface RepoOutcome extends RepoResult {
  pullRequest: PullRequestRef | null;
}

export type ChangeStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

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
  repos: RepoOutcome[];
}

export type RepoPhase = 'queued' | 'preparing' | 'sandbox' | 'setup' | 'step' | 'tests' | 'pushing' | 'cleanup' | 'done';
export type ChangePhase = 'starting' | 'running' | 'publishing' | 'done';

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
  repos: RepoStatusView[];
  result: ChangeResult | null;
}

/** Activity inputs. */
export interface PrepareWorkspaceInput {
  changeId: string;
  repo: string;
  url: string;
  baseBranch: string;
  branch: string;
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
}

export interface RunInSandboxInput extends SandboxRef {
  kind: CommandKind;
  /** Human name of the command (step name, "setup", "tests"), used for the log file. */
  name: string;
  /** Position in the repo's command sequence; keeps log file names unique and ordered. */
  index: number;
  command: string;
  timeoutSeconds: number;
  outputBytes: number;
}

export interface CommitAndPushInput {
  changeId: string;
  repo: string;
  workspace: string;
  url: string;
  branch: string;
  baseCommit: string;
  message: string;
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
}

/** Activity failure types after which retrying the repo cannot help. */
export const FATAL_ERROR_TYPES = ['SandboxImageMissing', 'RemoteUnreachable', 'BaseBranchMissing', 'InvalidInput'] as const;
export type FatalErrorType = (typeof FATAL_ERROR_TYPES)[number];
