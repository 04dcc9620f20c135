/**
 * `lockstep audit` against real histories: a real Temporal server and worker, Docker sandboxes,
 * git remotes and the strict fake OpenAI server. Each audit is checked against the history it
 * was built from (every scheduled activity exactly once, tokens, tool calls in order, exit
 * codes); the exported histories replay against the workflow bundle; the HTML page renders in
 * headless Chromium; hostile strings come out escaped.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAudit,
  exportHistories,
  historyFileName,
  renderAuditHtml,
  renderAuditMarkdown,
  renderAuditText,
  type AuditEntry,
  type AuditReport,
} from '../../cli/audit/index.ts';
import type { TemporalSession } from '../../client/connection.ts';
import { AgentBudgets, ModelsConfig } from '../../config/repos.ts';
import { projectRoot } from '../../config/paths.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate } from '../../core/messages.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeInput, ChangeResult, ChangeStatusView } from '../../core/change.ts';
import { workflowBundle } from '../../workers/worker.ts';
import type { FakeOpenAI, ScriptedTurn } from '../fakes/openai-server.ts';
import { billingCodeSteps, exampleChangeAs } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { plainSettings } from '../../config/temporal.ts';

const exec = promisify(execFile);
const HOSTILE = `<script>alert(1)</script>`;

let h: Harness;
let fake: FakeOpenAI;
let session: TemporalSession;
let scratch: string;
const reports = new Map<string, AuditReport>();

/** Whether an executable of this name is on PATH (without running it). */
function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** An example change under an id of this file's own (`<id>-audit`: see exampleChangeAs). */
const stepsInput = async (file: string): Promise<ChangeInput> =>
  h.changeInput(await exampleChangeAs(file, `${file.replace(/\.yaml$/, '')}-audit`, h.fleet.root));

async function agentInput(changeId: string, model: string): Promise<ChangeInput> {
  const file = join(h.fleet.root, `${changeId}.json`);
  await writeFile(
    file,
    JSON.stringify({
      id: changeId,
      title: 'Integer cents in billing, audited',
      description: 'Prices become integer cents.',
      repos: [{ name: 'billing', instructions: 'Read price_cents as int64.' }],
    }),
  );
  const input = await h.changeInput(file, { concurrency: 1 });
  return {
    ...input,
    models: ModelsConfig.parse({ agent: model, coordinator: model }),
    budgets: AgentBudgets.parse({}),
  };
}

/** What the histories themselves say: scheduled activities by type, read without the audit's code. */
async function scheduledByType(report: AuditReport): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const w of report.workflows) {
    const history = await h.env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

/** Entries that stand for an activity (retries and failures are extra entries about one). */
const activityEntries = (r: AuditReport): AuditEntry[] =>
  r.entries.filter((e) => typeof e.details.activity === 'string' && e.kind !== 'retry' && e.kind !== 'failure');

function entriesByType(r: AuditReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of activityEntries(r))
    counts[String(e.details.activity)] = (counts[String(e.details.activity)] ?? 0) + 1;
  return counts;
}

