/** A change as the coordinator runs it: its input, result, metrics and live status. */
import type { AgentBudgets, ForgeConfig, ModelsConfig } from '../config/repos.ts';
import type { ChangePlan, TokenUsage } from './agent.ts';
import type { BumpSpec, ResolvedBump } from './bump.ts';
import type { Approval, Decision } from './decisions.ts';
import type { GateInput, GateReport } from './gate.ts';
import type { RepoOutcome, RepoResult, RepoStatusView, RepoTask } from './repo.ts';
import type { RevertSpec } from './revert.ts';

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
  /** From the change file: land right after publishing, and how long landing may wait. */
  landing?: { land: boolean; timeoutSeconds: number };
  /**
   * A revert (`lockstep revert`, core/revert.ts): each repo's edit is the inverse of its merged
   * PR, and the merge order is reversed (consumers before providers).
   */
  revert?: RevertSpec | null;
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

export type ChangePhase =
  | 'starting'
  | 'resolving'
  | 'planning'
  | 'running'
  | 'awaiting-decision'
  | 'gate'
  | 'fixing'
  | 'awaiting-approval'
  | 'publishing'
  | 'done';

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
  awaiting:
    | { kind: 'decision'; repos: string[]; until: number }
    | { kind: 'approval'; gate: Approval['gate']; until: number }
    | null;
  /** Every decision and approval received, in order. */
  humans: ((Decision | Approval) & { at: number })[];
  /** The gate's latest report, while and after it runs. */
  gate: GateReport | null;
  /** A bump's version, once resolved (absent in views of workers from before bumps). */
  bump?: ResolvedBump | null;
}
