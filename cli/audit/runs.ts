/** Each workflow run as entries: its span, and an entry for an outcome that is a failure of the work itself. */
import type { AgentOutcome, AgentWorkflowInput } from '../../core/agent.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { RepoResult, RepoWorkflowInput } from '../../core/repo.ts';
import type { LoadedRun } from '../../client/histories.ts';
import type { LandingInput, LandingView } from '../../core/landing-plan.ts';
import type { PageInput, PageSummary } from '../../core/pages.ts';
import { countsLine } from '../pages.ts';
import { iso, obj, type RunFacts } from './records.ts';
import { short, type AuditEntry } from './report.ts';

/** The span of a workflow run, and an entry for an outcome that is a failure of the work itself. */
export function runEntries(run: LoadedRun, facts: RunFacts, repo: string | null, runIndex: number): AuditEntry[] {
  const base = { workflowId: run.workflowId, repo };
  const duration = facts.closedAt === null ? null : facts.closedAt - facts.startedAt;
  const state = run.status === 'completed' ? null : run.status.replaceAll('_', ' ');
  const entries: AuditEntry[] = [];
  const closedAt = iso(facts.closedAt ?? facts.startedAt);
  if (run.type === 'changeWorkflow') {
    const input = obj(facts.input) as Partial<ChangeInput>;
    const result = facts.result as ChangeResult | undefined;
    const tasks = input.repos ?? [];
    // The revert of a landed change shows in that change's audit, said to be its revert.
    const noun = input.revert ? `revert of ${input.revert.of}` : 'change';
    // (A revert's title already reads `Revert "<title>"`: its noun says it once.)
    const named = input.revert ? noun : `change "${input.title ?? ''}"`;
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'change',
      title: short(
        `${named}${runIndex > 0 ? ` (run ${runIndex + 1})` : ''}: ${result ? result.status : (state ?? 'running')}`,
      ),
      details: {
        title: short(input.title ?? ''),
        // A change in pages lists no tasks inline: its pages hold them.
        repos: input.pages?.total ?? tasks.length,
        pages: input.pages?.pages.length ?? null,
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
        title: short(`${noun} ${result.status}: ${result.summary}`),
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
  if (run.type === 'pageWorkflow') return pageEntries(run, facts, base, state);
  if (run.type === 'repoWorkflow') {
    const input = obj(facts.input) as Partial<RepoWorkflowInput>;
    const result = facts.result as RepoResult | undefined;
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'repo',
      title: short(
        `repo workflow ${repo ?? ''} (${input.task?.mode ?? '?'} mode${runIndex > 0 ? `, run ${runIndex + 1}` : ''}): ${result ? result.status : (state ?? 'running')}${result && result.attempts > 1 ? `, ${result.attempts} attempts` : ''}`,
      ),
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
      title: short(
        `agent attempt ${input.attempt ?? '?'} from turn ${firstTurn}: ${result ? (result.resolved ? `resolved in ${result.turns} turns` : `stopped (${result.reason})`) : (state ?? 'running')}`,
      ),
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
  if (run.type === 'landingWorkflow') {
    const input = obj(facts.input) as Partial<LandingInput>;
    const result = facts.result as LandingView | undefined;
    // A revert's landing merges consumers first.
    const noun = input.reverse ? 'landing of the revert' : 'landing';
    entries.push({
      ...base,
      at: iso(facts.startedAt),
      kind: 'forge',
      title: short(`${noun}${input.carried ? ' (continued)' : ''}: ${result ? result.status : (state ?? 'running')}`),
      details: {
        pullRequests: input.targets?.length ?? null,
        timeoutSeconds: input.timeoutSeconds ?? null,
        runId: run.runId,
      },
      durationMs: duration,
    });
    if (result)
      entries.push({
        ...base,
        at: closedAt,
        kind: result.status === 'landed' ? 'forge' : 'failure',
        title: short(`${noun} ${result.status}: ${result.summary}`),
        details: {
          status: result.status,
          merged: result.repos.filter((r) => r.state === 'merged').length,
          steps: short(result.steps.map((s) => s.join(' + ')).join(' → ')),
          reverse: input.reverse ?? false,
        },
        durationMs: null,
      });
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

/**
 * A page of a change in pages (core/pages.ts): its span with its counts, an entry per failure
 * it names (the first MAX_PAGE_FAILURES), and, publishing, the pull requests it opened.
 */
function pageEntries(
  run: LoadedRun,
  facts: RunFacts,
  base: { workflowId: string; repo: string | null },
  state: string | null,
): AuditEntry[] {
  const input = obj(facts.input) as Partial<PageInput>;
  const summary = facts.result as PageSummary | undefined;
  const closedAt = iso(facts.closedAt ?? facts.startedAt);
  const name = `page ${input.index ?? '?'} of ${input.pages ?? '?'} (${input.mode ?? '?'})`;
  const outcome = !summary
    ? (state ?? 'running')
    : input.mode === 'publish'
      ? `${summary.pullRequests?.opened ?? 0} pull requests opened${summary.error ? `, failed: ${summary.error}` : ''}`
      : `${summary.repos} repos: ${countsLine(summary.counts, summary.repos)}`;
  const entries: AuditEntry[] = [
    {
      ...base,
      at: iso(facts.startedAt),
      kind: input.mode === 'publish' ? 'forge' : 'change',
      title: short(`${name}: ${outcome}`),
      details: {
        index: input.index ?? null,
        mode: input.mode ?? null,
        repos: summary?.repos ?? null,
        green: summary?.counts.green ?? null,
        failed: summary?.counts.failed ?? null,
        pullRequests: summary?.pullRequests?.opened ?? null,
        runId: run.runId,
      },
      durationMs: facts.closedAt === null ? null : facts.closedAt - facts.startedAt,
    },
  ];
  if (input.mode !== 'publish')
    for (const f of summary?.failures ?? [])
      entries.push({
        ...base,
        repo: f.repo,
        at: closedAt,
        kind: 'failure',
        title: short(`${f.repo} ${f.status} at ${f.error?.step ?? '?'}: ${f.error?.message ?? ''}`),
        details: {
          page: input.index ?? null,
          step: short(f.error?.step ?? ''),
          message: short(f.error?.message ?? ''),
        },
        durationMs: null,
      });
  if (summary?.error)
    entries.push({
      ...base,
      at: closedAt,
      kind: 'failure',
      title: short(`${name} failed: ${summary.error}`),
      details: { page: input.index ?? null, message: short(summary.error) },
      durationMs: null,
    });
  return entries;
}
