/**
 * The coordinator of one change: fans out one repo workflow per repository (bounded
 * concurrency, providers first), and when every repo is green opens the linked pull requests
 * (create all, then link every body to its siblings). Progress is queryable while it runs.
 */
import {
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { landingWorkflowId } from '../core/ids.ts';
import { landingArgs } from '../core/landing-plan.ts';
import type { landingWorkflow } from './landing.ts';
import { approvalUpdate, changeStatusQuery, decideUpdate, repoProgressSignal } from '../core/messages.ts';
import { ChangeState } from './change-state.ts';
import { planRepos, resolveBumpOnce } from './planning.ts';
import { runRepos } from './fan-out.ts';
import { gateRounds } from './gate-round.ts';
import { publishChange } from './publishing.ts';
import { gatePages, publishPages, runPages } from './paged.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import type { Approval, Decision } from '../core/decisions.ts';

export async function changeWorkflow(input: ChangeInput): Promise<ChangeResult> {
  const state = new ChangeState(input);
  setHandler(changeStatusQuery, () => state.view());
  setHandler(repoProgressSignal, (p) => state.progress(p));
  setHandler(decideUpdate, (d) => state.decide(d), { validator: (d: Decision) => state.checkDecision(d) });
  setHandler(approvalUpdate, (a) => state.approve(a), { validator: (a: Approval) => state.checkApproval(a) });
  if (input.searchAttributes) {
    upsertSearchAttributes({
      LockstepChangeId: [input.changeId],
      // (A change in pages has no list of repos here: its pages hold them.)
      LockstepRepos: state.tasks.map((t) => t.repo),
      LockstepStatus: ['running'],
    });
  }

  // The stages in order: each either ends the change or hands it on; publishing always ends it.
  // A change in pages (core/pages.ts) runs its repos, gate and pull requests page by page.
  const paged = input.pages;
  const ending = paged
    ? ((await resolveBumpOnce(state)) ??
      (await runPages(state, paged)) ??
      (await gatePages(state)) ??
      (await publishChange(state, (s) => publishPages(s, paged))))
    : ((await resolveBumpOnce(state)) ??
      (await planRepos(state)) ??
      (await runRepos(state)) ??
      (await gateRounds(state)) ??
      (await publishChange(state)));
  const result = state.finish(ending);
  upsertMemo({ outcome: ending.status, summary: ending.summary });
  if (input.searchAttributes) upsertSearchAttributes({ LockstepStatus: [ending.status] });
  if (input.landing?.land && patched('land-from-coordinator')) await landStraightOn(input, result);
  return result;
}

/**
 * `land: true`: the coordinator starts the landing of the set it published, as a workflow of
 * its own that outlives it (so the set lands even when no CLI follows the change), once per
 * change id: a landing already running is left to run.
 */
async function landStraightOn(input: ChangeInput, result: ChangeResult): Promise<void> {
  const args = landingArgs(input, result);
  if ('refused' in args) return;
  try {
    await startChild<typeof landingWorkflow>('landingWorkflow', {
      workflowId: landingWorkflowId(input.changeId),
      args: [args],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (err) {
    // (The SDK's WorkflowExecutionAlreadyStartedError, known by name: its class is not re-exported here.)
    if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
  }
}
