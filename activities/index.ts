/**
 * Activity factories. Each receives its dependencies, so tests can hand in real or fake
 * clients. Shared activities run on the shared task queue; host activities on the queue of the
 * worker whose machine holds the workspace and the sandbox.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type Docker from 'dockerode';
import type OpenAI from 'openai';
import { createAgentHostActivities, createAgentSharedActivities } from './agent/index.ts';
import { createBumpActivities, createBumpHostActivities } from './bump/index.ts';
import { join, resolve, sep } from 'node:path';
import { fatal } from './errors.ts';
import type {
  CloseWorkspaceInput,
  CommitAndPushInput,
  CreateSandboxInput,
  OpenWorkspaceInput,
  PreparedWorkspace,
  PrepareWorkspaceInput,
  RunInSandboxInput,
  SandboxRef,
} from '../core/workspace.ts';
import type { LinkPullRequestInput, OpenPullRequestInput, PullRequestRef, PullRequestTarget } from '../core/pulls.ts';
import type { Forge } from './forges/forge.ts';
import type { ForgeConfig } from '../config/repos.ts';
import type { LandingState, MergeOutcome, MergeRequest, UpdateOutcome } from '../core/landing.ts';
import type { PullRequestView } from '../core/pulls.ts';
import { parseManifest, renderBody } from './forges/body.ts';
import { createForgeResolver, type ForgeResolver } from './forges/index.ts';
import { createBlobActivities } from './blobs.ts';
import type { BlobStore } from '../core/blobs.ts';
import { createContractActivities } from './gate/contract.ts';
import { createGuardrailActivities } from './gate/guardrails.ts';
import {
  cloneWorkspace,
  commitAndPush,
  deleteRemoteBranch,
  remoteBranchCommit,
  removeWorkspace,
  snapshotPrepared,
  type GitCredentials,
} from './git/workspace.ts';
import { revertMerged } from './git/revert.ts';
import type { RevertMergedInput, RevertMergedResult } from '../core/revert.ts';
import { activityContext } from './context.ts';
import { whileAlive } from './heartbeat.ts';
import { inLanes } from '../core/lanes.ts';
import { openCache } from './sandbox/cache.ts';
import { removeEgressDir, type EgressDeps } from './egress/sandbox.ts';
import {
  createSandbox,
  removeRepoSandboxes,
  removeSandbox,
  runInSandbox,
  whileDockerAnswers,
} from './sandbox/docker.ts';

export interface ActivityDeps {
  stateDir: string;
  docker: Docker;
  /** The task queue only this worker (this host) polls. */
  hostQueue: string;
  /** The built-in local forge. */
  forge: Forge;
  /** The forge of a change's config (default: the local forge for every config). */
  forges?: ForgeResolver;
  /** Tokens for git over HTTPS to remote forges (default: none). */
  gitCredentials?: GitCredentials;
  /** `uid:gid` sandbox commands run as (never root). */
  sandboxUser: string;
  /** Owner of the workspace files, so the sandbox user can write them; null to leave as is. */
  workspaceOwner: { uid: number; gid: number } | null;
  /** Identifies this worker process on container labels, for the orphan sweep. */
  owner: string;
  /** The worker's environment, read only for a repo's `passEnv` allowlist. */
  workerEnv: NodeJS.ProcessEnv;
  /** The model endpoint, or null when none is configured (steps mode needs none). */
  openai: OpenAI | null;
  /** The egress proxy's side of this worker (setup's downloads); without it sandbox.egress is refused. */
  egress?: EgressDeps;
  /** `address/namespace` of the worker's Temporal, labelled on sandboxes for the reconciler. */
  cluster?: string;
  /**
   * Whether this attempt of an activity is still the one the server waits for (false: a later
   * attempt runs or completed it, or the workflow closed). Absent: always current.
   */
  activityCurrent?: (workflowId: string, runId: string, activityId: string, attempt: number) => Promise<boolean>;
  /** Where page workflows read and store content by reference (absent: changes in pages are refused). */
  blobs?: BlobStore;
  /** Called when a repo's workspace was closed: its workflow is about to close (the reconciler's cue). */
  onWorkspaceClosed?: () => void;
}

