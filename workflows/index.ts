/** The workflow bundle's entry point: every workflow type the worker registers. */
export { changeWorkflow } from './change.ts';
export { repoWorkflow } from './repo.ts';
export { agentWorkflow } from './agent.ts';
export { pullRequestsWorkflow } from './pulls.ts';
export { landingWorkflow } from './landing.ts';
export { blobWorkflow } from './blob.ts';
export { pageWorkflow } from './page.ts';
