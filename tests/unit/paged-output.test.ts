/**
 * What people read of a change in pages at 10,000 repos: `status`, the live progress, the
 * result and `prs` stay a screenful (counts by status, the failures first, capped lists with
 * the command that shows the rest), and the publishing ETA is elapsed / done × remaining.
 */
import { describe, expect, it } from 'vitest';
import { eta, renderPagedView, SHOWN_FAILURES, SHOWN_RUNNING } from '../../cli/pages.ts';
import { ProgressPrinter, renderResult } from '../../cli/progress.ts';
import { renderPullRequests, SHOWN_PULL_REQUESTS } from '../../cli/pulls.ts';
import type { PullRequestLine, PullRequestsReport } from '../../client/pulls.ts';
import type { ChangeResult, ChangeStatusView, PagedView } from '../../core/change.ts';
import type { PageSummary, SmallResult } from '../../core/pages.ts';
import type { RepoStatusView } from '../../core/repo.ts';

const TOTAL = 10_000;
const PAGE = 100;
const name = (i: number) => `svc-${String(i).padStart(5, '0')}`;

const failure = (i: number): SmallResult => ({
  repo: name(i),
  status: 'failed',
  branch: 'lockstep/big',
  baseCommit: 'b'.repeat(40),
  commit: null,
  attempts: 1,
  durationMs: 1200,
  error: { step: 'tests', message: `expected 2, got ${i}\nsecond line` },
});

/** 100 pages of 100 repos; every 100th repo failed (100 failures), one page could not publish. */
function pages(): PageSummary[] {
  return Array.from({ length: TOTAL / PAGE }, (_, index) => ({
    index,
    repos: PAGE,
    counts: { green: PAGE - 1, failed: 1 },
    failures: [failure(index * PAGE + 7)],
    revisions: [],
    findings: [],
    results: { sha256: String(index).padStart(64, '0'), bytes: 1000 },
    pullRequests: { opened: PAGE - 1, refs: { sha256: 'f'.repeat(64), bytes: 10 } },
    error: index === 42 ? 'the forge answered 502' : null,
  }));
}

const running = (i: number, now: number): RepoStatusView => ({
  repo: name(i),
  status: 'running',
  phase: 'step',
  step: 'bump',
  attempt: 1,
  startedAt: now - 5000,
  phaseStartedAt: now - 2000,
  finishedAt: null,
  result: null,
});

function view(phase: ChangeStatusView['phase'], paged: PagedView, repos: RepoStatusView[] = []): ChangeStatusView {
  return {
    changeId: 'big',
    title: 'A change of 10,000 repos',
    status: 'running',
    phase,
    startedAt: 0,
    mergeOrder: [],
    plan: null,
    repos,
    paged,
    result: null,
    awaiting: null,
    humans: [],
    gate: null,
  };
}

const now = 600_000;
const pagedView = (over: Partial<PagedView> = {}): PagedView => ({
  total: TOTAL,
  pageSize: PAGE,
  pages: TOTAL / PAGE,
  pagesDone: 40,
  running: ['change/big/page/run/40', 'change/big/page/run/41'],
  counts: { green: 3950, failed: 45, unchanged: 5 },
  failures: Array.from({ length: 45 }, (_, i) => failure(i * 90)),
  pullRequests: 0,
  stageStartedAt: now - 400_000,
  ...over,
});

