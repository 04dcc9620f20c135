/**
 * Figure 4: what one agent turn costs in Lockstep (a model call and a tool call, each through
 * Temporal, the tool in the Docker sandbox) against the same model call and the same tool run
 * directly (executeTool in a sandbox made once, no Temporal). The model is the scripted local
 * OpenAI-compatible server of the tests, answering at once.
 *
 * Lockstep's per-turn cost is a difference of two agent runs on one synthetic repo that differ
 * only in EXTRA cheap turns (list_directory, read_file, run_command "true"):
 * (wall(long) - wall(short)) / EXTRA, so the fixed costs of a run (clone, baseline tests, final
 * tests, push, pull request) cancel out.
 */
import type { Client } from '@temporalio/client';
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import {
  createModelClient,
  createSandbox,
  executeTool,
  removeSandbox,
  toolDefinitions,
  type ToolContext,
} from '../client/machine/libraries.ts';
import { changeInput } from '../core/inputs.ts';
import { loadReposConfig } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import { AgentBudgets, ModelsConfig } from '../config/repos.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeWorkflowId } from '../core/ids.ts';
import { startFakeOpenAI, type ScriptedTurn } from '../tests/fakes/openai-server.ts';
import { sandboxUser } from './baseline.ts';
import { STEP_COMMAND, type Fleet } from './fleet.ts';

const exec = promisify(execFile);
export const EXTRA_TURNS = 9;

type Call = { name: string; args: object };

const cheapCalls = (count: number): Call[] =>
  Array.from({ length: count }, (_, i): Call => {
    const k = i % 3;
    if (k === 0) return { name: 'list_directory', args: { path: '.' } };
    if (k === 1) return { name: 'read_file', args: { path: 'app/version.py', start_line: null, end_line: null } };
    return { name: 'run_command', args: { command: 'true' } };
  });

const turn = (c: Call): ScriptedTurn => ({
  reply: { tool_calls: [{ name: c.name, arguments: JSON.stringify(c.args) }] },
  usage: { prompt_tokens: 500, completion_tokens: 20 },
});

/** The scripted agent: make the one-line change, EXTRA cheap calls (or none), finish. */
const script = (extra: number): ScriptedTurn[] => [
  turn({ name: 'run_command', args: { command: STEP_COMMAND } }),
  ...cheapCalls(extra).map(turn),
  turn({ name: 'finish', args: { summary: 'Bumped the patch version.' } }),
];

export interface AgentSamples {
  extraTurns: number;
  shortRunMs: number[];
  longRunMs: number[];
  lockstepPerTurnMs: number[];
  directPerTurnMs: number[];
  directModelMs: number[];
  directToolMs: number[];
}

export interface AgentCtx {
  client: Client;
  queue: string;
  startWorker(env: Record<string, string>): Promise<{ stop(): Promise<void> }>;
  workerEnv: Record<string, string>;
}

