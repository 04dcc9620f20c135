/**
 * What the coordinator of one change knows while it runs: its phase, the per-repo views and
 * results, the plan, the gate's report, a bump's version, and what people sent it. The query,
 * signal and update handlers call its methods; the stages (planning, fan-out, gate, publishing)
 * read and move it.
 */
import { condition } from '@temporalio/workflow';
import { mergeOrder } from '../core/order.ts';
import { failedBeforeResult } from './repo.ts';
import type { Approval, Decision, DecisionAck } from '../core/decisions.ts';
import type {
  ChangeInput,
  ChangeMetrics,
  ChangePhase,
  ChangeResult,
  ChangeStatus,
  ChangeStatusView,
  PagedView,
} from '../core/change.ts';
import { addCounts, type PageSummary } from '../core/pages.ts';
import type { ChangePlan } from '../core/agent.ts';
import type { GateReport } from '../core/gate.ts';
import type { PullRequestRef } from '../core/pulls.ts';
import type { RepoBumpManifests, ResolvedBump } from '../core/bump.ts';
import type { RepoOutcome, RepoProgress, RepoResult, RepoStatusView, RepoTask } from '../core/repo.ts';

/** How a stage ends the change: its status, why, and the pull requests opened so far. */
export interface Ending {
  status: ChangeStatus;
  summary: string;
  pullRequests?: Map<string, PullRequestRef>;
}

export class ChangeState {
  readonly startedAt = Date.now();
  readonly order: string[];
  readonly tasks: RepoTask[];
  phase: ChangePhase = 'starting';
  status: ChangeStatus = 'running';
  result: ChangeResult | null = null;
  plan: ChangePlan | null = null;
  awaiting: ChangeStatusView['awaiting'] = null;
  gateReport: GateReport | null = null;
  readonly humans: ChangeStatusView['humans'] = [];
  readonly decisions: Decision[] = [];
  readonly approvals = new Map<Approval['gate'], Approval>();
  readonly repos: Map<string, RepoStatusView>;
  readonly results = new Map<string, RepoResult>();
  // A bump: the one version every repo gets, and what each repo's base branch declares.
  bump: ResolvedBump | null = null;
  readonly declared = new Map<string, RepoBumpManifests>();
  // A change in pages: each page's summary (its run, then its pull requests), and the live view.
  pageRuns: PageSummary[] = [];
  readonly paged: PagedView | null;

  constructor(readonly input: ChangeInput) {
    // A revert merges consumers before providers (core/revert.ts).
    this.order = mergeOrder(input.repos, { reverse: Boolean(input.revert) });
    this.tasks = this.order.map((repo) => input.repos.find((t) => t.repo === repo)).filter((t): t is RepoTask => !!t);
    this.repos = new Map<string, RepoStatusView>(
      this.tasks.map((t) => [
        t.repo,
        {
          repo: t.repo,
          status: 'pending',
          phase: 'queued',
          step: null,
          attempt: 1,
          startedAt: null,
          phaseStartedAt: null,
          finishedAt: null,
          result: null,
        },
      ]),
    );
    const pages = input.pages;
    this.paged = pages
      ? {
          total: pages.total,
          pageSize: pages.pageSize,
          pages: pages.pages.length,
          pagesDone: 0,
          running: [],
          counts: {},
          failures: [],
          pullRequests: 0,
          stageStartedAt: null,
        }
      : null;
  }

  /** A change in pages starts a stage (running, publishing): its page counts start over. */
  pageStage(stage: 'running' | 'publishing'): void {
    if (!this.paged) return;
    this.paged.pagesDone = 0;
    this.paged.stageStartedAt = Date.now();
    if (stage === 'running') {
      this.paged.counts = {};
      this.paged.failures = [];
    }
  }

  pageStarted(workflowId: string): void {
    this.paged?.running.push(workflowId);
  }

