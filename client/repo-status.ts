/**
 * One repo of a change, and every failure of a change, read back without listing the change's
 * repos: what `lockstep status <id> --repo <name>` and `--failed` show. A change in pages keeps
 * its repos' results in its pages' blobs (core/pages.ts): they are searched page by page; the
 * repo's own workflow (its id is deterministic) holds the full result and its live progress.
 */
import type { ChangeStatusView } from '../core/change.ts';
import { changeStatusQuery } from '../core/messages.ts';
import { repoWorkflowId } from '../core/ids.ts';
import { smallResult, type PageSummary, type SmallResult } from '../core/pages.ts';
import type { PullRequestRef } from '../core/pulls.ts';
import type { RepoOutcome, RepoResult } from '../core/repo.ts';
import type { TemporalSession } from './connection.ts';
import { ChangeRefusedError } from './errors.ts';
import { failedRepos, finishedPages, findInPages } from './pages.ts';
import { changeHandle, readChange } from './queries.ts';

export interface RepoReading {
  changeId: string;
  repo: string;
  /** The page that holds it (a change in pages), else null. */
  page: number | null;
  /** What the change knows of it: a page's small result, or the change's own outcome. */
  result: SmallResult | RepoOutcome | null;
  pullRequest: PullRequestRef | null;
  /** The repo's own workflow: its status, its full result when it completed, its progress while it runs. */
  workflow: { workflowId: string; status: string; result: RepoResult | null; progress: unknown } | null;
}

/** The summaries of a change's pages so far: each run page's, with its pull requests once published. */
async function pagesSoFar(session: TemporalSession, changeId: string, pages: number): Promise<PageSummary[]> {
  const [runs, published] = await Promise.all([
    finishedPages(session, changeId, pages, 'run'),
    finishedPages(session, changeId, pages, 'publish'),
  ]);
  const byIndex = new Map(published.map((p) => [p.index, p]));
  return runs.map((s) => {
    const p = byIndex.get(s.index);
    return p ? { ...s, pullRequests: p.pullRequests ?? null, error: p.error ?? null } : s;
  });
}

/** A change's pages, finished or so far; null for a change of one page (or one the server cannot answer for). */
async function pagesOf(
  session: TemporalSession,
  changeId: string,
): Promise<{ pages: PageSummary[] | null; view: ChangeStatusView | null; repos: RepoOutcome[] }> {
  const reading = await readChange(session, changeId);
  if (reading.state === 'completed')
    return { pages: reading.result.pages ?? null, view: null, repos: reading.result.repos };
  if (reading.state === 'running' && reading.view) {
    const view = reading.view;
    return { pages: view.paged ? await pagesSoFar(session, changeId, view.paged.pages) : null, view, repos: [] };
  }
  // Closed without a result (cancelled, terminated): its pages may still have finished.
  const view = await changeHandle(session, changeId)
    .query(changeStatusQuery)
    .catch(() => null);
  return { pages: view?.paged ? await pagesSoFar(session, changeId, view.paged.pages) : null, view, repos: [] };
}

export async function readRepo(session: TemporalSession, changeId: string, repo: string): Promise<RepoReading> {
  const { pages, view, repos } = await pagesOf(session, changeId);
  let page: number | null = null;
  let result: RepoReading['result'] = null;
  let pullRequest: PullRequestRef | null = null;
  if (pages) {
    const found = await findInPages(session, pages, repo);
    if (found) ({ page, result, pullRequest } = found);
  } else {
    const outcome = repos.find((r) => r.repo === repo) ?? view?.repos.find((r) => r.repo === repo)?.result ?? null;
    result = outcome;
    pullRequest = outcome?.pullRequest ?? null;
  }
  const handle = session.client.workflow.getHandle(repoWorkflowId(changeId, repo));
  const description = await handle.describe().catch(() => null);
  const workflow = description
    ? {
        workflowId: handle.workflowId,
        status: description.status.name.toLowerCase(),
        result: description.status.name === 'COMPLETED' ? ((await handle.result()) as RepoResult) : null,
        progress: description.memo?.progress ?? null,
      }
    : null;
  if (!result && !workflow)
    throw new ChangeRefusedError(
      `change ${changeId} has no repo "${repo}" that ran${pages ? ` in its ${pages.length} finished pages` : ''} (names as repos.config.json spells them)`,
    );
  return { changeId, repo, page, result, pullRequest, workflow };
}

/** Every failed or cancelled repo of a change so far. */
export async function readFailures(session: TemporalSession, changeId: string): Promise<SmallResult[]> {
  const { pages, view, repos } = await pagesOf(session, changeId);
  if (pages) return failedRepos(session, pages);
  const outcomes = repos.length > 0 ? repos : (view?.repos.flatMap((r) => (r.result ? [r.result] : [])) ?? []);
  return outcomes.filter((r) => r.status === 'failed' || r.status === 'cancelled').map(smallResult);
}
