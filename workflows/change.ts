/**
 * The coordinator of one change: fans out one repo workflow per repository (bounded
 * concurrency, providers first), and when every repo is green opens the linked pull requests
 * (create all, then link every body to its siblings). Progress is queryable while it runs.
 */
import {
  ChildWorkflowFailure,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertMemo,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import { changeStatusQuery, repoProgressSignal } from './messages.ts';
import { mergeOrder } from './order.ts';
import { describe, failedBeforeResult, repoWorkflow } from './repo.ts';
import type {
  ChangeInput,
  ChangeMetrics,
  ChangePhase,
  ChangePlan,
  ChangeResult,
  ChangeStatus,
  ChangeStatusView,
  PlanInput,
  PlanTurnResult,
  PullRequestRef,
  RepoOutcome,
  RepoResult,
  RepoStatusView,
  RepoTask,
} from './types.ts';
import { repoWorkflowId } from './types.ts';

const planner = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
});

const forge = proxyActivities<SharedActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8 },
});

export async function changeWorkflow(input: ChangeInput): Promise<ChangeResult> {
  const startedAt = Date.now();
  const order = mergeOrder(input.repos);
  const tasks = order.map((repo) => input.repos.find((t) => t.repo === repo)).filter((t): t is RepoTask => !!t);
  let phase: ChangePhase = 'starting';
  let status: ChangeStatus = 'running';
  let result: ChangeResult | null = null;
  let plan: ChangePlan | null = null;
  const repos = new Map<string, RepoStatusView>(
    tasks.map((t) => [
      t.repo,
      { repo: t.repo, status: 'pending', phase: 'queued', step: null, attempt: 1, startedAt: null, phaseStartedAt: null, finishedAt: null, result: null },
    ]),
  );

  setHandler(changeStatusQuery, (): ChangeStatusView => ({
    changeId: input.changeId,
    title: input.title,
    status,
    phase,
    startedAt,
    mergeOrder: order,
    plan,
    repos: [...repos.values()],
    result,
  }));
  setHandler(repoProgressSignal, (p) => {
    const view = repos.get(p.repo);
    if (!view || view.finishedAt !== null) return;
    view.status = 'running';
    view.phase = p.phase;
    view.step = p.step;
    view.attempt = p.attempt;
    view.phaseStartedAt = p.at;
    view.startedAt ??= p.at;
  });

  if (tasks.some((t) => t.mode === 'agent' && t.instructions === null)) {
    phase = 'planning';
    const planned = await planChange(input, tasks);
    if ('error' in planned) {
      return finishEarly(input, startedAt, order, `planning failed: ${planned.error}`);
    }
    plan = planned.plan;
    for (const task of tasks) {
      const entry = plan.repos.find((r) => r.repo === task.repo);
      if (!entry || task.mode !== 'agent' || task.instructions !== null) continue;
      task.instructions = entry.task;
      task.expectedFiles = entry.files;
      task.acceptance = entry.acceptance;
    }
  }

  phase = 'running';
  const results = new Map<string, RepoResult>();
  const queue = [...tasks];
  const lane = async (): Promise<void> => {
    for (let task = queue.shift(); task; task = queue.shift()) {
      const view = repos.get(task.repo);
      if (view) {
        view.status = 'running';
        view.startedAt ??= Date.now();
      }
      const repoResult = await runRepo(input, task);
      results.set(task.repo, repoResult);
      if (view) {
        view.status = repoResult.status;
        view.phase = 'done';
        view.step = null;
        view.finishedAt = Date.now();
        view.result = { ...repoResult, pullRequest: null };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, input.concurrency), tasks.length) }, lane));

  const ordered = tasks.map((t) => results.get(t.repo)).filter((r): r is RepoResult => !!r);
  const failed = ordered.filter((r) => r.status !== 'green' && r.status !== 'unchanged');
  const toPublish = ordered.filter((r) => r.status === 'green');
  const pullRequests = new Map<string, PullRequestRef>();
  let summary: string;

  if (failed.length > 0) {
    status = 'failed';
    summary = `${failed.map((r) => `${r.repo} ${r.status} at ${r.error?.step ?? 'unknown step'}`).join('; ')}; no pull request opened`;
  } else if (toPublish.length === 0) {
    status = 'succeeded';
    summary = 'no repository changed; nothing to publish';
  } else {
    phase = 'publishing';
    try {
      await publish(input, order, toPublish, pullRequests);
      status = 'succeeded';
      summary = `${toPublish.length} linked pull request${toPublish.length === 1 ? '' : 's'} open`;
    } catch (err) {
      if (isCancellation(err)) throw err;
      status = 'failed';
      summary = `publishing failed: ${describe(err)}`;
    }
  }

  phase = 'done';
  result = {
    changeId: input.changeId,
    title: input.title,
    status,
    summary,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(Date.now()).toISOString(),
    mergeOrder: order,
    plan,
    metrics: metricsOf(ordered, startedAt),
    repos: ordered.map((r): RepoOutcome => ({ ...r, pullRequest: pullRequests.get(r.repo) ?? null })),
  };
  for (const outcome of result.repos) {
    const view = repos.get(outcome.repo);
    if (view) view.result = outcome;
  }
  upsertMemo({ outcome: status, summary });
  return result;
}

