/**
 * Kill -9 the worker in the middle of an agent's loop and start a new one on the same host:
 * the loop resumes where its history says it was. Finished model calls are not made again;
 * only the call that was in flight when the worker died is repeated.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { resolveTasks } from '../../core/inputs.ts';
import { AgentBudgets, ModelsConfig } from '../../config/repos.ts';
import { projectRoot } from '../../config/paths.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import { startFakeOpenAI, type FakeOpenAI, type ScriptedTurn } from '../fakes/openai-server.ts';
import { billingCodeSteps, exampleChange, seedTestFleet, type TestFleet } from '../helpers/fleet.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const suffix = uniqueSuffix();
const queue = `crash-${suffix}`;
const hostId = `crash-host-${suffix}`;

let env: TestWorkflowEnvironment;
let fleet: TestFleet;
let fake: FakeOpenAI;
const workers: ChildProcess[] = [];

/** A `lockstep worker` process on this host, like an operator would run it. */
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'lockstep.js'), 'worker'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      LOCKSTEP_STATE_DIR: fleet.stateDir,
      LOCKSTEP_TASK_QUEUE: queue,
      LOCKSTEP_HOST_ID: hostId,
      OPENAI_API_KEY: fake.apiKey,
      OPENAI_BASE_URL: fake.baseURL,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.push(child);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)}: ${stderr}`)));
  });
  return child;
}

const call = (name: string, args: object): ScriptedTurn => ({
  reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
  usage: { prompt_tokens: 100, completion_tokens: 10 },
});

beforeAll(async () => {
  [env, fleet, fake] = await Promise.all([startTestTemporal(), seedTestFleet(), startFakeOpenAI()]);
});

afterAll(async () => {
  const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null);
  const exits = alive.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
  for (const w of alive) w.kill('SIGTERM');
  await Promise.all(exits);
  await env?.teardown();
  await fake?.close();
  await fleet?.cleanup();
});

describe('a worker killed between two agent turns', () => {
  it('resumes on a new worker without repeating finished model calls', async () => {
    const first = await startWorker();
    let killedAt: number | null = null;
    const steps = call('run_command', { command: (await billingCodeSteps()).join('\n') });
    fake.script('agent-crash', [
      call('read_file', { path: 'product.go', start_line: 1, end_line: 5 }),
      call('list_directory', { path: '.' }),
      {
        // Turn 3 arrives: turns 1 and 2 and their tools are finished. The worker dies now.
        ...steps,
        expect: () => {
          killedAt = fake.requests.length;
          first.kill('SIGKILL');
        },
      },
      steps,
      call('run_tests', {}),
      call('finish', { summary: 'integer cents' }),
    ]);

    const loaded = await loadReposConfig(fleet.configFile);
    const change = await loadChange(exampleChange('price-cents.yaml'), loaded);
    const tasks = resolveTasks(loaded, change)
      .filter((t) => t.repo === 'billing')
      .map((t) => ({
        ...t,
        mode: 'agent' as const,
        steps: [],
        instructions: 'Move billing to integer cents.',
        branch: 'lockstep/crash',
      }));
    const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId('crash'),
      taskQueue: queue,
      args: [
        {
          changeId: 'crash',
          title: 'Integer cents',
          description: '',
          forge: { type: 'local' },
          concurrency: 1,
          repos: tasks,
          models: ModelsConfig.parse({ agent: 'agent-crash' }),
          budgets: AgentBudgets.parse({}),
        },
      ],
    });

    for (let i = 0; i < 600 && first.signalCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(first.signalCode).toBe('SIGKILL');
    await startWorker();
    const result = await handle.result();

    expect(fake.violations).toEqual([]);
    expect(fake.remaining('agent-crash')).toBe(0);
    expect(result.status).toBe('succeeded');
    expect(result.repos[0]?.agent).toMatchObject({ resolved: true, turns: 5 });
    // Six requests for five turns: the one in flight at the kill (turn 3) was asked twice,
    // turns 1 and 2 were not asked again.
    expect(killedAt).toBe(3);
    const sizes = fake.requests.map((r) => r.messages.length);
    expect(sizes).toHaveLength(6);
    expect(sizes[2]).toBe(sizes[3]);
    expect(new Set(sizes).size).toBe(5);
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
    const pulls = await new LocalForge(join(fleet.stateDir, 'forge', 'local')).listPullRequests('billing');
    expect(pulls.filter((p) => p.head === 'lockstep/crash')).toHaveLength(1);
  });
});
