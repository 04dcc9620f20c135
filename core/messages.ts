/** Signals and queries of the coordinator and repo workflows, shared with the CLI. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Approval, Decision, DecisionAck } from './decisions.ts';
import type { ChangeStatusView } from './change.ts';
import type { LandingView } from './landing-plan.ts';
import type { RepoProgress, RepoStatusView } from './repo.ts';

/** Repo workflow -> coordinator: the repo entered a new phase or step. */
export const repoProgressSignal = defineSignal<[RepoProgress]>('repoProgress');

/** The whole change as it stands: phase, per-repo step and timing, result when done. */
export const changeStatusQuery = defineQuery<ChangeStatusView>('changeStatus');

/** One repo's own view (for a repo workflow started on its own). */
export const repoStatusQuery = defineQuery<RepoStatusView>('repoStatus');

/** A person decides what happens to a failed repo: retry it, skip it, or abort the change. */
export const decideUpdate = defineUpdate<DecisionAck, [Decision]>('decide');

/** A person approves or rejects the plan or the publishing of the PR set. */
export const approvalUpdate = defineUpdate<DecisionAck, [Approval]>('approval');

/** Where a landing stands (`lockstep land`, `lockstep prs`): merged, waiting and why, next. */
export const landingStatusQuery = defineQuery<LandingView>('landingStatus');
