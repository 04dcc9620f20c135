/**
 * The coordinator of one change: fans out one repo workflow per repository (bounded
 * concurrency, providers first), and when every repo is green opens the linked pull requests
 * (create all, then link every body to its siblings). Progress is queryable while it runs.
 */
import { setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { approvalUpdate, changeStatusQuery, decideUpdate, repoProgressSignal } from '../core/messages.ts';
import { ChangeState } from './change-state.ts';
import { planRepos, resolveBumpOnce } from './planning.ts';
import { runRepos } from './fan-out.ts';
import { gateRounds } from './gate-round.ts';
import { publishChange } from './publishing.ts';
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
      LockstepRepos: state.tasks.map((t) => t.repo),
      LockstepStatus: ['running'],
    });
  }

  // The stages in order: each either ends the change or hands it on; publishing always ends it.
  const ending =
    (await resolveBumpOnce(state)) ??
    (await planRepos(state)) ??
    (await runRepos(state)) ??
    (await gateRounds(state)) ??
    (await publishChange(state));
  const result = state.finish(ending);
  upsertMemo({ outcome: ending.status, summary: ending.summary });
  if (input.searchAttributes) upsertSearchAttributes({ LockstepStatus: [ending.status] });
  return result;
}
