/** Deterministic names: workflow ids and the change branch (side effects are keyed by them). */
import type { PullRequestsWorkflowAction } from './pulls.ts';

export const changeWorkflowId = (changeId: string): string => `change/${changeId}`;
export const repoWorkflowId = (changeId: string, repo: string): string => `change/${changeId}/repo/${repo}`;
/** A page of a change in pages (core/pages.ts): one per page and stage, so a resume's page reuses the id. */
export const pageWorkflowId = (changeId: string, mode: 'run' | 'publish', index: number): string =>
  `change/${changeId}/page/${mode}/${index}`;
export const changeBranch = (changeId: string): string => `lockstep/${changeId}`;
export const pullRequestsWorkflowId = (changeId: string, action: PullRequestsWorkflowAction, nonce: string): string =>
  `change/${changeId}/pulls/${action}/${nonce}`;
/** The landing of a change's linked set: one per change, so `lockstep land` again resumes it. */
export const landingWorkflowId = (changeId: string): string => `change/${changeId}/land`;
/** The change that reverts a landed change's merged pull requests: one per change, so `lockstep revert` again finds it. */
export const revertChangeId = (changeId: string): string => `${changeId}-revert`;
