/**
 * The coordinator's stages for a change in pages (core/pages.ts): the pages run as child
 * workflows in lanes and report summaries; the gate checks the contracts on the revisions the
 * pages reported (each page scanned its own repos); publishing goes page by page. The
 * coordinator's history holds a few events and one summary per page, whatever the number of
 * repos.
 */
import { ChildWorkflowFailure, executeChild, isCancellation, ParentClosePolicy } from '@temporalio/workflow';
import { inLanes } from '../core/lanes.ts';
import { pageWorkflowId } from '../core/ids.ts';
import { addCounts, pageLanes } from '../core/pages.ts';
import type { PageInput, PagedTasks, PageSummary } from '../core/pages.ts';
import type { RepoResult } from '../core/repo.ts';
import type { ChangeState, Ending } from './change-state.ts';
import { gateReportOf, runGate } from './gate-round.ts';
import { pageWorkflow } from './page.ts';
import { describe } from './repo.ts';

/** Runs every page; the change fails when a repo failed (a resume redoes only those). */
export async function runPages(state: ChangeState, paged: PagedTasks): Promise<Ending | null> {
  state.phase = 'running';
  state.pageStage('running');
  const previous = state.input.previousPages ?? [];
  const watch = state.input.gate?.repos.map((r) => r.repo) ?? [];
  const summaries = await eachPage(state, paged, 'run', (i) => ({
    previous: previous.find((p) => p.index === i)?.results ?? null,
    watch,
    scan: state.input.gate
      ? { secrets: state.input.gate.secrets, insecure: state.input.gate.insecure, waive: state.input.gate.waive }
      : null,
  }));
  state.pageRuns = summaries;
  const counts = addCounts({}, {});
  for (const s of summaries) addCounts(counts, s.counts);
  const failed = (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.pending ?? 0);
  if (failed > 0) {
    const first = summaries.flatMap((s) => s.failures).slice(0, 5);
    const named = first.map((r) => `${r.repo} ${r.status} at ${r.error?.step ?? 'unknown step'}`).join('; ');
    return {
      status: 'failed',
      summary: `${failed} of ${paged.total} repos failed${named ? ` (${named}${failed > first.length ? '; …' : ''})` : ''}; no pull request opened; \`lockstep resume\` redoes only those`,
    };
  }
  if ((counts.green ?? 0) === 0) return { status: 'succeeded', summary: 'no repository changed; nothing to publish' };
  return null;
}

/**
 * The gate of a change in pages: the contracts, on the revisions the pages reported, and the
 * pages' guardrail findings. It blocks when it fails; fix rounds are for changes of one page.
 */
export async function gatePages(state: ChangeState): Promise<Ending | null> {
  const gate = state.input.gate;
  if (!gate) return null;
  state.phase = 'gate';
  const results = new Map<string, RepoResult>();
  for (const rev of state.pageRuns.flatMap((s) => s.revisions)) {
    results.set(rev.repo, {
      repo: rev.repo,
      status: 'green',
      branch: '',
      baseCommit: rev.base,
      commit: rev.head,
      changedFiles: [],
      steps: [],
      tests: null,
      error: null,
      attempts: 0,
      durationMs: 0,
    });
  }
  const startedAt = Date.now();
  // The pages scanned their repos: here only the contracts (scans of no repo).
  const checked = await runGate(
    { ...gate, secrets: false, insecure: false },
    state.input.changeId,
    0,
    results,
    state.input.concurrency,
  );
  const report = gateReportOf(
    0,
    checked.contracts,
    state.pageRuns.flatMap((s) => s.findings),
    Date.now() - startedAt,
  );
  state.gateReport = report;
  return report.passed ? null : { status: 'blocked', summary: `${report.summary}; no pull request opened` };
}

/** Opens and links the pull requests page by page (the forge's pacing holds across pages). */
export async function publishPages(state: ChangeState, paged: PagedTasks): Promise<Ending> {
  state.phase = 'publishing';
  state.pageStage('publishing');
  const runs = new Map(state.pageRuns.map((s) => [s.index, s]));
  const toPublish = paged.pages.map((_, i) => i).filter((i) => (runs.get(i)?.counts.green ?? 0) > 0);
  const published = await eachPage(
    state,
    paged,
    'publish',
    (i) => ({ results: runs.get(i)?.results ?? null, gate: state.gateReport, watch: [] }),
    toPublish,
  );
  const byIndex = new Map(published.map((s) => [s.index, s]));
  state.pageRuns = state.pageRuns.map((s) => {
    const p = byIndex.get(s.index);
    return p ? { ...s, pullRequests: p.pullRequests ?? null, error: p.error ?? null } : s;
  });
  const opened = published.reduce((n, s) => n + (s.pullRequests?.opened ?? 0), 0);
  const broken = published.filter((s) => s.error);
  if (broken.length > 0)
    return {
      status: 'failed',
      summary: `publishing failed in ${broken.length} page${broken.length === 1 ? '' : 's'} (${broken[0]?.error ?? ''}); ${opened} pull requests open; \`lockstep resume\` opens the rest`,
    };
  const unchanged = state.pageRuns.reduce((n, s) => n + (s.counts.unchanged ?? 0), 0);
  return {
    status: 'succeeded',
    summary: `${opened} linked pull request${opened === 1 ? '' : 's'} open across ${toPublish.length} page${toPublish.length === 1 ? '' : 's'}${unchanged > 0 ? `; ${unchanged} repos unchanged` : ''}`,
  };
}

/** The pages (all, or `only`) as child workflows, a few at a time; a page that fails is reported as one. */
async function eachPage(
  state: ChangeState,
  paged: PagedTasks,
  mode: PageInput['mode'],
  extra: (index: number) => Partial<PageInput>,
  only?: number[],
): Promise<PageSummary[]> {
  const { input } = state;
  const indexes = only ?? paged.pages.map((_, i) => i);
  const { pages: width, lanes } = pageLanes(input.concurrency, indexes.length);
  return inLanes(indexes, width, async (index) => {
    const page = paged.pages[index];
    if (!page) throw new Error(`no page ${index}`);
    const workflowId = pageWorkflowId(input.changeId, mode, index);
    state.pageStarted(workflowId);
    let summary: PageSummary;
    try {
      summary = await executeChild(pageWorkflow, {
        workflowId,
        args: [
          {
            changeId: input.changeId,
            index,
            pages: paged.pages.length,
            total: paged.total,
            shared: paged.shared,
            tasks: page.tasks,
            concurrency: lanes,
            mode,
            watch: [],
            ...(input.bump ? { bump: state.bump ? { ...input.bump, version: state.bump.version } : input.bump } : {}),
            ...extra(index),
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        memo: { changeId: input.changeId, page: index, mode },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const message = err instanceof ChildWorkflowFailure ? describe(err.cause ?? err) : describe(err);
      summary = {
        index,
        repos: page.repos,
        counts: { failed: page.repos },
        failures: [
          {
            repo: `${page.first}…${page.last}`,
            status: 'failed',
            branch: '',
            baseCommit: null,
            commit: null,
            attempts: 1,
            durationMs: 0,
            error: { step: `page ${index}`, message },
          },
        ],
        revisions: [],
        findings: [],
        results: null,
        error: message,
      };
    }
    state.pageDone(workflowId, summary);
    return summary;
  });
}
