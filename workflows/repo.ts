/**
 * One repository's part of a change: workspace, sandbox, steps, tests, commit and push.
 * The sandbox is removed in every outcome, also on cancellation. When the infrastructure fails
 * (a worker or its host dies, a sandbox vanishes) the whole attempt starts again from a fresh
 * clone, possibly on another host; a failing command of the repo itself is a result, not a retry.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  TimeoutFailure,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities/index.ts';
import { agentWorkflow } from './agent.ts';
import { bumpFixHint, bumpFixInstructions, bumpPlan, bumpUndone, type BumpFixAsk } from './bump.ts';
import { repoProgressSignal, repoStatusQuery } from '../core/messages.ts';
import { FATAL_ERROR_TYPES } from '../core/errors.ts';
import { testsOutcome } from '../core/commands.ts';
import { reposFinished } from '../core/metrics.ts';
import type { AgentOutcome } from '../core/agent.ts';
import type { CommandKind, CommandResult, StepOutcome, TestsOutcome } from '../core/commands.ts';
import type { RepoBumpOutcome } from '../core/bump.ts';
import type {
  RepoError,
  RepoPhase,
  RepoProgress,
  RepoResult,
  RepoStatusView,
  RepoTask,
  RepoWorkflowInput,
} from '../core/repo.ts';

/**
 * Opening a workspace: on the shared queue, on whichever worker takes it; it answers with that
 * worker's host queue. It beats every 5 s while it clones and creates the sandbox, so a worker
 * whose host vanished mid-open is given up on after 30 s, like a host activity, and the retry
 * goes to a live worker (tests/e2e/two-hosts.test.ts). Only the timeout changed (it was a
 * minute), not the commands: recorded histories replay unchanged.
 */
const { openWorkspace, prepareWorkspace } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** Sandbox activities run on the host that holds the workspace; if it is gone, fail fast. */
function onHost(hostQueue: string, startToCloseSeconds: number, scheduleToStartSeconds = 120) {
  return proxyActivities<HostActivities>({
    taskQueue: hostQueue,
    scheduleToStartTimeout: `${scheduleToStartSeconds} seconds`,
    startToCloseTimeout: `${startToCloseSeconds} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3 },
  });
}

/** An attempt's work on its host besides the repo's commands: up to ten minutes each. */
function hostActivities(hostQueue: string) {
  const { createSandbox, modelConfigured, bumpDeclaration, commitAndPush, revertMerged } = onHost(hostQueue, 600);
  return { createSandbox, modelConfigured, bumpDeclaration, commitAndPush, revertMerged };
}

/** Removing an attempt's sandbox and workspace: two minutes, and only seconds of waiting for a host that stopped answering. */
function cleanupActivities(hostQueue: string, hostGone: boolean) {
  const { closeWorkspace, removeSandbox, removeWorkspace } = onHost(hostQueue, 120, hostGone ? 10 : 120);
  return { closeWorkspace, removeSandbox, removeWorkspace };
}

/** The agent's transcript, started on the host before its loop: a minute at most. */
function transcriptActivity(hostQueue: string) {
  return onHost(hostQueue, 60).startTranscript;
}

/** Commands are not idempotent (a step may append to a file): never retried on their own. */
function commandActivity(hostQueue: string, timeoutSeconds: number) {
  return proxyActivities<HostActivities>({
    taskQueue: hostQueue,
    scheduleToStartTimeout: '2 minutes',
    startToCloseTimeout: `${timeoutSeconds + 120} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  }).runInSandbox;
}

/** Phases a repo does not signal to its coordinator: short, and bracketed by ones it does. */
const QUIET_PHASES: ReadonlySet<RepoPhase> = new Set(['preparing', 'sandbox', 'cleanup']);

/** A repo attempt that ended with a verdict on the repo (not an infrastructure failure). */
class RepoVerdict {
  constructor(readonly result: Omit<RepoResult, 'attempts' | 'durationMs'>) {}
}

