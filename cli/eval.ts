/**
 * `lockstep eval <suite>`: runs every task of a suite as a change, then its hidden checks in a
 * sandbox on the task's branch, and reports resolve rate, mean agent turns, tokens per resolved
 * task and regression rate. `--reference` runs the suite's own solutions instead of the agents
 * (every task must resolve); `--baseline` runs the checks on the untouched base (none may pass).
 */
import type { EvalTask } from '../config/eval.ts';
import { loadEvalSuite, loadReposConfig, type LoadedConfig } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import { changeBranch } from '../core/ids.ts';
import type { ChangeResult } from '../core/change.ts';
import type { RepoTask } from '../core/repo.ts';
import { EXIT } from './errors.ts';
import { changeInput } from '../core/inputs.ts';
import { openTemporal } from '../client/connection.ts';
import { runHiddenCheck, type CheckOutcome } from '../client/machine/eval-checks.ts';
import { executeChange } from '../client/start.ts';
import { ensureWorker } from '../client/worker.ts';
import { progressOnStderr } from './run.ts';

export type { CheckOutcome } from '../client/machine/eval-checks.ts';

export type EvalMode = 'agent' | 'reference' | 'baseline';

export interface EvalOptions {
  suiteFile: string;
  configFile: string;
  stateDir: string;
  mode: EvalMode;
  worker: 'auto' | 'never';
  /** Only these task ids (all when empty). */
  only: string[];
  log: (line: string) => void;
}

export interface TaskOutcome {
  task: string;
  changeId: string;
  changeStatus: ChangeResult['status'] | 'not-run';
  resolved: boolean;
  turns: number;
  tokens: number;
  regressions: number;
  durationMs: number;
  checks: CheckOutcome[];
}

export interface EvalReport {
  suite: string;
  mode: EvalMode;
  tasks: TaskOutcome[];
  summary: {
    tasks: number;
    resolved: number;
    resolveRate: number;
    meanTurns: number;
    tokensPerResolved: number | null;
    regressionRate: number;
  };
}

export const evalChangeId = (suite: string, task: string): string =>
  `eval-${suite}-${task}`.slice(0, 63).replace(/-+$/, '');

export async function runEval(options: EvalOptions): Promise<{ report: EvalReport; exitCode: number }> {
  const loaded = await loadReposConfig(options.configFile);
  const suite = await loadEvalSuite(options.suiteFile, loaded);
  const tasks = suite.tasks.filter((t) => options.only.length === 0 || options.only.includes(t.id));
  const outcomes: TaskOutcome[] = [];

  if (options.mode === 'baseline') {
    for (const task of tasks) {
      options.log(`${task.id}: hidden checks on the untouched base`);
      const checks = await inSequence(task.checks, (c) =>
        runHiddenCheck(loaded, options.stateDir, evalChangeId(suite.name, task.id), c, null),
      );
      outcomes.push({
        task: task.id,
        changeId: '',
        changeStatus: 'not-run',
        resolved: checks.every((c) => c.passed),
        turns: 0,
        tokens: 0,
        regressions: 0,
        durationMs: 0,
        checks,
      });
    }
  } else {
    const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
    const worker = await ensureWorker(session, options, options.mode === 'agent').catch(async (err: unknown) => {
      await session.close();
      throw err;
    });
    try {
      for (const task of tasks) {
        const changeId = evalChangeId(suite.name, task.id);
        options.log(`${task.id}: running as change ${changeId} (${options.mode})`);
        const input = changeInput(
          loaded,
          { id: changeId, title: task.title, description: task.description },
          taskRepos(loaded, task, changeId, options.mode),
        );
        const result = await executeChange(
          session,
          input,
          { rerun: true, log: options.log, onProgress: progressOnStderr() },
          worker,
        );
        const checks = await inSequence(task.checks, async (c) => {
          const repo = result.repos.find((r) => r.repo === c.repo);
          if (!repo || repo.status !== 'green') {
            return {
              repo: c.repo,
              passed: false,
              exitCode: null,
              skipped: `repo ${repo?.status ?? 'missing'}: no branch to check`,
              outputTail: '',
            };
          }
          return runHiddenCheck(loaded, options.stateDir, changeId, c, repo.branch);
        });
        outcomes.push({
          task: task.id,
          changeId,
          changeStatus: result.status,
          resolved: result.status === 'succeeded' && checks.every((c) => c.passed),
          turns: result.metrics.turns,
          tokens: result.metrics.usage.prompt + result.metrics.usage.completion,
          regressions: result.metrics.regressions,
          durationMs: result.metrics.durationMs,
          checks,
        });
      }
    } finally {
      await worker?.stop();
      await session.close();
    }
  }

  const report: EvalReport = { suite: suite.name, mode: options.mode, tasks: outcomes, summary: summarize(outcomes) };
  // The suite proves itself: its solutions must all resolve, and no check may pass on the base.
  const ok =
    options.mode === 'reference'
      ? report.summary.resolved === outcomes.length
      : options.mode === 'baseline'
        ? report.summary.resolved === 0
        : true;
  return { report, exitCode: ok ? EXIT.ok : EXIT.changeFailed };
}

/** Checks of one task share a sandbox name per repo, so they run one after another. */
async function inSequence<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

function taskRepos(loaded: LoadedConfig, task: EvalTask, changeId: string, mode: EvalMode): RepoTask[] {
  const change = {
    id: changeId,
    title: task.title,
    description: task.description,
    repos: task.repos.map((r) =>
      mode === 'reference'
        ? { name: r.name, steps: task.reference[r.name] ?? [] }
        : { name: r.name, ...(r.instructions ? { instructions: r.instructions } : {}) },
    ),
  };
  return resolveTasks(loaded, change).map((t) => ({ ...t, branch: changeBranch(changeId) }));
}

export function summarize(outcomes: TaskOutcome[]): EvalReport['summary'] {
  const resolved = outcomes.filter((o) => o.resolved);
  const n = outcomes.length || 1;
  const tokens = outcomes.reduce((sum, o) => sum + o.tokens, 0);
  return {
    tasks: outcomes.length,
    resolved: resolved.length,
    resolveRate: resolved.length / n,
    meanTurns: outcomes.reduce((sum, o) => sum + o.turns, 0) / n,
    tokensPerResolved: resolved.length > 0 ? tokens / resolved.length : null,
    regressionRate: outcomes.filter((o) => o.regressions > 0).length / n,
  };
}

export function renderEval(report: EvalReport): string {
  const width = Math.max(4, ...report.tasks.map((t) => t.task.length));
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const lines = [
    `suite ${report.suite} (${report.mode})`,
    `  ${'task'.padEnd(width)}  resolved  turns  tokens   checks`,
    ...report.tasks.map((t) => {
      const checks = t.checks.map((c) => `${c.repo}:${c.passed ? 'pass' : c.skipped ? 'skip' : 'fail'}`).join(' ');
      return `  ${t.task.padEnd(width)}  ${(t.resolved ? 'yes' : 'no').padEnd(8)}  ${String(t.turns).padStart(5)}  ${String(t.tokens).padStart(7)}  ${checks}`;
    }),
    '',
    `  resolve rate ${pct(report.summary.resolveRate)} (${report.summary.resolved}/${report.summary.tasks}), mean turns ${report.summary.meanTurns.toFixed(1)}, ` +
      `tokens per resolved task ${report.summary.tokensPerResolved === null ? '-' : Math.round(report.summary.tokensPerResolved)}, regression rate ${pct(report.summary.regressionRate)}`,
  ];
  return lines.join('\n');
}
