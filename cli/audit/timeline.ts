/**
 * Turns the histories of one change into a timeline: every activity the workflows scheduled
 * becomes exactly one entry of its kind (model call, tool call, command, forge action, ...),
 * plus entries for retries, failures, human messages and each workflow run's span. Payloads are
 * decoded with the client's data converter; every string that reaches an entry is cut short.
 */
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import proto from '@temporalio/proto';
import type { AgentOutcome, AgentToolInput, AgentToolResult, AgentWorkflowInput, ModelTurnInput, ModelTurnResult, PlanInput, PlanTurnResult, RepoIndex } from '../../core/agent.ts';
import type { Approval, Decision, DecisionAck } from '../../core/decisions.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { CheckContractInput, ContractVerdict, GuardrailFinding, ScanRepoInput } from '../../core/gate.ts';
import type { CommandResult } from '../../core/commands.ts';
import type { CommitAndPushResult, PreparedWorkspace, RunInSandboxInput } from '../../core/workspace.ts';
import type { LinkPullRequestInput, PullRequestRef } from '../../core/pulls.ts';
import type { RepoResult, RepoWorkflowInput } from '../../core/repo.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { TemporalSession } from '../../client/connection.ts';
import { egressGlance } from '../progress.ts';
import { verdictDetails } from './contracts.ts';
import { loadChangeRuns, type Failure, type HistoryEvent, type LoadedRun } from './histories.ts';
import { PREVIEW_CHARS, short, type AuditEntry, type AuditKind, type AuditReport, type AuditValue } from './report.ts';

const { WorkflowTaskFailedCause } = proto.temporal.api.enums.v1;

type Payloads = { payloads?: proto.temporal.api.common.v1.IPayload[] | null } | null | undefined;
type Decoder = (payloads: Payloads) => Promise<unknown[]>;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

/** Workflow task failures that are part of normal operation (a signal raced a completion, a sticky worker left). */
const ROUTINE_TASK_FAILURES = new Set<number>([
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
]);

/** Signals workflows send each other; not human messages. */
const INTERNAL_SIGNALS = new Set(['repoProgress']);

