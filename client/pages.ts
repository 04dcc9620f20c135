/**
 * Changes in pages, on the client's side (core/pages.ts): a change of more repos than its page
 * size is started with its tasks stored by reference, page by page in merge order; a resume
 * hands each page the results its run before left; `status` and `prs` read a page's results.
 */
import { addCounts, DEFAULT_PAGE_SIZE, pagesOf, runsInPages, smallResult } from '../core/pages.ts';
import type { PagedTasks, PageSummary, SharedChange, SmallResult, PagePullRequest } from '../core/pages.ts';
import { mergeOrder } from '../core/order.ts';
import { inLanes } from '../core/lanes.ts';
import { pageWorkflowId, repoWorkflowId } from '../core/ids.ts';
import type { ChangeInput } from '../core/change.ts';
import type { PullRequestRef } from '../core/pulls.ts';
import type { RepoResult, RepoTask } from '../core/repo.ts';
import type { BlobStore } from '../core/blobs.ts';
import { taskQueue } from '../config/paths.ts';
import { temporalBlobStore } from '../workers/blobs.ts';
import type { TemporalSession } from './connection.ts';
import { ChangeRefusedError } from './errors.ts';

/** The session's blob store: one per session, so a command reads each blob once. */
const stores = new WeakMap<TemporalSession, BlobStore>();
export function blobStore(session: TemporalSession): BlobStore {
  let store = stores.get(session);
  if (!store) stores.set(session, (store = temporalBlobStore(session.client, taskQueue())));
  return store;
}

/**
 * The input to start: as given for a change of one page, else with its tasks stored in pages
 * (two at a time) and only what the coordinator itself needs inline. The gate keeps the repos
 * its contracts involve; each page scans its own.
 */
export async function inPages(blobs: BlobStore, input: ChangeInput, changeFile?: string): Promise<ChangeInput> {
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  if (input.pages || !runsInPages(input.repos.length, pageSize)) return input;
  const where = `${changeFile ? `${changeFile}: ` : ''}change ${input.changeId} has ${input.repos.length} repos, more than a page (operations.pageSize ${pageSize})`;
  const planless = input.repos.filter((t) => t.mode === 'agent' && t.instructions === null).map((t) => t.repo);
  if (input.landing?.land)
    throw new ChangeRefusedError(
      `${where}: ` +
        'a change in pages is not landed as one linked set; drop `land: true` (and `run --land`), or raise operations.pageSize (at most 500)',
    );
  if (planless.length > 0)
    throw new ChangeRefusedError(
      `${where}: ` +
        `the coordinator plans changes of one page only, and ${planless.length} repos (${planless.slice(0, 3).join(', ')}…) have no instructions. ` +
        'Give them in the change file (instructions per target, or targets.instructions).',
    );
  const order = mergeOrder(input.repos, { reverse: Boolean(input.revert) });
  const byRepo = new Map(input.repos.map((t) => [t.repo, t]));
  const ordered = order.flatMap((repo) => byRepo.get(repo) ?? []);
  const { repos: _repos, previous: _previous, gate, landing: _landing, searchAttributes: _sa, ...rest } = input;
  const shared: SharedChange = rest;
  const pages: PagedTasks['pages'] = await inBatches(
    pagesOf(ordered, pageSize),
    async (tasks) => ({
      tasks: await blobs.put(tasks),
      repos: tasks.length,
      first: tasks[0]?.repo ?? '',
      last: tasks.at(-1)?.repo ?? '',
    }),
    2,
  );
  const contractRepos = new Set(
    (gate?.contracts ?? []).flatMap((c) => [c.provider, c.runIn, ...c.consumers.map((u) => u.repo)]),
  );
  return {
    ...input,
    repos: [],
    previous: null,
    pages: { total: ordered.length, pageSize, shared: await blobs.put(shared), pages },
    gate: gate ? { ...gate, repos: gate.repos.filter((r) => contractRepos.has(r.repo)) } : null,
  };
}

/**
 * What each page of a change in pages left in its latest run (a resume keeps its green repos).
 * A page that did not finish (cancelled, failed, its worker gone) reports nothing itself: the
 * repos of it that finished are read from their own workflows, as a change of one page does.
 */
