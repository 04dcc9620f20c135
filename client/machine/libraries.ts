/**
 * The workers' own libraries (sandbox, package-manager cache, egress proxy, agent tools, model
 * client), for code that runs them on this machine without Temporal: the bench's direct
 * measurements and its plain-script baseline, which must start containers exactly as a sandbox
 * does to be a fair comparison. Nothing of a change runs through here; a change's side effects
 * run on a worker.
 */
export {
  BASE_ENV,
  LABEL_CHANGE,
  LABEL_OWNER,
  createSandbox,
  removeSandbox,
  runInSandbox,
} from '../../activities/sandbox/docker.ts';
export { CACHE_ENV, CACHE_MOUNT } from '../../activities/sandbox/cache.ts';
export { startEgressProxy } from '../../activities/egress/proxy.ts';
export { egressDepsFor, egressForSandbox, openEgress } from '../../activities/egress/sandbox.ts';
export { executeTool, toolDefinitions, type ToolContext } from '../../activities/agent/tools/index.ts';
export { createModelClient } from '../../activities/llm/client.ts';
