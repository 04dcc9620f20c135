/**
 * Landing a change's linked set: merge its PRs in merge order as the forge reports them ready,
 * step by step (a step's PRs have no order between them). Each round looks at every unmerged PR
 * of the current step once, acts on what it sees (merge, bring up to date, stop), then sleeps
 * on a durable timer that doubles up to a cap, so days of waiting cost a few requests an hour
 * and a history kept short by continue-as-new. What merged stays merged; running it again
 * finds merged PRs merged and goes on from there.
 */
import {
  CancellationScope,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities/index.ts';
import { landingDecision, landingSteps, nextPoll } from '../core/landing-plan.ts';
import type { LandingInput, LandingRepoView, LandingTarget, LandingView } from '../core/landing-plan.ts';
import { landingStatusQuery } from '../core/messages.ts';
import { forgeCalls } from './forge-calls.ts';
import { describe } from './repo.ts';

/** Default waits between looks at a waiting PR: a remote forge's CI takes minutes, not seconds. */
const REMOTE_POLL = { first: 30, max: 15 * 60 };
/** The local forge has no CI: only landing's own test runs are waited for. */
const LOCAL_POLL = { first: 1, max: 30 };
/** Events past which a waiting landing continues as new (far below Temporal's limits). */
const HISTORY_EVENTS = 2_000;
/** The check a re-run of the repo's tests in a sandbox counts as (the local forge's only check). */
export const LOCAL_TESTS_CHECK = 'tests (sandbox)';

const { openWorkspace } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

function onHost(hostQueue: string, startToCloseSeconds: number, maximumAttempts: number) {
  return proxyActivities<HostActivities>({
    taskQueue: hostQueue,
    scheduleToStartTimeout: '2 minutes',
    startToCloseTimeout: `${startToCloseSeconds} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts },
  });
}

export async function landingWorkflow(input: LandingInput): Promise<LandingView> {
  const steps = landingSteps(input.order, input.nodes, { reverse: input.reverse ?? false });
  const stepOf = new Map(steps.flatMap((s, i) => s.map((repo) => [repo, i] as const)));
  const targets = new Map(input.targets.map((t) => [t.repo, t]));
  const ordered = input.order.filter((repo) => targets.has(repo));
  const carried = new Map((input.carried?.repos ?? []).map((r) => [r.repo, r]));
  const earlier = new Map((input.earlier ?? []).map((r) => [r.repo, r]));
  const view: LandingView = {
    changeId: input.changeId,
    status: 'landing',
    summary: 'landing',
    startedAt: input.carried?.startedAt ?? new Date().toISOString(),
    finishedAt: null,
    steps,
    repos: ordered.map((repo): LandingRepoView => {
      const t = targets.get(repo) as LandingTarget;
      const before = carried.get(repo);
      // A stop of an earlier run is looked at again: landing again is how a fixed cause resumes.
      return before && before.state !== 'stopped'
        ? before
        : {
            repo,
            number: t.number,
            step: stepOf.get(repo) ?? 0,
            state: 'queued',
            reason: null,
            conflicts: [],
            head: before?.head ?? earlier.get(repo)?.head ?? t.commit,
            testedHead: before?.testedHead ?? earlier.get(repo)?.testedHead ?? null,
            method: t.method,
            merge: null,
            checksWaitedFor: before?.checksWaitedFor ?? [],
          };
    }),
    next: null,
  };
  setHandler(landingStatusQuery, () => view);
  const deadline = input.carried?.deadline ?? Date.now() + input.timeoutSeconds * 1000;
  const poll = input.pollSeconds ?? (input.forge.type === 'local' ? LOCAL_POLL : REMOTE_POLL);
  const forge = forgeCalls(input.forge);
  const byRepo = new Map(view.repos.map((r) => [r.repo, r]));
  const refresh = () => {
    view.next = view.repos.find((r) => r.state !== 'merged')?.repo ?? null;
  };

  /** One look at a PR and what follows from it: true when it merged (now or before). */
  const advance = async (r: LandingRepoView): Promise<boolean> => {
    const t = targets.get(r.repo) as LandingTarget;
    const target = { forge: input.forge, repo: r.repo, number: r.number };
    let readied = false;
    for (;;) {
      const state = await forge.landingState(target);
      const decision = landingDecision(state, r.head);
      // Checks that reported: a required check that never did is named by the protection's rule
      // (a glob on Gitea), not by the check that later answers it.
      for (const check of state.checks)
        if (check.required && check.state !== 'missing' && !r.checksWaitedFor.includes(check.name))
          r.checksWaitedFor.push(check.name);
      switch (decision.action) {
        case 'merged':
          r.state = 'merged';
          r.reason = null;
          // Merged by someone else (or by an earlier landing whose record was lost): recorded as found.
          r.merge ??= { sha: decision.mergedSha, method: r.method, at: new Date().toISOString(), found: true };
          return true;
        case 'stop':
          r.state = 'stopped';
          r.reason = decision.reason;
          r.conflicts = decision.files;
          return false;
        case 'wait':
          r.state = 'waiting';
          r.reason = decision.reason;
          return false;
        case 'ready':
          // A draft (the forges' default until "lockstep publish"): landing it is publishing it;
          // its checks and reviews are then waited for like any other PR's. Once per look: a
          // forge still showing the draft is looked at again after the wait.
          if (readied) {
            r.state = 'waiting';
            r.reason = `waiting for ${r.repo} #${r.number} to show ready for review`;
            return false;
          }
          r.state = 'readying';
          r.reason = null;
          await forge.markPullRequestReady(target);
          readied = true;
          continue;
        case 'update': {
          r.state = 'updating';
          r.reason = null;
          const updated = await forge.updatePullRequestBranch({ ...target, sha: r.head });
          if (!updated.updated) {
            r.state = 'stopped';
            r.conflicts = updated.conflicts;
            r.reason =
              updated.conflicts.length > 0
                ? `${r.repo}'s base moved and merging it in conflicts in ${updated.conflicts.join(', ')}; resolve it on ${t.base} or ${t.head}, then run lockstep land ${input.changeId} again`
                : `could not bring ${r.repo} up to date: ${updated.reason}`;
            return false;
          }
          r.head = updated.headSha;
          // The local forge has no CI: the merge below tests the new head first.
          if (input.forge.type === 'local') continue;
          r.state = 'waiting';
          r.reason = `waiting on checks of ${r.repo} after bringing it up to date`;
          return false;
        }
        case 'merge': {
          if (input.forge.type === 'local' && r.head !== t.commit && r.testedHead !== r.head) {
            // No CI on the local forge: the repo's own tests on a head landing made are its check.
            const failure = await testsOnHead(input.changeId, t, r);
            if (failure) {
              r.state = 'stopped';
              r.reason = failure;
              return false;
            }
            r.testedHead = r.head;
            continue;
          }
          r.state = 'merging';
          const outcome = await forge.mergePullRequest({
            forge: input.forge,
            repo: r.repo,
            number: r.number,
            sha: r.head,
            method: r.method,
            checksWaitedFor: r.checksWaitedFor,
          });
          if (outcome.merged) {
            r.state = 'merged';
            r.reason = null;
            r.merge = {
              sha: outcome.mergedSha,
              method: r.method,
              at: new Date().toISOString(),
              found: outcome.alreadyMerged,
            };
            return true;
          }
          if (outcome.kind === 'conflict' || outcome.kind === 'refused') {
            // The base moved between the look and the merge: look again at once.
            const again = await forge.landingState(target);
            if (again.behind && again.pullRequest.commit === r.head && again.pullRequest.state === 'open') continue;
          }
          r.state = 'stopped';
          r.reason = `the forge refused to merge ${r.repo} #${r.number} (${outcome.kind}): ${outcome.reason}`;
          return false;
        }
      }
    }
  };

  const finish = (status: LandingView['status'], summary: string): LandingView => {
    view.status = status;
    view.summary = summary;
    view.finishedAt = new Date().toISOString();
    refresh();
    return view;
  };

  let wait: number | null = null;
  for (let step = 0; step < steps.length;) {
    const pending = (steps[step] ?? [])
      .map((repo) => byRepo.get(repo) as LandingRepoView)
      .filter((r) => r.state !== 'merged');
    if (pending.length === 0) {
      step++;
      wait = null;
      continue;
    }
    refresh();
    const merged = await Promise.all(
      pending.map((r) =>
        advance(r).catch((err: unknown) => {
          if (isCancellation(err)) throw err;
          r.state = 'stopped';
          r.reason = `${r.repo}: ${describe(err)}`;
          return false;
        }),
      ),
    );
    if (merged.every(Boolean)) continue;
    const stopped = pending.filter((r) => r.state === 'stopped');
    if (stopped.length > 0) return finish('stopped', stoppedSummary(view, stopped));
    if (Date.now() >= deadline) {
      for (const r of pending)
        if (r.state === 'waiting') {
          r.state = 'stopped';
          r.reason = `timed out: ${r.reason ?? 'waiting'}`;
        }
      return finish('stopped', stoppedSummary(view, pending));
    }
    wait = nextPoll(wait, poll.first, poll.max);
    await sleep(Math.min(wait * 1000, Math.max(1000, deadline - Date.now())));
    if (
      workflowInfo().continueAsNewSuggested ||
      workflowInfo().historyLength > (input.historyEvents ?? HISTORY_EVENTS)
    ) {
      await continueAsNew<typeof landingWorkflow>({
        ...input,
        carried: { deadline, startedAt: view.startedAt, repos: view.repos },
      });
    }
  }
  const found = view.repos.filter((r) => r.merge?.found).length;
  return finish(
    'landed',
    `${view.repos.length} pull request${view.repos.length === 1 ? '' : 's'} merged in order${found > 0 ? ` (${found} found merged already)` : ''}`,
  );
}

