/**
 * What landing decides, as pure functions of what the forge reports: the steps of the merge
 * order (PRs with no order between them merge in the same step) and, per PR, whether to merge
 * now, bring it up to date, wait, or stop. The workflow only carries these decisions out, so
 * they read the same on every forge and are tested without one.
 */
import type { ForgeConfig, SandboxConfig } from '../config/repos.ts';
import type { LandingState, MergeMethod } from './landing.ts';
import type { OrderNode } from './order.ts';
import type { ChangeInput, ChangeResult } from './change.ts';

/** How long landing waits for a PR when the change file does not say (`landing.timeout`). */
export const DEFAULT_LANDING_TIMEOUT_SECONDS = 3 * 86_400;

/**
 * The merge order in steps: a repo's step is one past the latest step of the repos it consumes
 * from (within the set), so every provider merges in an earlier step than its consumers, and
 * repos with no order between them share a step. Repos keep their merge-order position inside
 * a step. Repos caught in a provider cycle (mergeOrder puts them last) each get a step of their
 * own, in that order. `reverse` (a revert, whose `order` is the merge order backwards): the
 * steps of the forward order, backwards, so every consumer merges before its providers.
 */
export function landingSteps(
  order: readonly string[],
  nodes: readonly OrderNode[],
  options: { reverse?: boolean } = {},
): string[][] {
  if (options.reverse)
    return forwardSteps([...order].reverse(), nodes)
      .reverse()
      .map((s) => s.reverse());
  return forwardSteps(order, nodes);
}

function forwardSteps(order: readonly string[], nodes: readonly OrderNode[]): string[][] {
  const inSet = new Set(order);
  const providerOf = new Map<string, string>();
  for (const node of nodes)
    if (inSet.has(node.repo)) for (const contract of node.provides) providerOf.set(contract, node.repo);
  const byRepo = new Map(nodes.map((n) => [n.repo, n]));
  const step = new Map<string, number>();
  for (const repo of order) {
    const providers = (byRepo.get(repo)?.consumes ?? [])
      .map((c) => providerOf.get(c))
      .filter((p): p is string => p !== undefined && p !== repo);
    // A provider not placed yet comes later in the order: a cycle; this repo then follows
    // everything placed so far.
    const cyclic = providers.some((p) => !step.has(p));
    const after = cyclic ? [...step.values()] : providers.map((p) => step.get(p) ?? 0);
    step.set(repo, after.length === 0 ? 0 : Math.max(...after) + 1);
  }
  const steps: string[][] = [];
  for (const repo of order) {
    const s = step.get(repo) ?? 0;
    (steps[s] ??= []).push(repo);
  }
  return steps.filter((s) => s.length > 0);
}

export type LandingDecision =
  | { action: 'merged'; mergedSha: string }
  | { action: 'merge' }
  /** A draft: no forge merges one, and landing is the person's word that the set is ready. */
  | { action: 'ready' }
  | { action: 'update' }
  | { action: 'wait'; reason: string; checks: string[] }
  | { action: 'stop'; reason: string; files: string[] };

/**
 * What to do with one PR now. `expectedHead` is the commit the change pushed and the gate
 * checked (or the head landing itself made by bringing the PR up to date).
 */
