/** Signals and queries of the coordinator and repo workflows, shared with the CLI. */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ChangeStatusView, RepoProgress, RepoStatusView } from './types.ts';

/** Repo workflow -> coordinator: the repo entered a new phase or step. */
export const repoProgressSignal = defineSignal<[RepoProgress]>('repoProgress');

/** The whole change as it stands: phase, per-repo step and timing, result when done. */
export const changeStatusQuery = defineQuery<ChangeStatusView>('changeStatus');

/** One repo's own view (for a repo workflow started on its own). */
export const repoStatusQuery = defineQuery<RepoStatusView>('repoStatus');