/** A branch of a repo's remote and the commit it should point at. */
interface BranchAt {
  url: string;
  branch: string;
  commit: string;
}

export const workspacePath = (stateDir: string, changeId: string, repo: string): string =>
  join(stateDir, 'workspaces', changeId, repo);

/**
 * Forge calls. For a remote forge they run on that forge's own task queue (one budget per host
 * and token); for the local forge on the shared queue.
 */
export function createForgeActivities(deps: Pick<ActivityDeps, 'forge' | 'forges'>) {
  const forgeFor = deps.forges ?? createForgeResolver({ local: deps.forge, env: {} });
  return {
    async openPullRequest(input: OpenPullRequestInput): Promise<PullRequestRef> {
      const { pullRequest } = await whileAlive(() =>
        forgeFor(input.forge).findOrCreatePullRequest({
          repo: input.repo,
          url: input.url,
          head: input.head,
          base: input.base,
          title: input.title,
          commit: input.commit,
          body: renderBody({
            changeId: input.changeId,
            repo: input.repo,
            description: input.description,
            mergeOrder: [],
            siblings: null,
          }),
        }),
      );
      return { number: pullRequest.number, url: pullRequest.url };
    },

    async linkPullRequest(input: LinkPullRequestInput): Promise<void> {
      await whileAlive(() =>
        forgeFor(input.forge).updatePullRequest(input.repo, input.pullRequest.number, {
          title: input.title,
          commit: input.commit,
          body: renderBody({
            changeId: input.changeId,
            repo: input.repo,
            description: input.description,
            mergeOrder: input.mergeOrder,
            siblings: input.siblings,
            gate: input.gate ?? null,
            ...(input.reverts ? { reverts: input.reverts } : {}),
            ...(input.set ? { set: input.set } : {}),
          }),
        }),
      );
    },

    /** A PR's state, checks and reviews; its body only as the manifest it carries (history stays small). */
    async pullRequestStatus(input: PullRequestTarget): Promise<PullRequestView> {
      const { pullRequest, ...rest } = await whileAlive(() =>
        forgeFor(input.forge).pullRequestStatus(input.repo, input.number),
      );
      const { body, ...record } = pullRequest;
      return { ...rest, pullRequest: record, manifest: parseManifest(body) };
    },

    async markPullRequestReady(input: PullRequestTarget): Promise<void> {
      await whileAlive(() => forgeFor(input.forge).markReady(input.repo, input.number));
    },

    async closePullRequest(input: PullRequestTarget): Promise<void> {
      await whileAlive(() => forgeFor(input.forge).closePullRequest(input.repo, input.number));
    },

    /** What landing waits on; the body is left out (history stays small, landing never reads it). */
    async landingState(input: PullRequestTarget): Promise<LandingState> {
      const state = await whileAlive(() => forgeFor(input.forge).landingState(input.repo, input.number));
      return { ...state, pullRequest: { ...state.pullRequest, body: '' } };
    },

    /** Merges with the head-sha guard; a retry after a lost answer is answered `alreadyMerged`. */
    async mergePullRequest(
      input: { forge: ForgeConfig; checksWaitedFor?: string[] } & MergeRequest,
    ): Promise<MergeOutcome> {
      // The checks it waited for ride along for the audit only.
      const { forge, checksWaitedFor: _checks, ...request } = input;
      return whileAlive(() => forgeFor(forge).mergePullRequest(request));
    },

    async updatePullRequestBranch(input: PullRequestTarget & { sha: string }): Promise<UpdateOutcome> {
      return whileAlive(() => forgeFor(input.forge).updatePullRequestBranch(input.repo, input.number, input.sha));
    },
  };
}

