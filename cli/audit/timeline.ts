/**
 * Turns the histories of one change into a timeline: every activity the workflows scheduled
 * becomes exactly one entry of its kind (model call, tool call, command, forge action, ...),
 * plus entries for retries, failures, human messages and each workflow run's span. Payloads are
 * decoded with the client's data converter; every string that reaches an entry is cut short.
 */
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { ChangeResult } from '../../core/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { TemporalSession } from '../../client/connection.ts';
import { describeActivity } from './activities.ts';
import { eventEntries } from './events.ts';
import { loadChangeRuns, type LoadOptions } from '../../client/histories.ts';
import {
  activitiesOf,
  failureMessage,
  failureType,
  iso,
  num,
  obj,
  repoOfWorkflow,
  runFacts,
  str,
  type Context,
  type Decoder,
  type RunFacts,
} from './records.ts';
import { short, type AuditEntry, type AuditReport } from './report.ts';
import { runEntries } from './runs.ts';

export async function buildAudit(
  session: TemporalSession,
  changeId: string,
  options: LoadOptions = {},
): Promise<AuditReport> {
  const loaded = await loadChangeRuns(session, changeId, options);
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
    // The change's own coordinator (its revert's, shown in the same timeline, is not it).
    if (run.workflowId === changeWorkflowId(changeId)) {
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
          title: short(
            `${record.type} attempt ${record.attempt}${record.lastFailure ? ` after: ${record.lastFailure}` : ''}`,
          ),
          details: {
            activity: record.type,
            attempt: record.attempt,
            retries: record.attempt - 1,
            lastFailure: record.lastFailure,
          },
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
          details: {
            activity: record.type,
            attempt: record.attempt,
            type: failureType(record.failure),
            message: failureMessage(record.failure),
          },
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

  const sum = (key: string) =>
    entries.filter((e) => e.kind === 'model' || e.kind === 'plan').reduce((n, e) => n + (num(e.details[key]) ?? 0), 0);
  const result = coordinator?.facts.result as ChangeResult | undefined;
  const status = coordinator
    ? coordinator.status === 'completed'
      ? (result?.status ?? 'completed')
      : coordinator.status
    : 'unknown';
  return {
    changeId,
    status,
    startedAt: startedAt === null ? null : iso(startedAt),
    closedAt: coordinator?.facts.closedAt ? iso(coordinator.facts.closedAt) : null,
    workflows: loaded.runs.map((r) => ({
      workflowId: r.workflowId,
      runId: r.runId,
      type: r.type,
      status: r.status,
      events: r.events.length,
    })),
    entries,
    ...(loaded.unread > 0 ? { unread: loaded.unread } : {}),
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
