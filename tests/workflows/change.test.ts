/**
 * Coordinator and repo workflow logic on a real Temporal dev server, with activities injected
 * through the same interface the real ones implement: ordering, concurrency, publishing only
 * when all are green, attempt retries after infrastructure failures, cleanup on every path.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostActivities, SharedActivities } from '../../activities/index.ts';
import { AgentBudgets, ModelsConfig, SandboxConfig } from '../../config/repos.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate } from '../../core/messages.ts';
import type { ChangeInput } from '../../core/change.ts';
import type {
  CheckContractInput,
  ContractVerdict,
  GateInput,
  GuardrailFinding,
  ScanRepoInput,
} from '../../core/gate.ts';
import type { CommandResult } from '../../core/commands.ts';
import type { RepoTask } from '../../core/repo.ts';
import type { RunInSandboxInput } from '../../core/workspace.ts';
import { changeBranch, changeWorkflowId, repoWorkflowId } from '../../core/ids.ts';
import { liveStatus, openOnly, openPageStatus } from '../../client/live-status.ts';
import { workflowBundle } from '../../workers/worker.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';
import { repoTask } from '../helpers/tasks.ts';
import { createBlobActivities } from '../../activities/blobs.ts';
import type { BlobStore } from '../../core/blobs.ts';
import type { PageSummary } from '../../core/pages.ts';
import { pageWorkflowId } from '../../core/ids.ts';
import { temporalBlobStore } from '../../workers/blobs.ts';
import { inPages } from '../../client/pages.ts';
import { historyBounds } from '../../bench/history.ts';

let env: TestWorkflowEnvironment;
const queue = `wf-test-${uniqueSuffix()}`;

/** What the fake activities saw, per test (keyed by change id). */
interface Trace {
  calls: string[];
  /** Sandboxes that exist now, and the most that existed at once. */
  active: number;
  maxActive: number;
  live: Set<string>;
  /** Sandboxes removed, one entry per sandbox that existed (removing a missing one is a no-op, as in Docker). */
  removed: string[];
  opened: string[];
  linked: { repo: string; siblings: string[]; order: string[]; gate: string | null; total: number | null }[];
  gate: string[];
  gateActive: number;
  gateMaxActive: number;
}
const traces = new Map<string, Trace>();
const trace = (changeId: string): Trace => {
  let t = traces.get(changeId);
  if (!t) {
    t = {
      calls: [],
      active: 0,
      maxActive: 0,
      live: new Set(),
      removed: [],
      opened: [],
      linked: [],
      gate: [],
      gateActive: 0,
      gateMaxActive: 0,
    };
    traces.set(changeId, t);
  }
  return t;
};

/** Per change id: how a command behaves. Default: exit 0 quickly. */
type Behaviour = (input: RunInSandboxInput) => Promise<CommandResult>;
const behaviours = new Map<string, Behaviour>();
/** Change id + repo whose next openPullRequest fails (once); PRs opened so far by repo + head. */
const forgeDown = new Set<string>();
const openPulls = new Map<string, number>();
/** Per change id + repo: how many createSandbox calls fail before one succeeds. */
const createFailures = new Map<string, number>();

/** Per change id: the gate's verdicts and findings (default: every contract passes, nothing found). */
/** Changes whose gate checks take a while, to see how many run at once. */
const slowGate = new Set<string>();
async function gateWork<T>(changeId: string, work: () => T): Promise<T> {
  const t = trace(changeId);
  t.gateMaxActive = Math.max(t.gateMaxActive, ++t.gateActive);
  try {
    if (slowGate.has(changeId)) await sleep(100);
    return work();
  } finally {
    t.gateActive--;
  }
}
const verdicts = new Map<string, (input: CheckContractInput) => ContractVerdict>();
const findings = new Map<string, (input: ScanRepoInput) => GuardrailFinding[]>();
const passed = (input: CheckContractInput): ContractVerdict => ({
  contract: input.contract.name,
  kind: input.contract.kind,
  provider: input.contract.provider,
  consumers: input.contract.consumers.map((c) => c.repo),
  status: 'passed',
  problems: [],
  accepted: [],
  blame: [],
  durationMs: 1,
});

/** Steps-mode changes never call the agent activities; a call would be a bug. */
async function unused(): Promise<never> {
  throw ApplicationFailure.create({ message: 'agent activity called in a steps-mode test', nonRetryable: true });
}