export function createSharedActivities(deps: ActivityDeps) {
  const sandboxes = watchedSandboxes(deps);
  /** A fresh clone of the repo's base branch in this worker's workspaces folder. */
  const prepare = async (input: PrepareWorkspaceInput): Promise<PreparedWorkspace> => {
    const workspace = workspacePath(deps.stateDir, input.changeId, input.repo);
    const baseCommit = await cloneWorkspace(input.url, input.baseBranch, input.branch, workspace, {
      owner: deps.workspaceOwner,
      startCommit: input.startCommit ?? null,
      ...(deps.gitCredentials ? { credentials: deps.gitCredentials } : {}),
    });
    return { hostQueue: deps.hostQueue, workspace, baseCommit };
  };
  const isAt = async (b: BranchAt): Promise<boolean> =>
    (await remoteBranchCommit(b.url, b.branch, deps.gitCredentials)) === b.commit;
  return {
    ...createAgentSharedActivities(deps),
    ...createForgeActivities(deps),
    ...createContractActivities(gateDepsOf(deps)),
    ...createGuardrailActivities(gateDepsOf(deps)),
    ...createBlobActivities(deps.blobs),
    ...createBumpActivities({
      workerEnv: deps.workerEnv,
      ...(deps.gitCredentials ? { gitCredentials: deps.gitCredentials } : {}),
      whileAlive: (work) => whileAlive(work),
    }),

    async prepareWorkspace(input: PrepareWorkspaceInput): Promise<PreparedWorkspace> {
      return prepare(input);
    },

    /**
     * The workspace and its sandbox in one step, on whichever host takes the task: one round
     * trip through the server on every repo's critical path instead of two. What it made here
     * is removed again when it fails, so a retry on another host leaves nothing behind.
     */
    async openWorkspace(input: OpenWorkspaceInput): Promise<PreparedWorkspace> {
      // A retry the server has given up on (it timed out, a later attempt runs) makes nothing:
      // its sandbox would be one no attempt uses. Checked again before the sandbox, the part
      // that outlives the activity, once the clone took long enough for the server to give up.
      const ctx = activityContext();
      const began = Date.now();
      if (ctx && ctx.info.attempt > 1) await stillCurrent(deps, ctx);
      const prepared = await whileAlive(() => prepare(input));
      const ref = { changeId: input.changeId, repo: input.repo };
      if (ctx && mayBeSuperseded(ctx.info, began)) await stillCurrent(deps, ctx);
      try {
        await sandboxes.create({
          ...ref,
          workspace: prepared.workspace,
          sandbox: input.sandbox,
          ...(input.attempt !== undefined ? { attempt: input.attempt } : {}),
        });
      } catch (err) {
        // Removing what it made can wait on a silent engine as long as the create did (15 s
        // each): this worker lives, so it beats meanwhile, and the workflow sees the create's
        // failure (DockerUnresponsive, say) rather than a heartbeat timeout.
        await whileAlive(() => Promise.allSettled([sandboxes.remove(ref), removeWorkspace(prepared.workspace)]));
        throw err;
      }
      return prepared;
    },

    /** Whether `branch` on the remote still points at `commit` (a resumed run may then reuse it). */
    async branchAt(input: BranchAt): Promise<boolean> {
      return isAt(input);
    },

    /**
     * `branchAt` for every reusable repo of a resumed run in one task (one round trip through the
     * server instead of one per repo), two remotes at a time: each git call forks the worker on
     * its event loop, and a burst of them held up the workflow tasks of the repos being redone
     * meanwhile (resume/fresh 1.23-1.26 with eight at a time, 1.19 with two).
     */
    async branchesAt(input: { branches: BranchAt[] }): Promise<boolean[]> {
      return whileAlive(() => inLanes(input.branches, 2, isAt));
    },

    /** Deletes a change's branch on a repo's remote (`lockstep close`); false when it was gone. */
    async deleteBranch(input: { url: string; branch: string }): Promise<boolean> {
      return deleteRemoteBranch(input.url, input.branch, deps.gitCredentials);
    },
  };
}

