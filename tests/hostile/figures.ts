/**
 * The hostile suite's figures, written where `npm run reliability` collects them:
 * `.lockstep/reliability/hostile.json` (git-ignored). Each test file writes its own part and then
 * the merged whole, under a lock, because vitest runs the files in parallel processes.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';

export interface HostileFigures {
  cases: number;
  passed: number;
  escapes: number;
  bombs: number;
  bombsContained: number;
  containersChecked: number;
  containersCompliant: number;
  containersMissed: number;
  secretsPlanted: number;
  placesSearched: number;
  secretsFound: number;
  /** Per case: its id, the outcome expected and the outcome seen. */
  outcomes: { id: string; expected: string; observed: string; ok: boolean; escapes: string[] }[];
}

export const reliabilityDir = (): string => join(projectRoot, '.lockstep', 'reliability');

const SUM_KEYS = [
  'cases',
  'passed',
  'escapes',
  'bombs',
  'bombsContained',
  'containersChecked',
  'containersCompliant',
  'containersMissed',
  'secretsPlanted',
  'placesSearched',
  'secretsFound',
] as const;

/** Writes this file's part, then the sum of every part present as hostile.json. */
export async function writeFigures(part: string, figures: HostileFigures): Promise<string> {
  const dir = reliabilityDir();
  const parts = join(dir, 'hostile');
  await mkdir(parts, { recursive: true });
  await writeFile(
    join(parts, `${part}.json`),
    `${JSON.stringify({ part, writtenAt: new Date().toISOString(), ...figures }, null, 2)}\n`,
  );
  const lock = join(dir, 'hostile.lock');
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (i > 200) await rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    const total: Record<string, unknown> = { parts: [] as string[] };
    const outcomes: HostileFigures['outcomes'] = [];
    for (const name of (await readdir(parts)).filter((n) => n.endsWith('.json')).sort()) {
      const one = JSON.parse(await readFile(join(parts, name), 'utf8')) as HostileFigures & { part: string };
      (total.parts as string[]).push(one.part);
      for (const key of SUM_KEYS) total[key] = ((total[key] as number | undefined) ?? 0) + (one[key] ?? 0);
      outcomes.push(...one.outcomes);
    }
    total.outcomes = outcomes;
    const file = join(dir, 'hostile.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify(total, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
    return file;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export function emptyFigures(): HostileFigures {
  return {
    cases: 0,
    passed: 0,
    escapes: 0,
    bombs: 0,
    bombsContained: 0,
    containersChecked: 0,
    containersCompliant: 0,
    containersMissed: 0,
    secretsPlanted: 0,
    placesSearched: 0,
    secretsFound: 0,
    outcomes: [],
  };
}
