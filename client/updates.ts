/**
 * Acting on a live change: a decision on a failed repo, an answer at an approval gate (Temporal
 * updates, which the workflow may refuse), and cancelling it, with its branches on request.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { hostname, userInfo } from 'node:os';
import { taskQueue } from '../config/paths.ts';
import type { pullRequestsWorkflow } from '../workflows/pulls.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate } from '../core/messages.ts';
import { pageWorkflowId, pullRequestsWorkflowId, repoWorkflowId } from '../core/ids.ts';
import { pagesOf } from '../core/pages.ts';
import type { RepoTask } from '../core/repo.ts';
import type { Approval, Decision, DecisionAck } from '../core/decisions.ts';
import type { ChangeInput } from '../core/change.ts';
import type { DeleteBranchesInput } from '../core/pulls.ts';
import { openTemporal, type TemporalSession } from './connection.ts';
import { ChangeRefusedError, EnvironmentError, isNotFound } from './errors.ts';
import { changeHandle, describeChange, originalInput } from './queries.ts';
import { ensureWorker } from './worker.ts';
import { changeTasks, inBatches } from './pages.ts';

/** Who is acting, as recorded in history: the local user at this host. */
export const actor = (): string => `${userInfo().username}@${hostname()}`;

/** An approval whose gate may be left to the one the change waits at. */
export type ApprovalRequest = Omit<Approval, 'gate'> & { gate: Approval['gate'] | null };

/** A refusal by the workflow says why; a change that is gone or closed is told apart. */
async function asRefusal(session: TemporalSession, changeId: string, err: unknown): Promise<never> {
  if (err instanceof WorkflowUpdateFailedError && err.cause)
    throw new ChangeRefusedError(`change ${changeId} refused: ${err.cause.message}`);
  if (isNotFound(err)) {
    await describeChange(session, changeId);
    throw new ChangeRefusedError(`no running change "${changeId}" (see "lockstep list")`);
  }
  throw err;
}

export async function sendDecision(
  session: TemporalSession,
  changeId: string,
  decision: Decision,
): Promise<DecisionAck> {
  // A change in pages (its memo counts its repos instead of naming them) never waits for a
  // decision: a failed repo fails its page, and a resume redoes only the failed repos.
  const memo = (await describeChange(session, changeId)).memo;
  if (typeof memo?.total === 'number')
    throw new ChangeRefusedError(
      `change ${changeId} runs in pages (${memo.total} repos): failed repos do not wait for a decision; ` +
        (decision.action === 'abort'
          ? `\`lockstep cancel ${changeId}\` stops it`
          : `\`lockstep resume ${changeId}\` redoes only them once it has ended ("lockstep status ${changeId} --failed" lists them)`),
    );
  return changeHandle(session, changeId)
    .executeUpdate(decideUpdate, { args: [decision] })
    .catch((err: unknown) => asRefusal(session, changeId, err));
}

export async function sendApproval(
  session: TemporalSession,
  changeId: string,
  approval: ApprovalRequest,
): Promise<DecisionAck> {
  const handle = changeHandle(session, changeId);
  try {
    let gate = approval.gate;
    if (!gate) {
      const view = await handle.query(changeStatusQuery);
      if (view.awaiting?.kind !== 'approval')
        throw new ChangeRefusedError(`change ${changeId} is not waiting for an approval`);
      gate = view.awaiting.gate;
    }
    return await handle.executeUpdate(approvalUpdate, { args: [{ ...approval, gate }] });
  } catch (err) {
    return asRefusal(session, changeId, err);
  }
}

/** Sends a decision or an approval on a session of its own; a refusal by the workflow says why. */
export async function sendHuman(
  stateDir: string,
  changeId: string,
  message: { decision: Decision } | { approval: ApprovalRequest },
  log: (line: string) => void,
): Promise<DecisionAck> {
  const session = await openTemporal({ stateDir, startServer: true, log });
  try {
    return 'decision' in message
      ? await sendDecision(session, changeId, message.decision)
      : await sendApproval(session, changeId, message.approval);
  } finally {
    await session.close();
  }
}