/** Protobuf int64 fields arrive as Long objects (or numbers, or strings from JSON). */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'object' && v !== null && 'toNumber' in v && typeof v.toNumber === 'function') return Number((v as { toNumber(): unknown }).toNumber());
  return 0;
}
const ms = (ts: Timestamp): number => (ts ? toNumber(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : 0);
const iso = (t: number): string => new Date(t).toISOString();
const idOf = (id: unknown): string => String(toNumber(id));
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The messages of a failure and its causes, outermost first, without repeats. */
export function failureMessage(failure: Failure | null | undefined): string {
  const parts: string[] = [];
  for (let f = failure; f; f = f.cause) {
    const m = f.message?.trim();
    if (m && !parts.includes(m)) parts.push(m);
  }
  return short(parts.join(': ') || 'failed without a message');
}

const failureType = (failure: Failure | null | undefined): string | null => {
  for (let f = failure; f; f = f.cause) {
    const type = f.applicationFailureInfo?.type;
    if (type) return type;
  }
  return null;
};

interface ActivityRecord {
  activityId: string;
  type: string;
  input: unknown;
  scheduledAt: number;
  startedAt: number | null;
  attempt: number;
  lastFailure: string | null;
  lastFailureAt: number | null;
  closedAt: number | null;
  outcome: 'completed' | 'failed' | 'timed out' | 'cancelled' | 'running';
  result: unknown;
  failure: Failure | null;
  inputPayloads: Payloads;
  resultPayloads: Payloads;
}

/** What a run's history says about its activities, in the order they were scheduled. */
function activitiesOf(run: LoadedRun): ActivityRecord[] {
  const bySchedule = new Map<string, ActivityRecord>();
  for (const e of run.events) {
    const at = ms(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      bySchedule.set(idOf(e.eventId), {
        activityId: s.activityId ?? '',
        type: s.activityType?.name ?? 'unknown',
        input: undefined,
        inputPayloads: s.input,
        scheduledAt: at,
        startedAt: null,
        attempt: 1,
        lastFailure: null,
        lastFailureAt: null,
        closedAt: null,
        outcome: 'running',
        result: undefined,
        resultPayloads: null,
        failure: null,
      });
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const r = bySchedule.get(idOf(started.scheduledEventId));
      if (r) {
        r.startedAt = at;
        r.attempt = started.attempt ?? 1;
        if (started.lastFailure) {
          r.lastFailure = failureMessage(started.lastFailure);
          r.lastFailureAt = at;
        }
      }
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    const failed = e.activityTaskFailedEventAttributes;
    const timedOut = e.activityTaskTimedOutEventAttributes;
    const cancelled = e.activityTaskCanceledEventAttributes;
    const closing = done ?? failed ?? timedOut ?? cancelled;
    if (!closing) continue;
    const r = bySchedule.get(idOf(closing.scheduledEventId));
    if (!r) continue;
    r.closedAt = at;
    if (done) {
      r.outcome = 'completed';
      r.resultPayloads = done.result;
    } else if (failed) {
      r.outcome = 'failed';
      r.failure = failed.failure ?? null;
    } else if (timedOut) {
      r.outcome = 'timed out';
      r.failure = timedOut.failure ?? null;
    } else {
      r.outcome = 'cancelled';
    }
  }
  for (const r of bySchedule.values()) {
    if (r.closedAt !== null) continue;
    // An open activity's retries are not in history yet; describe knows them.
    const pending = run.pending.get(r.activityId);
    if (pending && pending.attempt > r.attempt) {
      r.attempt = pending.attempt;
      r.lastFailure = pending.lastFailure ? short(pending.lastFailure) : r.lastFailure;
    }
  }
  return [...bySchedule.values()];
}

interface Context {
  changeId: string;
  decode: Decoder;
  /** Tool name and argument preview by `<workflowId>|<turn>|<callId>`, from the model turns. */
  calls: Map<string, { name: string; preview: string }>;
  /** planChange calls seen so far per workflow: the plan attempt number. */
  planAttempts: Map<string, number>;
}

export function repoOfWorkflow(changeId: string, workflowId: string): string | null {
  const prefix = `${changeWorkflowId(changeId)}/repo/`;
  if (!workflowId.startsWith(prefix)) return null;
  return workflowId.slice(prefix.length).split('/')[0] ?? null;
}

interface Described {
  kind: AuditKind;
  title: string;
  details: Record<string, AuditValue>;
  repo?: string | null;
}

/** One activity as an entry: what was asked and what came back, in a line and a few fields. */
function describeActivity(r: ActivityRecord, run: LoadedRun, ctx: Context): Described {
  const input = obj(r.input);
  const result = r.outcome === 'completed' ? r.result : undefined;
  const inputRepo = str(input.repo);
  switch (r.type) {
    case 'modelTurn': {
      const i = input as Partial<ModelTurnInput>;
      const res = result as ModelTurnResult | undefined;
      const calls = res?.toolCalls ?? [];
      for (const c of calls) ctx.calls.set(`${run.workflowId}|${i.turn ?? ''}|${c.id}`, { name: c.name, preview: c.preview });
      return {
        kind: 'model',
        title: short(`turn ${i.turn ?? '?'}: ${res ? (calls.length > 0 ? calls.map((c) => c.name).join(', ') : 'no tool call') : r.outcome}`),
        details: {
          model: short(res?.model ?? i.model ?? ''),
          turn: i.turn ?? null,
          promptTokens: res?.usage.prompt ?? null,
          completionTokens: res?.usage.completion ?? null,
          modelMs: res?.durationMs ?? null,
          promptHash: res?.promptHash ? res.promptHash.slice(0, 16) : null,
          finishReason: res ? short(res.finishReason, 40) : null,
          toolCalls: res ? calls.length : null,
          content: res?.content ? short(res.content) : null,
        },
      };
    }
    case 'planChange': {
      const i = input as Partial<PlanInput>;
      const res = result as PlanTurnResult | undefined;
      const attempt = (ctx.planAttempts.get(run.workflowId) ?? 0) + 1;
      ctx.planAttempts.set(run.workflowId, attempt);
      const verdict = !res ? r.outcome : res.plan ? `valid — ${res.plan.summary}` : `invalid (${res.errors.length} error${res.errors.length === 1 ? '' : 's'})`;
      return {
        kind: 'plan',
        title: short(`plan attempt ${attempt}: ${verdict}`),
        details: {
          model: short(i.model ?? ''),
          planAttempt: attempt,
          repos: i.repos?.length ?? null,
          promptTokens: res?.usage.prompt ?? null,
          completionTokens: res?.usage.completion ?? null,
          summary: res?.plan ? short(res.plan.summary) : null,
          order: res?.plan ? short(res.plan.order.join(' → ')) : null,
          errors: res && res.errors.length > 0 ? short(res.errors.join('; ')) : null,
        },
      };
    }
    case 'scoutRepo': {
      const res = result as RepoIndex | undefined;
      return {
        kind: 'model',
        title: short(`scout ${inputRepo ?? '?'}${res ? `: ${res.files} files, ${res.summaries.length} summaries` : `: ${r.outcome}`}`),
        details: {
          model: str(input.model) ? short(String(input.model)) : null,
          commit: res ? res.commit.slice(0, 12) : null,
          files: res?.files ?? null,
          summaries: res?.summaries.length ?? null,
          promptTokens: null,
          completionTokens: null,
        },
      };
    }
    case 'runAgentTool': {
      const i = input as Partial<AgentToolInput>;
      const res = result as AgentToolResult | undefined;
      const call = ctx.calls.get(`${run.workflowId}|${i.turn ?? ''}|${i.callId ?? ''}`);
      const name = call?.name ?? 'unknown tool';
      const verdict = res ? (res.ok ? 'ok' : 'failed') : r.outcome;
      return {
        kind: 'tool',
        title: short(`${name}${call?.preview ? ` ${call.preview}` : ''} → ${verdict}`),
        details: {
          tool: short(name, 64),
          // The preview as the model sent it (already cut by the activity), not reflowed.
          args: call ? call.preview.slice(0, PREVIEW_CHARS) : null,
          ok: res ? res.ok : null,
          exitCode: res?.exitCode ?? res?.tests?.exitCode ?? null,
          testsPassed: res?.tests ? res.tests.passed : null,
          summary: res ? short(res.summary) : null,
          turn: i.turn ?? null,
          callId: i.callId ? short(i.callId, 64) : null,
        },
      };
    }
    case 'runInSandbox': {
      const i = input as Partial<RunInSandboxInput>;
      const res = result as CommandResult | undefined;
      const kind = i.kind === 'test' ? 'test' : 'command';
      const verdict = res ? (res.timedOut ? 'timed out' : `exit ${res.exitCode}`) + (res.leftovers ? `, ${res.leftovers} leftover process${res.leftovers === 1 ? '' : 'es'} killed` : '') : r.outcome;
      const egress = res?.egress;
      return {
        kind,
        title: short(`${i.kind ?? 'command'} "${i.name ?? '?'}": ${verdict}${egress ? ` — ${egressGlance(egress)}` : ''}`),
        details: {
          commandKind: i.kind ?? null,
          name: short(i.name ?? ''),
          exitCode: res?.exitCode ?? null,
          timedOut: res?.timedOut ?? null,
          leftovers: res?.leftovers ?? 0,
          commandMs: res?.durationMs ?? null,
          outputBytes: res?.outputBytes ?? null,
          log: res?.log ? res.log.sha256.slice(0, 12) : null,
          // The command's egress (the JSON lines stay in the worker's log folder: `audit --egress`).
          ...(egress
            ? {
                egressPhase: egress.phase ?? 'setup',
                egressConnections: egress.connections,
                ...(egress.requests !== undefined ? { egressRequests: egress.requests } : {}),
                egressDenied: egress.denied,
                egressBytesDown: egress.bytesDown,
                egressBytesUp: egress.bytesUp,
                egressHosts: short(egress.hosts.join(', ')),
                egressDeniedHosts: egress.deniedHosts.length ? short(egress.deniedHosts.map((d) => `${d.method ? `${d.method} ${d.host}:${d.port}${d.path ?? ''}` : `${d.host}:${d.port}`} (${d.reason})`).join('; ')) : null,
                egressLog: short(egress.log),
              }
            : {}),
        },
      };
    }
    case 'checkContract': {
      const i = input as Partial<CheckContractInput>;
      const res = result as ContractVerdict | undefined;
      const first = res?.problems[0];
      return {
        kind: 'gate',
        title: short(`contract ${i.contract?.name ?? '?'} (${i.contract?.kind ?? '?'}, round ${i.round ?? 0}): ${res ? res.status : r.outcome}${first ? ` — ${first.message}` : ''}`),
        details: {
          contract: short(i.contract?.name ?? ''),
          kind: i.contract?.kind ?? null,
          provider: i.contract ? short(i.contract.provider) : null,
          verdict: res?.status ?? null,
          problems: res?.problems.length ?? null,
          accepted: res?.accepted.length ?? null,
          round: num(i.round),
          ...verdictDetails(res),
        },
      };
    }
    case 'scanRepo': {
      const i = input as Partial<ScanRepoInput>;
      const res = result as GuardrailFinding[] | undefined;
      return {
        kind: 'gate',
        title: short(`guardrails ${i.repo?.repo ?? '?'} (round ${i.round ?? 0}): ${res ? `${res.length} finding${res.length === 1 ? '' : 's'}${res[0] ? ` — ${res[0].rule} at ${res[0].file}:${res[0].line}` : ''}` : r.outcome}`),
        details: { findings: res?.length ?? null, rules: res ? short([...new Set(res.map((f) => f.rule))].join(', ')) : null, round: num(i.round) },
      };
    }
    case 'openPullRequest': {
      const res = result as PullRequestRef | undefined;
      return {
        kind: 'forge',
        title: short(res ? `pull request #${res.number} opened (or found)` : `open pull request: ${r.outcome}`),
        details: { number: res?.number ?? null, url: res ? short(res.url) : null, head: str(input.head) ? short(String(input.head)) : null },
      };
    }
    case 'linkPullRequest': {
      const i = input as Partial<LinkPullRequestInput>;
      return {
        kind: 'forge',
        title: short(`pull request #${i.pullRequest?.number ?? '?'} linked in the set of ${i.siblings?.length ?? 0} PR${i.siblings?.length === 1 ? '' : 's'}${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`),
        details: { number: i.pullRequest?.number ?? null, url: i.pullRequest ? short(i.pullRequest.url) : null, setSize: i.siblings?.length ?? null },
      };
    }
    case 'prepareWorkspace':
    case 'openWorkspace': {
      const res = result as PreparedWorkspace | undefined;
      const made = r.type === 'openWorkspace' ? 'workspace cloned and sandbox created' : 'workspace cloned';
      return {
        kind: 'repo',
        title: short(res ? `${made} at ${res.baseCommit.slice(0, 12)}` : `${r.type === 'openWorkspace' ? 'open' : 'prepare'} workspace: ${r.outcome}`),
        details: { baseBranch: str(input.baseBranch), branch: str(input.branch), baseCommit: res ? res.baseCommit.slice(0, 12) : null, hostQueue: res ? short(res.hostQueue, 80) : null },
      };
    }
    case 'createSandbox':
      return { kind: 'repo', title: `sandbox created${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`, details: { container: typeof result === 'string' ? short(result, 80) : null } };
    case 'commitAndPush': {
      const res = result as CommitAndPushResult | undefined;
      return {
        kind: 'repo',
        title: short(res ? (res.commit ? `pushed ${str(input.branch) ?? ''}@${res.commit.slice(0, 12)} (${res.changedFiles.length} files)` : 'nothing to commit') : `commit and push: ${r.outcome}`),
        details: { commit: res?.commit ? res.commit.slice(0, 12) : null, changedFiles: res?.changedFiles.length ?? null },
      };
    }
    case 'removeSandbox':
    case 'removeWorkspace':
    case 'closeWorkspace': {
      const what = { removeSandbox: 'sandbox', removeWorkspace: 'workspace', closeWorkspace: 'sandbox and workspace' }[r.type];
      return { kind: 'repo', title: `${what} removed${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`, details: {} };
    }
    case 'startTranscript':
      return { kind: 'repo', title: `agent transcript started (attempt ${num(input.attempt) ?? '?'})`, details: { attempt: num(input.attempt) } };
    case 'appendUserMessage':
      return { kind: 'repo', title: short(`note to the agent: ${str(input.text) ?? ''}`), details: { turn: num(input.turn) } };
    default:
      return { kind: repoOfWorkflow(ctx.changeId, run.workflowId) || inputRepo ? 'repo' : 'change', title: short(`${r.type}: ${r.outcome}`), details: {} };
  }
}

interface RunFacts {
  startedAt: number;
  closedAt: number | null;
  input: unknown;
  result: unknown;
}

async function runFacts(run: LoadedRun, decode: Decoder): Promise<RunFacts> {
  const first = run.events[0];
  const last = run.events.at(-1);
  const started = first?.workflowExecutionStartedEventAttributes;
  const completed = last?.workflowExecutionCompletedEventAttributes;
  return {
    startedAt: ms(first?.eventTime),
    closedAt: run.status === 'running' ? null : ms(last?.eventTime),
    input: started ? (await decode(started.input))[0] : undefined,
    result: completed ? (await decode(completed.result))[0] : undefined,
  };
}

/** The span of a workflow run, and an entry for an outcome that is a failure of the work itself. */
function runEntries(run: LoadedRun, facts: RunFacts, repo: string | null, runIndex: number): AuditEntry[] {
  const base = { workflowId: run.workflowId, repo };
  const duration = facts.closedAt === null ? null : facts.closedAt - facts.startedAt;
  const state = run.status === 'completed' ? null : run.status.replaceAll('_', ' ');
  const entries: AuditEntry[] = [];
  const closedAt = iso(facts.closedAt ?? facts.startedAt);
  if (run.type === 'changeWorkflow') {
    const input = obj(facts.input) as Partial<ChangeInput>;
    const result = facts.result as ChangeResult | undefined;
    const tasks = input.repos ?? [];
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'change',
      title: short(`change "${input.title ?? ''}"${runIndex > 0 ? ` (run ${runIndex + 1})` : ''}: ${result ? result.status : (state ?? 'running')}`),
      details: {
        title: short(input.title ?? ''),
        repos: tasks.length,
        agentRepos: tasks.filter((t) => t.mode === 'agent').length,
        concurrency: input.concurrency ?? null,
        runId: run.runId,
      },
      durationMs: duration,
    });
    if (result) {
      entries.push({
        ...base,
        at: closedAt,
        // A rejection is a person's answer, not a failure; failed and cancelled are.
        kind: result.status === 'failed' || result.status === 'cancelled' ? 'failure' : 'change',
        title: short(`change ${result.status}: ${result.summary}`),
        details: {
          status: result.status,
          resolved: result.metrics.resolved,
          repos: result.metrics.repos,
          regressions: result.metrics.regressions,
          turns: result.metrics.turns,
          promptTokens: result.metrics.usage.prompt,
          completionTokens: result.metrics.usage.completion,
          mergeOrder: short(result.mergeOrder.join(' → ')),
        },
        durationMs: null,
      });
    }
    return entries;
  }
  if (run.type === 'repoWorkflow') {
    const input = obj(facts.input) as Partial<RepoWorkflowInput>;
    const result = facts.result as RepoResult | undefined;
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'repo',
      title: short(`repo workflow ${repo ?? ''} (${input.task?.mode ?? '?'} mode${runIndex > 0 ? `, run ${runIndex + 1}` : ''}): ${result ? result.status : (state ?? 'running')}${result && result.attempts > 1 ? `, ${result.attempts} attempts` : ''}`),
      details: {
        mode: input.task?.mode ?? null,
        status: result?.status ?? null,
        attempts: result?.attempts ?? null,
        commit: result?.commit ? result.commit.slice(0, 12) : null,
        changedFiles: result?.changedFiles.length ?? null,
        regression: result?.regression ?? null,
        runId: run.runId,
      },
      durationMs: duration,
    });
    if (result?.error && (result.status === 'failed' || result.status === 'cancelled')) {
      entries.push({
        ...base,
        at: closedAt,
        kind: 'failure',
        title: short(`${repo ?? 'repo'} ${result.status} at ${result.error.step}: ${result.error.message}`),
        details: { step: short(result.error.step), message: short(result.error.message) },
        durationMs: null,
      });
    }
    return entries;
  }
  if (run.type === 'agentWorkflow') {
    const input = obj(facts.input) as Partial<AgentWorkflowInput>;
    const result = facts.result as AgentOutcome | undefined;
    const firstTurn = input.state?.turn ?? 1;
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'repo',
      title: short(`agent attempt ${input.attempt ?? '?'} from turn ${firstTurn}: ${result ? (result.resolved ? `resolved in ${result.turns} turns` : `stopped (${result.reason})`) : (state ?? 'running')}`),
      details: {
        model: input.model ? short(input.model) : null,
        attempt: input.attempt ?? null,
        firstTurn,
        turns: result?.turns ?? null,
        testRuns: result?.testIterations ?? null,
        reason: result?.reason ?? null,
        summary: result?.summary ? short(result.summary) : null,
        runId: run.runId,
      },
      durationMs: duration,
    });
    if (result && !result.resolved) {
      entries.push({
        ...base,
        at: closedAt,
        kind: 'failure',
        title: short(`agent stopped (${result.reason}): ${result.message}`),
        details: { reason: result.reason, message: short(result.message) },
        durationMs: null,
      });
    }
    return entries;
  }
  entries.push({
    ...base,
    at: iso(facts.startedAt),
    kind: repo ? 'repo' : 'change',
    title: short(`${run.type}: ${state ?? 'completed'}`),
    details: { runId: run.runId },
    durationMs: duration,
  });
  return entries;
}

