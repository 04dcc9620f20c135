/** Activity inputs of a repo's workspace and sandbox. */
import type { SandboxConfig } from '../config/repos.ts';
import type { CommandKind, EgressAsk } from './commands.ts';

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
