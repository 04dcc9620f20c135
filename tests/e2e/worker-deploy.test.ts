/**
 * `lockstep worker` as a deployment runs it: a child process with JSON logs and a Prometheus
 * endpoint, stopped by SIGTERM. Real Temporal dev server, real Docker, real git.
 *
 * 1. A five-repo change (steps and the contract gate) and a one-repo agent change (a strict local
 *    OpenAI-compatible server with scripted turns) run to the end on one worker; its metrics
 *    endpoint serves the SDK's metrics and Lockstep's own with the runs' values, every stdout
 *    line is a JSON object, and the worker's key (in use for every model call) never appears.
 * 2. SIGTERM while a repo's step runs: the worker drains and exits 0; a second worker on the same
 *    host finishes the change with one PR per repo, every repo green, and no container left.
 */
import Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelsConfig } from '../../config/repos.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { freePort } from '../../workers/dev-server.ts';
import {
  alive,
  expectOnePullRequestPerRepo,
  FIVE_REPOS,
  removeSandboxesOf,
  sandboxesLeft,
  seedFiveRepoFleet,
  startWorker,
  stopWorker,
  waitForStatus,
  type FiveRepoFleet,
  type WorkerProcess,
} from '../helpers/durable.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';
import { startFakeOpenAI, type FakeOpenAI, type ScriptedTurn } from '../fakes/openai-server.ts';

const docker = new Docker();
const suffix = uniqueSuffix();
const queue = `deploy-${suffix}`;
// Stands for a forge token and a model key in the worker's environment: no log line may carry it.
const TOKEN = `lockstep-secret-${Math.random().toString(36).slice(2)}`;
const GRACE_SECONDS = 60;

let env: TestWorkflowEnvironment | undefined;
let fleet: FiveRepoFleet | undefined;
let fake: FakeOpenAI | undefined;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  [env, fleet, fake] = await Promise.all([
    startTestTemporal(),
    seedFiveRepoFleet(),
    startFakeOpenAI({ apiKey: TOKEN }),
  ]);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
  await env?.teardown();
  await fake?.close();
  await removeSandboxesOf(fleet?.changeIds ?? [], docker);
  await fleet?.cleanup();
});

async function deployedWorker(hostId: string, args: string[] = []): Promise<WorkerProcess> {
  if (!env || !fleet || !fake) throw new Error('set-up failed');
  const worker = await startWorker({
    address: env.address,
    queue,
    stateDir: fleet.stateDir,
    hostId,
    args: ['--log-format', 'json', '--shutdown-grace', String(GRACE_SECONDS), ...args],
    env: { GITHUB_TOKEN: TOKEN, OPENAI_API_KEY: TOKEN, OPENAI_BASE_URL: fake.baseURL },
  });
  workers.push(worker);
  return worker;
}

/** SIGTERM, then the exit: the code and signal it ended with (SIGKILL only if it never ends). */
async function terminate(worker: WorkerProcess): Promise<{ code: number | null; signal: string | null }> {
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), (GRACE_SECONDS + 30) * 1000);
  await worker.exited;
  clearTimeout(timer);
  return { code: worker.child.exitCode, signal: worker.child.signalCode };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments and blank lines skipped). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m?.[1] || !m[3]) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      if (l[1]) labels[l[1]] = l[2] ?? '';
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (all: Sample[], name: string, labels: Record<string, string> = {}): number =>
  all
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);

const statuses = (repos: { repo: string; status: string }[]) =>
  Object.fromEntries(repos.map((r) => [r.repo, r.status]));
const allGreen = Object.fromEntries(FIVE_REPOS.map((r) => [r, 'green']));