async function runRepo(input: ChangeInput, task: RepoTask): Promise<RepoResult> {
  try {
    return await executeChild(repoWorkflow, {
      workflowId: repoWorkflowId(input.changeId, task.repo),
      args: [
        {
          changeId: input.changeId,
          title: input.title,
          description: input.description,
          task,
          maxAttempts: input.maxRepoAttempts ?? 2,
          models: input.models,
          budgets: input.budgets,
        },
      ],
      // Closing the coordinator (cancel, terminate, timeout) cancels the repos, which then
      // remove their sandboxes.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      memo: { changeId: input.changeId, repo: task.repo },
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const message = err instanceof ChildWorkflowFailure ? describe(err.cause ?? err) : describe(err);
    return { ...failedBeforeResult(task, 'workflow', message), attempts: 1, durationMs: 0 };
  }
}

/**
 * Scout the repos to plan (in parallel), then ask the coordinator model for a plan; an answer
 * that does not validate is sent back with its errors, up to `models.planAttempts` times.
 */
async function planChange(input: ChangeInput, tasks: RepoTask[]): Promise<{ plan: ChangePlan } | { error: string }> {
  try {
    return await askForPlan(input, tasks);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { error: describe(err) };
  }
}

async function askForPlan(input: ChangeInput, tasks: RepoTask[]): Promise<{ plan: ChangePlan } | { error: string }> {
  const indexes = await Promise.all(
    tasks.map((t) =>
      planner
        .scoutRepo({ repo: t.repo, url: t.url, baseBranch: t.baseBranch, testCommand: t.sandbox.test, contractPaths: t.contractPaths, model: input.models.agent })
        .catch((err: unknown) => {
          if (isCancellation(err)) throw err;
          return null;
        }),
    ),
  );
  let previous: PlanInput['previous'] = null;
  let errors: string[] = [];
  for (let attempt = 1; attempt <= input.models.planAttempts; attempt++) {
    const answer: PlanTurnResult = await planner.planChange({
      changeId: input.changeId,
      title: input.title,
      description: input.description,
      model: input.models.coordinator,
      timeoutSeconds: input.models.requestTimeoutSeconds,
      repos: tasks.map((t, i) => ({ repo: t.repo, provides: t.provides, consumes: t.consumes, instructions: t.instructions, index: indexes[i] ?? null })),
      previous,
    });
    if (answer.plan) return { plan: answer.plan };
    errors = answer.errors;
    previous = { answer: answer.answer, errors };
  }
  return { error: `the coordinator's plan did not validate after ${input.models.planAttempts} attempts: ${errors.slice(0, 5).join('; ')}` };
}

/** A change that ends before any repo ran (e.g. no valid plan): every repo is reported failed. */
function finishEarly(input: ChangeInput, startedAt: number, order: string[], summary: string): ChangeResult {
  const result: ChangeResult = {
    changeId: input.changeId,
    title: input.title,
    status: 'failed',
    summary,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(Date.now()).toISOString(),
    mergeOrder: order,
    plan: null,
    metrics: metricsOf([], startedAt),
    repos: input.repos.map((t) => ({ ...failedBeforeResult(t, 'planning', summary), attempts: 0, durationMs: 0, pullRequest: null })),
  };
  upsertMemo({ outcome: 'failed', summary });
  return result;
}

export function metricsOf(results: RepoResult[], startedAt: number): ChangeMetrics {
  return {
    repos: results.length,
    resolved: results.filter((r) => r.status === 'green' || r.status === 'unchanged').length,
    regressions: results.filter((r) => r.regression === true).length,
    turns: results.reduce((n, r) => n + (r.agent?.turns ?? 0), 0),
    usage: {
      prompt: results.reduce((n, r) => n + (r.agent?.usage.prompt ?? 0), 0),
      completion: results.reduce((n, r) => n + (r.agent?.usage.completion ?? 0), 0),
    },
    durationMs: Date.now() - startedAt,
  };
}

/** Two phases: find-or-create every PR, then write every body with links to all siblings. */
async function publish(
  input: ChangeInput,
  order: string[],
  repos: RepoResult[],
  pullRequests: Map<string, PullRequestRef>,
): Promise<void> {
  const byRepo = new Map(input.repos.map((t) => [t.repo, t]));
  const prInput = (r: RepoResult) => {
    const task = byRepo.get(r.repo);
    if (!task || !r.commit) throw new Error(`no task or commit for ${r.repo}`);
    return {
      changeId: input.changeId,
      repo: r.repo,
      url: task.url,
      title: input.title,
      description: input.description,
      head: task.branch,
      base: task.baseBranch,
      commit: r.commit,
    };
  };
  const opened = await Promise.all(repos.map(async (r) => [r, await forge.openPullRequest(prInput(r))] as const));
  for (const [r, pr] of opened) pullRequests.set(r.repo, pr);
  const siblings = opened.map(([r, pr]) => ({ repo: r.repo, pullRequest: pr, commit: r.commit ?? '' }));
  await Promise.all(
    opened.map(([r, pr]) => forge.linkPullRequest({ ...prInput(r), pullRequest: pr, mergeOrder: order, siblings })),
  );
}
