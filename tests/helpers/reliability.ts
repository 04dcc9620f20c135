/**
 * Settings and figures of the fault loops (tests/faults/). Each loop reads its run count and
 * seed from the environment, draws every random choice from one seeded generator (the seed is
 * printed, so a failing run is rerun with the same choices) and writes its figures to
 * `.lockstep/reliability/<part>.json`, which `npm run reliability` prints as one table.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';

export const DEFAULT_FAULT_SEED = 20261124;

export interface FaultSettings {
  runs: number;
  seed: number;
}

/** LOCKSTEP_FAULT_RUNS (default: `ciRuns`, the short CI count) and LOCKSTEP_FAULT_SEED. */
export function faultSettings(part: string, ciRuns: number): FaultSettings {
  const runs = Number(process.env.LOCKSTEP_FAULT_RUNS ?? ciRuns);
  const seed = Number(process.env.LOCKSTEP_FAULT_SEED ?? DEFAULT_FAULT_SEED);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`LOCKSTEP_FAULT_RUNS must be a positive integer, not ${process.env.LOCKSTEP_FAULT_RUNS}`);
  if (!Number.isInteger(seed))
    throw new Error(`LOCKSTEP_FAULT_SEED must be an integer, not ${process.env.LOCKSTEP_FAULT_SEED}`);
  console.log(
    `${part}: ${runs} run(s), seed ${seed} (rerun with LOCKSTEP_FAULT_RUNS=${runs} LOCKSTEP_FAULT_SEED=${seed})`,
  );
  return { runs, seed };
}

/** A loop's vitest timeout: generous per run, so a loop is bounded but never cut short by its count. */
export const loopTimeout = (runs: number, perRunMinutes: number): number => (runs * perRunMinutes + 2) * 60_000;

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max]. */
export const between = (random: () => number, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** What one fault part measured; the runner's table has one column per field. */
export interface FaultFigures {
  part: string;
  seed: number;
  runs: number;
  /** Runs whose change reached the expected end (succeeded; for the hung sandbox, failed cleanly). */
  completed: number;
  /** Fewest and most PRs any repo had at the end of any run (both must be 1). */
  prsPerRepo: { min: number; max: number } | null;
  duplicates: number;
  /** Containers labelled with a run's change still there after the run (and the sweep). */
  orphans: number;
  /**
   * Containers and work trees of the runs' changes, summed: right after each change ended (no
   * worker started since), and again one reconciler interval later. Both must be 0.
   */
  leftovers?: { atEnd: LeftoverCount; afterInterval: LeftoverCount };
  /** Free-form figures of the part (kill points, repos interrupted, detection…). */
  details: Record<string, unknown>;
  durationMs: number;
  recordedAt: string;
}

export interface LeftoverCount {
  containers: number;
  workTrees: number;
}

/** Adds one run's counts to a loop's figure. */
export function foldLeftovers(
  into: FaultFigures['leftovers'],
  run: {
    atEnd: { containers: string[]; workTrees: string[] };
    afterInterval: { containers: string[]; workTrees: string[] };
  },
): NonNullable<FaultFigures['leftovers']> {
  const base = into ?? { atEnd: { containers: 0, workTrees: 0 }, afterInterval: { containers: 0, workTrees: 0 } };
  return {
    atEnd: {
      containers: base.atEnd.containers + run.atEnd.containers.length,
      workTrees: base.atEnd.workTrees + run.atEnd.workTrees.length,
    },
    afterInterval: {
      containers: base.afterInterval.containers + run.afterInterval.containers.length,
      workTrees: base.afterInterval.workTrees + run.afterInterval.workTrees.length,
    },
  };
}

export const reliabilityDir = join(projectRoot, '.lockstep', 'reliability');

export async function writeFaultFigures(figures: Omit<FaultFigures, 'recordedAt'>): Promise<void> {
  await mkdir(reliabilityDir, { recursive: true });
  const file = join(reliabilityDir, `${figures.part}.json`);
  await writeFile(`${file}.tmp`, `${JSON.stringify({ ...figures, recordedAt: new Date().toISOString() }, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Folds one run's PR counts into the min/max figure. */
export function foldPrs(
  into: { min: number; max: number } | null,
  perRepo: Record<string, number>,
): { min: number; max: number } {
  const counts = Object.values(perRepo);
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return into ? { min: Math.min(into.min, min), max: Math.max(into.max, max) } : { min, max };
}