export async function previousPages(session: TemporalSession, input: ChangeInput): Promise<PageSummary[]> {
  const pages = input.pages?.pages ?? [];
  const blobs = blobStore(session);
  const found = await inBatches(pages, async (page, i) => {
    const handle = session.client.workflow.getHandle(pageWorkflowId(input.changeId, 'run', i));
    const description = await handle.describe().catch(() => null);
    if (!description) return null;
    if (description.status.name === 'COMPLETED') {
      const summary = (await handle.result()) as PageSummary;
      if (summary.results) return summary;
    }
    return finishedRepos(session, blobs, input.changeId, i, await blobs.get<RepoTask[]>(page.tasks));
  });
  return found.filter((s): s is PageSummary => s !== null);
}

/** The summaries of a change's pages of one stage whose latest run completed, in page order. */
export async function finishedPages(
  session: TemporalSession,
  changeId: string,
  pages: number,
  mode: 'run' | 'publish',
): Promise<PageSummary[]> {
  const found = await inBatches(
    Array.from({ length: pages }, (_, i) => i),
    async (i) => {
      const handle = session.client.workflow.getHandle(pageWorkflowId(changeId, mode, i));
      const description = await handle.describe().catch(() => null);
      return description?.status.name === 'COMPLETED' ? ((await handle.result()) as PageSummary) : null;
    },
  );
  return found.filter((s): s is PageSummary => s !== null);
}

/** A page's summary from the repo workflows of it that completed (null when none did). */
async function finishedRepos(
  session: TemporalSession,
  blobs: BlobStore,
  changeId: string,
  index: number,
  tasks: RepoTask[],
): Promise<PageSummary | null> {
  const results = await inBatches(tasks, async (task) => {
    const handle = session.client.workflow.getHandle(repoWorkflowId(changeId, task.repo));
    const description = await handle.describe().catch(() => null);
    return description?.status.name === 'COMPLETED' ? smallResult((await handle.result()) as RepoResult) : null;
  });
  const done = results.filter((r): r is SmallResult => r !== null);
  if (done.length === 0) return null;
  const counts: PageSummary['counts'] = {};
  for (const r of done) addCounts(counts, { [r.status]: 1 });
  return {
    index,
    repos: tasks.length,
    counts,
    failures: [],
    revisions: [],
    findings: [],
    results: await blobs.put(done),
  };
}

/**
 * Reads a few at a time (core/lanes.ts), results in order: a change of 10,000 repos has 100
 * pages, and the server has other callers.
 */
export function inBatches<T, R>(
  items: readonly T[],
  read: (item: T, index: number) => Promise<R>,
  width = 8,
): Promise<R[]> {
  return inLanes(items, width, read);
}

/**
 * Every failed or cancelled repo of these pages, read from their results; a page that failed
 * as a whole (no results) is named by its summary's own failure entry.
 */
export async function failedRepos(session: TemporalSession, pages: PageSummary[]): Promise<SmallResult[]> {
  const store = blobStore(session);
  const lists = await inBatches(pages, async (p) =>
    p.results
      ? (await store.get<SmallResult[]>(p.results)).filter((r) => r.status === 'failed' || r.status === 'cancelled')
      : p.failures,
  );
  return lists.flat();
}

/** One repo of a change in pages: its small result and its pull request, searched page by page. */
export async function findInPages(
  session: TemporalSession,
  pages: PageSummary[],
  repo: string,
): Promise<{ page: number; result: SmallResult; pullRequest: PullRequestRef | null } | null> {
  const store = blobStore(session);
  for (const p of pages) {
    if (!p.results) continue;
    const result = (await store.get<SmallResult[]>(p.results)).find((r) => r.repo === repo);
    if (!result) continue;
    const pulls = p.pullRequests ? await store.get<PagePullRequest[]>(p.pullRequests.refs) : [];
    return { page: p.index, result, pullRequest: pulls.find((r) => r.repo === repo)?.pullRequest ?? null };
  }
  return null;
}

/** The tasks of a change, also of one in pages (read from its task blobs, page by page). */
export async function changeTasks(session: TemporalSession, input: ChangeInput): Promise<RepoTask[]> {
  if (!input.pages) return input.repos;
  const store = blobStore(session);
  return (await inBatches(input.pages.pages, (p) => store.get<RepoTask[]>(p.tasks))).flat();
}

/** A page's repo results. */
export function pageResults(session: TemporalSession, summary: PageSummary): Promise<SmallResult[]> {
  return summary.results ? blobStore(session).get<SmallResult[]>(summary.results) : Promise.resolve([]);
}

/** A page's pull requests. */
export function pagePullRequests(session: TemporalSession, summary: PageSummary): Promise<PagePullRequest[]> {
  return summary.pullRequests
    ? blobStore(session).get<PagePullRequest[]>(summary.pullRequests.refs)
    : Promise.resolve([]);
}
