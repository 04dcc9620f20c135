/**
 * The repos of a change: one child workflow per repo, in merge order, through `concurrency`
 * lanes. A resume reuses what an earlier run left green; a failed repo waits for a person.
 */
import {
  ChildWorkflowFailure,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import { inLanes } from '../core/lanes.ts';
import { repoWorkflowId } from '../core/ids.ts';
import { describe, failedBeforeResult, repoWorkflow } from './repo.ts';
import type { ChangeState, Ending } from './change-state.ts';
import type { ChangeInput } from '../core/change.ts';
import type { Decision } from '../core/decisions.ts';
import type { RepoResult, RepoTask, RepoWorkflowInput } from '../core/repo.ts';

/** Whether a branch on its remote still points at a commit: git reads, quick, retried often. */
const { branchAt, branchesAt } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8 },
});

/** Runs every repo (reusing those a resume may keep), then lets failed ones wait for a person. */
export async function runRepos(state: ChangeState): Promise<Ending | null> {
  const { input, tasks, results } = state;
  state.phase = 'running';
  // Resume: a repo that was green in an earlier run, with its branch still at that commit, is done.
  const reusable = (task: RepoTask): RepoResult | null => {
    const before = input.previous?.[task.repo];
    const same = task.taskHash === undefined || before?.taskHash === undefined || before.taskHash === task.taskHash;
    return before?.status === 'green' && before.commit !== null && same ? before : null;
  };
  const reuseCheck = (task: RepoTask): Promise<RepoResult | null> => {
    const before = reusable(task);
    if (!before?.commit) return Promise.resolve(null);
    return branchAt({ url: task.url, branch: task.branch, commit: before.commit }).then((at) => (at ? before : null));
  };
  if (patched('rerun-while-checking')) {
    // The repos to redo start at once; the branch checks of the others run meanwhile, in one
    // activity, and a checked repo takes a lane only to be redone (a resume waited for every
    // check first, one activity per repo).
    const candidates = tasks.filter((t) => reusable(t));
    const verdicts =
      candidates.length === 0
        ? Promise.resolve([])
        : branchesAt({
            branches: candidates.map((t) => ({ url: t.url, branch: t.branch, commit: reusable(t)?.commit ?? '' })),
          });
    const checks = new Map(candidates.map((t, i) => [t.repo, verdicts.then((at) => (at[i] ? reusable(t) : null))]));
    const order = [...tasks.filter((t) => !reusable(t)), ...candidates];
    await inLanes(order, input.concurrency, async (task) => {
      const before = await checks.get(task.repo);
      if (before) state.record(task, { ...before, reused: true });
      else await runOne(state, task);
    });
  } else {
    // Runs recorded before: the branch checks first (all at once since
    // patched('parallel-reuse-checks'), one after the other before it), then the repos to redo.
    const toRun: RepoTask[] = [];
    const checks = patched('parallel-reuse-checks') ? await Promise.all(tasks.map(reuseCheck)) : null;
    for (const [i, task] of tasks.entries()) {
      const before = checks ? checks[i] : await reuseCheck(task);
      if (before) state.record(task, { ...before, reused: true });
      else toRun.push(task);
    }
    await runAll(state, toRun);
  }

  // A failed repo waits for a person (retry, skip or abort) before the change gives up.
  let aborted: Decision | null = null;
  for (;;) {
    const failedRepos = tasks.filter((t) => results.get(t.repo)?.status === 'failed');
    const wait = (input.decisionTimeoutSeconds ?? 0) * 1000;
    if (failedRepos.length === 0 || wait <= 0) break;
    const fresh = await state.decisionsOn(
      failedRepos.map((t) => t.repo),
      wait,
    );
    if (!fresh) break;
    aborted = fresh.find((d) => d.action === 'abort') ?? null;
    if (aborted) break;
    for (const d of fresh) {
      const task = tasks.find((t) => t.repo === d.repo);
      const current = task ? results.get(task.repo) : undefined;
      if (d.action === 'skip' && task && current) state.record(task, { ...current, status: 'skipped' });
    }
    const retry = tasks.filter((t) => fresh.some((d) => d.action === 'retry' && d.repo === t.repo));
    state.phase = 'running';
    await runAll(state, retry);
  }
  state.awaiting = null;

  if (aborted)
    return { status: 'failed', summary: `aborted by ${aborted.by}: ${aborted.reason}; no pull request opened` };
  if (failedOf(state.current()).length > 0)
    return { status: 'failed', summary: failedSummary(failedOf(state.current())) };
  if (!state.current().some((r) => r.status === 'green'))
    return { status: 'succeeded', summary: 'no repository changed; nothing to publish' };
  return null;
}

export async function runAll(state: ChangeState, batch: RepoTask[]): Promise<void> {
  await inLanes(batch, state.input.concurrency, (task) => runOne(state, task));
}

export function failedOf(rs: RepoResult[]): RepoResult[] {
  return rs.filter((r) => r.status === 'failed' || r.status === 'cancelled');
}

export function failedSummary(rs: RepoResult[]): string {
  return `${rs.map((r) => `${r.repo} ${r.status} at ${r.error?.step ?? 'unknown step'}`).join('; ')}; no pull request opened`;
}

async function runOne(state: ChangeState, task: RepoTask): Promise<void> {
  const nothingToDo = bumpVerdict(state, task);
  if (nothingToDo) {
    state.record(task, nothingToDo);
    return;
  }
  state.starting(task);
  state.record(task, await runRepo(state.input, task, bumpOf(state, task)));
}

/** A bump's repo with nothing to do (it does not use the package, or is at the version already): no sandbox, no commit. */
function bumpVerdict({ bump, declared }: ChangeState, task: RepoTask): RepoResult | null {
  const m = declared.get(task.repo);
  if (!bump || !m || (m.declares && m.current !== bump.version)) return null;
  return {
    ...failedBeforeResult(task, 'bump', ''),
    status: 'unchanged',
    error: null,
    attempts: 0,
    durationMs: 0,
    bump: {
      package: bump.package,
      version: bump.version,
      from: m.current,
      outcome: m.declares ? 'already' : 'not-declared',
    },
  };
}

function bumpOf({ bump, declared }: ChangeState, task: RepoTask): RepoWorkflowInput['bump'] {
  const m = declared.get(task.repo);
  // A gate fix round works on what the bump pushed, with the agent: no second bump.
  return bump && m && !task.fixRound
    ? { ecosystem: bump.ecosystem, package: bump.package, version: bump.version, manifests: m }
    : null;
}

/** A revert's repo: the merge of the original PR it undoes. */
function revertOf(input: ChangeInput, task: RepoTask): Pick<RepoWorkflowInput, 'revert'> {
  const repo = input.revert?.repos.find((r) => r.repo === task.repo);
  return input.revert && repo ? { revert: { of: input.revert.of, repo } } : {};
}

async function runRepo(
  input: ChangeInput,
  task: RepoTask,
  bump: RepoWorkflowInput['bump'] = null,
): Promise<RepoResult> {
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
          ...(bump ? { bump } : {}),
          ...revertOf(input, task),
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