export async function repoWorkflow(input: RepoWorkflowInput): Promise<RepoResult> {
  const { task } = input;
  const startedAt = Date.now();
  const view: RepoStatusView = {
    repo: task.repo,
    status: 'running',
    phase: 'queued',
    step: null,
    attempt: 1,
    startedAt,
    phaseStartedAt: startedAt,
    finishedAt: null,
    result: null,
  };
  setHandler(repoStatusQuery, () => view);
  const parentId = workflowInfo().parent?.workflowId;
  const parent = parentId ? getExternalWorkflowHandle(parentId) : null;
  // One activity makes the workspace and the sandbox, one removes them (the sandbox goes while
  // git pushes), and progress goes into this workflow's memo instead of a signal to the
  // coordinator: about half the server round trips and events of a repo (docs/performance.md).
  // Runs recorded before replay the old way.
  const lean = patched('lean-repo-workflow');

  // The phase an attempt was working in when it failed (cleanup comes after, and is not it).
  let workPhase: RepoPhase = 'queued';
  const enter = (phase: RepoPhase, step: string | null = null): void => {
    if (phase !== 'cleanup') workPhase = phase;
    view.phase = phase;
    view.step = step;
    view.phaseStartedAt = Date.now();
    // The short phases are not reported (the coordinator shows "preparing" from the moment it
    // starts the repo, a second attempt says so, and the last reported phase stands through
    // cleanup); this workflow's own status query still has them all. The memo costs one event
    // and no workflow task (readers describe the workflow: client/live-status.ts); a signal cost a
    // workflow task here and one in the coordinator, and is best effort (a parent that is gone
    // must not fail the repo).
    const quiet = QUIET_PHASES.has(phase) && !(phase === 'preparing' && view.attempt > 1);
    if (lean) {
      if (!quiet)
        upsertMemo({
          progress: {
            repo: task.repo,
            phase,
            step,
            attempt: view.attempt,
            at: view.phaseStartedAt,
          } satisfies RepoProgress,
        });
    } else if (parent && !(quiet && patched('fewer-progress-signals'))) {
      void parent
        .signal(repoProgressSignal, { repo: task.repo, phase, step, attempt: view.attempt, at: view.phaseStartedAt })
        .catch(() => undefined);
    }
  };

  const finish = (result: Omit<RepoResult, 'attempts' | 'durationMs'>): RepoResult => {
    const full: RepoResult = {
      ...result,
      regression: result.regression ?? false,
      attempts: view.attempt,
      durationMs: Date.now() - startedAt,
      ...(task.taskHash ? { taskHash: task.taskHash } : {}),
    };
    // The workflow's meter records only when the code runs for the first time, never on replay.
    reposFinished(metricMeter, full.status);
    view.status = full.status;
    view.phase = 'done';
    view.finishedAt = Date.now();
    view.result = { ...full, pullRequest: null };
    return full;
  };

  for (let attempt = 1; ; attempt++) {
    view.attempt = attempt;
    view.hostQueue = null;
    try {
      const verdict = await runAttempt(input, attempt, enter, lean, (hostQueue) => (view.hostQueue = hostQueue));
      return finish(verdict.result);
    } catch (err) {
      if (isCancellation(err)) {
        reposFinished(metricMeter, 'cancelled');
        throw err;
      }
      const final = attempt >= input.maxAttempts || isNonRetryable(err);
      log.warn('repo attempt failed', { repo: task.repo, attempt, final, error: describe(err) });
      if (final) {
        return finish(failedBeforeResult(task, workPhase, describe(err)));
      }
    }
  }
}