  pageDone(workflowId: string, summary: PageSummary): void {
    const view = this.paged;
    if (!view) return;
    view.running = view.running.filter((id) => id !== workflowId);
    view.pagesDone++;
    if (summary.pullRequests) view.pullRequests += summary.pullRequests.opened;
    else {
      addCounts(view.counts, summary.counts);
      if (view.failures.length < MAX_VIEW_FAILURES)
        view.failures.push(...summary.failures.slice(0, MAX_VIEW_FAILURES - view.failures.length));
    }
  }

  /** The `changeStatus` query's answer. */
  view(): ChangeStatusView {
    return {
      changeId: this.input.changeId,
      title: this.input.title,
      status: this.status,
      phase: this.phase,
      startedAt: this.startedAt,
      mergeOrder: this.order,
      plan: this.plan,
      repos: [...this.repos.values()],
      ...(this.paged ? { paged: this.paged } : {}),
      result: this.result,
      awaiting: this.awaiting,
      humans: this.humans,
      gate: this.gateReport,
      bump: this.bump,
    };
  }

  /** A repo's (or its agent's) `repoProgress` signal. */
  progress(p: RepoProgress): void {
    const view = this.repos.get(p.repo);
    if (!view || view.finishedAt !== null) return;
    view.status = 'running';
    view.phase = p.phase;
    view.step = p.step;
    view.attempt = p.attempt;
    view.phaseStartedAt = p.at;
    view.startedAt ??= p.at;
  }

  /** The `decide` update's validator: only a repo that waits for a decision takes one. */
  checkDecision(d: Decision): void {
    const awaiting = this.awaiting;
    if (awaiting?.kind !== 'decision') throw new Error('no failed repo is waiting for a decision');
    if (d.action !== 'abort' && (!d.repo || !awaiting.repos.includes(d.repo))) {
      throw new Error(`repo "${d.repo ?? ''}" is not waiting for a decision (waiting: ${awaiting.repos.join(', ')})`);
    }
  }

  decide(d: Decision): DecisionAck {
    this.decisions.push(d);
    this.humans.push({ ...d, at: Date.now() });
    return {
      accepted: true,
      message:
        d.action === 'abort'
          ? 'aborting the change'
          : `${d.action === 'retry' ? 'retrying' : 'skipping'} ${d.repo ?? ''}`,
    };
  }

  /** The `approval` update's validator: only the gate the change waits at takes an answer. */
  checkApproval(a: Approval): void {
    const awaiting = this.awaiting;
    if (awaiting?.kind !== 'approval' || awaiting.gate !== a.gate) {
      throw new Error(
        `the change is not waiting for a ${a.gate} approval${awaiting?.kind === 'approval' ? ` (it waits for ${awaiting.gate})` : ''}`,
      );
    }
  }

  approve(a: Approval): DecisionAck {
    this.approvals.set(a.gate, a);
    this.humans.push({ ...a, at: Date.now() });
    return { accepted: true, message: `${a.gate} ${a.approved ? 'approved' : 'rejected'}` };
  }

  /** Waits for a person at a gate; the answer, or null when the wait timed out. */
  async approval(name: Approval['gate']): Promise<Approval | null> {
    const timeout = (this.input.approvals?.timeoutSeconds ?? 86_400) * 1000;
    this.phase = 'awaiting-approval';
    this.awaiting = { kind: 'approval', gate: name, until: Date.now() + timeout };
    await condition(() => this.approvals.has(name), timeout);
    this.awaiting = null;
    return this.approvals.get(name) ?? null;
  }

  /**
   * Waits for a person's decisions on the failed repos: those that came, or null when the wait
   * timed out (the change still says what it waited for; the caller clears it).
   */
  async decisionsOn(repos: string[], wait: number): Promise<Decision[] | null> {
    this.phase = 'awaiting-decision';
    this.awaiting = { kind: 'decision', repos, until: Date.now() + wait };
    const seen = this.decisions.length;
    if (!(await condition(() => this.decisions.length > seen, wait))) return null;
    this.awaiting = null;
    return this.decisions.slice(seen);
  }