describe('lockstep worker, deployed', () => {
  it("serves the SDK metrics and Lockstep's own, and logs JSON lines without secrets", async () => {
    if (!env || !fleet) throw new Error('set-up failed');
    const port = await freePort();
    const worker = await deployedWorker(`deploy-a-${suffix}`, ['--metrics-port', String(port)]);
    const input = await fleet.changeInput(`wd-${suffix}-1`, { pauseSeconds: 0, gate: true });
    // The contracts are the subject here; the scans would only take time.
    if (input.gate) input.gate = { ...input.gate, secrets: false, insecure: false };
    const contracts = input.gate?.contracts.length ?? 0;
    expect(contracts, 'the fleet declares contracts').toBeGreaterThan(0);
    const result = await env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: queue,
      args: [input],
    });
    expect(statuses(result.repos)).toEqual(allGreen);

    // One repo in agent mode: two scripted model turns of known usage, a command in the sandbox.
    if (!fake) throw new Error('set-up failed');
    const turn = (name: string, args: object): ScriptedTurn => ({
      reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
      usage: { prompt_tokens: 1000, completion_tokens: 50 },
    });
    fake.script('deploy-agent', [
      turn('run_command', { command: 'sed -i "s/^widgets 3$/widgets 12/" stock.txt' }),
      turn('finish', { summary: 'Restocked widgets.' }),
    ]);
    const base = await fleet.changeInput(`wd-${suffix}-agent`, { pauseSeconds: 0 });
    const inventory = base.repos.find((r) => r.repo === 'inventory');
    if (!inventory) throw new Error('no inventory repo');
    const agentResult = await env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(base.changeId),
      taskQueue: queue,
      args: [
        {
          ...base,
          repos: [{ ...inventory, mode: 'agent', steps: [], instructions: 'Restock widgets to 12.' }],
          models: ModelsConfig.parse({ agent: 'deploy-agent', coordinator: 'deploy-coordinator' }),
        },
      ],
    });
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('deploy-agent')).toBe(0);
    expect(statuses(agentResult.repos)).toEqual({ inventory: 'green' });
    const repos = FIVE_REPOS.length + 1;

    // The repo workflows' counts leave through a sink after their last workflow task: wait for them.
    let metrics: Sample[] = [];
    for (let i = 0; i < 50; i++) {
      metrics = samples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      if (sum(metrics, 'lockstep_repos_finished_total') >= repos) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const names = new Set(metrics.map((s) => s.name));
    expect(
      [...names].some((n) => n.startsWith('temporal_')),
      'an SDK metric',
    ).toBe(true);
    expect(names).toContain('temporal_activity_execution_latency_count');
    expect(sum(metrics, 'lockstep_repos_finished_total', { status: 'green' })).toBe(repos);
    expect(sum(metrics, 'lockstep_repos_finished_total')).toBe(repos);
    // Every repo ran its steps and tests: at least two commands each, each taking some time.
    expect(sum(metrics, 'lockstep_sandbox_command_seconds_count', { kind: 'step' })).toBeGreaterThanOrEqual(
      FIVE_REPOS.length,
    );
    expect(sum(metrics, 'lockstep_sandbox_command_seconds_count', { kind: 'test' })).toBeGreaterThanOrEqual(
      FIVE_REPOS.length,
    );
    expect(sum(metrics, 'lockstep_sandbox_command_seconds_sum')).toBeGreaterThan(0);
    // One verdict per declared contract, and the demo change fits its consumers.
    expect(sum(metrics, 'lockstep_gate_verdicts_total')).toBe(contracts);
    expect(sum(metrics, 'lockstep_gate_verdicts_total', { status: 'passed' })).toBe(contracts);
    expect(sum(metrics, 'lockstep_sandbox_command_seconds_count', { kind: 'agent' })).toBeGreaterThanOrEqual(1);
    // The model's usage as the endpoint reported it: two turns of 1000 prompt and 50 completion tokens.
    expect(sum(metrics, 'lockstep_model_tokens_total', { kind: 'prompt' })).toBe(2000);
    expect(sum(metrics, 'lockstep_model_tokens_total', { kind: 'completion' })).toBe(100);
    // No repo of this fleet reaches the network: the egress counter has no series yet.
    expect(names).not.toContain('lockstep_egress_bytes_total');
    // The reconciler ran its passes (every 2 s in tests, and after each repo).
    expect(sum(metrics, 'lockstep_reconciler_passes_total', { outcome: 'ok' })).toBeGreaterThan(0);

    const exit = await terminate(worker);
    expect(exit).toEqual({ code: 0, signal: null });

    const lines = worker
      .stdout()
      .split('\n')
      .filter((l) => l !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(0);
    for (const entry of parsed) {
      expect(typeof entry.time, JSON.stringify(entry)).toBe('string');
      expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(entry.level);
      expect(typeof entry.msg).toBe('string');
      expect(entry.taskQueue).toBeTruthy();
    }
    expect(parsed.some((e) => String(e.msg).startsWith('worker polling') && e.hostId === worker.hostId)).toBe(true);
    expect(parsed.some((e) => e.msg === 'worker stopped')).toBe(true);
    // The key was in use (the fake accepts no other), and no line carries it.
    expect(fake.requests.length).toBe(2);
    expect(worker.stdout()).not.toContain(TOKEN);
    expect(worker.output()).not.toContain(TOKEN);
  });

  it('SIGTERM mid-step: the worker drains and exits 0; the next worker finishes the change, nothing lost', async () => {
    if (!env || !fleet) throw new Error('set-up failed');
    const hostId = `deploy-b-${suffix}`;
    const first = await deployedWorker(hostId);
    const input = await fleet.changeInput(`wd-${suffix}-2`, { pauseSeconds: 4 });
    const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: queue,
      args: [input],
    });
    await waitForStatus(handle, 'a repo sleeps in its first step', (view) =>
      view.repos.some((r) => r.status === 'running' && r.phase === 'step' && r.step === 'Take a moment'),
    );
    const exit = await terminate(first);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(alive(first.child)).toBe(false);
    const stopping = first
      .stdout()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(stopping.some((e) => e.msg.startsWith('SIGTERM: stopping'))).toBe(true);

    // A restart on the same host (a new version, a systemd restart): the same host queue.
    const second = await deployedWorker(hostId);
    const result = await handle.result();
    expect(statuses(result.repos)).toEqual(allGreen);
    expect(result.status).toBe('succeeded');
    const prs = await expectOnePullRequestPerRepo(fleet, result);
    expect(Object.values(prs)).toEqual(FIVE_REPOS.map(() => 1));
    // The second worker's cleanup and reconciler: no container of the change remains.
    let left = await sandboxesLeft(input.changeId, docker);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      left = await sandboxesLeft(input.changeId, docker);
    }
    expect(left).toEqual([]);
    expect(await terminate(second)).toEqual({ code: 0, signal: null });
  });
});