const ok = (tail = 'ok'): CommandResult => ({
  exitCode: 0,
  timedOut: false,
  durationMs: 5,
  outputBytes: tail.length,
  truncated: false,
  outputTail: tail,
  log: null,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function prepareFake(input: { changeId: string; repo: string }) {
  trace(input.changeId).calls.push(`prepare:${input.repo}`);
  return { hostQueue: queue, workspace: `/nowhere/${input.repo}`, baseCommit: 'b'.repeat(40) };
}

function createFake(input: { changeId: string; repo: string }): string {
  const key = `${input.changeId}/${input.repo}`;
  const left = createFailures.get(key) ?? 0;
  if (left > 0) {
    createFailures.set(key, left - 1);
    throw ApplicationFailure.create({ type: 'SandboxGone', message: 'docker went away', nonRetryable: true });
  }
  if (input.repo === 'needs-missing-image') {
    throw ApplicationFailure.create({
      type: 'SandboxImageMissing',
      message: 'image x is missing; run npm run bootstrap',
      nonRetryable: true,
    });
  }
  const t = trace(input.changeId);
  t.calls.push(`create:${input.repo}`);
  if (!t.live.has(input.repo)) {
    t.live.add(input.repo);
    t.active++;
    t.maxActive = Math.max(t.maxActive, t.active);
  }
  return `sandbox-${input.repo}`;
}

function removeFake(input: { changeId: string; repo: string }): void {
  const t = trace(input.changeId);
  if (!t.live.delete(input.repo)) return;
  t.active--;
  t.removed.push(input.repo);
}

// The blob activities are the real ones, on this test's server (beforeAll).
const shared: Omit<SharedActivities, 'readPage' | 'storeBlob'> = {
  async prepareWorkspace(input) {
    return prepareFake(input);
  },
  async openWorkspace(input) {
    const ws = prepareFake(input);
    createFake(input);
    return ws;
  },
  async openPullRequest(input) {
    const t = trace(input.changeId);
    if (forgeDown.has(`${input.changeId}/${input.repo}`)) {
      forgeDown.delete(`${input.changeId}/${input.repo}`);
      throw ApplicationFailure.create({ type: 'ForgeUnavailable', message: 'forge answered 502', nonRetryable: true });
    }
    // Find-or-create, as every forge does: one PR per head branch, however often it is asked.
    const key = `${input.changeId}:${input.repo}:${input.head}`;
    if (!openPulls.has(key)) {
      t.opened.push(input.repo);
      openPulls.set(key, 7);
    }
    return { number: 7, url: `local://${input.repo}/7` };
  },
  async linkPullRequest(input) {
    trace(input.changeId).linked.push({
      repo: input.repo,
      siblings: input.siblings.map((s) => s.repo),
      order: input.mergeOrder,
      gate: input.gate?.summary ?? null,
      total: input.set?.total ?? null,
    });
  },
  async checkContract(input) {
    trace(input.changeId).gate.push(
      `contract:${input.contract.name}:round${input.round}:${input.revisions.map((r) => `${r.repo}@${(r.head ?? 'tip').slice(0, 1)}`).join(',')}`,
    );
    return gateWork(input.changeId, () => (verdicts.get(input.changeId) ?? passed)(input));
  },
  async scanRepo(input) {
    trace(input.changeId).gate.push(`scan:${input.repo.repo}:round${input.round}`);
    return gateWork(input.changeId, () => findings.get(input.changeId)?.(input) ?? []);
  },
  async planChange(input) {
    return {
      plan: {
        summary: 'the plan',
        repos: input.repos.map((r) => ({ repo: r.repo, task: `do ${r.repo}`, files: [], acceptance: 'tests pass' })),
        order: input.repos.map((r) => r.repo),
      },
      errors: [],
      answer: '{}',
      usage: { prompt: 1, completion: 1 },
    };
  },
  async scoutRepo(input) {
    return {
      repo: input.repo,
      commit: 'b'.repeat(40),
      files: 1,
      tree: ['a'],
      languages: {},
      testCommand: input.testCommand,
      contractFiles: [],
      agentsMd: null,
      readme: null,
      summaries: [],
    };
  },
  async branchAt(input) {
    return input.commit === 'c'.repeat(40);
  },
  async branchesAt(input) {
    return input.branches.map((b) => b.commit === 'c'.repeat(40));
  },
  // Only the CLI's prs/publish/close use these; a change run never does.
  pullRequestStatus: unused,
  markPullRequestReady: unused,
  closePullRequest: unused,
  landingState: unused,
  mergePullRequest: unused,
  updatePullRequestBranch: unused,
  deleteBranch: unused,
  // Bump changes run against the real registries (tests/e2e/bump.test.ts).
  resolveBump: unused,
  bumpManifests: unused,
};

const host: HostActivities = {
  async createSandbox(input) {
    return createFake(input);
  },
  async runInSandbox(input) {
    trace(input.changeId).calls.push(`run:${input.repo}:${input.name}`);
    const behaviour = behaviours.get(input.changeId);
    if (behaviour) return behaviour(input);
    await sleep(20);
    return ok();
  },
  async commitAndPush(input) {
    trace(input.changeId).calls.push(`push:${input.repo}`);
    if (input.releaseSandbox) removeFake(input);
    return { commit: 'c'.repeat(40), changedFiles: ['a.txt'] };
  },
  async removeSandbox(input) {
    removeFake(input);
  },
  async removeWorkspace() {},
  async closeWorkspace(input) {
    removeFake(input);
  },
  // Bump changes run against the real registries (tests/e2e/bump.test.ts, bump-agent.test.ts).
  bumpDeclaration: unused,
  modelConfigured: unused,
  // Reverts run on real git (tests/e2e/revert.test.ts).
  revertMerged: unused,
  startTranscript: unused,
  modelTurn: unused,
  runAgentTool: unused,
  appendUserMessage: unused,
};

const task = repoTask;

function change(changeId: string, repos: RepoTask[], concurrency = 4): ChangeInput {
  return {
    changeId,
    title: `Test ${changeId}`,
    description: 'why',
    forge: { type: 'local' },
    concurrency,
    repos,
    models: ModelsConfig.parse({}),
    budgets: AgentBudgets.parse({}),
  };
}

async function run(input: ChangeInput) {
  return env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
    workflowId: changeWorkflowId(input.changeId),
    taskQueue: queue,
    args: [input],
  });
}

