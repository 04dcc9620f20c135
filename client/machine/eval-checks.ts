/**
 * The hidden checks of `lockstep eval`, run here, in this process, on this machine's Docker: a
 * check is the suite's measurement of a change, not part of it (no workflow, nothing durable,
 * nothing to retry), it runs against the branch the change pushed, and `--baseline` runs checks
 * with no Temporal at all. Each clones the branch (or the base) and runs in a fresh sandbox
 * named for the task, owned by this process.
 */
import Docker from 'dockerode';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cloneWorkspace } from '../../activities/git/workspace.ts';
import { createSandbox, removeSandbox, runInSandbox } from '../../activities/sandbox/docker.ts';
import type { EvalTask } from '../../config/eval.ts';
import type { LoadedConfig } from '../../config/load.ts';
import { changeBranch } from '../../core/ids.ts';
import { sandboxIdentity } from '../../workers/worker.ts';

export interface CheckOutcome {
  repo: string;
  passed: boolean;
  exitCode: number | null;
  /** Why the check did not run, when it did not (e.g. the repo failed, so there is no branch). */
  skipped: string | null;
  outputTail: string;
}

/** Clones the branch (or the base) into a scratch workspace and runs the check in a fresh sandbox. */
export async function runHiddenCheck(
  loaded: LoadedConfig,
  stateDir: string,
  changeId: string,
  check: EvalTask['checks'][number],
  branch: string | null,
  docker = new Docker(),
): Promise<CheckOutcome> {
  const repo = loaded.config.repos.find((r) => r.name === check.repo);
  if (!repo) return { repo: check.repo, passed: false, exitCode: null, skipped: 'unknown repo', outputTail: '' };
  const identity = sandboxIdentity();
  const scratch = await mkdtemp(join(stateDir, 'eval-'));
  const workspace = join(scratch, check.repo);
  const ref = { changeId: `${changeId}-check`.slice(0, 60), repo: check.repo };
  const deps = {
    docker,
    user: identity.sandboxUser,
    owner: `eval:${process.pid}`,
    workerEnv: {},
    logDir: join(stateDir, 'logs'),
  };
  try {
    await cloneWorkspace(repo.url, branch ?? repo.baseBranch, changeBranch(ref.changeId), workspace, {
      owner: identity.workspaceOwner,
    });
    await createSandbox(deps, { ...ref, workspace, sandbox: repo.sandbox });
    const result = await runInSandbox(deps, {
      ...ref,
      kind: 'test',
      name: 'hidden check',
      index: 0,
      command: check.command,
      timeoutSeconds: repo.sandbox.timeouts.testSeconds,
      outputBytes: repo.sandbox.limits.outputBytes,
    });
    return {
      repo: check.repo,
      passed: result.exitCode === 0 && !result.timedOut,
      exitCode: result.exitCode,
      skipped: null,
      outputTail: result.outputTail.slice(-1500),
    };
  } finally {
    await removeSandbox(docker, ref);
    await rm(scratch, { recursive: true, force: true });
  }
}
