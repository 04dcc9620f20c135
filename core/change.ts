/** A change as the coordinator runs it: its input, result, metrics and live status. */
import type { AgentBudgets, ForgeConfig, ModelsConfig } from '../config/repos.ts';
import type { ChangePlan, TokenUsage } from './agent.ts';
import type { BumpSpec, ResolvedBump } from './bump.ts';
import type { Approval, Decision } from './decisions.ts';
import type { GateInput, GateReport } from './gate.ts';
import type { RepoOutcome, RepoResult, RepoStatus, RepoStatusView, RepoTask } from './repo.ts';
import type { RevertSpec } from './revert.ts';
import type { PagedTasks, PageSummary } from './pages.ts';

export interface ChangeInput {
  changeId: string;
  title: string;
  description: string;
  forge: ForgeConfig;
  concurrency: number;
  /** The repos' tasks, in full; empty when the change runs in pages (`pages`). */
  repos: RepoTask[];
  /** Repos to a page (the fleet's `operations.pageSize`); a change of more runs in pages. */
  pageSize?: number;
  /** A change of many repos: its tasks by reference, in pages (core/pages.ts). */
  pages?: PagedTasks | null;
  /** A resumed change in pages: the run before's page summaries (their results by reference). */
  previousPages?: PageSummary[] | null;
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
  /** Every repo's outcome; empty for a change in pages (`pages`). */
  repos: RepoOutcome[];
  /** A change in pages: each page's summary, its results and pull requests by reference. */
  pages?: PageSummary[];
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
  /** A change in pages: counts, failures first, pages done and running (`repos` is then empty). */
  paged?: PagedView | null;
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

/** The live view of a change in pages: readable at 10,000 repos. */
export interface PagedView {
  total: number;
  pageSize: number;
  pages: number;
  /** Pages done in the current stage (`running` or `publishing`). */
  pagesDone: number;
  /** Page workflows running now (query them for their repos). */
  running: string[];
  /** Repos by status, over the pages done. */
  counts: Partial<Record<RepoStatus, number>>;
  /** The first failures (failed, cancelled), page by page. */
  failures: PageSummary['failures'];
  /** Pull requests opened so far while publishing. */
  pullRequests: number;
  /** When the current stage started (ms since the epoch), for an ETA. */
  stageStartedAt: number | null;
}