async function runAttempt(
  input: RepoWorkflowInput,
  attempt: number,
  enter: (phase: RepoPhase, step?: string | null) => void,
  lean: boolean,
  setHost: (hostQueue: string) => void,
): Promise<RepoVerdict> {
  const { task, changeId } = input;
  const sandboxRef = { changeId, repo: task.repo };
  enter('preparing');
  const workspaceInput = {
    changeId,
    repo: task.repo,
    url: task.url,
    baseBranch: task.baseBranch,
    branch: task.branch,
    startCommit: task.startCommit ?? null,
  };
  // openWorkspace removes what it made when it fails; afterwards the finally below does.
  const ws = lean
    ? await openWorkspace({ ...workspaceInput, sandbox: task.sandbox, attempt })
    : await prepareWorkspace(workspaceInput);
  setHost(ws.hostQueue);
  const host = hostActivities(ws.hostQueue);
  const steps: StepOutcome[] = [];
  let agent: AgentOutcome | null = null;
  let baselineTests: { exitCode: number; passed: boolean } | null = null;
  const bumpOutcome = (outcome: RepoBumpOutcome['outcome']): { bump?: RepoBumpOutcome } =>
    input.bump
      ? {
          bump: {
            package: input.bump.package,
            version: input.bump.version,
            from: input.bump.manifests.current,
            outcome,
          },
        }
      : {};
  const base = () => ({
    repo: task.repo,
    branch: task.branch,
    baseCommit: ws.baseCommit,
    mode: task.mode,
    agent,
    baselineTests,
    ...bumpOutcome('failed'),
  });
  const failed = (error: RepoError, tests: TestsOutcome | null = null) =>
    new RepoVerdict({ ...base(), status: 'failed', commit: null, changedFiles: [], steps, tests, error });
  // Whether the host stopped answering (its worker died): its cleanup is then only asked briefly.
  let hostGone = false;

  try {
    if (!lean) {
      enter('sandbox');
      await host.createSandbox({ ...sandboxRef, workspace: ws.workspace, sandbox: task.sandbox, attempt });
    }

    let index = 0;
    const run = async (
      kind: Exclude<CommandKind, 'gate'>,
      name: string,
      command: string,
      timeoutSeconds: number,
      keepPrepared?: string[],
    ): Promise<CommandResult> => {
      enter(kind === 'test' ? (name === 'baseline tests' ? 'baseline' : 'tests') : kind, name);
      const result = await commandActivity(
        ws.hostQueue,
        timeoutSeconds,
      )({
        ...sandboxRef,
        kind,
        name,
        index: index++,
        command,
        timeoutSeconds,
        outputBytes: task.sandbox.limits.outputBytes,
        ...(keepPrepared ? { keepPrepared } : {}),
        ...(task.egress ? { egress: task.egress } : {}),
      });
      steps.push({
        kind,
        name,
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        durationMs: result.durationMs,
        ...(result.egress ? { egress: result.egress } : {}),
        ...(result.leftovers ? { leftovers: result.leftovers } : {}),
      });
      return result;
    };
    const refused = (r: CommandResult): string => {
      const d = r.egress?.deniedHosts[0];
      return d
        ? ` after the egress proxy refused ${d.method ? `${d.method} ${d.host}:${d.port}${d.path ?? ''}` : `${d.host}:${d.port}`} (${d.reason})`
        : '';
    };
    const commandError = (name: string, r: CommandResult): RepoError => ({
      step: name,
      message: r.timedOut ? `timed out and was killed` : `exited with code ${r.exitCode}${refused(r)}`,
      outputTail: r.outputTail,
    });

    // A bump always runs a setup first (a no-op without one), so what its install writes
    // besides the manifests stays out of the commit.
    const setup = task.sandbox.setup || (input.bump ? 'true' : '');
    if (setup) {
      const r = await run('setup', 'setup', setup, task.sandbox.timeouts.setupSeconds);
      if (r.exitCode !== 0) return failed(commandError('setup', r));
    }
    if (input.revert) {
      // A revert's edit, after setup like a step's (the commit holds what differs from setup's
      // snapshot): the inverse of the merged PR, on the base as it is now; its tests follow.
      const { of, repo: r } = input.revert;
      const name = `revert ${r.sha.slice(0, 12)} (#${r.number}, ${r.method})`;
      enter('step', name);
      const began = Date.now();
      const done = await host.revertMerged({ workspace: ws.workspace, of, revert: r });
      const applied = done.reverted.length > 0;
      steps.push({ kind: 'step', name, exitCode: applied ? 0 : 1, timedOut: false, durationMs: Date.now() - began });
      if (!applied)
        return failed({
          step: 'revert',
          message:
            done.conflicts.length > 0
              ? `reverting ${r.sha.slice(0, 12)} (${r.repo} #${r.number} of change ${of}) conflicts with the current ${task.baseBranch} in ${done.conflicts.join(', ')}; revert those files by hand`
              : (done.problem ?? `nothing of ${r.sha.slice(0, 12)} could be reverted`),
          outputTail: '',
        });
    }
    let tests: TestsOutcome;
    if (input.bump) {
      // The ecosystem's own tool moves the package to the resolved version, setup runs again
      // (from the cache), then the tests; when they fail, the agent fixes the code with the new
      // version in place: with the repo's instructions, or with the change's description when
      // the repo's host has a model. Without either, the repo fails and says how to ask.
      const b = input.bump;
      const plan = bumpPlan(b.ecosystem, b.package, b.version, b.manifests);
      if ('problem' in plan) return failed({ step: 'bump', message: plan.problem, outputTail: '' });
      const moved = await run('bump', `${b.package}@${b.version}`, plan.command, task.sandbox.timeouts.setupSeconds);
      if (moved.exitCode !== 0) return failed(commandError('bump', moved));
      const again = await run('setup', 'setup again', setup, task.sandbox.timeouts.setupSeconds, plan.files);
      if (again.exitCode !== 0) return failed(commandError('setup again', again));
      const t = await run('test', 'tests', task.sandbox.test, task.sandbox.timeouts.testSeconds);
      tests = testsOutcome(t);
      if (!tests.passed) {
        // Runs recorded before went straight to the agent (repos with instructions) or failed;
        // they neither ask the host for a model nor guard the bump.
        const guarded = patched('bump-agent-fix');
        const description = input.description.trim();
        const model = guarded && task.mode !== 'agent' && description ? await host.modelConfigured() : null;
        const ask: BumpFixAsk | null =
          task.mode === 'agent'
            ? { source: 'instructions', text: task.instructions ?? description }
            : model
              ? { source: 'description', text: description }
              : null;
        if (!ask) {
          return failed(
            {
              step: 'tests',
              message: bumpFixHint(task.repo, b.package, b.version, task.sandbox.test, t, model),
              outputTail: t.outputTail,
            },
            tests,
          );
        }
        // The declaration as the bump left it: the agent's fix must keep it.
        const watch = {
          workspace: ws.workspace,
          ecosystem: b.ecosystem,
          package: b.package,
          paths: [...new Set([...b.manifests.manifests.map((m) => m.path), ...plan.files])],
        };
        const bumped = guarded ? await host.bumpDeclaration(watch) : null;
        enter('agent', 'starting');
        const fix = bumpFixInstructions(
          b.package,
          b.manifests.current,
          b.version,
          task.sandbox.test,
          t.outputTail,
          ask,
        );
        agent = await runAgent({ ...input, task: { ...task, instructions: fix } }, attempt, ws.hostQueue, ws.workspace);
        if (!agent.resolved)
          return failed(
            {
              step: 'agent',
              message: `${agent.reason}: ${agent.message}`,
              outputTail: agent.lastTests?.outputTail ?? '',
            },
            agent.lastTests,
          );
        if (bumped) {
          const undone = bumpUndone(b.package, b.version, bumped, await host.bumpDeclaration(watch));
          if (undone) return failed({ step: 'agent', message: undone, outputTail: '' }, agent.lastTests);
        }
        tests = agent.lastTests ?? tests;
      }
    } else {
      if (task.mode === 'agent') {
        // What the tests say before the agent touches anything: regressions are measured against it.
        const before = await run('test', 'baseline tests', task.sandbox.test, task.sandbox.timeouts.testSeconds);
        baselineTests = { exitCode: before.exitCode, passed: before.exitCode === 0 && !before.timedOut };
        enter('agent', 'starting');
        agent = await runAgent(input, attempt, ws.hostQueue, ws.workspace);
        if (!agent.resolved) {
          const verdict = failed(
            {
              step: 'agent',
              message: `${agent.reason}: ${agent.message}`,
              outputTail: agent.lastTests?.outputTail ?? '',
            },
            agent.lastTests,
          );
          verdict.result.regression = baselineTests.passed && agent.lastTests !== null && !agent.lastTests.passed;
          return verdict;
        }
      }
      for (const step of task.steps) {
        const r = await run('step', step.name, step.run, step.timeoutSeconds ?? task.sandbox.timeouts.stepSeconds);
        if (r.exitCode !== 0) return failed(commandError(step.name, r));
      }
      const t = await run('test', 'tests', task.sandbox.test, task.sandbox.timeouts.testSeconds);
      tests = testsOutcome(t);
      if (!tests.passed) {
        const verdict = failed(commandError('tests', t), tests);
        verdict.result.regression = baselineTests?.passed ?? false;
        return verdict;
      }
    }

    enter('pushing');
    const pushed = await host.commitAndPush({
      changeId,
      repo: task.repo,
      workspace: ws.workspace,
      url: task.url,
      branch: task.branch,
      baseCommit: ws.baseCommit,
      message: commitMessage(input),
      ...(lean ? { releaseSandbox: true } : {}),
    });
    return new RepoVerdict({
      ...base(),
      ...bumpOutcome(pushed.commit ? 'bumped' : 'already'),
      status: pushed.commit ? 'green' : 'unchanged',
      commit: pushed.commit,
      changedFiles: pushed.changedFiles,
      steps,
      tests,
      error: null,
    });
  } catch (err) {
    hostGone = hostStoppedAnswering(err);
    throw err;
  } finally {
    // Always, also when cancelled: no sandbox outlives its repo. A dead host cannot answer;
    // its worker's start-up sweep removes what is left there. The cleanup of a host that
    // stopped answering waits seconds, not minutes, for it, so the next attempt (on a live
    // host, from a fresh clone of the remote) starts soon.
    await CancellationScope.nonCancellable(async () => {
      enter('cleanup');
      const cleanup = cleanupActivities(ws.hostQueue, hostGone);
      if (lean) await cleanup.closeWorkspace({ ...sandboxRef, workspace: ws.workspace }).catch(() => undefined);
      else
        await Promise.allSettled([
          cleanup.removeSandbox(sandboxRef),
          cleanup.removeWorkspace({ workspace: ws.workspace }),
        ]);
    });
  }
}

