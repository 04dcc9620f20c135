/**
 * The gate: contracts and guardrails on the change's heads. In agent mode its report goes back
 * to the repos it blames, for a bounded number of rounds; no pull request opens before it passes.
 */
import { isCancellation, patched, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import { inLanes } from '../core/lanes.ts';
import { describe } from './repo.ts';
import { failedOf, failedSummary, runAll } from './fan-out.ts';
import { fixTask } from './gate-fix.ts';
import type { ChangeState, Ending } from './change-state.ts';
import type {
  ContractSpec,
  ContractVerdict,
  GateInput,
  GateRepo,
  GateReport,
  GateRevision,
  GuardrailFinding,
} from '../core/gate.ts';
import type { RepoResult } from '../core/repo.ts';

/** Gate checks clone repos and run sandboxed tools; they heartbeat while they work. */
const { checkContract, scanRepo } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 3 },
});

/** Gate rounds until the gate passes (null: on to publishing), the rounds run out, or a fix fails. */
export async function gateRounds(state: ChangeState): Promise<Ending | null> {
  const { input, tasks, results } = state;
  if (!input.gate) return null;
  for (let round = 0; ; round++) {
    state.phase = 'gate';
    state.gateReport = await runGate(input.gate, input.changeId, round, results, input.concurrency);
    if (state.gateReport.passed) return null;
    const report = state.gateReport;
    const fixable = tasks.filter(
      (t) => t.mode === 'agent' && blamed(report).has(t.repo) && results.get(t.repo)?.commit,
    );
    if (round >= input.gate.rounds || fixable.length === 0)
      return { status: 'blocked', summary: `${report.summary}; no pull request opened` };
    state.phase = 'fixing';
    await runAll(
      state,
      fixable.map((t) => fixTask(t, results.get(t.repo)?.commit ?? null, report, round + 1)),
    );
    const failedNow = failedOf(state.current());
    if (failedNow.length > 0)
      return { status: 'failed', summary: `gate round ${round + 1}: ${failedSummary(failedNow)}` };
  }
}

/**
 * One gate round: every contract and every changed repo's scan in parallel, on the heads the
 * repos pushed (a repo outside the change is looked at on its base branch).
 */
export async function runGate(
  gate: GateInput,
  changeId: string,
  round: number,
  results: Map<string, RepoResult>,
  concurrency: number,
): Promise<GateReport> {
  const startedAt = Date.now();
  const revisions: GateRevision[] = gate.repos.map((r) => {
    const result = results.get(r.repo);
    return { repo: r.repo, base: result?.baseCommit ?? null, head: result?.commit ?? result?.baseCommit ?? null };
  });
  const involved = (names: string[]) => gate.repos.filter((r) => names.includes(r.repo));
  const checkOne = (contract: ContractSpec): Promise<ContractVerdict> =>
    checkContract({
      changeId,
      round,
      contract,
      repos: involved([contract.provider, contract.runIn, ...contract.consumers.map((c) => c.repo)]),
      revisions,
    }).catch((err: unknown): ContractVerdict => {
      if (isCancellation(err)) throw err;
      // A check that could not run is not a pass: it blocks, and says why.
      return {
        contract: contract.name,
        kind: contract.kind,
        provider: contract.provider,
        consumers: contract.consumers.map((c) => c.repo),
        status: 'failed',
        problems: [
          {
            kind: 'failed',
            rule: 'check-did-not-run',
            file: contract.path ?? '',
            location: '',
            message: `the check could not run: ${describe(err)}`,
            repo: contract.provider,
          },
        ],
        accepted: [],
        blame: [],
        durationMs: 0,
      };
    });
  const scannable = (repo: GateRepo) => {
    const result = results.get(repo.repo);
    return result?.status === 'green' && Boolean(result.commit) && Boolean(result.baseCommit);
  };
  const scanned = gate.secrets || gate.insecure ? gate.repos.filter(scannable) : [];
  const scanOne = (repo: GateRepo) => {
    const result = results.get(repo.repo);
    return scanRepo({
      changeId,
      round,
      repo,
      base: result?.baseCommit ?? '',
      head: result?.commit ?? '',
      secrets: gate.secrets,
      insecure: gate.insecure,
    }).catch((err: unknown) => {
      if (isCancellation(err)) throw err;
      return [
        {
          repo: repo.repo,
          tool: 'lockstep',
          rule: 'scan-did-not-run',
          file: '',
          line: 0,
          message: `the scan could not run: ${describe(err)}`,
        },
      ];
    });
  };
  // Each check and scan holds sandboxes: together they keep to the change's concurrency (runs
  // that started before this rule scheduled them all at once, in the same order, and still do).
  const width = patched('gate-within-concurrency') ? concurrency : Number.MAX_SAFE_INTEGER;
  const contracts: ContractVerdict[] = [];
  const scans: Omit<GuardrailFinding, 'waived'>[][] = [];
  const jobs = [
    ...gate.contracts.map((contract, i) => async () => void (contracts[i] = await checkOne(contract))),
    ...scanned.map((repo, i) => async () => void (scans[i] = await scanOne(repo))),
  ];
  await inLanes(jobs, width, (job) => job());
  const findings = scans.flat().map((f): GuardrailFinding => ({ ...f, waived: waiverFor(gate, f)?.reason ?? null }));
  return gateReportOf(round, contracts, findings, Date.now() - startedAt);
}

function waiverFor(gate: GateInput, f: Pick<GuardrailFinding, 'rule' | 'repo'>) {
  return gate.waive.find((w) => w.rule === f.rule && (!w.repo || w.repo === f.repo));
}

export function gateReportOf(
  round: number,
  contracts: ContractVerdict[],
  findings: GuardrailFinding[],
  durationMs: number,
): GateReport {
  const broken = contracts.filter((c) => c.status !== 'passed');
  const open = findings.filter((f) => f.waived === null);
  const parts: string[] = [];
  if (broken.length > 0)
    parts.push(
      `contract${broken.length === 1 ? '' : 's'} ${broken.map((c) => `${c.contract} ${c.status}`).join(', ')}`,
    );
  if (open.length > 0)
    parts.push(
      `${open.length} guardrail finding${open.length === 1 ? '' : 's'} (${[...new Set(open.map((f) => f.rule))].join(', ')})`,
    );
  const passed = parts.length === 0;
  return {
    round,
    passed,
    summary: passed
      ? `gate passed: ${contracts.length} contract${contracts.length === 1 ? '' : 's'} held${findings.length > 0 ? `, ${findings.length} waived finding${findings.length === 1 ? '' : 's'}` : ''}`
      : `gate blocked: ${parts.join('; ')}`,
    contracts,
    findings,
    durationMs,
  };
}

/** The repos a failed gate sends back to work: those its verdicts blame, and those with open findings. */
export function blamed(report: GateReport): Set<string> {
  return new Set([
    ...report.contracts.filter((c) => c.status !== 'passed').flatMap((c) => c.blame),
    ...report.findings.filter((f) => f.waived === null).map((f) => f.repo),
  ]);
}