export function landingDecision(state: LandingState, expectedHead: string): LandingDecision {
  const pr = state.pullRequest;
  const stop = (reason: string, files: string[] = []): LandingDecision => ({ action: 'stop', reason, files });
  if (pr.state === 'merged') return { action: 'merged', mergedSha: state.mergedSha ?? pr.commit };
  if (pr.state === 'closed') return stop(`PR #${pr.number} of ${pr.repo} was closed without merging`);
  if (pr.commit !== expectedHead)
    return stop(
      `${state.headAuthor ?? 'someone'} pushed ${pr.commit.slice(0, 12)} to ${pr.head} of ${pr.repo} after the gate checked ${expectedHead.slice(0, 12)}: that head was never tested with the set`,
    );
  if (pr.draft) return { action: 'ready' };
  if (state.reviews.changesRequested.length > 0)
    return stop(`${state.reviews.changesRequested.join(', ')} requested changes on ${pr.repo} #${pr.number}`);
  const failing = state.checks.filter((c) => c.required && c.state === 'failure');
  if (failing.length > 0)
    return stop(`required check${failing.length > 1 ? 's' : ''} ${names(failing)} failed on ${pr.repo} #${pr.number}`);
  if (state.behind) return { action: 'update' };
  if (state.mergeable === false)
    return stop(
      `${pr.repo} #${pr.number} does not merge into ${pr.base}${state.conflicts.length > 0 ? `: conflict in ${state.conflicts.join(', ')}` : ''}`,
      state.conflicts,
    );
  const pending = state.checks.filter((c) => c.required && c.state !== 'success');
  if (pending.length > 0)
    return {
      action: 'wait',
      reason: `waiting on checks of ${pr.repo}: ${names(pending)}`,
      checks: pending.map((c) => c.name),
    };
  if (state.reviews.approved < state.reviews.required)
    return {
      action: 'wait',
      reason: `waiting on approvals of ${pr.repo}: ${state.reviews.approved} of ${state.reviews.required}`,
      checks: [],
    };
  if (state.mergeable === null)
    return { action: 'wait', reason: `waiting for the forge to compute whether ${pr.repo} merges`, checks: [] };
  return { action: 'merge' };
}

function names(checks: { name: string }[]): string {
  return checks.map((c) => c.name).join(', ');
}

/**
 * The next wait between two looks at the forge: doubling from the first, capped. Each look is
 * one request per waiting PR through the forge's paced queue, so waiting for days costs a few
 * requests an hour per PR.
 */
export function nextPoll(previousSeconds: number | null, firstSeconds: number, maxSeconds: number): number {
  return previousSeconds === null ? firstSeconds : Math.min(maxSeconds, previousSeconds * 2);
}

/** One PR of the set as landing receives it (built by the client from the change's input and result). */
export interface LandingTarget {
  repo: string;
  number: number;
  url: string;
  head: string;
  base: string;
  /** The head the change pushed and the gate checked. */
  commit: string;
  method: MergeMethod;
  /** The repo's sandbox, to run its tests on a head landing brought up to date (the local forge has no CI). */
  sandbox: SandboxConfig;
}

export interface LandingInput {
  changeId: string;
  forge: ForgeConfig;
  /** The change's merge order, and the repos' contracts that made it. */
  order: string[];
  nodes: OrderNode[];
  /** A revert's landing: `order` is backwards, and so are the steps (consumers first). */
  reverse?: boolean;
  targets: LandingTarget[];
  /** Landing stops (what merged stays merged) when a PR still waits this long after it started. */
  timeoutSeconds: number;
  /** First and longest wait between looks at a waiting PR. */
  pollSeconds?: { first: number; max: number };
  /** History events past which a waiting landing continues as new (default 2,000; tests lower it). */
  historyEvents?: number;
  /** Carried over continue-as-new: what landing already knows. */
  carried?: LandingCarried;
  /**
   * What an earlier landing of the change that ended left behind: heads it made by bringing PRs
   * up to date, and which of them passed their tests, so `lockstep land` again accepts them.
   */
  earlier?: Pick<LandingRepoView, 'repo' | 'head' | 'testedHead'>[];
}

export interface LandingCarried {
  deadline: number;
  startedAt: string;
  repos: LandingRepoView[];
}

export type LandingRepoState =
  'queued' | 'readying' | 'waiting' | 'updating' | 'testing' | 'merging' | 'merged' | 'stopped';

