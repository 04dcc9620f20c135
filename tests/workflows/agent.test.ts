/**
 * The agent loop's logic on a real Temporal server with injected activities: continue-as-new
 * with its state carried over, `finish` held to green tests, and every budget.
 */
import { describe, expect, it } from 'vitest';
import type { HostActivities } from '../../activities/index.ts';
import { AgentBudgets, SandboxConfig } from '../../config/repos.ts';
import type { agentWorkflow } from '../../workflows/agent.ts';
import type { AgentToolResult, AgentWorkflowInput, ModelTurnResult } from '../../core/agent.ts';
import type { CommandResult } from '../../core/commands.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';
import { workflowWorker } from '../helpers/workflow-worker.ts';

const queue = `agent-wf-${uniqueSuffix()}`;

/** Per repo: the tool each model turn calls, and what the verification run after finish says. */
const scripts = new Map<string, { tools: string[]; verify: number[]; tokensPerTurn?: number }>();
const seen = new Map<string, { turns: number[]; tools: string[]; nudges: string[]; verifies: number }>();
const log = (repo: string) => {
  let entry = seen.get(repo);
  if (!entry) seen.set(repo, (entry = { turns: [], tools: [], nudges: [], verifies: 0 }));
  return entry;
};

const ok = (exitCode: number): CommandResult => ({
  exitCode,
  timedOut: false,
  durationMs: 3,
  outputBytes: 10,
  truncated: false,
  outputTail: exitCode === 0 ? 'ok' : 'FAIL: TestX',
  log: null,
});

const host: Partial<HostActivities> = {
  async modelTurn(input): Promise<ModelTurnResult> {
    const script = scripts.get(input.repo);
    log(input.repo).turns.push(input.turn);
    const tool = script?.tools[input.turn - 1] ?? 'list_directory';
    const tokens = script?.tokensPerTurn ?? 10;
    return {
      toolCalls: tool === 'none' ? [] : [{ id: `call_${input.turn}`, name: tool, preview: '{}' }],
      content: '',
      finishReason: 'tool_calls',
      usage: { prompt: tokens, completion: 0 },
      model: 'm',
      durationMs: 1,
      promptHash: 'h',
    };
  },
  async runAgentTool(input): Promise<AgentToolResult> {
    const name = scripts.get(input.repo)?.tools[input.turn - 1] ?? 'list_directory';
    log(input.repo).tools.push(name);
    if (name === 'run_tests')
      return {
        ok: false,
        summary: 'run_tests: exit 1',
        exitCode: 1,
        tests: { exitCode: 1, passed: false, timedOut: false, durationMs: 3, outputTail: 'FAIL', log: null },
        finished: null,
      };
    if (name === 'finish')
      return {
        ok: true,
        summary: 'finish',
        exitCode: null,
        tests: null,
        finished: { summary: `done at ${input.turn}` },
      };
    return { ok: true, summary: name, exitCode: null, tests: null, finished: null };
  },
  async runInSandbox(input): Promise<CommandResult> {
    const entry = log(input.repo);
    const code = scripts.get(input.repo)?.verify[entry.verifies] ?? 0;
    entry.verifies++;
    return ok(code);
  },
  async appendUserMessage(input) {
    log(input.repo).nudges.push(input.text);
  },
  async createSandbox() {
    return 'sandbox';
  },
};

function input(repo: string, budgets: object = {}, turnsPerRun?: number): AgentWorkflowInput {
  return {
    changeId: 'agent-wf',
    repo,
    attempt: 1,
    hostQueue: queue,
    workspace: '/nowhere',
    sandbox: SandboxConfig.parse({ test: 't' }),
    progressWorkflowId: null,
    model: 'm',
    budgets: AgentBudgets.parse(budgets),
    testCommand: 't',
    testTimeoutSeconds: 60,
    commandTimeoutSeconds: 60,
    outputBytes: 1000,
    state: null,
    requestTimeoutSeconds: 30,
    ...(turnsPerRun ? { turnsPerRun } : {}),
  };
}

const run = (repo: string, args: AgentWorkflowInput) =>
  server().client.workflow.execute<typeof agentWorkflow>('agentWorkflow', {
    workflowId: `agent-wf/${repo}`,
    taskQueue: queue,
    args: [args],
  });

const server = workflowWorker(queue, host);

describe('agentWorkflow', () => {
  it('continues as new every few turns and carries its counters across runs', async () => {
    scripts.set('long', { tools: [...Array<string>(7).fill('read_file'), 'finish'], verify: [0], tokensPerTurn: 100 });
    const outcome = await run('long', input('long', {}, 3));
    expect(outcome).toMatchObject({
      resolved: true,
      reason: 'finished',
      turns: 8,
      summary: 'done at 8',
      usage: { prompt: 800, completion: 0 },
    });
    expect(log('long').turns).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Three runs of three turns at most: the first two ended by continuing as new.
    const history = await server().client.workflow.getHandle('agent-wf/long').fetchHistory();
    const runs = await (async () => {
      let n = 0;
      for await (const _ of server().client.workflow.list({ query: `WorkflowId = 'agent-wf/long'` })) n++;
      return n;
    })();
    expect(runs).toBe(3);
    expect(
      history.events?.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'modelTurn'),
    ).toBe(true);
  });

  it('holds finish to green tests: a red verification goes back to the model', async () => {
    scripts.set('red-then-green', { tools: ['finish', 'edit_file', 'finish'], verify: [1, 0] });
    const outcome = await run('red-then-green', input('red-then-green'));
    expect(outcome).toMatchObject({ resolved: true, turns: 3, testIterations: 2 });
    expect(log('red-then-green').nudges).toHaveLength(1);
    expect(log('red-then-green').nudges[0]).toMatch(/tests fail \(exit code 1\)[\s\S]*FAIL: TestX/);
  });

  it('nudges a model that answers without a tool call', async () => {
    scripts.set('chatty', { tools: ['none', 'finish'], verify: [0] });
    const outcome = await run('chatty', input('chatty'));
    expect(outcome.resolved).toBe(true);
    expect(log('chatty').nudges[0]).toMatch(/Use the tools/);
  });

  it('stops when the test budget is used up, with the last test output', async () => {
    scripts.set('red', { tools: ['run_tests', 'run_tests', 'run_tests', 'read_file'], verify: [] });
    const outcome = await run('red', input('red', { testIterations: 2 }));
    expect(outcome).toMatchObject({ resolved: false, reason: 'test-iterations', turns: 2, testIterations: 2 });
    expect(outcome.lastTests?.outputTail).toBe('FAIL');
  });

  it('stops when the token budget is used up', async () => {
    scripts.set('expensive', { tools: Array<string>(10).fill('read_file'), verify: [], tokensPerTurn: 600 });
    const outcome = await run('expensive', input('expensive', { tokens: 1000 }));
    expect(outcome).toMatchObject({ resolved: false, reason: 'tokens', turns: 2 });
    expect(outcome.message).toContain('1200 tokens');
  });
});