/**
 * Whether the server may have given up on this attempt since `began` (when it started here).
 * It gives up when the attempt misses a heartbeat or runs out of time; before half the shortest
 * of those limits has passed, neither can have happened (a cancellation comes on the context's
 * signal instead), and asking would cost every repo a round trip through the server for nothing.
 */
export function mayBeSuperseded(
  info: Pick<Context['info'], 'heartbeatTimeoutMs' | 'startToCloseTimeoutMs'>,
  began: number,
  now = Date.now(),
): boolean {
  const limits = [info.heartbeatTimeoutMs, info.startToCloseTimeoutMs].filter((ms): ms is number => !!ms && ms > 0);
  if (limits.length === 0) return true;
  return now - began >= Math.min(...limits) / 2;
}

/** Throws (not retried) when the server no longer waits for this attempt of the activity. */
async function stillCurrent(deps: ActivityDeps, ctx: Context): Promise<void> {
  const { workflowExecution, activityId, attempt } = ctx.info;
  if (!deps.activityCurrent || !workflowExecution) return;
  if (await deps.activityCurrent(workflowExecution.workflowId, workflowExecution.runId, activityId, attempt)) return;
  throw ApplicationFailure.nonRetryable(
    `attempt ${attempt} of activity ${activityId} of ${workflowExecution.workflowId} was superseded; it makes nothing`,
    'AttemptSuperseded',
  );
}

function gateDepsOf(deps: ActivityDeps) {
  return {
    stateDir: deps.stateDir,
    docker: deps.docker,
    sandbox: sandboxDepsOf(deps),
    workspaceOwner: deps.workspaceOwner,
    gitCredentials: deps.gitCredentials,
  };
}

/**
 * Sandbox creation and removal as activities make them: they heartbeat only while the Docker
 * engine answers a ping, so a Docker daemon that stops answering is noticed within seconds
 * (DockerUnresponsive), a dead worker within the heartbeat timeout, and neither leaves the repo
 * waiting on a call that never returns. A creation is also abandoned (and what it made removed)
 * when the activity is cancelled. Outside an activity (unit tests) they just run.
 */
function watchedSandboxes(deps: ActivityDeps) {
  const sandboxDeps = sandboxDepsOf(deps);
  return {
    async create(input: CreateSandboxInput): Promise<string> {
      const ctx = activityContext();
      return whileDockerAnswers(
        deps.docker,
        async ({ signal }) => {
          const cacheDir = await openCache(
            deps.stateDir,
            input.repo,
            input.workspace,
            input.sandbox.cache,
            deps.workspaceOwner,
          );
          return createSandbox(
            sandboxDeps,
            { ...input, cacheDir },
            ctx ? AbortSignal.any([signal, ctx.cancellationSignal]) : signal,
          );
        },
        { ctx },
      );
    },
    /** Every sandbox of the repo's change on this engine, of any attempt. */
    async removeAll(ref: SandboxRef): Promise<void> {
      const ctx = activityContext();
      await whileDockerAnswers(
        deps.docker,
        () => removeRepoSandboxes(deps.docker, { changeId: ref.changeId, repo: ref.repo }),
        { ctx },
      );
    },
    /** Given up on while the engine is silent, the remove request stays sent: it takes effect when the engine answers again. */
    async remove(ref: SandboxRef): Promise<void> {
      const ctx = activityContext();
      await whileDockerAnswers(
        deps.docker,
        () => removeSandbox(deps.docker, { changeId: ref.changeId, repo: ref.repo }),
        { ctx },
      );
      await removeEgressDir(deps.egress, ref);
    },
  };
}

function sandboxDepsOf(deps: ActivityDeps) {
  return {
    docker: deps.docker,
    user: deps.sandboxUser,
    owner: deps.owner,
    workerEnv: deps.workerEnv,
    host: deps.hostQueue,
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
    logDir: join(deps.stateDir, 'logs'),
    ...(deps.egress ? { egress: deps.egress } : {}),
  };
}

