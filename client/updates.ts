/**
 * Acting on a live change: a decision on a failed repo, an answer at an approval gate (Temporal
 * updates, which the workflow may refuse), and cancelling it, with its branches on request.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { hostname, userInfo } from 'node:os';
import { taskQueue } from '../config/paths.ts';
import type { pullRequestsWorkflow } from '../workflows/pulls.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate } from '../core/messages.ts';
import { pullRequestsWorkflowId, repoWorkflowId } from '../core/ids.ts';
import type { Approval, Decision, DecisionAck } from '../core/decisions.ts';
import type { ChangeInput } from '../core/change.ts';
import type { DeleteBranchesInput } from '../core/pulls.ts';
import { openTemporal, type TemporalSession } from './connection.ts';
import { ChangeRefusedError, EnvironmentError, isNotFound } from './errors.ts';
import { changeTasks } from './pages.ts';
import { changeHandle, describeChange, originalInput } from './queries.ts';
import { ensureWorker } from './worker.ts';

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
    const original = await originalInput(session, changeId);
    // A change in pages names its repos in its pages' blobs, not in its input.
    const input = { ...original, repos: await changeTasks(session, original) };
    if (description.status.name === 'RUNNING') {
      await handle.cancel();
      await handle.result().catch(() => undefined);
      for (const task of input.repos) {
        const repo = session.client.workflow.getHandle(repoWorkflowId(changeId, task.repo));
        await repo.result().catch(() => undefined);
      }
      log(`cancelled ${changeId}; its sandboxes were removed`);
    } else {
      log(`${changeId} was not running (${description.status.name.toLowerCase()})`);
    }
    const deleted: string[] = [];
    if (deleteBranches) {
      deleted.push(...(await deleteChangeBranches(session, stateDir, input, log)));
      log(deleted.length ? `deleted ${input.repos[0]?.branch ?? ''} in ${deleted.join(', ')}` : 'no branch to delete');
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
  log: (line: string) => void,
): Promise<string[]> {
  const worker = await ensureWorker(session, { worker: 'auto', stateDir, log, forges: [input.forge] }, false);
  try {
    const targets = input.repos.map((t) => ({ repo: t.repo, url: t.url, branch: t.branch }));
    const args: DeleteBranchesInput = {
      changeId: input.changeId,
      forge: input.forge,
      action: 'delete-branches',
      targets,
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
