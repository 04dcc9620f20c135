/**
 * Pull request bodies of a linked set: the change's description, every sibling with its link
 * and place in the merge order, and a hidden manifest that Lockstep reads back.
 */
import type { ContractVerdict, GateReport } from '../../core/gate.ts';
import type { Manifest, PullRequestSibling } from '../../core/pulls.ts';

export interface LinkedBodyInput {
  changeId: string;
  repo: string;
  description: string;
  mergeOrder: string[];
  /** Null while the set is still being created (first phase). */
  siblings: PullRequestSibling[] | null;
  /** The contract and guardrail gate's report, when the gate ran. */
  gate?: GateReport | null;
  /** A revert's set: the change it reverts. */
  reverts?: string;
  /** A change in pages: the siblings listed are this page's. */
  set?: { total: number; pages: number };
}

const MANIFEST_PREFIX = '<!-- lockstep:manifest ';

export function renderBody(input: LinkedBodyInput): string {
  const lines: string[] = [];
  if (input.description.trim()) lines.push(input.description.trim(), '');
  lines.push(`### Linked change \`${input.changeId}\``, '');
  if (!input.siblings) {
    lines.push('_The linked pull requests of this change are being opened; this list is filled in when all exist._');
    return lines.join('\n') + '\n';
  }
  const byRepo = new Map(input.siblings.map((s) => [s.repo, s]));
  const ordered = input.mergeOrder.filter((r) => byRepo.has(r));
  if (input.set)
    lines.push(
      `This change spans ${input.set.total} repositories in ${input.set.pages} pages; below are the ${ordered.length} of this one's page. \`lockstep prs ${input.changeId}\` lists them all.`,
      '',
    );
  lines.push(
    input.reverts
      ? `This set reverts the merged pull requests of change \`${input.reverts}\`. Merge in this order (consumers before providers):`
      : 'Merge in this order (providers before consumers):',
    '',
    '| # | Repository | Pull request | Commit |',
    '|---|---|---|---|',
  );
  ordered.forEach((repo, i) => {
    const s = byRepo.get(repo);
    if (!s) return;
    const here = repo === input.repo ? ' (this one)' : '';
    lines.push(
      `| ${i + 1} | ${repo}${here} | [#${s.pullRequest.number}](${s.pullRequest.url}) | \`${s.commit.slice(0, 12)}\` |`,
    );
  });
  if (input.gate) lines.push('', ...gateSection(input.gate));
  const manifest: Manifest = {
    changeId: input.changeId,
    order: ordered,
    repos: ordered.flatMap((repo) => {
      const s = byRepo.get(repo);
      return s ? [{ repo, number: s.pullRequest.number, url: s.pullRequest.url, commit: s.commit }] : [];
    }),
  };
  lines.push(
    '',
    `_Opened by Lockstep. Do not edit the line below; it links this set._`,
    `${MANIFEST_PREFIX}${JSON.stringify(manifest)} -->`,
  );
  return lines.join('\n') + '\n';
}

/** Reads the manifest back from a body, or null when there is none (or it was mangled). */
export function parseManifest(body: string): Manifest | null {
  const start = body.lastIndexOf(MANIFEST_PREFIX);
  if (start < 0) return null;
  const end = body.indexOf(' -->', start);
  if (end < 0) return null;
  try {
    return JSON.parse(body.slice(start + MANIFEST_PREFIX.length, end)) as Manifest;
  } catch {
    return null;
  }
}

/** A short table of the gate's verdicts, and every waived finding with its reason. */
export function gateSection(report: GateReport): string[] {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 200);
  const lines = [
    '#### Contract gate',
    '',
    '| Contract | Kind | Provider | Consumers | Verdict |',
    '|---|---|---|---|---|',
  ];
  for (const c of report.contracts) {
    const note =
      c.status === 'passed' && c.accepted.length > 0
        ? ` (${c.accepted.length} breaking change${c.accepted.length === 1 ? '' : 's'}, every consumer updated)`
        : '';
    const old = c.preExisting?.length ? ` (${c.preExisting.length} pre-existing, below)` : '';
    lines.push(
      `| ${cell(c.contract)} | ${c.kind} | ${cell(c.provider)} | ${cell(c.consumers.join(', ') || '-')} | ${c.status}${note}${old} |`,
    );
  }
  if (report.contracts.length === 0) lines.push('| - | - | - | - | no contract involves these repositories |');
  const consumers = report.contracts.flatMap((c) => consumerLines(c, cell));
  if (consumers.length > 0) lines.push('', 'Consumers, judged by what each declares it uses:', '', ...consumers);
  // Drift the change did not cause: shown so it is not forgotten, never blamed on this change.
  const preExisting = report.contracts.flatMap((c) => (c.preExisting ?? []).map((p) => ({ contract: c.contract, p })));
  if (preExisting.length > 0) {
    lines.push('', 'Pre-existing drift (already there at the base commits; not caused by this change):', '');
    for (const { contract, p } of preExisting.slice(0, 20))
      lines.push(
        `- ${cell(contract)}: \`${cell(p.rule)}\` in ${cell(p.repo)}:${cell(p.file)}${p.location ? ` ${cell(p.location)}` : ''}: ${cell(p.message)}`,
      );
  }
  const waived = report.findings.filter((f) => f.waived !== null);
  if (waived.length > 0) {
    lines.push('', 'Guardrail findings accepted by configuration:', '');
    for (const f of waived)
      lines.push(`- \`${cell(f.rule)}\` in ${cell(f.repo)}:${cell(f.file)}:${f.line}: ${cell(f.waived ?? '')}`);
  }
  return lines;
}

/** Shown per contract: a PR body is read by people, the full lists are in the audit. */
const MAX_REASONS = 3;

/**
 * One contract's consumers, fitting and breaking with why, and the findings no declared consumer
 * uses, worded for the contract's audience. Nothing for verdicts recorded before per-consumer
 * verdicts existed.
 */
function consumerLines(c: ContractVerdict, cell: (text: string) => string): string[] {
  if (c.verdicts === undefined || (c.verdicts.length === 0 && (c.unused ?? []).length === 0)) return [];
  const lines = [`- **${cell(c.contract)}** (${c.audience ?? 'public'}):`];
  for (const v of c.verdicts) {
    if (v.status === 'fits') {
      lines.push(`  - ${cell(v.consumer)} fits${v.why[0] ? `: ${cell(v.why[0])}` : ': nothing it uses broke'}`);
      continue;
    }
    lines.push(`  - ${cell(v.consumer)} **breaks**${v.inChange ? '' : ' (not part of this change)'}:`);
    for (const why of v.why.slice(0, MAX_REASONS)) lines.push(`    - ${cell(why)}`);
    if (v.why.length > MAX_REASONS) lines.push(`    - … ${v.why.length - MAX_REASONS} more in the audit`);
  }
  const unused = c.unused ?? [];
  if (unused.length > 0) {
    const what =
      c.audience === 'fleet'
        ? 'notes: the contract is fleet-only'
        : 'blocking: they may affect clients outside the fleet';
    const total = c.unusedCount ?? unused.length;
    lines.push(`  - ${total} finding${total === 1 ? '' : 's'} no declared consumer uses (${what}):`);
    for (const p of unused.slice(0, MAX_REASONS))
      lines.push(
        `    - \`${cell(p.rule)}\` ${cell(p.message.replace(/ \(no declared consumer uses it: [^)]*\)$/, ''))}`,
      );
  }
  return lines;
}