/** Polls the coordinator's status query until the predicate holds. */
async function waitFor(
  handle: WorkflowHandle<typeof changeWorkflow>,
  predicate: (view: ChangeStatusView) => boolean,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const view = await handle.query(changeStatusQuery);
    if (predicate(view)) return;
    if (view.status !== 'running' || Date.now() > deadline)
      throw new Error(`gave up waiting: the change is ${view.status}, phase ${view.phase}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const waitForDecision = (handle: WorkflowHandle<typeof changeWorkflow>) =>
  waitFor(handle, (view) => view.awaiting?.kind === 'decision');

const call = (id: string, name: string, args: object): ScriptedTurn => ({
  reply: { tool_calls: [{ id, name, arguments: JSON.stringify(args) }] },
  usage: { prompt_tokens: 900 + id.length, completion_tokens: 40 + id.length },
});

beforeAll(async () => {
  h = await startHarness('audit-e2e', { fakeModel: true });
  if (!h.fake) throw new Error('the harness has no model endpoint');
  fake = h.fake;
  session = {
    client: h.env.client,
    address: h.env.address,
    namespace: 'default',
    settings: plainSettings(h.env.address),
    devServer: null,
    close: async () => undefined,
  };
  scratch = await mkdtemp(join(tmpdir(), 'lockstep-audit-'));
});

afterAll(async () => {
  await h?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('lockstep audit', () => {
  it('audits the steps-mode demo change: every scheduled activity once, commands and tests with their exit codes, the PRs', async () => {
    const input = await stepsInput('price-cents.yaml');
    const result: ChangeResult = await h.env.client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: h.queue,
      args: [input],
    });
    expect(result.status).toBe('succeeded');

    const report = await buildAudit(session, input.changeId);
    reports.set(input.changeId, report);
    expect(report.status).toBe('succeeded');
    expect(report.startedAt).not.toBeNull();
    expect(report.closedAt).not.toBeNull();
    expect(report.workflows.map((w) => [w.workflowId, w.type, w.status]).sort()).toEqual(
      [
        ['change/price-cents-audit', 'changeWorkflow', 'completed'],
        ['change/price-cents-audit/repo/billing', 'repoWorkflow', 'completed'],
        ['change/price-cents-audit/repo/catalog', 'repoWorkflow', 'completed'],
        ['change/price-cents-audit/repo/storefront', 'repoWorkflow', 'completed'],
      ].sort(),
    );
    expect(entriesByType(report)).toEqual(await scheduledByType(report));
    expect(report.entries.map((e) => e.at)).toEqual([...report.entries.map((e) => e.at)].sort());
    expect(report.totals).toMatchObject({
      modelCalls: 0,
      toolCalls: 0,
      promptTokens: 0,
      completionTokens: 0,
      retries: 0,
      failures: 0,
    });

    for (const repo of result.repos) {
      const commands = report.entries.filter(
        (e) => e.repo === repo.repo && (e.kind === 'command' || e.kind === 'test'),
      );
      expect(
        commands.map((e) => [
          e.kind === 'test' ? 'test' : 'step',
          e.details.name,
          e.details.exitCode,
          e.details.timedOut,
        ]),
      ).toEqual(repo.steps.map((s) => [s.kind === 'test' ? 'test' : 'step', s.name, s.exitCode, s.timedOut]));
      const opened = report.entries.filter((e) => e.repo === repo.repo && e.details.activity === 'openPullRequest');
      expect(opened.map((e) => [e.kind, e.details.number, e.details.url])).toEqual([
        ['forge', repo.pullRequest?.number, repo.pullRequest?.url],
      ]);
      expect(
        report.entries.filter((e) => e.repo === repo.repo && e.details.activity === 'linkPullRequest'),
      ).toHaveLength(1);
    }
    expect(report.totals.commands).toBe(result.repos.reduce((n, r) => n + r.steps.length, 0));

    const text = renderAuditText(report);
    expect(text).toMatch(/^change price-cents-audit: succeeded/);
    for (const repo of ['catalog', 'storefront', 'billing']) expect(text).toContain(repo);
    expect(renderAuditMarkdown(report)).toContain('## Timeline');
  });

  it('audits a failed change with two human decisions: both runs of the retried repo, failing test runs with exit codes, the failures, no PR', async () => {
    const input: ChangeInput = { ...(await stepsInput('price-cents-broken.yaml')), decisionTimeoutSeconds: 120 };
    const handle = await h.env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(input.changeId),
      taskQueue: h.queue,
      args: [input],
    });
    // billing fails its tests; a person retries it (it fails the same way), then aborts the change.
    await waitForDecision(handle);
    expect(
      await handle.executeUpdate(decideUpdate, {
        args: [{ action: 'retry', repo: 'billing', by: 'auditor', reason: 'flaky?' }],
      }),
    ).toMatchObject({ accepted: true });
    await waitForDecision(handle);
    expect(
      await handle.executeUpdate(decideUpdate, {
        args: [{ action: 'abort', repo: null, by: 'auditor', reason: 'testdata still says price' }],
      }),
    ).toMatchObject({ accepted: true });
    const result = await handle.result();
    expect(result.status).toBe('failed');

    const report = await buildAudit(session, input.changeId);
    reports.set(input.changeId, report);
    expect(report.status).toBe('failed');
    const billingRuns = report.workflows.filter((w) => w.workflowId === 'change/price-cents-broken-audit/repo/billing');
    expect(billingRuns).toHaveLength(2);
    expect(new Set(billingRuns.map((w) => w.runId)).size).toBe(2);
    expect(report.workflows).toHaveLength(5);
    expect(entriesByType(report)).toEqual(await scheduledByType(report));

    const billing = result.repos.find((r) => r.repo === 'billing');
    expect(billing?.status).toBe('failed');
    const billingTests = report.entries.filter((e) => e.repo === 'billing' && e.kind === 'test');
    expect(billingTests.map((e) => [e.details.name, e.details.exitCode])).toEqual([
      ['tests', billing?.tests?.exitCode],
      ['tests', billing?.tests?.exitCode],
    ]);
    expect(billingTests[0]?.details.exitCode).not.toBe(0);

    const human = report.entries.filter((e) => e.kind === 'human');
    expect(human.map((e) => [e.repo, e.details.action, e.details.by, e.details.outcome, e.details.answer])).toEqual([
      ['billing', 'retry', 'auditor', 'accepted', 'retrying billing'],
      [null, 'abort', 'auditor', 'accepted', 'aborting the change'],
    ]);
    const failures = report.entries.filter((e) => e.kind === 'failure');
    expect(failures.map((e) => [e.repo, e.title])).toEqual([
      ['billing', `billing failed at tests: ${billing?.error?.message ?? ''}`],
      ['billing', `billing failed at tests: ${billing?.error?.message ?? ''}`],
      [null, `change failed: ${result.summary}`],
    ]);
    expect(result.summary).toMatch(/^aborted by auditor/);
    expect(report.totals.failures).toBe(3);
    expect(report.entries.filter((e) => e.kind === 'forge')).toEqual([]);
  });

  it('audits an agent-mode change while it runs and after: model calls and tokens, tool calls in order, a failed tool, a retry, a human message', async () => {
    const changeId = `audit-agent`;
    const model = `audit-agent-model`;
    const steps = await billingCodeSteps();
    const broken = `echo '${HOSTILE}'; printf 'package billing\\n\\nimport "testing"\\n\\nfunc TestAuditBroken(t *testing.T) { t.Fatal("broken on purpose") }\\n' > broken_test.go`;
    const unavailable: ScriptedTurn = {
      reply: { status: 503, error: { message: 'The server is overloaded' }, headers: { 'retry-after': '0' } },
    };
    const toolCalls: [string, string, object][] = [
      ['call_list', 'list_directory', { path: '.' }],
      ['call_missing', 'read_file', { path: 'no-such-file.go', start_line: null, end_line: null }],
      ['call_break', 'run_command', { command: broken }],
      ['call_red', 'run_tests', {}],
      ['call_fix', 'run_command', { command: `rm broken_test.go\n${steps.join('\n')}` }],
      ['call_green', 'run_tests', {}],
      ['call_finish', 'finish', { summary: 'Prices are integer cents in billing.' }],
    ];
    const turns = toolCalls.map(([id, name, args]) => call(id, name, args));
    // Two 503s use up the client's own retry: the model-turn activity fails once and Temporal retries it.
    fake.script(model, [...turns.slice(0, 2), unavailable, unavailable, ...turns.slice(2)]);

    const input: ChangeInput = {
      ...(await agentInput(changeId, model)),
      approvals: { plan: false, publish: true, timeoutSeconds: 300 },
    };
    const handle = await h.env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(changeId),
      taskQueue: h.queue,
      args: [input],
    });
    // A person's decision, as the CLI will send it; the coordinator may not handle it yet, but history records it.
    await handle.signal('decide', {
      action: 'retry',
      repo: 'billing',
      by: 'auditor',
      reason: `looked fine ${HOSTILE}`,
    });

    // While it runs: the audit reads what is there so far.
    let live: AuditReport | null = null;
    for (let i = 0; i < 300 && !live; i++) {
      const r = await buildAudit(session, changeId);
      if (
        r.entries.some((e) => e.kind === 'tool') &&
        r.workflows.some((w) => w.type === 'agentWorkflow' && w.status === 'running')
      )
        live = r;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(live).not.toBeNull();
    expect(live?.status).toBe('running');
    expect(live?.closedAt).toBeNull();
    expect(live?.workflows.find((w) => w.type === 'agentWorkflow')?.status).toBe('running');

    // At the publish gate the change is still running, its repo and agent are done.
    await waitFor(handle, (view) => view.awaiting?.kind === 'approval');
    const gated = await buildAudit(session, changeId);
    expect(gated.status).toBe('running');
    expect(gated.workflows.map((w) => w.status)).toEqual(['running', 'completed', 'completed']);
    expect(gated.entries.filter((e) => e.kind === 'forge')).toEqual([]);
    await handle.executeUpdate(approvalUpdate, {
      args: [{ gate: 'publish', approved: true, by: 'auditor', reason: `ship it ${HOSTILE}` }],
    });

    const result = await handle.result();
    expect(fake.violations).toEqual([]);
    expect(fake.remaining(model)).toBe(0);
    expect(result.status).toBe('succeeded');

    const report = await buildAudit(session, changeId);
    reports.set(changeId, report);
    expect(report.status).toBe('succeeded');
    expect(report.workflows.map((w) => w.type)).toEqual(['changeWorkflow', 'repoWorkflow', 'agentWorkflow']);
    expect(entriesByType(report)).toEqual(await scheduledByType(report));

    // Model calls: one entry per turn (the retried one too, once), tokens as the run counted them.
    const modelTurns = activityEntries(report).filter((e) => e.details.activity === 'modelTurn');
    expect(modelTurns.map((e) => e.kind)).toEqual(toolCalls.map(() => 'model'));
    expect(modelTurns.every((e) => e.details.model === model && typeof e.details.promptHash === 'string')).toBe(true);
    const tokens = (key: string) => modelTurns.reduce((n, e) => n + Number(e.details[key]), 0);
    expect(tokens('promptTokens')).toBe(result.metrics.usage.prompt);
    expect(tokens('completionTokens')).toBe(result.metrics.usage.completion);
    expect(report.totals).toMatchObject({
      modelCalls: toolCalls.length,
      promptTokens: result.metrics.usage.prompt,
      completionTokens: result.metrics.usage.completion,
    });

    // Tool calls: the scripted ones, in order, with their argument previews and outcomes.
    const tools = report.entries.filter((e) => e.kind === 'tool');
    expect(tools.map((e) => [e.details.tool, e.details.args, e.details.callId])).toEqual(
      toolCalls.map(([id, name, args]) => [name, JSON.stringify(args).slice(0, 160), id]),
    );
    expect(tools.map((e) => e.details.ok)).toEqual([true, false, true, false, true, true, true]);
    expect(tools[3]?.details).toMatchObject({ exitCode: 1, testsPassed: false });
    expect(tools[5]?.details).toMatchObject({ exitCode: 0, testsPassed: true });
    expect(tools.every((e) => String(e.details.args).length <= 160)).toBe(true);
    expect(report.totals.toolCalls).toBe(toolCalls.length);

    // The retried model turn.
    const retries = report.entries.filter((e) => e.kind === 'retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]?.details).toMatchObject({ activity: 'modelTurn', attempt: 2 });
    expect(String(retries[0]?.details.lastFailure)).toMatch(/HTTP 503/);
    expect(report.totals.retries).toBe(1);
    expect(report.totals.failures).toBe(0);

    // Test runs in the sandbox: the baseline, the agent's verification and the final run, with exit codes.
    const testRuns = report.entries.filter((e) => e.kind === 'test');
    expect(testRuns.map((e) => [e.details.name, e.details.exitCode])).toEqual([
      ['baseline tests', 0],
      [`agent-verify-${toolCalls.length}`, 0],
      ['tests', 0],
    ]);

    // The signal and the update, each with its time; the update with the workflow's answer.
    const human = report.entries.filter((e) => e.kind === 'human');
    expect(human).toHaveLength(2);
    expect(human[0]).toMatchObject({
      repo: 'billing',
      workflowId: 'change/audit-agent',
      details: { message: 'decide', action: 'retry', by: 'auditor' },
    });
    expect(human[1]).toMatchObject({
      repo: null,
      details: {
        message: 'approval',
        gate: 'publish',
        approved: true,
        by: 'auditor',
        outcome: 'accepted',
        answer: 'publish approved',
      },
    });
    expect(Date.parse(human[1]?.at ?? '')).toBeGreaterThan(Date.parse(tools.at(-1)?.at ?? ''));
    expect(human[1]?.durationMs).toBeGreaterThanOrEqual(0);
    const opened = report.entries.find((e) => e.details.activity === 'openPullRequest');
    expect(Date.parse(opened?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(human[1]?.at ?? ''));

    // For a person to look at: the four renderings of a real run (git-ignored).
    const artifacts = join(projectRoot, '.lockstep', 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await writeFile(join(artifacts, 'audit.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(artifacts, 'audit.txt'), `${renderAuditText(report)}\n`);
    await writeFile(join(artifacts, 'audit.md'), renderAuditMarkdown(report));
    await writeFile(join(artifacts, 'audit.html'), renderAuditHtml(report));

    // The hostile preview went through the whole pipeline: escaped in every rendering.
    const html = renderAuditHtml(report);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toMatch(/<script/i);
    const markdown = renderAuditMarkdown(report);
    expect(markdown).toContain('&lt;script&gt;alert\\(1\\)&lt;/script&gt;');
    expect(markdown).not.toContain(HOSTILE);
  });

  it('exports every run of the three changes as JSON history files that replay without nondeterminism', async () => {
    const histories: { workflowId: string; history: unknown }[] = [];
    for (const [changeId, report] of reports) {
      const dir = join(scratch, 'histories', changeId);
      const paths = await exportHistories(session, changeId, dir);
      expect(paths.map((p) => basename(p)).sort()).toEqual(
        report.workflows.map((w) => historyFileName(w.workflowId, w.runId)).sort(),
      );
      for (const [i, path] of paths.entries()) {
        expect(basename(path)).toMatch(/^change__[A-Za-z0-9._-]+\.json$/);
        const history = historyFromJSON(JSON.parse(await readFile(path, 'utf8')));
        expect(history.events?.length).toBe(report.workflows[i]?.events);
        histories.push({ workflowId: report.workflows[i]?.workflowId ?? '', history });
      }
    }
    expect(histories.length).toBe(4 + 5 + 3);
    const results = Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories);
    const replayed: string[] = [];
    for await (const r of results) {
      expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
      replayed.push(r.workflowId);
    }
    expect(replayed.sort()).toEqual(histories.map((h) => h.workflowId).sort());
  });

  const chromium = onPath('chromium');

  it.runIf(chromium)('renders the HTML page in headless Chromium', async () => {
    const report = reports.get('audit-agent');
    if (!report) throw new Error('the agent change was not audited');
    const page = join(scratch, 'audit.html');
    const png = join(scratch, 'audit.png');
    await writeFile(page, renderAuditHtml(report));
    await exec(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${join(scratch, 'chromium-profile')}`,
        `--screenshot=${png}`,
        '--window-size=1400,900',
        `file://${page}`,
      ],
      { timeout: 90_000 },
    );
    expect((await stat(png)).size).toBeGreaterThan(10 * 1024);
    const artifacts = join(projectRoot, '.lockstep', 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await copyFile(png, join(artifacts, 'audit.png'));
  });
  if (!chromium)
    console.warn(
      'audit: chromium is not installed (scripts/bootstrap.sh installs it as root on Debian); the screenshot test is skipped',
    );

  it('escapes hostile strings in every field of the HTML page and the Markdown', () => {
    const nasty = `${HOSTILE}<img src=x onerror=alert(2)>"'|\`[link](javascript:alert(3))`;
    const report: AuditReport = {
      changeId: nasty,
      status: nasty,
      startedAt: '2026-01-01T00:00:00.000Z',
      closedAt: '2026-01-01T00:00:10.000Z',
      workflows: [{ workflowId: nasty, runId: nasty, type: nasty, status: nasty, events: 3 }],
      entries: (['model', 'tool', 'human', 'failure', 'retry', 'repo'] as const).map((kind, i) => ({
        at: `2026-01-01T00:00:0${i}.000Z`,
        workflowId: nasty,
        repo: i % 2 === 0 ? nasty : null,
        kind,
        title: nasty,
        details: { activity: kind === 'tool' ? 'runAgentTool' : null, [nasty]: nasty, args: nasty, ok: false },
        durationMs: kind === 'tool' ? 1500 : null,
      })),
      totals: {
        modelCalls: 1,
        toolCalls: 1,
        promptTokens: 0,
        completionTokens: 0,
        commands: 0,
        retries: 1,
        failures: 1,
      },
    };
    const html = renderAuditHtml(report);
    expect(html).not.toMatch(/<script|<img|<a\s/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('&#60;img src=x onerror=alert(2)&#62;&#34;&#39;');
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'`);
    const markdown = renderAuditMarkdown(report);
    expect(markdown).not.toMatch(/<script|<img/i);
    expect(markdown).toContain(
      '&lt;script&gt;alert\\(1\\)&lt;/script&gt;&lt;img src=x onerror=alert\\(2\\)&gt;"\'\\|\\`\\[link\\]\\(javascript:alert\\(3\\)\\)',
    );
    // Each table row keeps its seven cells: a hostile "|" cannot open another.
    for (const row of markdown.split('\n').filter((l) => l.startsWith('| +')))
      expect(row.split(/(?<!\\)\|/).length).toBe(9);
    const text = renderAuditText({
      ...report,
      entries: report.entries.map((e) => ({ ...e, title: `${e.title}\u001b[2J\u202e` })),
    });
    expect(text.includes('\u001b') || text.includes('\u202e')).toBe(false);
  });
});
