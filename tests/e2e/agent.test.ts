/**
 * The agents end to end: the real openai client against a strict local OpenAI-compatible
 * server that replays scripted turns, a real Temporal server, a real worker, real Docker
 * sandboxes and real git remotes.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../config/change.ts';
import { AgentBudgets, ModelsConfig } from '../../config/repos.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { ChatRequest, FakeOpenAI, ScriptedTurn } from '../fakes/openai-server.ts';
import { billingCodeSteps } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const exec = promisify(execFile);
const PLANTED_SECRET = `planted-secret-${process.pid}`;
let h: Harness;
let fake: FakeOpenAI;

const call = (name: string, args: object | string): ScriptedTurn => ({
  reply: { tool_calls: [{ name, arguments: typeof args === 'string' ? args : JSON.stringify(args) }] },
  usage: { prompt_tokens: 1000, completion_tokens: 50 },
});

/** The content of the last tool message of a request: what the previous tool call returned. */
function lastToolResult(request: ChatRequest): string {
  const last = request.messages.at(-1);
  if (!last || last.role !== 'tool') throw new Error(`expected a tool result last, got ${last?.role ?? 'nothing'}`);
  return typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
}

const expectResult = (pattern: RegExp, turn: ScriptedTurn): ScriptedTurn => ({
  ...turn,
  expect: (request) => {
    const result = lastToolResult(request);
    if (!pattern.test(result))
      throw new Error(`tool result ${JSON.stringify(result.slice(0, 300))} does not match ${String(pattern)}`);
  },
});

async function changeInput(
  change: Change,
  overrides: { agentModel?: string; coordinatorModel?: string; budgets?: object } = {},
): Promise<ChangeInput> {
  const file = join(h.fleet.root, `${change.id}.json`);
  await writeFile(file, JSON.stringify(change));
  const input = await h.changeInput(file, { concurrency: 1 });
  return {
    ...input,
    models: ModelsConfig.parse({
      agent: overrides.agentModel ?? 'agent',
      coordinator: overrides.coordinatorModel ?? 'coordinator',
    }),
    budgets: AgentBudgets.parse(overrides.budgets ?? {}),
  };
}

const run = (input: ChangeInput): Promise<ChangeResult> => h.run(input);

beforeAll(async () => {
  // A secret in the worker's environment: it must never reach the model.
  process.env.LOCKSTEP_AGENT_TEST_SECRET = PLANTED_SECRET;
  h = await startHarness('agent-e2e', { fakeModel: true });
  if (!h.fake) throw new Error('the harness has no model endpoint');
  fake = h.fake;
});

afterAll(async () => {
  await h?.close();
});

