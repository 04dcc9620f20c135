/**
 * Publishing a change whose repos are green and whose gate passed: a person's approval first
 * when the change asks for one, then the linked pull requests (find-or-create every one, then
 * link every body to its siblings).
 */
import { isCancellation } from '@temporalio/workflow';
import { forgeCalls } from './forge-calls.ts';
import { describe } from './repo.ts';
import type { ChangeState, Ending } from './change-state.ts';
import type { ChangeInput } from '../core/change.ts';
import type { GateReport } from '../core/gate.ts';
import type { LinkPullRequestInput, PullRequestRef } from '../core/pulls.ts';
import type { RepoResult } from '../core/repo.ts';

/**
 * The approval (when asked), then the pull requests: this change's, or those `pages` opens
 * (a change in pages, workflows/paged.ts).
 */
export async function publishChange(
  state: ChangeState,
  pages?: (state: ChangeState) => Promise<Ending>,
): Promise<Ending> {
  const { input } = state;
  const ordered = state.current();
  const toPublish = ordered.filter((r) => r.status === 'green');

  if (input.approvals?.publish) {
    const answer = await state.approval('publish');
    if (!answer)
      return {
        status: 'rejected',
        summary: 'no one approved publishing in time; the branches are kept, no pull request opened',
      };
    if (!answer.approved)
      return {
        status: 'rejected',
        summary: `publishing rejected by ${answer.by}: ${answer.reason}; the branches are kept`,
      };
  }

  if (pages) return pages(state);
  state.phase = 'publishing';
  const pullRequests = new Map<string, PullRequestRef>();
  try {
    await publish(input, state.order, toPublish, pullRequests, state.gateReport);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { status: 'failed', summary: `publishing failed: ${describe(err)}`, pullRequests };
  }
  const skipped = ordered.filter((r) => r.status === 'skipped').map((r) => r.repo);
  return {
    status: 'succeeded',
    summary: `${toPublish.length} linked pull request${toPublish.length === 1 ? '' : 's'} open${skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''}`,
    pullRequests,
  };
}

/**
 * Two phases: find-or-create every PR, then write every body with links to all siblings (a
 * page of a change in pages links its own page's, and says how large the change is).
 */
export async function publish(
  input: ChangeInput,
  order: string[],
  repos: RepoResult[],
  pullRequests: Map<string, PullRequestRef>,
  gate: GateReport | null,
  set?: LinkPullRequestInput['set'],
): Promise<void> {
  const byRepo = new Map(input.repos.map((t) => [t.repo, t]));
  const calls = forgeCalls(input.forge);
  const prInput = (r: RepoResult) => {
    const task = byRepo.get(r.repo);
    if (!task || !r.commit) throw new Error(`no task or commit for ${r.repo}`);
    return {
      forge: input.forge,
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
  const opened = await Promise.all(repos.map(async (r) => [r, await calls.openPullRequest(prInput(r))] as const));
  for (const [r, pr] of opened) pullRequests.set(r.repo, pr);
  const siblings = opened.map(([r, pr]) => ({ repo: r.repo, pullRequest: pr, commit: r.commit ?? '' }));
  await Promise.all(
    opened.map(([r, pr]) =>
      calls.linkPullRequest({
        ...prInput(r),
        pullRequest: pr,
        mergeOrder: order,
        siblings,
        gate,
        ...(input.revert ? { reverts: input.revert.of } : {}),
        ...(set ? { set } : {}),
      }),
    ),
  );
}