const stringField = (v: unknown): string => (typeof v === 'string' ? short(v) : '');

/** A person's decision or approval (the same shapes, whether sent as signal or update). */
function humanEntry(name: string, args: unknown[], base: { workflowId: string; repo: string | null }, at: number, identity: string | null): AuditEntry {
  const arg = obj(args[0]);
  if (name === 'decide') {
    const d = arg as Partial<Decision>;
    return {
      ...base,
      repo: str(d.repo) ?? base.repo,
      at: iso(at),
      kind: 'human',
      title: short(`decide: ${stringField(d.action)}${d.repo ? ` ${stringField(d.repo)}` : ''} by ${stringField(d.by) || 'someone'}${d.reason ? ` — ${stringField(d.reason)}` : ''}`),
      details: { message: 'decide', action: stringField(d.action), by: stringField(d.by), reason: stringField(d.reason), identity: identity ? short(identity, 80) : null },
      durationMs: null,
    };
  }
  if (name === 'approval') {
    const a = arg as Partial<Approval>;
    const verdict = a.approved === true ? 'approved' : a.approved === false ? 'rejected' : '?';
    return {
      ...base,
      at: iso(at),
      kind: 'human',
      title: short(`${stringField(a.gate) || '?'} ${verdict} by ${stringField(a.by) || 'someone'}${a.reason ? ` — ${stringField(a.reason)}` : ''}`),
      details: { message: 'approval', gate: stringField(a.gate), approved: typeof a.approved === 'boolean' ? a.approved : null, by: stringField(a.by), reason: stringField(a.reason), identity: identity ? short(identity, 80) : null },
      durationMs: null,
    };
  }
  return {
    ...base,
    at: iso(at),
    kind: 'human',
    title: short(`${name}`),
    details: { message: short(name, 64), args: args.length > 0 ? short(JSON.stringify(args) ?? '') : null, identity: identity ? short(identity, 80) : null },
    durationMs: null,
  };
}

