/** What every tool receives and what it gives back to the model (and to history). */
import type { EgressAsk, TestsOutcome } from '../../../core/commands.ts';
import type { SandboxDeps } from '../../sandbox/docker.ts';

export interface ToolContext {
  /** Absolute host path of the repo's workspace (contains .git). */
  workspace: string;
  sandbox: SandboxDeps;
  ref: { changeId: string; repo: string };
  /** The repo's test command. */
  testCommand: string;
  /** run_command's (and grep's) timeout. */
  commandTimeoutSeconds: number;
  testTimeoutSeconds: number;
  /** Stored-log cap passed to runInSandbox. */
  outputBytes: number;
  /** Log index for runInSandbox. */
  nextIndex: () => number;
  /** The task's egress ask: the agent's commands reach the network only when it says `agent`. */
  egress?: EgressAsk;
  /** Written files and created directories are chowned to this (the sandbox user) when set. */
  owner: { uid: number; gid: number } | null;
  signal?: AbortSignal;
}

export interface ToolOutcome {
  ok: boolean;
  /** What the model reads back (the tool message content), at most MODEL_OUTPUT_CHARS, with a note saying how to see more when cut. */
  content: string;
  /** One short line for workflow history and progress; no file contents; at most 200 characters. */
  summary: string;
  /** Set by run_tests. */
  tests?: TestsOutcome;
  /** Set by run_command. */
  exitCode?: number;
  /** Set by finish. */
  finished?: { summary: string };
  /** Files this call wrote (paths relative to the workspace root). */
  wrote?: string[];
}
