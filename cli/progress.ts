/**
 * Live progress on stderr while a change runs: which repo, which step, for how long. On a
 * terminal the block is redrawn in place; elsewhere (CI, pipes) one line per change of step.
 */
import type { ChangeResult, ChangeStatusView } from '../core/change.ts';
import type { ContractVerdict, GateReport } from '../core/gate.ts';
import type { EgressSummary } from '../core/commands.ts';
import type { RepoBumpOutcome } from '../core/bump.ts';
import type { RepoStatusView } from '../core/repo.ts';
import { countsLine, failureLine, publishingLine, renderPagedResult, renderPagedView } from './pages.ts';

export function seconds(ms: number): string {
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)}s`
    : `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** One line about a setup's egress: what it reached, how much came down, what was refused. */
export function egressGlance(e: EgressSummary): string {
  const kb = Math.round(e.bytesDown / 1024);
  // An inspected phase (steps, agent) counts requests; setup counts connections.
  const [n, unit] = e.requests !== undefined ? [e.requests, 'request'] : [e.connections, 'connection'];
  const phase = e.phase && e.phase !== 'setup' ? ` (${e.phase})` : '';
  const reached = n
    ? `egress${phase} ${n} ${unit}${n === 1 ? '' : 's'} to ${e.hosts.join(', ')}, ${kb} KB down`
    : `egress${phase}: no ${unit}`;
  return e.denied
    ? `${reached}, ${e.denied} refused (${e.deniedHosts.map((d) => `${d.host}:${d.port}`).join(', ')})`
    : reached;
}

const ICON: Record<RepoStatusView['status'], string> = {
  pending: '·',
  running: '▸',
  green: '✔',
  unchanged: '○',
  failed: '✖',
  skipped: '↷',
  cancelled: '⊘',
};

export function repoLine(view: RepoStatusView, now: number, width: number): string {
  const name = view.repo.padEnd(width);
  if (view.finishedAt !== null || view.result) {
    const r = view.result;
    const took = r ? seconds(r.durationMs) : '';
    if (view.status === 'failed')
      return `${ICON.failed} ${name} failed at ${r?.error?.step ?? view.step ?? '?'}: ${r?.error?.message ?? ''} (${took})`;
    const pr = r?.pullRequest ? `  PR #${r.pullRequest.number}` : '';
    const tests = r?.tests ? `tests passed in ${seconds(r.tests.durationMs)}` : '';
    const egress = r?.steps.find((s) => s.kind === 'setup')?.egress;
    return `${ICON[view.status]} ${name} ${view.status}${tests ? `, ${tests}` : ''}${egress ? `, setup ${egressGlance(egress)}` : ''} (${took})${pr}`;
  }
  if (view.status === 'pending') return `${ICON.pending} ${name} waiting for a free slot`;
  const step = view.step && view.phase !== 'tests' ? ` "${view.step}"` : '';
  const since = view.phaseStartedAt ? seconds(now - view.phaseStartedAt) : '';
  const attempt = view.attempt > 1 ? ` (attempt ${view.attempt})` : '';
  return `${ICON.running} ${name} ${view.phase}${step} ${since}${attempt}`;
}

/** What a waiting change needs from a person, and the command that gives it; null when it waits for no one. */
export function awaitingLine(view: ChangeStatusView, now = Date.now()): string | null {
  const a = view.awaiting;
  if (!a) return null;
  const left = seconds(Math.max(0, a.until - now));
  if (a.kind === 'decision') {
    return `waiting ${left} for a decision on ${a.repos.join(', ')}: lockstep retry|skip ${view.changeId} <repo>, or lockstep abort ${view.changeId}`;
  }
  return `waiting ${left} for ${a.gate} approval: lockstep approve ${view.changeId} (or reject)`;
}

const PHASE_LINES: Partial<Record<ChangeStatusView['phase'], (view: ChangeStatusView) => string>> = {
  planning: () => 'planning: the coordinator model reads the repos and plans the change',
  gate: (view) =>
    `gate (round ${view.gate ? view.gate.round + 1 : 0}): checking the contracts and scanning the changed repos`,
  fixing: (view) => `fix round: ${view.gate?.summary ?? 'the gate blocked'}; the blamed repos work again`,
  publishing: () => 'publishing: opening and linking the pull requests',
};

