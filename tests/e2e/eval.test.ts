/**
 * `lockstep eval` on the bundled suite: its reference solutions resolve every task and none of
 * its hidden checks passes on the untouched repos, so each check can both pass and fail; an
 * agent run (a scripted model) is scored by the same checks.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../../cli/eval.ts';
import { projectRoot } from '../../config/paths.ts';
import type { FakeOpenAI, ScriptedTurn } from '../fakes/openai-server.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const suite = join(projectRoot, 'examples', 'eval', 'demo-fleet.yaml');
let h: Harness;

beforeAll(async () => {
  h = await startHarness('eval', { worker: false, fakeModel: true });
});

afterAll(async () => {
  await h?.close();
});

/** The harness's strict model endpoint. */
function fake(): FakeOpenAI {
  if (!h.fake) throw new Error('the harness has no model endpoint');
  return h.fake;
}

describe('lockstep eval', () => {
  it('the suite has at least five tasks, covering every repo and at least one cross-repo task', async () => {
    const doc = parse(await readFile(suite, 'utf8')) as { tasks: { repos: { name: string }[] }[] };
    expect(doc.tasks.length).toBeGreaterThanOrEqual(5);
    const repos = new Set(doc.tasks.flatMap((t) => t.repos.map((r) => r.name)));
    expect([...repos].sort()).toEqual(['billing', 'catalog', 'storefront']);
    expect(doc.tasks.some((t) => t.repos.length > 1)).toBe(true);
  });

  it('no hidden check passes on the untouched repos (--baseline)', async () => {
    const { code, stdout } = await h.cli(['eval', suite, '--baseline', '--json']);
    const report = JSON.parse(stdout) as EvalReport;
    expect(report.tasks.length).toBeGreaterThanOrEqual(5);
    for (const task of report.tasks)
      for (const check of task.checks)
        expect({ task: task.task, repo: check.repo, passed: check.passed }).toMatchObject({ passed: false });
    expect(report.summary.resolved).toBe(0);
    expect(code).toBe(0);
  });

  it('the reference solutions resolve every task (--reference)', async () => {
    const { code, stdout, stderr } = await h.cli(['eval', suite, '--reference', '--json']);
    const report = JSON.parse(stdout) as EvalReport;
    const unresolved = report.tasks
      .filter((t) => !t.resolved)
      .map((t) => ({ task: t.task, status: t.changeStatus, checks: t.checks }));
    expect(unresolved, stderr.slice(-2000)).toEqual([]);
    expect(report.summary).toMatchObject({ resolveRate: 1, regressionRate: 0 });
    expect(code).toBe(0);
  });

  it('scores an agent: a scripted model that solves one task and gives up on another', async () => {
    const doc = parse(await readFile(suite, 'utf8')) as {
      tasks: { id: string; repos: { name: string }[]; reference: Record<string, { run: string }[]> }[];
    };
    const [solved, failed] = doc.tasks.filter((t) => t.repos.length === 1);
    if (!solved || !failed) throw new Error('the suite needs two single-repo tasks');
    const repo = solved.repos[0]?.name ?? '';
    const steps = (solved.reference[repo] ?? []).map((s) => s.run).join('\n');
    const turn = (name: string, args: object): ScriptedTurn => ({
      reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
      usage: { prompt_tokens: 200, completion_tokens: 20 },
    });
    fake().script('eval-agent', [
      turn('run_command', { command: steps }),
      turn('run_tests', {}),
      turn('finish', { summary: 'solved' }),
      // The second task: the model never changes anything and runs out of turns.
      ...Array.from({ length: 3 }, () => turn('list_directory', { path: '.' })),
    ]);
    const config = join(h.fleet.root, 'repos.config.json');
    const raw = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    const evalConfig = join(h.fleet.root, 'eval.config.json');
    await writeFile(
      evalConfig,
      JSON.stringify({ ...raw, models: { agent: 'eval-agent', coordinator: 'eval-agent' }, budgets: { turns: 3 } }),
    );
    const { code, stdout, stderr } = await h.cli(
      ['eval', suite, '--json', '-c', evalConfig, '--task', solved.id, failed.id],
      { OPENAI_API_KEY: fake().apiKey, OPENAI_BASE_URL: fake().baseURL },
    );
    expect(fake().violations).toEqual([]);
    const report = JSON.parse(stdout) as EvalReport;
    expect(
      report.tasks.map((t) => [t.task, t.resolved]),
      stderr.slice(-2000),
    ).toEqual([
      [solved.id, true],
      [failed.id, false],
    ]);
    expect(report.summary).toMatchObject({
      tasks: 2,
      resolved: 1,
      resolveRate: 0.5,
      meanTurns: 3,
      tokensPerResolved: 1320,
    });
    expect(code).toBe(0);
  });
});
