/** Commands run in a sandbox, their outcomes, and the egress they used. */

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
  return {
    exitCode: r.exitCode,
    passed: r.exitCode === 0 && !r.timedOut,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    outputTail: r.outputTail,
    log: r.log,
  };
}