let worker: Worker;
let running: Promise<void>;
const blobs = (): BlobStore => temporalBlobStore(env.client, queue);

beforeAll(async () => {
  env = await startTestTemporal();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: queue,
    workflowBundle: await workflowBundle(),
    activities: { ...shared, ...createBlobActivities(blobs()), ...host },
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

describe('changeWorkflow', () => {
  it('runs providers first, publishes every green repo and links each PR to all siblings', async () => {
    const id = 'all-green';
    const result = await run(
      change(id, [
        task('web', { consumes: ['api'] }),
        task('billing', { consumes: ['api'] }),
        task('catalog', { provides: ['api'] }),
      ]),
    );
    expect(result.status).toBe('succeeded');
    expect(result.mergeOrder).toEqual(['catalog', 'web', 'billing']);
    expect(result.repos.map((r) => r.repo)).toEqual(['catalog', 'web', 'billing']);
    for (const r of result.repos) {
      expect(r.status).toBe('green');
      expect(r.pullRequest).toEqual({ number: 7, url: `local://${r.repo}/7` });
      expect(r.tests?.passed).toBe(true);
      expect(r.steps.map((s) => s.kind)).toEqual(['step', 'test']);
    }
    const t = trace(id);
    expect(t.opened.sort()).toEqual(['billing', 'catalog', 'web']);
    expect(t.linked).toHaveLength(3);
    for (const link of t.linked) {
      expect(link.siblings.sort()).toEqual(['billing', 'catalog', 'web']);
      expect(link.order).toEqual(['catalog', 'web', 'billing']);
    }
    expect(t.removed.sort()).toEqual(['billing', 'catalog', 'web']);
  });

  it('runs setup, then the steps in order, then the tests', async () => {
    const id = 'ordered-steps';
    const sandbox = SandboxConfig.parse({ test: 'run-tests', setup: 'install' });
    const result = await run(
      change(id, [
        task('one', {
          sandbox,
          steps: [
            { name: 'first', run: 'a' },
            { name: 'second', run: 'b' },
          ],
        }),
      ]),
    );
    expect(result.status).toBe('succeeded');
    expect(trace(id).calls.filter((c) => c.startsWith('run:'))).toEqual([
      'run:one:setup',
      'run:one:first',
      'run:one:second',
      'run:one:tests',
    ]);
  });

  it('opens no pull request when one repo fails its tests, and says where it failed', async () => {
    const id = 'one-red';
    behaviours.set(id, async (input) => {
      if (input.repo === 'billing' && input.kind === 'test') {
        return { ...ok(), exitCode: 1, outputTail: '--- FAIL: TestInvoiceTotal\nFAIL\texample.com/billing' };
      }
      return ok();
    });
    const result = await run(change(id, [task('catalog'), task('billing')]));
    expect(result.status).toBe('failed');
    expect(result.summary).toContain('billing');
    expect(result.summary).toContain('no pull request');
    const billing = result.repos.find((r) => r.repo === 'billing');
    expect(billing?.status).toBe('failed');
    expect(billing?.error?.step).toBe('tests');
    expect(billing?.error?.message).toContain('exited with code 1');
    expect(billing?.error?.outputTail).toContain('TestInvoiceTotal');
    expect(billing?.commit).toBeNull();
    expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);
    expect(trace(id).opened).toEqual([]);
    expect(trace(id).calls).not.toContain('push:billing');
    expect(trace(id).removed.sort()).toEqual(['billing', 'catalog']);
  });

  it('stops a repo at its first failing step and never runs its tests', async () => {
    const id = 'step-fails';
    behaviours.set(id, async (input) => (input.name === 'second' ? { ...ok('sed: no match'), exitCode: 4 } : ok()));
    const result = await run(
      change(id, [
        task('one', {
          steps: [
            { name: 'first', run: 'a' },
            { name: 'second', run: 'b' },
            { name: 'third', run: 'c' },
          ],
        }),
      ]),
    );
    expect(result.status).toBe('failed');
    expect(result.repos[0]?.error).toMatchObject({
      step: 'second',
      message: 'exited with code 4',
      outputTail: 'sed: no match',
    });
    expect(trace(id).calls.filter((c) => c.startsWith('run:'))).toEqual(['run:one:first', 'run:one:second']);
    expect(trace(id).removed).toEqual(['one']);
  });

  it('reports a timed-out command as killed', async () => {
    const id = 'timeout';
    behaviours.set(id, async (input) =>
      input.kind === 'test' ? { ...ok('still running'), exitCode: 137, timedOut: true } : ok(),
    );
    const result = await run(change(id, [task('slow')]));
    expect(result.repos[0]?.error?.message).toContain('timed out');
    expect(result.repos[0]?.tests?.timedOut).toBe(true);
  });

  it('never holds more sandboxes than the concurrency allows', async () => {
    const id = 'bounded';
    behaviours.set(id, async () => {
      await sleep(150);
      return ok();
    });
    const result = await run(
      change(
        id,
        ['a', 'b', 'c', 'd', 'e'].map((r) => task(r)),
        2,
      ),
    );
    expect(result.status).toBe('succeeded');
    expect(trace(id).maxActive).toBeLessThanOrEqual(2);
    expect(trace(id).maxActive).toBeGreaterThanOrEqual(1);
    expect(trace(id).removed).toHaveLength(5);
  });

  it('starts a repo over from a fresh workspace when its sandbox vanished, and cleans up each attempt', async () => {
    const id = 'infra-retry';
    createFailures.set(`${id}/flaky`, 1);
    const result = await run(change(id, [task('flaky')]));
    expect(result.status).toBe('succeeded');
    expect(result.repos[0]?.attempts).toBe(2);
    expect(trace(id).calls.filter((c) => c === 'prepare:flaky')).toHaveLength(2);
    // The first attempt made no sandbox; the second's was removed; none is left.
    expect(trace(id).removed).toEqual(['flaky']);
    expect(trace(id).active).toBe(0);
  });

  it('gives up after the last attempt with the infrastructure error', async () => {
    const id = 'infra-gives-up';
    createFailures.set(`${id}/doomed`, 10);
    const result = await run({ ...change(id, [task('doomed')]), maxRepoAttempts: 2 });
    expect(result.status).toBe('failed');
    expect(result.repos[0]?.attempts).toBe(2);
    // The workspace and its sandbox are made in one step.
    expect(result.repos[0]?.error).toMatchObject({ step: 'preparing', message: 'docker went away' });
  });

  it('does not retry a fatal failure such as a missing image', async () => {
    const id = 'fatal';
    const result = await run(change(id, [task('needs-missing-image')]));
    expect(result.status).toBe('failed');
    expect(result.repos[0]?.attempts).toBe(1);
    expect(result.repos[0]?.error?.message).toContain('npm run bootstrap');
  });

  it('marks a repo whose steps changed nothing as unchanged and opens no PR for it', async () => {
    const id = 'unchanged';
    const original = host.commitAndPush.bind(host);
    host.commitAndPush = async (input) =>
      input.repo === 'same' ? { commit: null, changedFiles: [] } : original(input);
    try {
      const w = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: `${queue}-u`,
        workflowBundle: await workflowBundle(),
        activities: {
          ...shared,
          ...host,
          openWorkspace: async (i: Parameters<SharedActivities['openWorkspace']>[0]) => ({
            ...(await shared.openWorkspace(i)),
            hostQueue: `${queue}-u`,
          }),
        },
      });
      const result = await w.runUntil(
        env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
          workflowId: changeWorkflowId(id),
          taskQueue: `${queue}-u`,
          args: [change(id, [task('same'), task('other')])],
        }),
      );
      expect(result.status).toBe('succeeded');
      expect(result.repos.find((r) => r.repo === 'same')).toMatchObject({ status: 'unchanged', pullRequest: null });
      expect(result.repos.find((r) => r.repo === 'other')?.pullRequest).not.toBeNull();
      expect(trace(id).opened).toEqual(['other']);
    } finally {
      host.commitAndPush = original;
    }
  });

  it('answers the status query while running, with the step each repo is in', async () => {
    const id = 'live-status';
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    behaviours.set(id, async (input) => {
      if (input.name === 'slow step') {
        await gate;
      }
      return ok();
    });
    const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(id),
      taskQueue: queue,
      args: [change(id, [task('alpha', { steps: [{ name: 'slow step', run: 'x' }] })])],
    });
    let view = await liveStatus(handle);
    for (let i = 0; i < 100 && view.repos[0]?.step !== 'slow step'; i++) {
      await sleep(100);
      view = await liveStatus(handle);
    }
    expect(view.status).toBe('running');
    expect(view.repos[0]).toMatchObject({ repo: 'alpha', status: 'running', phase: 'step', step: 'slow step' });
    // The coordinator alone knows the repo runs; the step comes from the repo's memo.
    expect((await handle.query(changeStatusQuery)).repos[0]).toMatchObject({ status: 'running', phase: 'preparing' });
    release();
    const result = await handle.result();
    expect(result.status).toBe('succeeded');
    const done = await handle.query(changeStatusQuery);
    expect(done.phase).toBe('done');
    expect(done.result?.status).toBe('succeeded');
    // Progress costs no workflow task: the coordinator is sent nothing, the repo writes only the
    // phases that last into its memo (not the short preparing and cleanup).
    const signals = ((await handle.fetchHistory()).events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes,
    );
    expect(signals).toEqual([]);
    const repoHistory = await env.client.workflow.getHandle(repoWorkflowId(id, 'alpha')).fetchHistory();
    const progress = (repoHistory.events ?? [])
      .map((e) => e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.progress?.data)
      .filter((data): data is Uint8Array => data instanceof Uint8Array)
      .map((data) => JSON.parse(Buffer.from(data).toString()) as { phase: string; step: string | null });
    expect(progress.map((p) => [p.phase, p.step])).toEqual([
      ['step', 'slow step'],
      ['tests', 'tests'],
      ['pushing', null],
    ]);
    expect(repoHistory.events?.some((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toBe(false);
  });

  it('asks a page for its status only while it is open: the server answers for a closed one, and no worker replays it', async () => {
    const id = `closed-page-${uniqueSuffix()}`;
    // No worker polls this queue: a query the server passed on would wait for one and fail.
    const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: pageWorkflowId(id, 'run', 0),
      taskQueue: `${queue}-nobody`,
      args: [change(id, [task('alpha')])],
    });
    await handle.terminate('the page closed');
    await expect(openPageStatus(openOnly(env.client.workflow), handle.workflowId)).resolves.toBeNull();
  });

  it('removes the sandbox when the change is cancelled mid-step', async () => {
    const id = 'cancelled';
    let started!: () => void;
    const stepStarted = new Promise<void>((r) => (started = r));
    behaviours.set(id, async () => {
      started();
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        await Promise.race([sleep(200), ctx.cancelled]);
      }
    });
    const handle = await env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(id),
      taskQueue: queue,
      args: [change(id, [task('busy')])],
    });
    await stepStarted;
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // The child's cleanup runs in a non-cancellable scope: wait for it to be recorded.
    for (let i = 0; i < 100 && !trace(id).removed.includes('busy'); i++) await sleep(100);
    expect(trace(id).removed).toEqual(['busy']);
  });
});

