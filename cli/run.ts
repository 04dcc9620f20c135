/**
 * What `lockstep run` (and `demo`, `resume`, `eval`) shows of a change: its progress while it
 * runs and its result. Starting and following it is client/start.ts.
 */
import type { OnProgress } from '../client/follow.ts';
import type { ChangeResult } from '../core/change.ts';
import { ProgressPrinter, renderResult } from './progress.ts';

/** Progress on stderr: drawn in place on a terminal, one line per step change elsewhere. */
export function progressOnStderr(): OnProgress {
  const printer = new ProgressPrinter(process.stderr);
  return (view) => printer.update(view);
}

export function printResult(result: ChangeResult, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(jsonResult(result), null, 2)}\n`);
  else process.stderr.write(`${renderResult(result)}\n`);
}

/** The JSON document of `run --json` and `status --json`. */
export function jsonResult(result: ChangeResult): object {
  return {
    changeId: result.changeId,
    title: result.title,
    status: result.status,
    summary: result.summary,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    mergeOrder: result.mergeOrder,
    metrics: result.metrics,
    plan: result.plan,
    gate: result.gate ?? null,
    bump: result.bump ?? null,
    // A change in pages: each page's summary (counts, first failures, results by reference); `repos` is empty.
    pages: result.pages ?? null,
    repos: result.repos.map((r) => ({
      repo: r.repo,
      status: r.status,
      mode: r.mode ?? 'steps',
      branch: r.branch,
      baseCommit: r.baseCommit,
      commit: r.commit,
      changedFiles: r.changedFiles,
      tests: r.tests,
      steps: r.steps,
      attempts: r.attempts,
      durationMs: r.durationMs,
      pullRequest: r.pullRequest,
      error: r.error,
      agent: r.agent ?? null,
      baselineTests: r.baselineTests ?? null,
      regression: r.regression ?? false,
      bump: r.bump ?? null,
    })),
  };
}