  /** A repo the coordinator starts now: it shows as preparing until its own progress says more. */
  starting(task: RepoTask): void {
    const view = this.repos.get(task.repo);
    if (view) {
      view.status = 'running';
      view.phase = 'preparing';
      view.step = null;
      view.finishedAt = null;
      view.startedAt ??= Date.now();
      view.phaseStartedAt = Date.now();
    }
  }

  record(task: RepoTask, repoResult: RepoResult): void {
    this.results.set(task.repo, { ...repoResult, ...(task.taskHash ? { taskHash: task.taskHash } : {}) });
    const view = this.repos.get(task.repo);
    if (view) {
      view.status = repoResult.status;
      view.phase = 'done';
      view.step = null;
      view.finishedAt = Date.now();
      view.result = { ...repoResult, pullRequest: null };
    }
  }

  /** The results so far, in merge order. */
  current(): RepoResult[] {
    return this.tasks.map((t) => this.results.get(t.repo)).filter((r): r is RepoResult => !!r);
  }

  /** The change's result: every repo in merge order (one never run says so), with its pull request. */
  finish({ status: final, summary, pullRequests = new Map<string, PullRequestRef>() }: Ending): ChangeResult {
    this.status = final;
    this.phase = 'done';
    const ordered = this.tasks.map(
      (t) =>
        this.results.get(t.repo) ?? {
          ...failedBeforeResult(t, 'not run', summary),
          status: 'pending' as const,
          attempts: 0,
          durationMs: 0,
        },
    );
    const result: ChangeResult = {
      changeId: this.input.changeId,
      title: this.input.title,
      status: final,
      summary,
      startedAt: new Date(this.startedAt).toISOString(),
      finishedAt: new Date(Date.now()).toISOString(),
      mergeOrder: this.order,
      plan: this.plan,
      metrics: this.paged
        ? pagedMetrics(this.paged, this.startedAt)
        : metricsOf([...this.results.values()], this.startedAt),
      repos: ordered.map((r): RepoOutcome => ({ ...r, pullRequest: pullRequests.get(r.repo) ?? null })),
      ...(this.paged ? { pages: withFewFailures(this.pageRuns) } : {}),
      gate: this.gateReport,
      ...(this.bump ? { bump: this.bump } : {}),
    };
    this.result = result;
    for (const outcome of result.repos) {
      const view = this.repos.get(outcome.repo);
      if (view) view.result = outcome;
    }
    return result;
  }
}

/** The failures a paged view names (all are in the pages' results). */
const MAX_VIEW_FAILURES = 50;

/**
 * The pages' summaries as the result keeps them: the first MAX_VIEW_FAILURES failures over all
 * pages (every page's counts stay; all failures are in its results), so the result stays small.
 */
function withFewFailures(pages: PageSummary[]): PageSummary[] {
  let left = MAX_VIEW_FAILURES;
  return pages.map((p) => {
    const failures = p.failures.slice(0, Math.max(0, left));
    left -= failures.length;
    return { ...p, failures };
  });
}

/** Metrics of a change in pages, from its counts (agent usage stays in the repo workflows). */
function pagedMetrics(view: PagedView, startedAt: number): ChangeMetrics {
  return {
    repos: view.total,
    resolved: (view.counts.green ?? 0) + (view.counts.unchanged ?? 0),
    regressions: 0,
    turns: 0,
    usage: { prompt: 0, completion: 0 },
    durationMs: Date.now() - startedAt,
  };
}

export function metricsOf(results: RepoResult[], startedAt: number): ChangeMetrics {
  return {
    repos: results.length,
    resolved: results.filter((r) => r.status === 'green' || r.status === 'unchanged').length,
    regressions: results.filter((r) => r.regression === true).length,
    turns: results.reduce((n, r) => n + (r.agent?.turns ?? 0), 0),
    usage: {
      prompt: results.reduce((n, r) => n + (r.agent?.usage.prompt ?? 0), 0),
      completion: results.reduce((n, r) => n + (r.agent?.usage.completion ?? 0), 0),
    },
    durationMs: Date.now() - startedAt,
  };
}
