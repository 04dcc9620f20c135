/**
 * Operations on the linked PR set of a finished change (`lockstep prs|publish|close`). They run
 * as a workflow so that every forge request goes through a worker, which alone holds the
 * token, and through the forge's rate-limited task queue like the change's own requests.
 * `lockstep cancel --delete-branches` deletes a change's branches here too, with the same
 * credentials as `close`.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import type { DeleteBranchesInput, PullRequestsInput, PullRequestsResult } from '../core/pulls.ts';
import { forgeCalls } from './forge-calls.ts';

/** Git on the remote (deleting a closed change's branch): quick, retried a few times. */
const { deleteBranch } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export async function pullRequestsWorkflow(
  input: PullRequestsInput | DeleteBranchesInput,
): Promise<PullRequestsResult> {
  if (input.action === 'delete-branches') {
    const deleted = await Promise.all(input.targets.map((t) => deleteBranch({ url: t.url, branch: t.branch })));
    return { statuses: [], deletedBranches: input.targets.filter((_, i) => deleted[i]).map((t) => t.repo) };
  }
  const forge = forgeCalls(input.forge);
  const deletedBranches: string[] = [];
  const statuses = await Promise.all(
    input.targets.map(async (t) => {
      const target = { forge: input.forge, repo: t.repo, number: t.number };
      if (input.action === 'ready') await forge.markPullRequestReady(target);
      if (input.action === 'close') {
        await forge.closePullRequest(target);
        if (await deleteBranch({ url: t.url, branch: t.branch })) deletedBranches.push(t.repo);
      }
      return forge.pullRequestStatus(target);
    }),
  );
  return { statuses, deletedBranches };
}