describe('operating a live change', () => {
  /** Waits until the status query shows the change waiting for a person. */
  async function waitFor(
    handle: Awaited<ReturnType<typeof env.client.workflow.start<typeof changeWorkflow>>>,
    kind: 'decision' | 'approval',
  ) {
    for (let i = 0; i < 200; i++) {
      const view = await handle.query(changeStatusQuery);
      if (view.awaiting?.kind === kind) return view;
      await sleep(100);
    }
    throw new Error(`the change never waited for a ${kind}`);
  }
  const start = (input: ChangeInput) =>
    env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: queue,
      args: [input],
    });
  const failOnce = (id: string, repo: string) => {
    let failed = false;
    behaviours.set(id, async (input) => {
      if (input.repo === repo && input.kind === 'test' && !failed) {
        failed = true;
        return { ...ok('FAIL'), exitCode: 1 };
      }
      return ok();
    });
  };

  it('resume reuses a repo still green at its pushed commit and reruns the others', async () => {
    const id = 'resume';
    const previous = {
      kept: {
        ...failedBeforeResultFor('kept'),
        status: 'green' as const,
        commit: 'c'.repeat(40),
        error: null,
        attempts: 1,
        durationMs: 5,
      },
      moved: {
        ...failedBeforeResultFor('moved'),
        status: 'green' as const,
        commit: 'd'.repeat(40),
        error: null,
        attempts: 1,
        durationMs: 5,
      },
      broken: { ...failedBeforeResultFor('broken'), attempts: 1, durationMs: 5 },
    };
    const result = await run({ ...change(id, [task('kept'), task('moved'), task('broken')]), previous });
    expect(result.status).toBe('succeeded');
    expect(result.repos.find((r) => r.repo === 'kept')).toMatchObject({ status: 'green', reused: true });
    expect(result.repos.find((r) => r.repo === 'moved')?.reused).toBeUndefined();
    expect(
      trace(id)
        .calls.filter((c) => c.startsWith('prepare:'))
        .sort(),
    ).toEqual(['prepare:broken', 'prepare:moved']);
    expect(trace(id).opened.sort()).toEqual(['broken', 'kept', 'moved']);
  });

  it('a failed repo waits for a person: retry runs it again and the set publishes', async () => {
    const id = 'decide-retry';
    failOnce(id, 'flaky');
    const handle = await start({ ...change(id, [task('flaky'), task('fine')]), decisionTimeoutSeconds: 60 });
    const view = await waitFor(handle, 'decision');
    expect(view.awaiting).toMatchObject({ kind: 'decision', repos: ['flaky'] });
    await expect(
      handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', repo: 'fine', by: 'ana', reason: 'x' }] }),
    ).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(/repo "fine" is not waiting for a decision \(waiting: flaky\)/) as unknown,
      },
    });
    const ack = await handle.executeUpdate(decideUpdate, {
      args: [{ action: 'retry', repo: 'flaky', by: 'ana', reason: 'flaky network' }],
    });
    expect(ack).toEqual({ accepted: true, message: 'retrying flaky' });
    const result = await handle.result();
    expect(result.status).toBe('succeeded');
    expect(result.repos.map((r) => r.status)).toEqual(['green', 'green']);
    const done = await handle.query(changeStatusQuery);
    expect(done.humans).toEqual([
      expect.objectContaining({ action: 'retry', repo: 'flaky', by: 'ana', reason: 'flaky network' }),
    ]);
  });

  it('skip publishes the others without the failed repo; abort ends the change', async () => {
    failOnce('decide-skip', 'flaky');
    const skipping = await start({
      ...change('decide-skip', [task('flaky'), task('fine')]),
      decisionTimeoutSeconds: 60,
    });
    await waitFor(skipping, 'decision');
    await skipping.executeUpdate(decideUpdate, {
      args: [{ action: 'skip', repo: 'flaky', by: 'ana', reason: 'later' }],
    });
    const skipped = await skipping.result();
    expect(skipped.status).toBe('succeeded');
    expect(skipped.summary).toContain('skipped: flaky');
    expect(skipped.repos.find((r) => r.repo === 'flaky')).toMatchObject({ status: 'skipped', pullRequest: null });
    expect(trace('decide-skip').opened).toEqual(['fine']);

    failOnce('decide-abort', 'flaky');
    const aborting = await start({
      ...change('decide-abort', [task('flaky'), task('fine')]),
      decisionTimeoutSeconds: 60,
    });
    await waitFor(aborting, 'decision');
    await aborting.executeUpdate(decideUpdate, {
      args: [{ action: 'abort', repo: null, by: 'bo', reason: 'wrong approach' }],
    });
    const aborted = await aborting.result();
    expect(aborted.status).toBe('failed');
    expect(aborted.summary).toBe('aborted by bo: wrong approach; no pull request opened');
    expect(trace('decide-abort').opened).toEqual([]);
  });

  it('the plan gate: a rejected plan ends the change before any repo is touched', async () => {
    const id = 'plan-gate';
    const handle = await start({
      ...change(id, [task('one', { mode: 'agent', steps: [], instructions: null })]),
      approvals: { plan: true, publish: false, timeoutSeconds: 60 },
    });
    const view = await waitFor(handle, 'approval');
    expect(view.awaiting).toMatchObject({ kind: 'approval', gate: 'plan' });
    expect(view.plan?.summary).toBe('the plan');
    await handle.executeUpdate(approvalUpdate, {
      args: [{ gate: 'plan', approved: false, by: 'ana', reason: 'too broad' }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'rejected', summary: 'plan rejected by ana: too broad' });
    expect(trace(id).calls).toEqual([]);
  });

  it('resume after a forge failure finds the PRs already opened and opens only the missing one', async () => {
    const id = 'forge-down';
    forgeDown.add(`${id}/two`);
    const first = await run(change(id, [task('one'), task('two')]));
    expect(first.status).toBe('failed');
    expect(first.summary).toMatch(/^publishing failed: forge answered 502/);
    expect(trace(id).opened).toEqual(['one']);
    const previous = Object.fromEntries(first.repos.map((r) => [r.repo, r]));
    const resumed = await run({ ...change(id, [task('one'), task('two')]), previous });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.repos.every((r) => r.reused === true && r.pullRequest?.number === 7)).toBe(true);
    expect(trace(id).opened.sort()).toEqual(['one', 'two']);
    // Only the first run cloned; the resumed run reused both repos without touching them.
    expect(
      trace(id)
        .calls.filter((c) => c.startsWith('prepare:'))
        .sort(),
    ).toEqual(['prepare:one', 'prepare:two']);
  });

  it('ends failed when no one decides in time', async () => {
    failOnce('decide-timeout', 'flaky');
    const result = await run({ ...change('decide-timeout', [task('flaky')]), decisionTimeoutSeconds: 1 });
    expect(result.status).toBe('failed');
    expect(trace('decide-timeout').opened).toEqual([]);
  });

  it('the publish gate: approve opens the PRs; reject and timeout keep the branches and open none', async () => {
    const approvals = { plan: false, publish: true, timeoutSeconds: 60 };
    const approving = await start({ ...change('gate-approve', [task('one')]), approvals });
    await waitFor(approving, 'approval');
    await expect(
      approving.executeUpdate(approvalUpdate, { args: [{ gate: 'plan', approved: true, by: 'ana', reason: '' }] }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/not waiting for a plan approval \(it waits for publish\)/) as unknown },
    });
    await approving.executeUpdate(approvalUpdate, {
      args: [{ gate: 'publish', approved: true, by: 'ana', reason: 'looks right' }],
    });
    expect((await approving.result()).status).toBe('succeeded');
    expect(trace('gate-approve').opened).toEqual(['one']);

    const rejecting = await start({ ...change('gate-reject', [task('one')]), approvals });
    await waitFor(rejecting, 'approval');
    await rejecting.executeUpdate(approvalUpdate, {
      args: [{ gate: 'publish', approved: false, by: 'bo', reason: 'not now' }],
    });
    const rejected = await rejecting.result();
    expect(rejected).toMatchObject({
      status: 'rejected',
      summary: 'publishing rejected by bo: not now; the branches are kept',
    });
    expect(trace('gate-reject').calls).toContain('push:one');
    expect(trace('gate-reject').opened).toEqual([]);

    const timedOut = await run({
      ...change('gate-timeout', [task('one')]),
      approvals: { ...approvals, timeoutSeconds: 1 },
    });
    expect(timedOut.status).toBe('rejected');
    expect(trace('gate-timeout').opened).toEqual([]);
  });
});