export async function agentOverhead(ctx: AgentCtx, fleet: Fleet, reps: number): Promise<AgentSamples> {
  const fake = await startFakeOpenAI();
  const out: AgentSamples = {
    extraTurns: EXTRA_TURNS,
    shortRunMs: [],
    longRunMs: [],
    lockstepPerTurnMs: [],
    directPerTurnMs: [],
    directModelMs: [],
    directToolMs: [],
  };
  const worker = await ctx.startWorker({
    ...ctx.workerEnv,
    OPENAI_API_KEY: fake.apiKey,
    OPENAI_BASE_URL: fake.baseURL,
  });
  try {
    const loaded = await loadReposConfig(fleet.configFile);
    const repo = fleet.repos[0] ?? 'r001';
    const runAgent = async (changeId: string, extra: number): Promise<number> => {
      const model = `bench-${changeId}`;
      fake.script(model, script(extra));
      const change = {
        id: changeId,
        title: 'Bump the patch version',
        description: 'Agent benchmark.',
        repos: [{ name: repo, instructions: 'Bump the patch version in app/version.py.' }],
      };
      const input = {
        ...changeInput(loaded, change, resolveTasks(loaded, change), { concurrency: 1 }),
        models: ModelsConfig.parse({ agent: model, coordinator: 'coordinator' }),
        budgets: AgentBudgets.parse({}),
        searchAttributes: true,
      };
      const started = performance.now();
      const result = await ctx.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
        workflowId: changeWorkflowId(changeId),
        taskQueue: ctx.queue,
        args: [input],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      const ms = performance.now() - started;
      if (result.status !== 'succeeded' || fake.remaining(model) !== 0)
        throw new Error(
          `${changeId}: ${result.status}, ${fake.remaining(model)} turns left, violations ${fake.violations.join('; ')}`,
        );
      return ms;
    };
    for (let rep = 0; rep <= reps; rep++) {
      const short = await runAgent(`bench-agent-short-${rep}`, 0);
      const long = await runAgent(`bench-agent-long-${rep}`, EXTRA_TURNS);
      if (rep === 0) continue; // warm-up
      out.shortRunMs.push(short);
      out.longRunMs.push(long);
      out.lockstepPerTurnMs.push((long - short) / EXTRA_TURNS);
    }
  } finally {
    await worker.stop();
  }

  // Direct: the same model calls and the same tools, in one sandbox, no Temporal.
  const workspace = join(fleet.stateDir, 'agent-direct');
  await exec('git', ['clone', '--quiet', fleet.remote(fleet.repos[0] ?? 'r001'), workspace]);
  const { user, chownTo } = sandboxUser();
  if (chownTo) await exec('chown', ['-R', chownTo, workspace]);
  const docker = new Docker();
  const ref = { changeId: 'bench-agent-direct', repo: fleet.repos[0] ?? 'r001' };
  const loaded = await loadReposConfig(fleet.configFile);
  const sandboxConfig = loaded.config.repos[0]?.sandbox;
  if (!sandboxConfig) throw new Error('no sandbox config');
  const deps = { docker, user, owner: `bench:${process.pid}`, workerEnv: {}, logDir: join(fleet.stateDir, 'logs') };
  let index = 0;
  const uid = chownTo ? Number(chownTo.split(':')[0]) : null;
  const toolCtx: ToolContext = {
    workspace,
    sandbox: deps,
    ref,
    testCommand: sandboxConfig.test,
    commandTimeoutSeconds: 60,
    testTimeoutSeconds: 300,
    outputBytes: 1024 * 1024,
    nextIndex: () => index++,
    owner: uid === null ? null : { uid, gid: uid },
  };
  const openai = createModelClient({ apiKey: fake.apiKey, baseURL: fake.baseURL, maxRetries: 0, timeoutMs: 30_000 });
  await createSandbox(deps, { ...ref, workspace, sandbox: sandboxConfig });
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const model = `bench-direct-${rep}`;
      const calls = cheapCalls(EXTRA_TURNS);
      fake.script(model, calls.map(turn));
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: 'You change one repository with the tools.' },
        { role: 'user', content: 'Bump the patch version in app/version.py.' },
      ];
      let modelMs = 0;
      let toolMs = 0;
      for (let i = 0; i < calls.length; i++) {
        let t = performance.now();
        const reply = await openai.chat.completions.create({ model, messages, tools: toolDefinitions() });
        modelMs += performance.now() - t;
        const message = reply.choices[0]?.message;
        const call = message?.tool_calls?.[0];
        if (!message || call?.type !== 'function') throw new Error('direct: expected a tool call');
        messages.push({ role: 'assistant', content: message.content, tool_calls: message.tool_calls ?? [] });
        t = performance.now();
        const outcome = await executeTool(toolCtx, call.function.name, call.function.arguments);
        toolMs += performance.now() - t;
        if (!outcome.ok) throw new Error(`direct: ${call.function.name} failed: ${outcome.content.slice(0, 200)}`);
        messages.push({ role: 'tool', tool_call_id: call.id, content: outcome.content });
      }
      if (rep === 0) continue; // warm-up
      out.directModelMs.push(modelMs / calls.length);
      out.directToolMs.push(toolMs / calls.length);
      out.directPerTurnMs.push((modelMs + toolMs) / calls.length);
    }
  } finally {
    await removeSandbox(docker, ref);
    await fake.close();
  }
  return out;
}