/** Signals, updates and failures recorded in a run's history (activities aside). */
async function eventEntries(run: LoadedRun, repo: string | null, ctx: Context, loadedRuns: Set<string>): Promise<AuditEntry[]> {
  const base = { workflowId: run.workflowId, repo };
  const entries: AuditEntry[] = [];
  const updates = new Map<string, AuditEntry>();
  const failure = (e: HistoryEvent, title: string, details: Record<string, AuditValue>, entryRepo = repo): void => {
    entries.push({ ...base, repo: entryRepo, at: iso(ms(e.eventTime)), kind: 'failure', title: short(title), details, durationMs: null });
  };
  for (const e of run.events) {
    const at = ms(e.eventTime);
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal) {
      const name = signal.signalName ?? '';
      if (!INTERNAL_SIGNALS.has(name)) entries.push(humanEntry(name, await ctx.decode(signal.input), base, at, signal.identity ?? null));
      continue;
    }
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const request = accepted.acceptedRequest;
      const entry = humanEntry(request?.input?.name ?? 'update', await ctx.decode(request?.input?.args), base, at, request?.meta?.identity ?? null);
      entry.details.outcome = 'pending';
      updates.set(request?.meta?.updateId ?? '', entry);
      entries.push(entry);
      continue;
    }
    const completed = e.workflowExecutionUpdateCompletedEventAttributes;
    if (completed) {
      const entry = updates.get(completed.meta?.updateId ?? '');
      if (!entry) continue;
      entry.durationMs = at - Date.parse(entry.at);
      if (completed.outcome?.failure) {
        entry.details.outcome = 'failed';
        entry.details.answer = failureMessage(completed.outcome.failure);
      } else {
        const ack = obj((await ctx.decode(completed.outcome?.success))[0]) as Partial<DecisionAck>;
        entry.details.outcome = ack.accepted === false ? 'refused' : 'accepted';
        entry.details.answer = stringField(ack.message);
      }
      continue;
    }
    const startFailed = e.startChildWorkflowExecutionFailedEventAttributes;
    if (startFailed) {
      failure(e, `child ${startFailed.workflowId ?? ''} could not start (cause ${startFailed.cause ?? '?'})`, { child: short(startFailed.workflowId ?? '') }, repoOfWorkflow(ctx.changeId, startFailed.workflowId ?? '') ?? repo);
      continue;
    }
    // A child's failure is told by its own history; the parent's copy only when that is gone.
    const childClosed =
      e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes ?? e.childWorkflowExecutionTerminatedEventAttributes ?? e.childWorkflowExecutionCanceledEventAttributes;
    if (childClosed) {
      const exec = childClosed.workflowExecution;
      if (exec?.workflowId && exec.runId && !loadedRuns.has(`${exec.workflowId}\n${exec.runId}`)) {
        const what = e.childWorkflowExecutionFailedEventAttributes ? 'failed' : e.childWorkflowExecutionTimedOutEventAttributes ? 'timed out' : e.childWorkflowExecutionTerminatedEventAttributes ? 'was terminated' : 'was cancelled';
        const message = e.childWorkflowExecutionFailedEventAttributes ? `: ${failureMessage(e.childWorkflowExecutionFailedEventAttributes.failure)}` : '';
        failure(e, `child ${exec.workflowId} ${what}${message} (its history is gone)`, { child: short(exec.workflowId) }, repoOfWorkflow(ctx.changeId, exec.workflowId) ?? repo);
      }
      continue;
    }
    const failedRun = e.workflowExecutionFailedEventAttributes;
    if (failedRun) {
      failure(e, `${run.type} failed: ${failureMessage(failedRun.failure)}`, { type: failureType(failedRun.failure), message: failureMessage(failedRun.failure) });
      continue;
    }
    if (e.workflowExecutionTimedOutEventAttributes) {
      failure(e, `${run.type} timed out`, {});
      continue;
    }
    const terminated = e.workflowExecutionTerminatedEventAttributes;
    if (terminated) {
      failure(e, `${run.type} terminated${terminated.reason ? `: ${terminated.reason}` : ''}`, { reason: short(terminated.reason ?? ''), identity: short(terminated.identity ?? '', 80) });
      continue;
    }
    if (e.workflowExecutionCanceledEventAttributes) {
      failure(e, `${run.type} cancelled`, {});
      continue;
    }
    const taskFailed = e.workflowTaskFailedEventAttributes;
    if (taskFailed && !ROUTINE_TASK_FAILURES.has(taskFailed.cause ?? 0)) {
      const cause = WorkflowTaskFailedCause[taskFailed.cause ?? 0] ?? String(taskFailed.cause);
      failure(e, `workflow task failed (${cause.replace('WORKFLOW_TASK_FAILED_CAUSE_', '').toLowerCase()}): ${failureMessage(taskFailed.failure)}`, { cause, message: failureMessage(taskFailed.failure) });
    }
  }
  return entries;
}

