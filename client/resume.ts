/**
 * Resuming a change: it reads what it needs from Temporal (the change's own input and its repos'
 * results), so nothing but the change id is needed; a new change file may be applied to the repos
 * still to run.
 */
import { egressIssues, InputError, loadChange, loadReposConfig } from '../config/load.ts';
import { changeInput, resolveTasks } from '../core/inputs.ts';
import { repoWorkflowId } from '../core/ids.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import type { RepoResult } from '../core/repo.ts';
import { openTemporal, type TemporalSession } from './connection.ts';
import { ChangeRefusedError } from './errors.ts';
import type { OnProgress } from './follow.ts';
import { withBumpTargets } from './machine/bump.ts';
import { recordedTargets } from './machine/targets.ts';
import { changeHandle, describeChange, originalInput, recordedBumpVersion } from './queries.ts';
import { executeChange } from './start.ts';
import { previousPages } from './pages.ts';
import { ensureWorker, type WorkerOptions } from './worker.ts';

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

export interface ResumeOptions extends Pick<WorkerOptions, 'stateDir' | 'log' | 'worker'> {
  changeId: string;
  /** A new change file (and config) to apply to the repos still to run. */
  changeFile?: string;
  configFile: string;
  /** With a new change file: also redo finished repos whose task changed. */
  redoChanged: boolean;
  onProgress?: OnProgress;
}

export async function resumeChange(options: ResumeOptions): Promise<ChangeResult> {
  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  try {
    const handle = changeHandle(session, options.changeId);
    const description = await describeChange(session, options.changeId);
    let input = await originalInput(session, options.changeId);
    const previous = await previousResults(session, input);
    // A change in pages: each page's results of its last finished run (green repos are kept).
    const pages = input.pages ? await previousPages(session, input) : null;
    if (description.status.name === 'COMPLETED') {
      const last = await handle.result();
      if (last.status === 'succeeded')
        throw new ChangeRefusedError(
          `change ${options.changeId} already succeeded; nothing to resume (use "lockstep run --rerun" to run it again)`,
        );
    }

    if (options.changeFile && input.pages)
      throw new ChangeRefusedError(
        `change ${options.changeId} runs in pages (${input.pages.total} repos): resume it without --change; a new change file applies to a new change id`,
      );
    if (options.changeFile) {
      const loaded = await loadReposConfig(options.configFile);
      // Targets chosen by query stay the set the interrupted run recorded: the fleet is not scanned again.
      const recorded = input.repos.map((t) => t.repo);
      const given = await loadChange(options.changeFile, loaded);
      const { change } = await withBumpTargets(
        loaded,
        given.targets ? recordedTargets(given, recorded) : given,
        options.changeFile,
      );
      const refused = egressIssues(options.changeFile, change, loaded);
      if (refused.length > 0) throw new InputError(refused);
      if (change.id !== options.changeId)
        throw new InputError([
          {
            file: options.changeFile,
            path: 'id',
            message: `this file is change "${change.id}", not "${options.changeId}"`,
            fix: `resume ${change.id} with it, or give the change file of ${options.changeId}`,
          },
        ]);
      const tasks = resolveTasks(loaded, change);
      const before = new Map(input.repos.map((t) => [t.repo, t.taskHash]));
      const changed = tasks
        .filter(
          (t) =>
            previous[t.repo]?.status === 'green' && (previous[t.repo]?.taskHash ?? before.get(t.repo)) !== t.taskHash,
        )
        .map((t) => t.repo);
      if (changed.length > 0 && !options.redoChanged) {
        throw new ChangeRefusedError(
          `the change file or config changed for ${changed.join(', ')}, which already finished green; ` +
            'resume without --change to finish the run as it was, or add --redo-changed to redo those repos with the new task',
        );
      }
      for (const repo of changed) delete previous[repo];
      input = { ...changeInput(loaded, change, tasks), searchAttributes: input.searchAttributes ?? false };
      options.log(
        `applying ${options.changeFile} to the repos still to run${changed.length ? ` and redoing ${changed.join(', ')}` : ''}`,
      );
    }

    if (input.bump && !input.bump.version) {
      // The version the interrupted run resolved, never a newer one published meanwhile.
      const version = await recordedBumpVersion(handle, input.bump);
      if (version) input = { ...input, bump: { ...input.bump, version } };
    }
    const reused = Object.values(previous)
      .filter((r) => r.status === 'green')
      .map((r) => r.repo);
    const keptInPages = (pages ?? []).reduce((n, p) => n + (p.counts.green ?? 0), 0);
    options.log(
      pages
        ? `resuming ${options.changeId}: ${pages.length} of ${input.pages?.pages.length ?? 0} pages have repos that finished before; keeping their ${keptInPages} green repos if their branches are unchanged`
        : `resuming ${options.changeId}: ${reused.length ? `keeping ${reused.join(', ')} if their branches are unchanged` : 'no repo finished green before'}`,
    );
    const worker = await ensureWorker(
      session,
      { ...options, forges: [input.forge] },
      input.repos.some((t) => t.mode === 'agent'),
    );
    try {
      return await executeChange(
        session,
        {
          ...input,
          previous,
          // Only what a page needs of its run before (its results, by reference): the coordinator's
          // input stays small however many repos failed.
          ...(pages ? { previousPages: pages.map((p) => ({ ...p, failures: [], revisions: [], findings: [] })) } : {}),
        },
        { rerun: true, log: options.log, onProgress: options.onProgress },
        worker,
      );
    } finally {
      await worker?.stop();
    }
  } finally {
    await session.close();
  }
}