function failedBeforeResultFor(repo: string) {
  return {
    repo,
    status: 'failed' as const,
    branch: changeBranch('x'),
    baseCommit: 'b'.repeat(40),
    commit: null,
    changedFiles: [],
    steps: [],
    tests: null,
    error: { step: 'tests', message: 'exited with code 1', outputTail: '' },
  };
}

describe('the gate before publishing', () => {
  const contract = {
    name: 'api',
    kind: 'openapi' as const,
    provider: 'prov',
    path: 'openapi.yaml',
    command: null,
    runIn: 'prov',
    rules: ['FILE'],
    verify: null,
    pactEnv: 'PACT_FILE',
    consumers: [{ repo: 'cons', path: null, uses: [{ operation: 'GET /things', fields: ['name'] }], command: null }],
  };
  const gateOf = (repos: RepoTask[], extra: Partial<GateInput> = {}): GateInput => ({
    contracts: [contract],
    repos: repos.map((r) => ({
      repo: r.repo,
      url: r.url,
      baseBranch: r.baseBranch,
      sandbox: r.sandbox,
      inChange: true,
    })),
    secrets: true,
    insecure: true,
    rounds: 2,
    waive: [],
    ...extra,
  });
  const repos = () => [task('prov', { provides: ['api'] }), task('cons', { consumes: ['api'] })];

  it('checks every contract and scans every changed repo on the pushed heads, then links the report into each PR', async () => {
    const id = 'gate-pass';
    const input = { ...change(id, repos()), gate: gateOf(repos()) };
    const result = await run(input);
    expect(result.status).toBe('succeeded');
    const t = trace(id);
    expect(t.gate.sort()).toEqual(['contract:api:round0:prov@c,cons@c', 'scan:cons:round0', 'scan:prov:round0']);
    expect(result.gate?.passed).toBe(true);
    expect(result.gate?.summary).toBe('gate passed: 1 contract held');
    expect(t.linked.map((l) => l.gate)).toEqual(['gate passed: 1 contract held', 'gate passed: 1 contract held']);
  });

  it('blocks a steps-mode change on a breaking contract: no pull request, the report in the result', async () => {
    const id = 'gate-breaking';
    verdicts.set(id, (input) => ({
      ...passed(input),
      status: 'breaking',
      problems: [
        {
          kind: 'breaking',
          rule: 'response-property-removed',
          file: 'openapi.yaml',
          location: '/paths/~1things/get',
          message: 'GET /things 200 response: property "name" removed',
          repo: 'prov',
        },
      ],
      blame: ['prov'],
    }));
    const result = await run({ ...change(id, repos()), gate: gateOf(repos()) });
    expect(result.status).toBe('blocked');
    expect(result.summary).toBe('gate blocked: contract api breaking; no pull request opened');
    expect(result.gate?.contracts[0]?.problems[0]?.rule).toBe('response-property-removed');
    expect(trace(id).opened).toEqual([]);
    expect(result.repos.map((r) => r.pullRequest)).toEqual([null, null]);
  });

  it('blocks on an open guardrail finding and lets a waived one through with its reason', async () => {
    const finding = (repo: string): GuardrailFinding => ({
      repo,
      tool: 'gitleaks',
      rule: 'aws-access-token',
      file: 'config.py',
      line: 3,
      message: 'AWS access key',
      waived: null,
    });
    const blocked = 'gate-secret';
    findings.set(blocked, (input) => (input.repo.repo === 'cons' ? [finding('cons')] : []));
    const r1 = await run({ ...change(blocked, repos()), gate: gateOf(repos()) });
    expect(r1.status).toBe('blocked');
    expect(r1.summary).toBe('gate blocked: 1 guardrail finding (aws-access-token); no pull request opened');
    expect(r1.gate?.findings).toEqual([finding('cons')]);

    const waived = 'gate-waived';
    findings.set(waived, (input) => (input.repo.repo === 'cons' ? [finding('cons')] : []));
    const r2 = await run({
      ...change(waived, repos()),
      gate: gateOf(repos(), {
        waive: [{ rule: 'aws-access-token', repo: 'cons', reason: 'a documented test fixture key' }],
      }),
    });
    expect(r2.status).toBe('succeeded');
    expect(r2.gate?.findings[0]?.waived).toBe('a documented test fixture key');
    expect(trace(waived).opened.sort()).toEqual(['cons', 'prov']);
  });

  it("keeps its checks and scans to the change's concurrency", async () => {
    const id = 'gate-bounded';
    slowGate.add(id);
    const many = ['prov', 'cons', 'c3', 'c4', 'c5'].map((r, i) =>
      task(r, i === 0 ? { provides: ['api'] } : { consumes: ['api'] }),
    );
    const contracts = ['api', 'api2', 'api3'].map((name) => ({ ...contract, name }));
    const result = await run({ ...change(id, many, 2), gate: gateOf(many, { contracts }) });
    expect(result.status).toBe('succeeded');
    expect(trace(id).gate).toHaveLength(3 + 5);
    expect(trace(id).gateMaxActive).toBe(2);
  });

  it('does not send a steps-mode repo back for a fix round, even with rounds left', async () => {
    const id = 'gate-steps-no-rounds';
    verdicts.set(id, (input) => ({
      ...passed(input),
      status: 'mismatch',
      problems: [
        {
          kind: 'mismatch',
          rule: 'field-missing',
          file: 'uses.json',
          location: 'GET /things',
          message: 'cons reads "name", which GET /things no longer returns',
          repo: 'cons',
          consumer: 'cons',
        },
      ],
      blame: ['cons'],
    }));
    const result = await run({ ...change(id, repos()), gate: gateOf(repos()) });
    expect(result.status).toBe('blocked');
    expect(trace(id).gate.filter((g) => g.startsWith('contract'))).toHaveLength(1);
    expect(trace(id).calls.filter((c) => c === 'prepare:cons')).toHaveLength(1);
  });
});

