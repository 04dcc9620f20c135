/**
 * Per-consumer verdicts: which declared consumer each breaking finding of a provider really
 * hits, judged by what the consumer declares it uses (core/contracts/usage.ts). A consumer
 * is blamed only for what it uses; a finding nobody declared is for the contract's audience to
 * decide (docs/contracts.md).
 */
import type { ConsumerVerdict, ContractAudience, ContractProblem, ContractSpec } from '../../core/gate.ts';
import { affects, describeHit, type DeclaredUsage } from '../../core/contracts/index.ts';

/** Reasons per consumer, and their length: a verdict travels through workflow history. */
const MAX_WHY = 5;
const MAX_WHY_CHARS = 240;

export interface Attribution {
  /** The breaking findings each declared consumer uses (every consumer has an entry). */
  hits: Map<string, ContractProblem[]>;
  /** Breaking findings no declared consumer uses. */
  unused: ContractProblem[];
}

/**
 * Matches every breaking finding against every consumer's declared usage. A Pact verification
 * names its consumer itself; a consumer that declares nothing readable is hit by everything.
 */
export function attributeFindings(
  spec: ContractSpec,
  breaking: readonly ContractProblem[],
  usage: ReadonlyMap<string, DeclaredUsage>,
): Attribution {
  const hits = new Map<string, ContractProblem[]>(spec.consumers.map((c) => [c.repo, []]));
  const unused: ContractProblem[] = [];
  for (const problem of breaking) {
    const hit = spec.consumers.filter((c) =>
      problem.consumer !== undefined
        ? problem.consumer === c.repo
        : affects(problem, usage.get(c.repo) ?? { form: 'unknown' }),
    );
    for (const c of hit) hits.get(c.repo)?.push(problem);
    if (hit.length === 0) unused.push(problem);
  }
  return { hits, unused };
}

function clip(text: string): string {
  return text.length > MAX_WHY_CHARS ? `${text.slice(0, MAX_WHY_CHARS)}…` : text;
}

/** A consumer left out of the change that uses what broke: named with the first thing it uses. */
export function consumerNotInChange(
  spec: ContractSpec,
  consumer: string,
  hits: readonly ContractProblem[],
): ContractProblem {
  const first = hits[0];
  const more = hits.length > 1 ? ` (and ${hits.length - 1} more)` : '';
  return {
    kind: 'breaking',
    rule: 'consumer-not-in-change',
    file: spec.path ?? '',
    location: '',
    message: `${consumer} consumes ${spec.name} but is not part of this change: it would break: ${first ? describeHit(first) : 'the contract changed'}${more}`,
    repo: spec.provider,
    consumer,
    ...(first?.handle ? { handle: first.handle } : {}),
  };
}

/** A finding no declared consumer uses, worded for the contract's audience. */
export function unusedFinding(problem: ContractProblem, audience: ContractAudience): ContractProblem {
  const why =
    audience === 'public'
      ? 'no declared consumer uses it: affects clients outside the fleet'
      : 'no declared consumer uses it: a note, the contract is fleet-only';
  return { ...problem, message: `${problem.message} (${why})` };
}

/**
 * Every declared consumer, fitting or breaking. A consumer in the change is judged by whether
 * its own usage fits the head (it moves with the provider); one outside the change also breaks
 * when anything it uses broke.
 */
export function consumerVerdicts(
  spec: ContractSpec,
  inChange: ReadonlySet<string>,
  own: readonly ContractProblem[],
  hits: ReadonlyMap<string, readonly ContractProblem[]>,
): ConsumerVerdict[] {
  return spec.consumers.map(({ repo }) => {
    const mine = own.filter((p) => p.consumer === repo || p.repo === repo);
    const used = hits.get(repo) ?? [];
    const changed = inChange.has(repo);
    // In a Pact contract the verification of its own pact is the consumer's whole verdict.
    const counted = changed && spec.kind !== 'pact' ? [] : used;
    const reasons = [...counted.map((p) => describeHit(p)), ...mine.map((p) => p.message)];
    const breaks = reasons.length > 0;
    const why = breaks
      ? reasons
      : changed && used.length > 0
        ? [`updated in this change for ${describeHit(used[0] as ContractProblem)}`]
        : [];
    const shown = why.slice(0, MAX_WHY).map(clip);
    if (why.length > MAX_WHY) shown.push(`… and ${why.length - MAX_WHY} more`);
    return { consumer: repo, inChange: changed, status: breaks ? 'breaks' : 'fits', why: shown };
  });
}