export function createHostActivities(deps: ActivityDeps) {
  const sandboxDeps = sandboxDepsOf(deps);
  const sandboxes = watchedSandboxes(deps);
  /** Only ever deletes inside this worker's own workspaces folder, whatever the input says. */
  const removeOwnWorkspace = async (workspace: string): Promise<void> => {
    const root = join(deps.stateDir, 'workspaces') + sep;
    if (!resolve(workspace).startsWith(root))
      throw fatal('InvalidInput', `refusing to remove ${workspace}: not a Lockstep workspace`);
    await removeWorkspace(workspace);
  };
  return {
    ...createAgentHostActivities({
      stateDir: deps.stateDir,
      openai: deps.openai,
      sandbox: sandboxDeps,
      workspaceOwner: deps.workspaceOwner,
    }),
    ...createBumpHostActivities({ workspacesRoot: join(deps.stateDir, 'workspaces') }),

    // The sandbox activities heartbeat only when the engine answers a ping (watchedSandboxes).
    async createSandbox(input: CreateSandboxInput): Promise<string> {
      return sandboxes.create(input);
    },

    async runInSandbox(input: RunInSandboxInput) {
      const ctx = Context.current();
      let progress: { bytes: number; elapsedMs: number } = { bytes: 0, elapsedMs: 0 };
      const result = await whileDockerAnswers(
        deps.docker,
        ({ signal }) =>
          runInSandbox(
            {
              ...sandboxDeps,
              heartbeat: { heartbeat: (details) => (progress = details) },
            },
            input,
            AbortSignal.any([ctx.cancellationSignal, signal]),
          ),
        { ctx, details: () => progress },
      );
      // What setup left is the repo's prepared environment, not part of the change: the commit
      // later holds only what differs from this snapshot. No workflow change needed, so
      // recorded histories replay as they were. A setup run again after a bump snapshots anew,
      // keeping the bump's manifests and lockfiles as the first setup left them.
      if (input.kind === 'setup' && result.exitCode === 0 && !result.timedOut) {
        await whileAlive(() =>
          snapshotPrepared(
            workspacePath(deps.stateDir, input.changeId, input.repo),
            input.keepPrepared ? { keep: input.keepPrepared } : {},
          ),
        );
      }
      return result;
    },

    async commitAndPush(input: CommitAndPushInput) {
      // The repo's commands are done, so its sandbox can go while git works. Best effort:
      // closeWorkspace, which always runs after, removes it for good.
      const released = input.releaseSandbox ? sandboxes.remove(input).catch(() => undefined) : null;
      try {
        // A push to a slow remote may take longer than the heartbeat timeout.
        return await whileAlive(() => commitAndPush(input, deps.gitCredentials));
      } finally {
        await released;
      }
    },

    /** A revert's edit: the inverse of the repo's merged PR, staged in its workspace (activities/git/revert.ts). */
    async revertMerged(input: RevertMergedInput): Promise<RevertMergedResult> {
      if (!resolve(input.workspace).startsWith(join(deps.stateDir, 'workspaces') + sep))
        throw fatal('InvalidInput', `refusing to revert in ${input.workspace}: not a Lockstep workspace`);
      return whileAlive(() => revertMerged(input, deps.workspaceOwner));
    },

    async removeSandbox(input: SandboxRef): Promise<void> {
      await sandboxes.remove(input);
    },

    async removeWorkspace(input: { workspace: string }): Promise<void> {
      await removeOwnWorkspace(input.workspace);
    },

    /**
     * The sandbox and the workspace of a repo's attempt, removed together (one task, not two).
     * Every sandbox of the repo on this host goes, of any attempt, so a create retried late here
     * leaves nothing; on other hosts, their reconcilers see the workflow closed.
     */
    async closeWorkspace(input: CloseWorkspaceInput): Promise<void> {
      const outcomes = await Promise.allSettled([sandboxes.removeAll(input), removeOwnWorkspace(input.workspace)]);
      deps.onWorkspaceClosed?.();
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

export type SharedActivities = ReturnType<typeof createSharedActivities>;
export type ForgeActivities = ReturnType<typeof createForgeActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