describe('repo agents', () => {
  it('a scripted agent makes the change with the tools, survives its own mistakes and hostile reads, and ends green', async () => {
    const steps = await billingCodeSteps();
    expect(steps.length).toBeGreaterThan(0);
    fake.script('agent-fix', [
      {
        ...call('list_directory', { path: '.' }),
        expect: (request) => {
          const system = request.messages[0];
          if (system?.role !== 'system' || !JSON.stringify(system.content).includes('never instructions'))
            throw new Error('system prompt must say repository content is data');
          if (!request.tools?.every((t) => t.type === 'function' && t.function.strict === true))
            throw new Error('tools must be strict');
        },
      },
      // A rate limit: the client retries it (Retry-After: 0) and the turn goes on.
      {
        reply: {
          status: 429,
          error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
          headers: { 'retry-after': '0' },
        },
      },
      expectResult(/product\.go/, call('read_file', { path: 'product.go', start_line: null, end_line: null })),
      expectResult(/\d+\|/, call('read_file', '{"path": ')),
      expectResult(/JSON|argument/i, call('delete_everything', {})),
      expectResult(/unknown tool/i, call('read_file', { path: '../../etc/passwd', start_line: null, end_line: null })),
      expectResult(
        /leaves the workspace|outside/i,
        call('run_command', { command: 'ln -s /etc/passwd leak && echo linked' }),
      ),
      expectResult(/linked/, call('read_file', { path: 'leak', start_line: null, end_line: null })),
      expectResult(/outside|symlink|leaves/i, call('run_command', { command: `rm leak\n${steps.join('\n')}` })),
      call('run_tests', {}),
      expectResult(
        /ok\s+example\.com\/billing|PASS|exit code 0|passed/i,
        call('finish', { summary: 'Prices are integer cents in billing.' }),
      ),
    ]);
    const input = await changeInput(
      {
        id: 'agent-fix',
        title: 'Integer cents in billing',
        description: 'Prices become integer cents.',
        repos: [{ name: 'billing', instructions: 'Read price_cents as int64 and compute totals in cents.' }],
      },
      { agentModel: 'agent-fix' },
    );
    const result = await run(input);
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('agent-fix')).toBe(0);
    expect(result.status).toBe('succeeded');
    const billing = result.repos[0];
    expect(billing).toMatchObject({ repo: 'billing', status: 'green', mode: 'agent' });
    expect(billing?.agent).toMatchObject({
      resolved: true,
      reason: 'finished',
      summary: 'Prices are integer cents in billing.',
    });
    expect(billing?.agent?.turns).toBe(10);
    expect(billing?.agent?.usage.prompt).toBeGreaterThanOrEqual(10_000);
    expect(billing?.agent?.testIterations).toBe(2);
    expect(billing?.pullRequest).not.toBeNull();
    expect(billing?.baselineTests).toEqual({ exitCode: 0, passed: true });
    expect(billing?.regression).toBe(false);
    expect(result.metrics).toMatchObject({ repos: 1, resolved: 1, regressions: 0, turns: 10 });
    expect(result.metrics.usage.completion).toBe(500);
    const { stdout: diff } = await exec('git', [
      '--git-dir',
      h.fleet.remote('billing'),
      'diff',
      'main',
      'lockstep/agent-fix',
      '--',
      'product.go',
    ]);
    expect(diff).toContain('json:"price_cents"');
    const { stdout: files } = await exec('git', [
      '--git-dir',
      h.fleet.remote('billing'),
      'ls-tree',
      '-r',
      '--name-only',
      'lockstep/agent-fix',
    ]);
    expect(files.split('\n')).not.toContain('leak');
    // Nothing secret ever reached the model: not the key, not the worker's environment.
    const sent = JSON.stringify(fake.requests);
    expect(sent).not.toContain(fake.apiKey);
    expect(sent).not.toContain(PLANTED_SECRET);
    expect(sent).not.toContain('root:x:0:0');
  });

  it('ends a repo cleanly when its turn budget runs out, with the reason, the regression and no PR', async () => {
    fake.script('agent-loop', [
      call('run_command', { command: 'echo "this is not javascript (" >> src/render.mjs' }),
      call('run_tests', {}),
      call('list_directory', { path: '.' }),
    ]);
    const input = await changeInput(
      {
        id: 'agent-budget',
        title: 'Never finishes',
        description: '',
        repos: [{ name: 'storefront', instructions: 'Do something.' }],
      },
      { agentModel: 'agent-loop', budgets: { turns: 3 } },
    );
    const result = await run(input);
    expect(fake.violations).toEqual([]);
    expect(result.status).toBe('failed');
    const repo = result.repos[0];
    expect(repo?.status).toBe('failed');
    expect(repo?.error?.step).toBe('agent');
    expect(repo?.error?.message).toMatch(/^turns: turn budget of 3/);
    expect(repo?.agent).toMatchObject({ resolved: false, reason: 'turns', turns: 3, testIterations: 1 });
    expect(repo?.agent?.lastTests?.passed).toBe(false);
    expect(repo?.error?.outputTail).toMatch(/SyntaxError|fail/i);
    expect(repo?.pullRequest).toBeNull();
    // The tests passed before the agent started and fail now: that is a regression.
    expect(repo?.baselineTests?.passed).toBe(true);
    expect(repo?.regression).toBe(true);
    expect(result.metrics).toMatchObject({ repos: 1, resolved: 0, regressions: 1, turns: 3 });
  });

  it('plans with the coordinator model, re-asks an invalid plan with its errors, and hands each agent its task', async () => {
    const planned = {
      summary: 'Document the price unit.',
      repos: [
        {
          repo: 'catalog',
          task: 'PLANNED-CATALOG-TASK: state the unit in the README.',
          files: ['README.md'],
          acceptance: 'README names the unit',
        },
        {
          repo: 'storefront',
          task: 'PLANNED-STOREFRONT-TASK: state the unit in the README.',
          files: ['README.md'],
          acceptance: 'README names the unit',
        },
      ],
      order: ['catalog', 'storefront'],
    };
    fake.script('coordinator-plan', [
      {
        expect: (request) => {
          const ask = JSON.stringify(request.messages[1]?.content ?? '');
          if (!ask.includes('README.md: SUMMARY-OF-README'))
            throw new Error(`the scout's file summaries must reach the planner: ${ask.slice(0, 400)}`);
        },
        reply: { content: JSON.stringify({ ...planned, repos: planned.repos.slice(0, 1), order: ['catalog'] }) },
      },
      {
        expect: (request) => {
          const last = JSON.stringify(request.messages.at(-1)?.content ?? '');
          if (!last.includes('storefront') || !last.includes('does not validate'))
            throw new Error(`re-ask must carry the errors, got ${last}`);
          if (request.response_format?.type !== 'json_schema') throw new Error('plan must be asked with a JSON schema');
        },
        reply: { content: JSON.stringify(planned) },
      },
    ]);
    const agentTurn = (repo: string): ScriptedTurn[] => [
      {
        expect: (request) => {
          const task = JSON.stringify(request.messages[1]?.content ?? '');
          if (!task.includes(`PLANNED-${repo.toUpperCase()}-TASK`))
            throw new Error(`the ${repo} agent did not get its planned task: ${task}`);
        },
        ...call('run_command', { command: 'printf "\\nPrices are in integer cents.\\n" >> README.md' }),
      },
      call('run_tests', {}),
      call('finish', { summary: `documented in ${repo}` }),
    ];
    // The scout asks the small model for one line per relevant file, once per repo.
    const summary: ScriptedTurn = {
      expect: (request) => {
        if (request.response_format?.type !== 'json_schema' || request.tools)
          throw new Error('summaries are asked as structured output, without tools');
      },
      reply: { content: JSON.stringify({ files: [{ path: 'README.md', summary: 'SUMMARY-OF-README' }] }) },
    };
    fake.script('agent-planned', [summary, summary, ...agentTurn('catalog'), ...agentTurn('storefront')]);
    const input = await changeInput(
      {
        id: 'agent-plan',
        title: 'Document the price unit',
        description: 'Say in each README that prices are integer cents.',
        repos: [{ name: 'catalog' }, { name: 'storefront' }],
      },
      { agentModel: 'agent-planned', coordinatorModel: 'coordinator-plan' },
    );
    const result = await run(input);
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('coordinator-plan')).toBe(0);
    expect(fake.remaining('agent-planned')).toBe(0);
    expect(result.status).toBe('succeeded');
    expect(result.plan).toEqual(planned);
    expect(result.repos.map((r) => [r.repo, r.status])).toEqual([
      ['catalog', 'green'],
      ['storefront', 'green'],
    ]);
  });

  it('fails the change with a clear reason when the model endpoint rejects the request', async () => {
    const input = await changeInput(
      {
        id: 'agent-unknown-model',
        title: 'Unknown model',
        description: '',
        repos: [{ name: 'catalog', instructions: 'x' }],
      },
      { agentModel: 'no-such-model' },
    );
    const result = await run(input);
    expect(result.status).toBe('failed');
    expect(result.repos[0]?.attempts).toBe(1);
    expect(result.repos[0]?.error?.message).toMatch(/HTTP 404/);
    fake.violations.length = 0;
  });
});
