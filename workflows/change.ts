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
  ChangePhase,
  ChangeResult,
  ChangeStatus,
  ChangeStatusView,
  PullRequestRef,
  RepoOutcome,
  RepoResult,
  RepoStatusView,
  RepoTask,
} from './types.ts';
import { repoWorkflowId } from './types.ts';

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
