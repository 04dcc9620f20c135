/**
 * Operating a change after `run`: resume it, decide on a failed repo, approve or reject at a
 * gate, cancel it. Each reads what it needs from Temporal (the change's own input and its
 * repos' results), so nothing but the change id is needed.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { hostname, userInfo } from 'node:os';
import { git } from '../activities/git/workspace.ts';
import { loadChange, loadReposConfig } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate } from '../core/messages.ts';
import { changeWorkflowId, repoWorkflowId } from '../core/ids.ts';
import type { Approval, Decision, DecisionAck } from '../core/decisions.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import type { RepoResult } from '../core/repo.ts';
import { EXIT } from './errors.ts';
import { recordedBumpVersion, withBumpTargets } from './bump.ts';
import { changeInput } from '../core/inputs.ts';
import { ensureWorker, executeChange, type RunOptions } from './run.ts';
import { openTemporal, type TemporalSession } from './temporal.ts';

/** Who is acting, as recorded in history: the local user at this host. */
export const actor = (): string => `${userInfo().username}@${hostname()}`;

function handleOf(session: TemporalSession, changeId: string): WorkflowHandle<typeof changeWorkflow> {
  return session.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(changeId));
}

/** The input the change's latest run started with (the first event of its history). */
export async function originalInput(session: TemporalSession, changeId: string): Promise<ChangeInput> {
  let history;
  try {
    history = await handleOf(session, changeId).fetchHistory();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no change "${changeId}" on ${session.address} (see "lockstep list")`);
    throw err;
  }
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`the history of change "${changeId}" has no input`);
  return defaultPayloadConverter.fromPayload<ChangeInput>(payload);
}

/** Each repo's result from its latest finished run, if it finished. */
async function previousResults(session: TemporalSession, input: ChangeInput): Promise<Record<string, RepoResult>> {
  const out: Record<string, RepoResult> = {};
  await Promise.all(
    input.repos.map(async (task) => {
      const handle = session.client.workflow.getHandle(repoWorkflowId(input.changeId, task.repo));
      const description = await handle.describe().catch(() => null);
      if (description?.status.name === 'COMPLETED') out[task.repo] = (await handle.result()) as RepoResult;
    }),
  );
  return out;
}

export interface ResumeOptions extends Pick<RunOptions, 'stateDir' | 'json' | 'log' | 'worker'> {
  changeId: string;
  /** A new change file (and config) to apply to the repos still to run. */
  changeFile?: string;
  configFile: string;
  /** With a new change file: also redo finished repos whose task changed. */
  redoChanged: boolean;
}

export async function resumeChange(options: ResumeOptions): Promise<{ result: ChangeResult; exitCode: number }> {
  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  try {
    const handle = handleOf(session, options.changeId);
    const description = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new Error(`no change "${options.changeId}" on ${session.address} (see "lockstep list")`);
      throw err;
    });
    let input = await originalInput(session, options.changeId);
    const previous = await previousResults(session, input);
    if (description.status.name === 'COMPLETED') {
      const last = await handle.result();
      if (last.status === 'succeeded') throw new Error(`change ${options.changeId} already succeeded; nothing to resume (use "lockstep run --rerun" to run it again)`);
    }

    if (options.changeFile) {
      const loaded = await loadReposConfig(options.configFile);
      const { change } = await withBumpTargets(loaded, await loadChange(options.changeFile, loaded), options.changeFile);
      if (change.id !== options.changeId) throw new Error(`${options.changeFile} is change "${change.id}", not "${options.changeId}"`);
      const tasks = resolveTasks(loaded, change);
      const before = new Map(input.repos.map((t) => [t.repo, t.taskHash]));
      const changed = tasks.filter((t) => previous[t.repo]?.status === 'green' && (previous[t.repo]?.taskHash ?? before.get(t.repo)) !== t.taskHash).map((t) => t.repo);
      if (changed.length > 0 && !options.redoChanged) {
        throw new Error(
          `the change file or config changed for ${changed.join(', ')}, which already finished green; ` +
            'resume without --change to finish the run as it was, or add --redo-changed to redo those repos with the new task',
        );
      }
      for (const repo of changed) delete previous[repo];
      input = { ...changeInput(loaded, change, tasks), searchAttributes: input.searchAttributes ?? false };
      options.log(`applying ${options.changeFile} to the repos still to run${changed.length ? ` and redoing ${changed.join(', ')}` : ''}`);
    }

    if (input.bump && !input.bump.version) {
      // The version the interrupted run resolved, never a newer one published meanwhile.
      const version = await recordedBumpVersion(handle, input.bump);
      if (version) input = { ...input, bump: { ...input.bump, version } };
    }
    const reused = Object.values(previous).filter((r) => r.status === 'green').map((r) => r.repo);
    options.log(`resuming ${options.changeId}: ${reused.length ? `keeping ${reused.join(', ')} if their branches are unchanged` : 'no repo finished green before'}`);
    const worker = await ensureWorker(session, { ...options, forges: [input.forge] }, input.repos.some((t) => t.mode === 'agent'));
    try {
      const result = await executeChange(session, { ...input, previous }, { rerun: true, json: options.json, log: options.log }, worker);
      return { result, exitCode: result.status === 'succeeded' ? EXIT.ok : EXIT.changeFailed };
    } finally {
      await worker?.stop();
    }
  } finally {
    await session.close();
  }
}

/** Sends a decision or an approval; a refusal by the workflow says why. */
export async function sendHuman(
  stateDir: string,
  changeId: string,
  message: { decision: Decision } | { approval: Omit<Approval, 'gate'> & { gate: Approval['gate'] | null } },
  log: (line: string) => void,
): Promise<DecisionAck> {
  const session = await openTemporal({ stateDir, startServer: true, log });
  try {
    const handle = handleOf(session, changeId);
    try {
      if ('decision' in message) return await handle.executeUpdate(decideUpdate, { args: [message.decision] });
      let gate = message.approval.gate;
      if (!gate) {
        const view = await handle.query(changeStatusQuery);
        if (view.awaiting?.kind !== 'approval') throw new Error(`change ${changeId} is not waiting for an approval`);
        gate = view.awaiting.gate;
      }
      return await handle.executeUpdate(approvalUpdate, { args: [{ ...message.approval, gate }] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause) throw new Error(`change ${changeId} refused: ${err.cause.message}`);
      if (err instanceof WorkflowNotFoundError) throw new Error(`no running change "${changeId}" (see "lockstep list")`);
      throw err;
    }
  } finally {
    await session.close();
  }
}

/**
 * Cancels the change and waits until it and its repos have closed (their sandboxes removed);
 * with `deleteBranches`, deletes each repo's change branch on its remote.
 */
export async function cancelChange(stateDir: string, changeId: string, deleteBranches: boolean, log: (line: string) => void): Promise<string[]> {
  const session = await openTemporal({ stateDir, startServer: true, log });
  try {
    const handle = handleOf(session, changeId);
    const description = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new Error(`no change "${changeId}" on ${session.address}`);
      throw err;
    });
    const input = await originalInput(session, changeId);
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
      for (const task of input.repos) {
        await git(undefined).raw(['push', '--quiet', task.url, '--delete', `refs/heads/${task.branch}`]).then(
          () => deleted.push(task.repo),
          () => undefined,
        );
      }
      log(deleted.length ? `deleted ${input.repos[0]?.branch ?? ''} in ${deleted.join(', ')}` : 'no branch to delete');
    }
    return deleted;
  } finally {
    await session.close();
  }
}