describe('a change in pages', () => {
  const fleet = (n: number) => Array.from({ length: n }, (_, i) => task(`svc-${String(i).padStart(4, '0')}`));
  const paged = (changeId: string, n: number, pageSize: number, concurrency = 8) =>
    inPages(blobs(), { ...change(changeId, fleet(n), concurrency), pageSize });
  const coordinatorHistory = (changeId: string) =>
    env.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();

  it("runs its repos page by page and links each page's pull requests, naming the change's size", async () => {
    const id = 'pages-a';
    const input = await paged(id, 12, 5);
    expect(input.repos).toEqual([]);
    expect(input.pages?.pages.map((p) => p.repos)).toEqual([5, 5, 2]);
    const result = await run(input);
    expect(result.status).toBe('succeeded');
    expect(result.summary).toContain('12 linked pull requests open across 3 pages');
    expect(result.repos).toEqual([]);
    expect(result.pages?.map((p) => p.counts.green)).toEqual([5, 5, 2]);
    expect(result.pages?.map((p) => p.pullRequests?.opened)).toEqual([5, 5, 2]);
    expect(result.metrics.repos).toBe(12);
    expect(result.metrics.resolved).toBe(12);
    const t = trace(id);
    expect(new Set(t.opened).size).toBe(12);
    // Each body links the siblings of its page and says how large the change is.
    const first = t.linked.find((l) => l.repo === 'svc-0000');
    expect(first?.siblings.sort()).toEqual(['svc-0000', 'svc-0001', 'svc-0002', 'svc-0003', 'svc-0004']);
    expect(first?.total).toBe(12);
    expect(t.removed).toHaveLength(12);
    // The coordinator starts pages, never a repo's workflow.
    const history = await coordinatorHistory(id);
    const children = (history.events ?? []).flatMap((e) =>
      e.startChildWorkflowExecutionInitiatedEventAttributes
        ? [e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? '']
        : [],
    );
    expect(children.sort()).toEqual(
      [0, 1, 2].flatMap((i) => [pageWorkflowId(id, 'publish', i), pageWorkflowId(id, 'run', i)]).sort(),
    );
    // The status view counts instead of listing.
    const view = await env.client.workflow.getHandle(changeWorkflowId(id)).query(changeStatusQuery);
    expect(view.repos).toEqual([]);
    expect(view.paged?.counts).toEqual({ green: 12 });
    expect(view.paged?.pullRequests).toBe(12);
  });

  it('fails naming the failed repos; a resume keeps the green ones and redoes only those', async () => {
    const id = 'pages-b';
    behaviours.set(id, async (input) =>
      input.repo === 'svc-0006' && input.kind === 'test' ? { ...ok('FAIL'), exitCode: 1 } : ok(),
    );
    const input = await paged(id, 9, 4);
    const result = await run(input);
    expect(result.status).toBe('failed');
    expect(result.summary).toContain('1 of 9 repos failed (svc-0006 failed at tests)');
    expect(result.pages?.[1]?.failures.map((f) => f.repo)).toEqual(['svc-0006']);
    expect(trace(id).opened).toEqual([]);

    behaviours.delete(id);
    const before = trace(id).calls.filter((c) => c.startsWith('run:')).length;
    const previousPages = await Promise.all(
      [0, 1, 2].map(
        (i) => env.client.workflow.getHandle(pageWorkflowId(id, 'run', i)).result() as Promise<PageSummary>,
      ),
    );
    await env.client.workflow.getHandle(changeWorkflowId(id)).result();
    const resumed = await run({ ...input, previousPages });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.pages?.flatMap((p) => p.counts.green ?? 0)).toEqual([4, 4, 1]);
    const again = trace(id)
      .calls.filter((c) => c.startsWith('run:'))
      .slice(before);
    expect(new Set(again.map((c) => c.split(':')[1]))).toEqual(new Set(['svc-0006']));
    expect(new Set(trace(id).opened).size).toBe(9);
  });

  it("keeps the coordinator's history and payloads bounded: a few hundred repos cost it what a few dozen do", async () => {
    const small = await run(await paged('pages-60', 60, 20, 16));
    const large = await run(await paged('pages-300', 300, 100, 16));
    expect([small.status, large.status]).toEqual(['succeeded', 'succeeded']);
    expect(large.summary).toContain('300 linked pull requests open across 3 pages');
    const s = historyBounds(await coordinatorHistory('pages-60'));
    const l = historyBounds(await coordinatorHistory('pages-300'));
    // Three pages either way: five times the repos, the same events, about the same bytes.
    expect(l.events).toBeLessThanOrEqual(s.events + 12);
    expect(l.events).toBeLessThan(150);
    expect(l.bytes).toBeLessThan(64 * 1024);
    expect(l.largestPayload).toBeLessThan(16 * 1024);
    // A page holds its own repos: bounded by the page size, well under the payload limit.
    const page = historyBounds(
      await env.client.workflow.getHandle(pageWorkflowId('pages-300', 'run', 0)).fetchHistory(),
    );
    expect(page.largestPayload).toBeLessThan(256 * 1024);
    expect(page.bytes).toBeLessThan(4 * 1024 * 1024);
  }, 240_000);
});
