/**
 * What every fuzz suite shares: the seed and run counts (from the environment, so a failure
 * seen in CI replays locally with the same numbers), fast-check's limits, and the figures file
 * that `npm run reliability` reads (`.lockstep/reliability/fuzz.json`, git-ignored).
 */
import fc from 'fast-check';
import { mkdir, readFile, rename, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(raw)}`);
  return value;
}

/** `LOCKSTEP_FUZZ_SEED`: the same seed gives the same generated inputs. */
export const FUZZ_SEED = positiveInt('LOCKSTEP_FUZZ_SEED', 20_260_611);
/** `LOCKSTEP_FUZZ_RUNS`: runs per property (modest by default, for CI). */
export const FUZZ_RUNS = positiveInt('LOCKSTEP_FUZZ_RUNS', 200);
/** `LOCKSTEP_FUZZ_SANDBOX_RUNS`: runs against a real Docker sandbox, where each run costs a container exec. */
export const SANDBOX_RUNS = positiveInt('LOCKSTEP_FUZZ_SANDBOX_RUNS', Math.min(FUZZ_RUNS, 30));

/**
 * fast-check parameters for one property. A run that does not settle within `perRunMs` fails
 * as a hang (fast-check's own per-run timeout), and the whole property is cut off, as a
 * failure, after `totalMs`: a hang shows up as a failed property with its counterexample,
 * never as a stuck test file.
 */
export function fuzzParameters<T>(numRuns: number, perRunMs = 10_000, totalMs = 150_000): fc.Parameters<T> {
  return {
    seed: FUZZ_SEED,
    numRuns,
    timeout: perRunMs,
    interruptAfterTimeLimit: totalMs,
    markInterruptAsFailure: true,
    endOnFailure: true,
  };
}

/** Figures of one property for the reliability report. */
export interface FuzzFigures {
  runs: number;
  /** Runs whose input was carried out or accepted (an ok tool outcome, a loaded file), not refused. */
  accepted: number;
  /** Reads or writes that reached anything outside the workspace (or into its .git). */
  escapes: number;
  /** Model-supplied strings that a program read as an option. */
  flagsRead: number;
  /** Processes started on the host while a tool ran on model input. */
  hostProcesses: number;
  /** Exceptions other than the typed outcome the code promises. */
  crashes: number;
  /** Runs that did not finish within the per-run limit. */
  hangs: number;
  failed: boolean;
}

export const noFigures = (): FuzzFigures => ({
  runs: 0,
  accepted: 0,
  escapes: 0,
  flagsRead: 0,
  hostProcesses: 0,
  crashes: 0,
  hangs: 0,
  failed: false,
});

/**
 * Completes a property's figures from fast-check's report (a run over its time limit fails
 * with a timeout, a property over its total budget is interrupted: both count as a hang) and
 * returns the report to show when it failed.
 */
export function settle<T>(figures: FuzzFigures, details: fc.RunDetails<T>): string {
  const text = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  figures.hangs += details.interrupted || (details.failed && /Property timeout/.test(text)) ? 1 : 0;
  figures.failed = details.failed;
  return fc.defaultReportMessage(details) ?? '';
}

const reliabilityDir = join(projectRoot, '.lockstep', 'reliability');

/**
 * Merges one suite's figures into `.lockstep/reliability/fuzz.json`. Test files run in parallel
 * processes, so the read-merge-write holds a lock (a directory: mkdir is atomic).
 */
export async function recordFigures(suite: string, properties: Record<string, FuzzFigures>): Promise<void> {
  await mkdir(reliabilityDir, { recursive: true });
  const lock = join(reliabilityDir, 'fuzz.json.lock');
  for (let tries = 0; ; tries++) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    const file = join(reliabilityDir, 'fuzz.json');
    type Suite = { seed: number; recordedAt: string; properties: Record<string, FuzzFigures> };
    const before = await readFile(file, 'utf8')
      .then((text) => JSON.parse(text) as { suites?: Record<string, Suite> })
      .catch(() => ({ suites: {} }));
    const suites: Record<string, Suite> = {
      ...(before.suites ?? {}),
      [suite]: { seed: FUZZ_SEED, recordedAt: new Date().toISOString(), properties },
    };
    const totals = noFigures();
    for (const s of Object.values(suites)) {
      for (const p of Object.values(s.properties)) {
        totals.runs += p.runs;
        totals.accepted += p.accepted;
        totals.escapes += p.escapes;
        totals.flagsRead += p.flagsRead;
        totals.hostProcesses += p.hostProcesses;
        totals.crashes += p.crashes;
        totals.hangs += p.hangs;
        totals.failed ||= p.failed;
      }
    }
    const doc = { seed: FUZZ_SEED, runsPerProperty: FUZZ_RUNS, sandboxRuns: SANDBOX_RUNS, totals, suites };
    await writeFile(`${file}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  } finally {
    await rmdir(lock);
  }
}