export async function buildAudit(session: TemporalSession, changeId: string): Promise<AuditReport> {
  const loaded = await loadChangeRuns(session, changeId);
  const converter = session.client.options.loadedDataConverter;
  const decode: Decoder = async (payloads) => {
    if (!payloads?.payloads?.length) return [];
    try {
      return await decodeArrayFromPayloads(converter, payloads.payloads);
    } catch {
      // A payload this converter cannot read (another SDK's binary encoding): shown as unknown.
      return [];
    }
  };
  const ctx: Context = { changeId, decode, calls: new Map(), planAttempts: new Map() };
  const loadedRuns = new Set(loaded.runs.map((r) => `${r.workflowId}\n${r.runId}`));
  const entries: AuditEntry[] = [];
  const runIndex = new Map<string, number>();
  let coordinator: { status: string; facts: RunFacts } | null = null;
  let startedAt: number | null = null;

  for (const run of loaded.runs) {
    const repo = repoOfWorkflow(changeId, run.workflowId);
    const facts = await runFacts(run, decode);
    const index = runIndex.get(run.workflowId) ?? 0;
    runIndex.set(run.workflowId, index + 1);
    if (run.type === 'changeWorkflow' || run.workflowId === changeWorkflowId(changeId)) {
      startedAt ??= facts.startedAt;
      coordinator = { status: run.status, facts };
    }
    entries.push(...runEntries(run, facts, repo, index));

    for (const record of activitiesOf(run)) {
      record.input = (await decode(record.inputPayloads))[0];
      if (record.outcome === 'completed') record.result = (await decode(record.resultPayloads))[0];
      const described = describeActivity(record, run, ctx);
      const entryRepo = described.repo !== undefined ? described.repo : (repo ?? str(obj(record.input).repo));
      entries.push({
        at: iso(record.scheduledAt),
        workflowId: run.workflowId,
        repo: entryRepo,
        kind: described.kind,
        title: described.title,
        details: { activity: record.type, ...described.details, attempt: record.attempt, outcome: record.outcome },
        durationMs: record.closedAt === null ? null : record.closedAt - record.scheduledAt,
      });
      if (record.attempt > 1) {
        entries.push({
          at: iso(record.lastFailureAt ?? record.startedAt ?? record.scheduledAt),
          workflowId: run.workflowId,
          repo: entryRepo,
          kind: 'retry',
          title: short(`${record.type} attempt ${record.attempt}${record.lastFailure ? ` after: ${record.lastFailure}` : ''}`),
          details: { activity: record.type, attempt: record.attempt, retries: record.attempt - 1, lastFailure: record.lastFailure },
          durationMs: null,
        });
      }
      if (record.outcome === 'failed' || record.outcome === 'timed out') {
        entries.push({
          at: iso(record.closedAt ?? record.scheduledAt),
          workflowId: run.workflowId,
          repo: entryRepo,
          kind: 'failure',
          title: short(`${record.type} ${record.outcome}: ${failureMessage(record.failure)}`),
          details: { activity: record.type, attempt: record.attempt, type: failureType(record.failure), message: failureMessage(record.failure) },
          durationMs: null,
        });
      }
    }
    entries.push(...(await eventEntries(run, repo, ctx, loadedRuns)));
  }
  for (const m of loaded.missing) {
    entries.push({
      at: iso(startedAt ?? 0),
      workflowId: m.workflowId,
      repo: repoOfWorkflow(changeId, m.workflowId),
      kind: 'failure',
      title: short(`history of ${m.workflowId} (run ${m.runId}) could not be read: ${m.error}`),
      details: { runId: m.runId },
      durationMs: null,
    });
  }

  // Stable: entries at the same instant keep the order in which their histories told them.
  entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));

  const sum = (key: string) => entries.filter((e) => e.kind === 'model' || e.kind === 'plan').reduce((n, e) => n + (num(e.details[key]) ?? 0), 0);
  const result = coordinator?.facts.result as ChangeResult | undefined;
  const status = coordinator ? (coordinator.status === 'completed' ? (result?.status ?? 'completed') : coordinator.status) : 'unknown';
  return {
    changeId,
    status,
    startedAt: startedAt === null ? null : iso(startedAt),
    closedAt: coordinator?.facts.closedAt ? iso(coordinator.facts.closedAt) : null,
    workflows: loaded.runs.map((r) => ({ workflowId: r.workflowId, runId: r.runId, type: r.type, status: r.status, events: r.events.length })),
    entries,
    totals: {
      modelCalls: entries.filter((e) => e.kind === 'model' || e.kind === 'plan').length,
      toolCalls: entries.filter((e) => e.kind === 'tool').length,
      promptTokens: sum('promptTokens'),
      completionTokens: sum('completionTokens'),
      commands: entries.filter((e) => e.kind === 'command' || e.kind === 'test').length,
      retries: entries.filter((e) => e.kind === 'retry').reduce((n, e) => n + (num(e.details.retries) ?? 0), 0),
      failures: entries.filter((e) => e.kind === 'failure').length,
    },
  };
}