/** The coding agent's loop as a child workflow, so it can continue-as-new on its own. */
async function runAgent(
  input: RepoWorkflowInput,
  attempt: number,
  hostQueue: string,
  workspace: string,
): Promise<AgentOutcome> {
  const { task } = input;
  await transcriptActivity(hostQueue)({
    changeId: input.changeId,
    repo: task.repo,
    attempt,
    title: input.title,
    description: input.description,
    instructions: task.instructions ?? input.description,
    expectedFiles: task.expectedFiles,
    acceptance: task.acceptance,
    testCommand: task.sandbox.test,
  });
  return executeChild(agentWorkflow, {
    workflowId: `${workflowInfo().workflowId}/agent-${attempt}${task.fixRound ? `-fix${task.fixRound}` : ''}`,
    args: [
      {
        changeId: input.changeId,
        repo: task.repo,
        attempt,
        hostQueue,
        workspace,
        sandbox: task.sandbox,
        progressWorkflowId: workflowInfo().parent?.workflowId ?? null,
        model: input.models.agent,
        budgets: input.budgets,
        testCommand: task.sandbox.test,
        testTimeoutSeconds: task.sandbox.timeouts.testSeconds,
        commandTimeoutSeconds: task.sandbox.timeouts.stepSeconds,
        outputBytes: task.sandbox.limits.outputBytes,
        ...(task.egress ? { egress: task.egress } : {}),
        state: null,
        requestTimeoutSeconds: input.models.requestTimeoutSeconds,
      },
    ],
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
}

/** A repo that failed before it produced anything: no commit, no steps, no tests (also the shape of one with nothing to do). */
export function failedBeforeResult(
  task: RepoTask,
  step: string,
  message: string,
): Omit<RepoResult, 'attempts' | 'durationMs'> {
  return {
    repo: task.repo,
    status: 'failed',
    mode: task.mode,
    agent: null,
    branch: task.branch,
    baseCommit: null,
    commit: null,
    changedFiles: [],
    steps: [],
    tests: null,
    error: { step, message, outputTail: '' },
  };
}

function commitMessage(input: RepoWorkflowInput): string {
  const r = input.revert?.repo;
  const reverts = r ? `This reverts ${r.sha} (${r.repo} #${r.number} of change ${input.revert?.of ?? ''}).` : '';
  const body = [reverts, input.description.trim()].filter(Boolean).join('\n\n');
  return `${input.title}\n\n${body ? `${body}\n\n` : ''}Lockstep-Change: ${input.changeId}\n`;
}

/**
 * A host activity that timed out waiting for the host: no heartbeat (its worker died or hangs)
 * or never picked up (no worker polls the host's queue).
 */
function hostStoppedAnswering(err: unknown): boolean {
  for (let current: unknown = err; current instanceof Error; current = current.cause) {
    if (
      current instanceof TimeoutFailure &&
      (current.timeoutType === 'HEARTBEAT' || current.timeoutType === 'SCHEDULE_TO_START')
    )
      return true;
  }
  return false;
}

/** A fatal activity failure anywhere in the chain (an activity, or one inside the agent's child workflow). */
function isNonRetryable(err: unknown): boolean {
  for (let current: unknown = err; current instanceof Error; current = current.cause) {
    if (current instanceof ApplicationFailure && (FATAL_ERROR_TYPES as readonly string[]).includes(current.type ?? ''))
      return true;
  }
  return false;
}

/** The innermost message of a Temporal failure chain, short enough for a status line. */
export function describe(err: unknown): string {
  let current: unknown = err;
  const parts: string[] = [];
  while (current instanceof Error) {
    if (current.message && !parts.includes(current.message)) parts.push(current.message);
    current = current.cause;
  }
  const inner = parts.at(-1) ?? String(err);
  return inner.length > 500 ? `${inner.slice(0, 500)}…` : inner;
}