function stoppedSummary(view: LandingView, stopped: LandingRepoView[]): string {
  const merged = view.repos.filter((r) => r.state === 'merged').map((r) => r.repo);
  const waiting = view.repos.filter((r) => r.state !== 'merged' && !stopped.includes(r)).map((r) => r.repo);
  return [
    `stopped: ${stopped.map((r) => r.reason ?? r.repo).join('; ')}`,
    merged.length > 0 ? `merged and staying merged: ${merged.join(', ')}` : 'nothing merged',
    waiting.length > 0 ? `not merged: ${waiting.join(', ')}` : null,
    `run lockstep land ${view.changeId} again once the cause is fixed`,
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * The repo's setup and tests on `r.head` in a fresh sandbox, removed again in every outcome:
 * null when they pass, else why not.
 */
async function testsOnHead(change: string, t: LandingTarget, r: LandingRepoView): Promise<string | null> {
  r.state = 'testing';
  // Not the change's own id: the reconciler reaps the workspace and sandbox of a change id whose
  // repo workflow closed, which the change's has. No change id has a dot, so none collides.
  const changeId = `${change}.land`;
  const ws = await openWorkspace({
    changeId,
    repo: t.repo,
    url: t.url,
    baseBranch: t.base,
    branch: t.head,
    startCommit: r.head,
    sandbox: t.sandbox,
  });
  const { runInSandbox } = onHost(
    ws.hostQueue,
    t.sandbox.timeouts.setupSeconds + t.sandbox.timeouts.testSeconds + 120,
    1,
  );
  const ref = { changeId, repo: t.repo };
  try {
    let index = 0;
    const run = (kind: 'setup' | 'test', command: string, timeoutSeconds: number) =>
      runInSandbox({
        ...ref,
        kind,
        name: kind === 'setup' ? 'setup' : 'tests',
        index: index++,
        command,
        timeoutSeconds,
        outputBytes: t.sandbox.limits.outputBytes,
      });
    if (t.sandbox.setup) {
      const setup = await run('setup', t.sandbox.setup, t.sandbox.timeouts.setupSeconds);
      if (setup.exitCode !== 0 || setup.timedOut)
        return `${t.repo}'s setup failed on its updated head ${r.head.slice(0, 12)} (exit ${setup.exitCode})`;
    }
    const tests = await run('test', t.sandbox.test, t.sandbox.timeouts.testSeconds);
    if (!r.checksWaitedFor.includes(LOCAL_TESTS_CHECK)) r.checksWaitedFor.push(LOCAL_TESTS_CHECK);
    if (tests.exitCode !== 0 || tests.timedOut)
      return `${t.repo}'s tests fail on its updated head ${r.head.slice(0, 12)}${tests.timedOut ? ' (timed out)' : ` (exit ${tests.exitCode})`}: ${tests.outputTail.split('\n').filter(Boolean).slice(-3).join(' | ')}`;
    return null;
  } finally {
    await CancellationScope.nonCancellable(() =>
      onHost(ws.hostQueue, 120, 3).closeWorkspace({ ...ref, workspace: ws.workspace }),
    );
  }
}