/**
 * Cancels the change and waits until it and its repos have closed (their sandboxes removed);
 * with `deleteBranches`, deletes each repo's change branch on its remote.
 */
export async function cancelChange(
  stateDir: string,
  changeId: string,
  deleteBranches: boolean,
  log: (line: string) => void,
): Promise<string[]> {
  const session = await openTemporal({ stateDir, startServer: true, log });
  try {
    const handle = changeHandle(session, changeId);
    const description = await describeChange(session, changeId);
    const input = await originalInput(session, changeId);
    // A change in pages keeps its tasks in its pages' blobs (core/pages.ts).
    const tasks = await changeTasks(session, input);
    if (description.status.name === 'RUNNING') {
      await handle.cancel();
      await handle.result().catch(() => undefined);
      // Every repo that started closes first: each removes its sandbox as it closes. A change in
      // pages waits for each page that started, then for its repos only (a page never started
      // started none).
      const closed = (workflowId: string) =>
        session.client.workflow
          .getHandle(workflowId)
          .result()
          .then(
            () => true,
            (err: unknown) => !isNotFound(err),
          );
      const started = input.pages
        ? (
            await inBatches(input.pages.pages, async (page, i) => {
              const ran = await closed(pageWorkflowId(changeId, 'run', i));
              const from = input.pages?.pages.slice(0, i).reduce((n, p) => n + p.repos, 0) ?? 0;
              return ran ? tasks.slice(from, from + page.repos) : [];
            })
          ).flat()
        : tasks;
      await inBatches(started, (task) => closed(repoWorkflowId(changeId, task.repo)), 16);
      log(`cancelled ${changeId}; its sandboxes were removed`);
    } else {
      log(`${changeId} was not running (${description.status.name.toLowerCase()})`);
    }
    const deleted: string[] = [];
    if (deleteBranches) {
      deleted.push(...(await deleteChangeBranches(session, stateDir, input, tasks, log)));
      const where = deleted.length > 20 ? `${deleted.length} repos` : deleted.join(', ');
      log(deleted.length ? `deleted ${tasks[0]?.branch ?? ''} in ${where}` : 'no branch to delete');
    }
    return deleted;
  } finally {
    await session.close();
  }
}

/**
 * Deletes the change's branch in each of its repos through a worker (this command's own when
 * none polls), which pushes with the forge credentials it holds, as `lockstep close` does; the
 * repos whose branch was there.
 */
async function deleteChangeBranches(
  session: TemporalSession,
  stateDir: string,
  input: ChangeInput,
  tasks: RepoTask[],
  log: (line: string) => void,
): Promise<string[]> {
  const worker = await ensureWorker(session, { worker: 'auto', stateDir, log, forges: [input.forge] }, false);
  try {
    const targets = tasks.map((t) => ({ repo: t.repo, url: t.url, branch: t.branch }));
    // A page of branches per workflow: its history holds an activity per branch.
    const batches = pagesOf(targets, input.pages?.pageSize ?? Math.max(1, targets.length));
    const deleted = await inBatches(
      batches,
      async (batch) => {
        const args: DeleteBranchesInput = {
          changeId: input.changeId,
          forge: input.forge,
          action: 'delete-branches',
          targets: batch,
        };
        const result = await session.client.workflow.execute<typeof pullRequestsWorkflow>('pullRequestsWorkflow', {
          workflowId: pullRequestsWorkflowId(
            input.changeId,
            'delete-branches',
            `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
          ),
          taskQueue: taskQueue(),
          args: [args],
        });
        return result.deletedBranches;
      },
      2,
    );
    return deleted.flat();
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new EnvironmentError(
        `could not delete the branches of ${input.changeId}: ${err.cause?.message ?? err.message}`,
      );
    throw err;
  } finally {
    await worker.stop();
  }
}
