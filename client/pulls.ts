/**
 * The linked PR set of a change (`lockstep prs|publish|close`), read back from the change's
 * result and the manifests hidden in the PR bodies. Forge requests go through a worker (which
 * alone holds the token) as a small workflow, on the forge's rate-limited queue.
 */
import type { PullRequestView } from '../core/pulls.ts';
import { taskQueue } from '../config/paths.ts';
import { pullRequestsWorkflowId } from '../core/ids.ts';
import type { PullRequestsAction, PullRequestsInput, PullRequestsResult } from '../core/pulls.ts';
import type { pullRequestsWorkflow } from '../workflows/pulls.ts';
import { openTemporal } from './connection.ts';
import { changeResult, originalInput } from './queries.ts';
import { ensureWorker } from './worker.ts';
import { changeTasks, inBatches, pagePullRequests } from './pages.ts';
import { pagesOf } from '../core/pages.ts';
import { landingStatus } from './landing.ts';
import type { LandingView } from '../core/landing-plan.ts';

/** Pull requests acted on in one workflow, for a change in pages. */
const PAGED_BATCH = 25;

export interface PullRequestLine {
  repo: string;
  number: number;
  url: string;
  state: 'draft' | 'open' | 'merged' | 'closed';
  checks: PullRequestView['checks'];
  reviews: PullRequestView['reviews'];
  /** The first PR of the merge order that is not merged yet. */
  next: boolean;
}

export interface PullRequestsReport {
  changeId: string;
  mergeOrder: string[];
  pullRequests: PullRequestLine[];
  deletedBranches: string[];
  /** Where the change's landing stands (`lockstep land`), or null when it never started. */
  landing: LandingView | null;
}

export async function pullRequests(options: {
  stateDir: string;
  changeId: string;
  action: PullRequestsAction;
  worker: 'auto' | 'never';
  log: (line: string) => void;
}): Promise<PullRequestsReport> {
  const session = await openTemporal({ stateDir: options.stateDir, startServer: true, log: options.log });
  try {
    const input = await originalInput(session, options.changeId);
    const result = await changeResult(session, options.changeId);
    // A change in pages keeps its tasks and pull requests in its pages' blobs (core/pages.ts).
    const taskList = await changeTasks(session, input);
    const tasks = new Map(taskList.map((t) => [t.repo, t]));
    const known = new Map(
      result.pages
        ? (await inBatches(result.pages, (p) => pagePullRequests(session, p)))
            .flat()
            .map((p) => [p.repo, p.pullRequest.number] as const)
        : result.repos.flatMap((r) => (r.pullRequest ? [[r.repo, r.pullRequest.number] as const] : [])),
    );
    const worker = await ensureWorker(
      session,
      { worker: options.worker, stateDir: options.stateDir, log: options.log, forges: [input.forge] },
      false,
    );
    try {
      const run = async (action: PullRequestsAction, repos: [string, number][]): Promise<PullRequestsResult> => {
        const targets = repos.flatMap(([repo, number]) => {
          const task = tasks.get(repo);
          return task ? [{ repo, number, url: task.url, branch: task.branch }] : [];
        });
        const args: PullRequestsInput = { changeId: options.changeId, forge: input.forge, action, targets };
        return session.client.workflow.execute<typeof pullRequestsWorkflow>('pullRequestsWorkflow', {
          workflowId: pullRequestsWorkflowId(
            options.changeId,
            action,
            `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
          ),
          taskQueue: taskQueue(),
          args: [args],
        });
      };
      // A change in pages acts on its pull requests a batch at a time: each status carries its
      // PR's manifest (its page's siblings), and one answer must stay well under Temporal's
      // payload limit.
      const acted = (action: PullRequestsAction, repos: [string, number][]): Promise<PullRequestsResult> =>
        input.pages
          ? inBatches(pagesOf(repos, PAGED_BATCH), (batch) => run(action, batch), 2).then((parts) => ({
              statuses: parts.flatMap((p) => p.statuses),
              deletedBranches: parts.flatMap((p) => p.deletedBranches),
            }))
          : run(action, repos);
      // The result names the PRs it opened; their manifests may name more (a publish that
      // failed half-way recorded fewer): those are acted on too.
      const done = await acted(options.action, [...known]);
      const extra = new Map<string, number>();
      for (const s of done.statuses)
        for (const m of s.manifest?.repos ?? [])
          if (!known.has(m.repo) && tasks.has(m.repo)) extra.set(m.repo, m.number);
      if (extra.size > 0) {
        const more = await acted(options.action, [...extra]);
        done.statuses.push(...more.statuses);
        done.deletedBranches.push(...more.deletedBranches);
      }
      // A manifest of a change in pages orders only its page: the whole order is the tasks'.
      const manifestOrder = input.pages ? undefined : done.statuses.find((s) => s.manifest)?.manifest?.order;
      const order =
        manifestOrder && manifestOrder.length > 0
          ? manifestOrder
          : input.pages
            ? taskList.map((t) => t.repo)
            : result.mergeOrder;
      const ranks = new Map(order.map((repo, i) => [repo, i]));
      const rank = (repo: string) => ranks.get(repo) ?? order.length;
      const lines = done.statuses
        .map((s): Omit<PullRequestLine, 'next'> => ({
          repo: s.pullRequest.repo,
          number: s.pullRequest.number,
          url: s.pullRequest.url,
          state: s.pullRequest.state === 'open' && s.pullRequest.draft ? 'draft' : s.pullRequest.state,
          checks: s.checks,
          reviews: s.reviews,
        }))
        .sort((a, b) => rank(a.repo) - rank(b.repo));
      const next = lines.find((l) => l.state !== 'merged');
      const landing = options.action === 'status' ? await landingStatus(session, options.changeId) : null;
      return {
        landing,
        changeId: options.changeId,
        mergeOrder: order,
        pullRequests: lines.map((l) => ({ ...l, next: l === next && (l.state === 'open' || l.state === 'draft') })),
        deletedBranches: done.deletedBranches,
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await session.close();
  }
}