export class ProgressPrinter {
  private lastLines = 0;
  private readonly seen = new Map<string, string>();
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty: boolean = Boolean(out.isTTY) && process.env.CI !== 'true',
  ) {}

  update(view: ChangeStatusView, now = Date.now()): void {
    if (view.paged) {
      this.updatePaged(view, view.paged, now);
      return;
    }
    const width = Math.max(...view.repos.map((r) => r.repo.length), 4);
    if (this.tty) {
      const header = `${view.changeId}: ${view.phase} ${seconds(now - view.startedAt)}`;
      const waiting = awaitingLine(view, now);
      const lines = [
        header,
        ...view.repos.map((r) => `  ${repoLine(r, now, width)}`),
        ...(waiting ? [`  ${waiting}`] : []),
      ];
      this.redraw(lines);
      return;
    }
    const waiting = view.awaiting
      ? `${view.awaiting.kind}|${view.awaiting.kind === 'approval' ? view.awaiting.gate : view.awaiting.repos.join(',')}`
      : '';
    if (waiting && this.seen.get('\u0000awaiting') !== waiting)
      this.out.write(`[${seconds(now - view.startedAt).padStart(6)}] ${awaitingLine(view, now) ?? ''}\n`);
    this.seen.set('\u0000awaiting', waiting);
    for (const r of view.repos) {
      const key = `${r.status}|${r.phase}|${r.step ?? ''}|${r.attempt}`;
      if (this.seen.get(r.repo) === key) continue;
      this.seen.set(r.repo, key);
      if (r.status === 'pending') continue;
      this.out.write(`[${seconds(now - view.startedAt).padStart(6)}] ${repoLine(r, now, width)}\n`);
    }
    // The change's own phases (planning, the gate, a fix round, publishing) get a line too: they
    // can take a while with no repo step to show.
    const phase = PHASE_LINES[view.phase];
    if (phase && this.seen.get('\u0000phase') !== view.phase)
      this.out.write(`[${seconds(now - view.startedAt).padStart(6)}] ${ICON.running} ${phase(view)}\n`);
    this.seen.set('\u0000phase', view.phase);
  }

  /**
   * A change in pages: on a terminal the capped block of renderPagedView; elsewhere a line per
   * page done (with the counts), per failure, per phase and per page of pull requests, never one
   * per repo step (10,000 repos would write 100,000 lines).
   */
  private updatePaged(view: ChangeStatusView, paged: NonNullable<ChangeStatusView['paged']>, now: number): void {
    if (this.tty) {
      const waiting = awaitingLine(view, now);
      this.redraw([...renderPagedView(view, paged, now), ...(waiting ? [`  ${waiting}`] : [])]);
      return;
    }
    const at = `[${seconds(now - view.startedAt).padStart(6)}]`;
    const emit = (key: string, value: string, line: string): void => {
      if (this.seen.get(key) === value) return;
      this.seen.set(key, value);
      this.out.write(`${at} ${line}\n`);
    };
    emit('\u0000phase', view.phase, `${ICON.running} ${view.phase}: ${paged.total} repos in ${paged.pages} pages`);
    for (const f of paged.failures) emit(`\u0000failed ${f.repo}`, f.status, failureLine(f));
    if (view.phase === 'publishing') emit('\u0000published', String(paged.pullRequests), publishingLine(paged, now));
    else
      emit(
        '\u0000pages',
        `${view.phase}|${paged.pagesDone}`,
        `pages ${paged.pagesDone}/${paged.pages} done: ${countsLine(paged.counts, paged.total)}`,
      );
    const waiting = awaitingLine(view, now);
    if (waiting) emit('\u0000awaiting', waiting.replace(/^waiting \S+/, ''), waiting);
  }

  private redraw(lines: string[]): void {
    if (this.lastLines > 0) this.out.write(`\x1b[${this.lastLines}A`);
    for (const line of lines) this.out.write(`\x1b[2K${line}\n`);
    // A shorter block than the last leaves no stale lines below it.
    for (let i = lines.length; i < this.lastLines; i++) this.out.write('\x1b[2K\n');
    this.lastLines = Math.max(lines.length, this.lastLines);
  }
}

