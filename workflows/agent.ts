/**
 * One repo agent's loop: model turn, then each tool call in the repo's sandbox, then back to
 * the model, until the model finishes with green tests or a budget runs out. Every model call
 * and tool call is an activity, so a crashed worker resumes at the last finished one. Long loops
 * continue-as-new to keep history small.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { repoProgressSignal } from '../core/messages.ts';
import type { HostActivities } from '../activities/index.ts';
import { testsOutcome, type TestsOutcome } from '../core/commands.ts';
import type { AgentLoopState, AgentOutcome, AgentWorkflowInput } from '../core/agent.ts';

/** Turns per run before continuing as new (history stays well under Temporal's limits). */
const TURNS_PER_RUN_DEFAULT = 30;

function activities(hostQueue: string, input: AgentWorkflowInput) {
  const base = { taskQueue: hostQueue, scheduleToStartTimeout: '2 minutes' } as const;
  const { modelTurn } = proxyActivities<HostActivities>({
    ...base,
    startToCloseTimeout: '10 minutes',
    // The call heartbeats while it waits, so a dead worker is noticed in seconds, not minutes.
    heartbeatTimeout: '20 seconds',
    // 429 and 5xx back off and retry; rejected requests (400/401/403) are non-retryable failures.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
  });
  // Tools are not idempotent (run_command): never retried on their own.
  const { runAgentTool, runInSandbox } = proxyActivities<HostActivities>({
    ...base,
    startToCloseTimeout: `${Math.max(input.testTimeoutSeconds, input.commandTimeoutSeconds) + 120} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  });
  // A transcript write, or recreating a lost sandbox: quick, and safe to retry.
  const { appendUserMessage, createSandbox } = proxyActivities<HostActivities>({
    ...base,
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 5 },
  });
  return { model: { modelTurn }, tool: { runAgentTool, runInSandbox }, short: { appendUserMessage, createSandbox } };
}

export async function agentWorkflow(input: AgentWorkflowInput): Promise<AgentOutcome> {
  const { model, tool, short } = activities(input.hostQueue, input);
  const state: AgentLoopState = input.state ?? {
    turn: 1,
    testIterations: 0,
    usage: { prompt: 0, completion: 0 },
    startedAt: Date.now(),
    lastTests: null,
    commandIndex: 100,
  };
  const key = { changeId: input.changeId, repo: input.repo, attempt: input.attempt };
  const progress = input.progressWorkflowId ? getExternalWorkflowHandle(input.progressWorkflowId) : null;
  // Best effort, like the repo's own progress: a coordinator that is gone must not stop the agent.
  const report = (step: string): void => {
    if (progress)
      void progress
        .signal(repoProgressSignal, { repo: input.repo, phase: 'agent', step, attempt: input.attempt, at: Date.now() })
        .catch(() => undefined);
  };
  const firstTurnOfRun = state.turn;

  // Turns are counted when they end: a verdict reached inside turn N counts N turns.
  let turnsDone = state.turn - 1;
  const outcome = (
    resolved: boolean,
    reason: AgentOutcome['reason'],
    message: string,
    summary: string | null = null,
  ): AgentOutcome => ({
    resolved,
    reason,
    message,
    summary,
    turns: turnsDone,
    testIterations: state.testIterations,
    usage: state.usage,
    lastTests: state.lastTests,
  });

  for (;;) {
    const budgets = input.budgets;
    if (state.turn > budgets.turns)
      return outcome(false, 'turns', `turn budget of ${budgets.turns} used up before the tests passed`);
    if (state.usage.prompt + state.usage.completion >= budgets.tokens) {
      return outcome(
        false,
        'tokens',
        `token budget of ${budgets.tokens} used up (${state.usage.prompt + state.usage.completion} tokens)`,
      );
    }
    if (Date.now() - state.startedAt >= budgets.wallSeconds * 1000)
      return outcome(false, 'wall-time', `wall-time budget of ${budgets.wallSeconds}s used up`);

    report(`turn ${state.turn}: thinking`);
    const turn = await model.modelTurn({
      ...key,
      turn: state.turn,
      model: input.model,
      timeoutSeconds: input.requestTimeoutSeconds,
    });
    turnsDone = state.turn;
    state.usage = {
      prompt: state.usage.prompt + turn.usage.prompt,
      completion: state.usage.completion + turn.usage.completion,
    };
    log.info('model turn', {
      repo: input.repo,
      turn: state.turn,
      calls: turn.toolCalls.map((c) => c.name),
      tokens: turn.usage,
      promptHash: turn.promptHash,
    });

    let finished: string | null = null;
    for (const call of turn.toolCalls) {
      report(`turn ${state.turn}: ${call.name}`);
      const result = await runTool(
        () =>
          tool.runAgentTool({
            ...key,
            turn: state.turn,
            callId: call.id,
            workspace: input.workspace,
            testCommand: input.testCommand,
            testTimeoutSeconds: input.testTimeoutSeconds,
            commandTimeoutSeconds: input.commandTimeoutSeconds,
            outputBytes: input.outputBytes,
            commandIndex: state.commandIndex,
            ...(input.egress ? { egress: input.egress } : {}),
          }),
        input,
        short,
      );
      state.commandIndex += 2;
      if (result.tests) {
        state.testIterations++;
        state.lastTests = result.tests;
      }
      if (result.finished) finished = result.finished.summary;
    }

    if (turn.toolCalls.length === 0) {
      await short.appendUserMessage({
        ...key,
        turn: state.turn,
        text: 'Use the tools to do the task. When the tests pass, call finish with a summary.',
      });
    } else if (finished !== null) {
      // The model says it is done: hold it to green tests, within the test budget.
      const verdict = await runTool(() => verify(tool, input, state), input, short);
      if (verdict.passed) return outcome(true, 'finished', 'finished with passing tests', finished);
      if (state.testIterations >= input.budgets.testIterations) {
        return outcome(
          false,
          'test-iterations',
          `test budget of ${input.budgets.testIterations} runs used up; the tests still fail`,
          finished,
        );
      }
      await short.appendUserMessage({
        ...key,
        turn: state.turn,
        text: `You called finish, but the tests fail (exit code ${verdict.exitCode}). Last output:\n${verdict.outputTail}\nFix the failures, run the tests, then call finish again.`,
      });
    } else if (state.testIterations >= input.budgets.testIterations && state.lastTests && !state.lastTests.passed) {
      return outcome(
        false,
        'test-iterations',
        `test budget of ${input.budgets.testIterations} runs used up; the tests still fail`,
      );
    }

    state.turn++;
    if (
      workflowInfo().continueAsNewSuggested ||
      state.turn - firstTurnOfRun >= (input.turnsPerRun ?? TURNS_PER_RUN_DEFAULT)
    ) {
      await continueAsNew<typeof agentWorkflow>({ ...input, state });
    }
  }
}

/**
 * Runs a tool call; when the worker or its sandbox died under it (a crash, a restart that swept
 * the sandbox away), recreates the sandbox and runs the call once more. The model's decision
 * is never asked for again: the tool runs at least once, the model turn exactly once.
 */
async function runTool<T>(
  call: () => Promise<T>,
  input: AgentWorkflowInput,
  short: ReturnType<typeof activities>['short'],
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isInfrastructureFailure(err)) throw err;
    log.warn('tool call lost its worker or sandbox; recreating the sandbox and running it again', {
      repo: input.repo,
      error: String(err),
    });
    await short.createSandbox({
      changeId: input.changeId,
      repo: input.repo,
      workspace: input.workspace,
      sandbox: input.sandbox,
      attempt: input.attempt,
    });
    return call();
  }
}

function isInfrastructureFailure(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false;
  const cause = err.cause;
  return cause instanceof TimeoutFailure || (cause instanceof ApplicationFailure && cause.type === 'SandboxGone');
}

async function verify(
  tool: ReturnType<typeof activities>['tool'],
  input: AgentWorkflowInput,
  state: AgentLoopState,
): Promise<TestsOutcome> {
  const result = await tool.runInSandbox({
    changeId: input.changeId,
    repo: input.repo,
    kind: 'test',
    name: `agent-verify-${state.turn}`,
    index: state.commandIndex++,
    command: input.testCommand,
    timeoutSeconds: input.testTimeoutSeconds,
    outputBytes: input.outputBytes,
  });
  state.testIterations++;
  const tests = testsOutcome(result);
  state.lastTests = tests;
  return tests;
}