export interface LandingRepoView {
  repo: string;
  number: number;
  step: number;
  state: LandingRepoState;
  /** Why it waits or stopped, in one sentence. */
  reason: string | null;
  /** Files in conflict, when it stopped on one. */
  conflicts: string[];
  /** The head it will merge (the change's commit, or the one landing brought up to date). */
  head: string;
  /** A head landing made whose tests passed in a sandbox (the local forge's only check). */
  testedHead: string | null;
  method: MergeMethod;
  merge: LandingMerge | null;
  /** Checks it waited for (names as the forge reports them; `tests` for a re-run in a sandbox). */
  checksWaitedFor: string[];
}

export interface LandingMerge {
  sha: string;
  method: MergeMethod;
  at: string;
  /** Found merged (a lost answer retried, or merged by someone else), not merged now by landing. */
  found: boolean;
}

export type LandingStatus = 'landing' | 'landed' | 'stopped';

export interface LandingView {
  changeId: string;
  status: LandingStatus;
  summary: string;
  startedAt: string;
  finishedAt: string | null;
  steps: string[][];
  repos: LandingRepoView[];
  /** The first repo of the order not merged yet. */
  next: string | null;
}

/** One line of where a landing stands, as `lockstep prs` and `lockstep land` print it. */
export function describeLandingRepo(r: LandingRepoView): string {
  switch (r.state) {
    case 'merged':
      return `merged ${r.repo} at ${r.merge?.sha.slice(0, 12) ?? '?'} (${r.merge?.method ?? r.method})`;
    case 'queued':
      return `${r.repo} queued: it merges in step ${r.step + 1}`;
    case 'readying':
      return `marking ${r.repo} #${r.number} ready for review (it was a draft)`;
    case 'updating':
      return `bringing ${r.repo} up to date with its base`;
    case 'testing':
      return `running ${r.repo}'s tests on its updated head`;
    case 'merging':
      return `merging ${r.repo}`;
    case 'waiting':
    case 'stopped':
      return r.reason ?? `${r.repo} ${r.state}`;
  }
}

/**
 * The landing input of a change that published its linked set, or why it has none (the client
 * refuses with it; the coordinator of a change that says `land: true` then starts no landing).
 */
export function landingArgs(
  input: ChangeInput,
  result: ChangeResult,
  options: { timeoutSeconds?: number | undefined; pollSeconds?: LandingInput['pollSeconds'] } = {},
): LandingInput | { refused: string } {
  if (result.status !== 'succeeded')
    return {
      refused: `change ${input.changeId} ended ${result.status}, so it has no linked set to land; finish it first (lockstep resume ${input.changeId})`,
    };
  if (input.pages)
    return {
      refused: `change ${input.changeId} runs in pages (${input.pages.total} repos): its pull requests are merged by their repos' own rules, not landed as one set (\`lockstep prs ${input.changeId}\` lists them)`,
    };
  const tasks = new Map(input.repos.map((t) => [t.repo, t]));
  const targets = result.repos.flatMap((r): LandingTarget[] => {
    const task = tasks.get(r.repo);
    if (!task || !r.pullRequest || !r.commit) return [];
    return [
      {
        repo: r.repo,
        number: r.pullRequest.number,
        url: task.url,
        head: task.branch,
        base: task.baseBranch,
        commit: r.commit,
        method: task.merge ?? 'merge',
        sandbox: task.sandbox,
      },
    ];
  });
  if (targets.length === 0)
    return { refused: `change ${input.changeId} opened no pull request, so there is nothing to land` };
  return {
    changeId: input.changeId,
    forge: input.forge,
    order: result.mergeOrder,
    nodes: input.repos.map((t) => ({ repo: t.repo, provides: t.provides, consumes: t.consumes })),
    ...(input.revert ? { reverse: true } : {}),
    targets,
    timeoutSeconds: options.timeoutSeconds ?? input.landing?.timeoutSeconds ?? DEFAULT_LANDING_TIMEOUT_SECONDS,
    ...(options.pollSeconds ? { pollSeconds: options.pollSeconds } : {}),
  };
}