/** The final human summary of a change. */
export function renderResult(result: ChangeResult): string {
  const width = Math.max(...result.repos.map((r) => r.repo.length), 4);
  const lines = [`${result.changeId}: ${result.status} — ${result.summary}`];
  if (result.pages) lines.push(...renderPagedResult(result, result.pages));
  for (const r of result.repos) {
    const pr = r.pullRequest ? `PR #${r.pullRequest.number} ${r.pullRequest.url}` : 'no PR';
    const commit = r.commit ? r.commit.slice(0, 12) : '-';
    lines.push(`  ${r.repo.padEnd(width)}  ${r.status.padEnd(9)} ${r.branch}@${commit}  ${pr}`);
    if (r.bump) lines.push(`    bump: ${bumpLine(r.bump)}`);
    if (r.agent) {
      const a = r.agent;
      lines.push(
        `    agent: ${a.resolved ? 'resolved' : `stopped (${a.reason})`}, ${a.turns} turns, ${a.testIterations} test runs, ${a.usage.prompt}+${a.usage.completion} tokens${r.regression ? ', REGRESSION: tests passed on the base branch' : ''}`,
      );
      if (a.summary) lines.push(`    summary: ${a.summary}`);
    }
    if (r.error) {
      lines.push(`    failed at ${r.error.step}: ${r.error.message}`);
      const tail = r.error.outputTail.trimEnd().split('\n').slice(-15);
      if (tail.length > 0 && tail[0] !== '') lines.push(...tail.map((l) => `    │ ${l}`));
    }
  }
  if (result.gate) lines.push(...gateLines(result.gate));
  if (result.bump)
    lines.push(`  bump: ${result.bump.package} "${result.bump.to}" resolved to ${result.bump.version} for every repo`);
  if (result.mergeOrder.length > 1) lines.push(`  merge order: ${result.mergeOrder.join(' → ')}`);
  if (result.plan) lines.push(`  plan: ${result.plan.summary}`);
  const m = result.metrics;
  const tokens = m.usage.prompt + m.usage.completion;
  lines.push(
    `  ${m.resolved}/${m.repos} resolved, ${m.regressions} regressions${m.turns ? `, ${m.turns} agent turns, ${tokens} tokens` : ''}, ${seconds(m.durationMs)}`,
  );
  return lines.join('\n');
}

/** A repo's bump in a few words: what it moved, or why it did not. */
export function bumpLine(b: RepoBumpOutcome): string {
  switch (b.outcome) {
    case 'bumped':
      return `${b.package} ${b.from ?? '(range)'} → ${b.version}`;
    case 'already':
      return `${b.package} already at ${b.version}`;
    case 'not-declared':
      return `does not declare ${b.package}`;
    case 'failed':
      return `${b.package} ${b.from ?? '(range)'} → ${b.version} failed`;
  }
}

/** Who fits, who breaks, and what no declared consumer uses; null for verdicts recorded before per-consumer verdicts. */
function consumerLine(c: ContractVerdict): string | null {
  if (c.verdicts === undefined) return null;
  const names = (status: 'fits' | 'breaks') =>
    c.verdicts?.filter((v) => v.status === status).map((v) => v.consumer) ?? [];
  // An empty group says nothing ("breaks: -" read as a consumer named "-"): only those with names.
  const parts = (['fits', 'breaks'] as const)
    .filter((s) => names(s).length > 0)
    .map((s) => `${s}: ${names(s).join(', ')}`);
  const unused = c.unusedCount ?? c.unused?.length ?? 0;
  if (unused > 0)
    parts.push(
      `${unused} finding${unused === 1 ? '' : 's'} no declared consumer uses (${c.audience === 'fleet' ? 'notes' : 'blocking: clients outside the fleet'})`,
    );
  return `consumers ${parts.join(' · ')}`;
}

/** The gate's report for people: one line per contract, then each problem and finding with its place. */
export function gateLines(report: GateReport, limit = 12): string[] {
  const lines = [`  gate (round ${report.round}): ${report.summary} in ${seconds(report.durationMs)}`];
  for (const c of report.contracts) {
    const accepted =
      c.accepted.length > 0
        ? `, ${c.accepted.length} breaking change${c.accepted.length === 1 ? '' : 's'} accepted: every consumer updated`
        : '';
    lines.push(
      `    ${c.status === 'passed' ? '✔' : '✖'} ${c.contract} (${c.kind}, ${c.provider} → ${c.consumers.join(', ') || 'no consumers'}): ${c.status}${accepted}`,
    );
    const consumers = consumerLine(c);
    if (consumers) lines.push(`      ${consumers}`);
    for (const p of c.problems.slice(0, limit))
      lines.push(`      ${p.repo}:${p.file}${p.location ? ` ${p.location}` : ''} [${p.rule}] ${p.message}`);
    if (c.problems.length > limit) lines.push(`      … ${c.problems.length - limit} more (--json has them all)`);
    for (const p of (c.preExisting ?? []).slice(0, limit))
      lines.push(
        `      pre-existing ${p.repo}:${p.file}${p.location ? ` ${p.location}` : ''} [${p.rule}] ${p.message}`,
      );
  }
  for (const f of report.findings.slice(0, limit)) {
    lines.push(
      `    ${f.waived === null ? '✖' : '○'} ${f.repo}:${f.file}:${f.line} [${f.tool} ${f.rule}] ${f.message}${f.waived === null ? '' : ` (waived: ${f.waived})`}`,
    );
  }
  if (report.findings.length > limit)
    lines.push(`    … ${report.findings.length - limit} more findings (--json has them all)`);
  return lines;
}
