/** What a run's history tells besides its activities: people's signals and updates, and failures of the runs themselves. */
import proto from '@temporalio/proto';
import type { Approval, Decision, DecisionAck } from '../../core/decisions.ts';
import type { HistoryEvent, LoadedRun } from '../../client/histories.ts';
import { failureMessage, failureType, iso, ms, obj, repoOfWorkflow, str, type Context } from './records.ts';
import { short, type AuditEntry, type AuditValue } from './report.ts';

const { WorkflowTaskFailedCause } = proto.temporal.api.enums.v1;

/** Workflow task failures that are part of normal operation (a signal raced a completion, a sticky worker left). */
const ROUTINE_TASK_FAILURES = new Set<number>([
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
]);

/** Signals workflows send each other; not human messages. */
const INTERNAL_SIGNALS = new Set(['repoProgress']);

const stringField = (v: unknown): string => (typeof v === 'string' ? short(v) : '');

/** A person's decision or approval (the same shapes, whether sent as signal or update). */
function humanEntry(
  name: string,
  args: unknown[],
  base: { workflowId: string; repo: string | null },
  at: number,
  identity: string | null,
): AuditEntry {
  const arg = obj(args[0]);
  if (name === 'decide') {
    const d = arg as Partial<Decision>;
    return {
      ...base,
      repo: str(d.repo) ?? base.repo,
      at: iso(at),
      kind: 'human',
      title: short(
        `decide: ${stringField(d.action)}${d.repo ? ` ${stringField(d.repo)}` : ''} by ${stringField(d.by) || 'someone'}${d.reason ? ` — ${stringField(d.reason)}` : ''}`,
      ),
      details: {
        message: 'decide',
        action: stringField(d.action),
        by: stringField(d.by),
        reason: stringField(d.reason),
        identity: identity ? short(identity, 80) : null,
      },
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
      title: short(
        `${stringField(a.gate) || '?'} ${verdict} by ${stringField(a.by) || 'someone'}${a.reason ? ` — ${stringField(a.reason)}` : ''}`,
      ),
      details: {
        message: 'approval',
        gate: stringField(a.gate),
        approved: typeof a.approved === 'boolean' ? a.approved : null,
        by: stringField(a.by),
        reason: stringField(a.reason),
        identity: identity ? short(identity, 80) : null,
      },
      durationMs: null,
    };
  }
  return {
    ...base,
    at: iso(at),
    kind: 'human',
    title: short(`${name}`),
    details: {
      message: short(name, 64),
      args: args.length > 0 ? short(JSON.stringify(args) ?? '') : null,
      identity: identity ? short(identity, 80) : null,
    },
    durationMs: null,
  };
}

/** Signals, updates and failures recorded in a run's history (activities aside). */
export async function eventEntries(
  run: LoadedRun,
  repo: string | null,
  ctx: Context,
  loadedRuns: Set<string>,
): Promise<AuditEntry[]> {
  const base = { workflowId: run.workflowId, repo };
  const entries: AuditEntry[] = [];
  const updates = new Map<string, AuditEntry>();
  const failure = (e: HistoryEvent, title: string, details: Record<string, AuditValue>, entryRepo = repo): void => {
    entries.push({
      ...base,
      repo: entryRepo,
      at: iso(ms(e.eventTime)),
      kind: 'failure',
      title: short(title),
      details,
      durationMs: null,
    });
  };
  for (const e of run.events) {
    const at = ms(e.eventTime);
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal) {
      const name = signal.signalName ?? '';
      if (!INTERNAL_SIGNALS.has(name))
        entries.push(humanEntry(name, await ctx.decode(signal.input), base, at, signal.identity ?? null));
      continue;
    }
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const request = accepted.acceptedRequest;
      const entry = humanEntry(
        request?.input?.name ?? 'update',
        await ctx.decode(request?.input?.args),
        base,
        at,
        request?.meta?.identity ?? null,
      );
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
      failure(
        e,
        `child ${startFailed.workflowId ?? ''} could not start (cause ${startFailed.cause ?? '?'})`,
        { child: short(startFailed.workflowId ?? '') },
        repoOfWorkflow(ctx.changeId, startFailed.workflowId ?? '') ?? repo,
      );
      continue;
    }
    // A child's failure is told by its own history; the parent's copy only when that is gone.
    const childClosed =
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes;
    if (childClosed) {
      const exec = childClosed.workflowExecution;
      if (exec?.workflowId && exec.runId && !loadedRuns.has(`${exec.workflowId}\n${exec.runId}`)) {
        const what = e.childWorkflowExecutionFailedEventAttributes
          ? 'failed'
          : e.childWorkflowExecutionTimedOutEventAttributes
            ? 'timed out'
            : e.childWorkflowExecutionTerminatedEventAttributes
              ? 'was terminated'
              : 'was cancelled';
        const message = e.childWorkflowExecutionFailedEventAttributes
          ? `: ${failureMessage(e.childWorkflowExecutionFailedEventAttributes.failure)}`
          : '';
        failure(
          e,
          `child ${exec.workflowId} ${what}${message} (its history is gone)`,
          { child: short(exec.workflowId) },
          repoOfWorkflow(ctx.changeId, exec.workflowId) ?? repo,
        );
      }
      continue;
    }
    const failedRun = e.workflowExecutionFailedEventAttributes;
    if (failedRun) {
      failure(e, `${run.type} failed: ${failureMessage(failedRun.failure)}`, {
        type: failureType(failedRun.failure),
        message: failureMessage(failedRun.failure),
      });
      continue;
    }
    if (e.workflowExecutionTimedOutEventAttributes) {
      failure(e, `${run.type} timed out`, {});
      continue;
    }
    const terminated = e.workflowExecutionTerminatedEventAttributes;
    if (terminated) {
      failure(e, `${run.type} terminated${terminated.reason ? `: ${terminated.reason}` : ''}`, {
        reason: short(terminated.reason ?? ''),
        identity: short(terminated.identity ?? '', 80),
      });
      continue;
    }
    if (e.workflowExecutionCanceledEventAttributes) {
      failure(e, `${run.type} cancelled`, {});
      continue;
    }
    const taskFailed = e.workflowTaskFailedEventAttributes;
    if (taskFailed && !ROUTINE_TASK_FAILURES.has(taskFailed.cause ?? 0)) {
      const cause = WorkflowTaskFailedCause[taskFailed.cause ?? 0] ?? String(taskFailed.cause);
      failure(
        e,
        `workflow task failed (${cause.replace('WORKFLOW_TASK_FAILED_CAUSE_', '').toLowerCase()}): ${failureMessage(taskFailed.failure)}`,
        { cause, message: failureMessage(taskFailed.failure) },
      );
    }
  }
  return entries;
}
