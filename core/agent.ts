/** The coordinator's plan, the scout's index and the repo agent's loop. */
import type { AgentBudgets, SandboxConfig } from '../config/repos.ts';
import type { EgressAsk, TestsOutcome } from './commands.ts';

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
  repos: {
    repo: string;
    provides: string[];
    consumes: string[];
    instructions: string | null;
    index: RepoIndex | null;
  }[];
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
