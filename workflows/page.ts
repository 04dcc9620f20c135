/**
 * One page of a change in pages (core/pages.ts): its repos run as the coordinator runs a small
 * change (the same ChangeState and fan-out: bump manifests, resume reuse, lanes), then the page
 * stores every repo's small result by reference and reports a summary. In `publish` mode it
 * opens and links the pull requests of its green repos. Its status query answers like the
 * coordinator's, for its own repos.
 */
import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import { changeStatusQuery } from '../core/messages.ts';
import { fromSmall, MAX_PAGE_FAILURES, smallResult } from '../core/pages.ts';
import type { PageInput, PagePullRequest, PageSummary, SmallResult } from '../core/pages.ts';
import type { ChangeInput } from '../core/change.ts';
import type { GateRepo } from '../core/gate.ts';
import type { PullRequestRef } from '../core/pulls.ts';
import type { RepoStatus } from '../core/repo.ts';
import { ChangeState } from './change-state.ts';
import { runRepos } from './fan-out.ts';
import { runGate } from './gate-round.ts';
import { resolveBumpOnce } from './planning.ts';
import { publish } from './publishing.ts';
import { describe } from './repo.ts';

/**
 * Blob reads and writes: quick calls to the Temporal server (a page's tasks are about 100 KB),
 * retried patiently; a worker lost mid-call costs the page half a minute.
 */
const { readPage, storeBlob } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export async function pageWorkflow(input: PageInput): Promise<PageSummary> {
  const page = await readPage({
    shared: input.shared,
    tasks: input.tasks,
    previous: input.previous ?? null,
    results: input.results ?? null,
  });
  const change: ChangeInput = {
    ...page.shared,
    changeId: input.changeId,
    repos: page.tasks,
    concurrency: input.concurrency,
    previous: page.previous ? Object.fromEntries(page.previous.map((s) => [s.repo, fromSmall(s)])) : null,
    // A page never waits for people: its coordinator does, for the whole change.
    decisionTimeoutSeconds: 0,
    approvals: { plan: false, publish: false, timeoutSeconds: 0 },
    gate: null,
    ...(input.bump ? { bump: input.bump } : {}),
  };
  const state = new ChangeState(change);
  setHandler(changeStatusQuery, () => state.view());
  if (input.mode === 'publish') return publishPage(input, state, page.results ?? []);

  const ending = (await resolveBumpOnce(state)) ?? (await runRepos(state));
  const outcome = state.finish(ending ?? { status: 'succeeded', summary: '' });
  const results = outcome.repos.map((r) =>
    // A repo the page never ran (its bump could not be read) failed with the page's reason.
    r.status === 'pending' ? { ...smallResult(r), status: 'failed' as const } : smallResult(r),
  );
  const findings = await scanPage(input, state, results);
  return summaryOf(input, results, await storeBlob(results), findings);
}

/**
 * The guardrail scans of the page's green repos (the coordinator's gate checks the contracts
 * across pages; a scan needs only its own repo).
 */
async function scanPage(
  input: PageInput,
  state: ChangeState,
  results: SmallResult[],
): Promise<PageSummary['findings']> {
  const scan = input.scan;
  if (!scan || !(scan.secrets || scan.insecure)) return [];
  const green = new Set(results.filter((r) => r.status === 'green').map((r) => r.repo));
  const repos: GateRepo[] = state.tasks
    .filter((t) => green.has(t.repo))
    .map((t) => ({ repo: t.repo, url: t.url, baseBranch: t.baseBranch, sandbox: t.sandbox, inChange: true }));
  if (repos.length === 0) return [];
  const report = await runGate(
    { contracts: [], repos, secrets: scan.secrets, insecure: scan.insecure, rounds: 0, waive: scan.waive },
    input.changeId,
    0,
    state.results,
    input.concurrency,
  );
  return report.findings;
}

function summaryOf(
  input: PageInput,
  results: SmallResult[],
  ref: PageSummary['results'],
  findings: PageSummary['findings'],
): PageSummary {
  const counts: Partial<Record<RepoStatus, number>> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const watched = new Set(input.watch);
  return {
    index: input.index,
    repos: results.length,
    counts,
    failures: results.filter((r) => r.status === 'failed' || r.status === 'cancelled').slice(0, MAX_PAGE_FAILURES),
    revisions: results
      .filter((r) => watched.has(r.repo))
      .map((r) => ({ repo: r.repo, base: r.baseCommit, head: r.commit ?? r.baseCommit })),
    // Open findings first, a page's first few: the gate blocks on any open one, and its report
    // (in every pull request's body) stays readable.
    findings: [...findings.filter((f) => f.waived === null), ...findings.filter((f) => f.waived !== null)].slice(
      0,
      MAX_PAGE_FAILURES,
    ),
    results: ref,
  };
}

/** Opens (find-or-create) and links the page's pull requests; the bodies name the page's siblings and the change's size. */
async function publishPage(input: PageInput, state: ChangeState, results: SmallResult[]): Promise<PageSummary> {
  const green = results.filter((r) => r.status === 'green').map(fromSmall);
  const pullRequests = new Map<string, PullRequestRef>();
  let error: string | null = null;
  try {
    await publish(state.input, state.order, green, pullRequests, input.gate ?? null, {
      total: input.total,
      pages: input.pages,
    });
  } catch (err) {
    error = describe(err);
  }
  const opened: PagePullRequest[] = [...pullRequests].map(([repo, pullRequest]) => ({ repo, pullRequest }));
  const summary = summaryOf(input, results, input.results ?? (await storeBlob(results)), []);
  return { ...summary, pullRequests: { opened: opened.length, refs: await storeBlob(opened) }, error };
}