describe('a change in pages, as people read it', () => {
  it('status while running: counts, failures first and capped, then the repos running now, capped', () => {
    const repos = Array.from({ length: 16 }, (_, i) => running(4000 + i, now));
    const lines = renderPagedView(view('running', pagedView(), repos), pagedView(), now);
    // Header, counts, ETA, two headings and two "and N more": seven lines besides the capped lists.
    expect(lines.length).toBe(7 + SHOWN_FAILURES + SHOWN_RUNNING);
    expect(lines[0]).toContain('10,000 repos in 100 pages of 100, 40/100 pages done');
    expect(lines[1]).toBe('  45 failed · 3,950 green · 5 unchanged · 6,000 not done yet');
    const failures = lines.findIndex((l) => l.includes('failures (45)'));
    const runningNow = lines.findIndex((l) => l.includes('running now: 16 repos in 2 pages'));
    expect(failures).toBeGreaterThan(0);
    expect(runningNow).toBeGreaterThan(failures);
    expect(lines.filter((l) => l.includes('✖ svc-'))).toHaveLength(SHOWN_FAILURES);
    // A failure is one line: its first line of message, its step.
    expect(lines[failures + 1]).toBe('    ✖ svc-00000 failed at tests: expected 2, got 0');
    expect(lines).toContain('    … and 35 more: lockstep status big --failed');
    expect(lines.filter((l) => l.includes('▸ svc-'))).toHaveLength(SHOWN_RUNNING);
    expect(lines).toContain('    … and 6 more');
    // 40 of 100 pages in 400 s: 60 more take about 600 s.
    expect(lines).toContain('  about 10m00s left at the pace of the pages done');
  });

  it('status while publishing: pull requests opened of those to open, and an ETA from the stage start', () => {
    const paged = pagedView({ pagesDone: 25, pullRequests: 2500, counts: { green: 9950, failed: 50 } });
    const lines = renderPagedView(view('publishing', paged), paged, now);
    // 2,500 in 400 s: 7,450 more at that pace take 1,192 s.
    expect(lines).toContain('  publishing: 2,500 of 9,950 pull requests opened, about 19m52s left');
    expect(lines[0]).toContain('25/100 pages published');
    expect(eta(now - 400_000, 2500, 9950, now)).toBe(1_192_000);
    expect(eta(now - 400_000, 0, 9950, now)).toBeNull();
    expect(eta(null, 10, 9950, now)).toBeNull();
    expect(eta(now - 1, 9950, 9950, now)).toBeNull();
  });

  it('the result: counts over every page, the failures first, the pages that could not publish, no line per repo', () => {
    const summaries = pages();
    const result: ChangeResult = {
      changeId: 'big',
      title: 'A change of 10,000 repos',
      status: 'failed',
      summary: 'publishing failed in 1 page',
      startedAt: '2026-12-05T10:00:00.000Z',
      finishedAt: '2026-12-05T11:00:00.000Z',
      mergeOrder: [],
      plan: null,
      metrics: {
        repos: TOTAL,
        resolved: 9900,
        regressions: 0,
        turns: 0,
        usage: { prompt: 0, completion: 0 },
        durationMs: 3_600_000,
      },
      repos: [],
      pages: summaries,
      gate: null,
    };
    const lines = renderResult(result).split('\n');
    expect(lines.length).toBeLessThanOrEqual(20);
    expect(lines[1]).toBe('  10,000 repos in 100 pages: 100 failed · 9,900 green');
    expect(lines[2]).toBe('  failures (100):');
    expect(lines[3]).toBe('    ✖ svc-00007 failed at tests: expected 2, got 7');
    expect(lines).toContain('    … and 90 more: lockstep status big --failed');
    expect(lines).toContain('  ✖ page 42 could not publish: the forge answered 502');
    expect(lines).toContain('  9,900 pull requests open: lockstep prs big');
    expect(lines.at(-1)).toContain('9900/10000 resolved');
  });

  it('live progress off a terminal: a line per page done and per failure, never one per repo step', () => {
    const out: string[] = [];
    const stream = {
      write: (t: string) => out.push(...t.split('\n').filter(Boolean)),
    } as unknown as NodeJS.WriteStream;
    const printer = new ProgressPrinter(stream, false);
    const repos = Array.from({ length: 16 }, (_, i) => running(i, now));
    const failuresAt = (done: number) => Array.from({ length: Math.min(50, done) }, (_, i) => failure(i * PAGE + 7));
    for (let done = 0; done <= 100; done++) {
      const failures = failuresAt(done);
      const paged = pagedView({ pagesDone: done, counts: { green: done * 99, failed: done }, failures });
      // Each page done is read twice (the poll is faster than the pages).
      printer.update(view('running', paged, repos), now);
      printer.update(view('running', paged, repos), now);
    }
    const paged = pagedView({
      pagesDone: 100,
      pullRequests: 9900,
      counts: { green: 9900, failed: 100 },
      failures: failuresAt(100),
    });
    printer.update(view('publishing', paged), now);
    // A phase line each, 101 page lines, 50 failure lines, one publishing line.
    expect(out.length).toBe(2 + 101 + 50 + 1);
    expect(out.filter((l) => l.includes('svc-') && !l.includes('✖'))).toEqual([]);
    expect(out.at(-1)).toContain('publishing: 9,900 of 9,900 pull requests opened');
  });

  it('prs: counts by state and checks, failing checks first, the first lines only unless --all', () => {
    const lines: PullRequestLine[] = Array.from({ length: TOTAL }, (_, i) => ({
      repo: name(i),
      number: i + 1,
      url: `http://127.0.0.1/${name(i)}/pulls/${i + 1}`,
      state: i % 10 === 0 ? 'merged' : 'draft',
      checks: i === 5000 ? 'failing' : 'passing',
      reviews: { approved: 0, changesRequested: 0, commented: 0 },
      next: i === 1,
    }));
    const report: PullRequestsReport = {
      changeId: 'big',
      mergeOrder: lines.map((l) => l.repo),
      pullRequests: lines,
      deletedBranches: [],
      landing: null,
    };
    const text = renderPullRequests(report).split('\n');
    expect(text.length).toBe(2 + SHOWN_PULL_REQUESTS + 1);
    expect(text[0]).toBe(
      'big: 10000 pull requests, 9000 open (merge order: svc-00000 → svc-00001 → svc-00002 → … (10000 repos))',
    );
    expect(text[1]).toBe('  9000 draft · 1000 merged; checks: 1 failing · 9999 passing');
    expect(text[2]).toContain('svc-05000');
    expect(text[3]).toContain('← next to merge');
    expect(text.at(-1)).toBe('  … and 9980 more: lockstep prs big --all (or --json)');
    expect(renderPullRequests(report, true).split('\n')).toHaveLength(1 + TOTAL);
  });
});
