/**
 * `npm run reliability`: the whole reliability suite, one part after the other (the machine's
 * CPUs go to Docker and Temporal, not to parallel parts), each bounded by its own timeout, all
 * on loopback, then one table of figures read from `.lockstep/reliability/*.json`.
 *
 *   node --import tsx scripts/reliability.ts             # full counts (30 / 10 / 20 / 3 / 2)
 *   node --import tsx scripts/reliability.ts --short     # the CI counts, as `npm test` runs them
 *   node --import tsx scripts/reliability.ts --only worker-kill,hostile
 *
 * LOCKSTEP_FAULT_SEED fixes the kill points of every fault loop (default in
 * tests/helpers/reliability.ts); LOCKSTEP_FUZZ_SEED the fuzzers'. Exit code 1 when a part failed,
 * ran out of time or left a container behind (the runner removes those: each part's temporary
 * folders live under a root of its own, and so do its sandboxes' workspaces).
 */
import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { LABEL_CHANGE, LABEL_WORKSPACE } from '../activities/sandbox/docker.ts';
import { projectRoot } from '../config/paths.ts';
import { DEFAULT_FAULT_SEED, reliabilityDir, type FaultFigures } from '../tests/helpers/reliability.ts';

interface Part {
  name: string;
  files: string[];
  /** LOCKSTEP_FAULT_RUNS at full counts (fault loops only). */
  fullRuns?: number;
  /** Bound of the whole part, in minutes, at full counts and at CI counts. */
  timeoutMinutes: { full: number; short: number };
  /** Its figures file under .lockstep/reliability/, removed before the part runs. */
  figures: string | null;
}

const PARTS: Part[] = [
  {
    name: 'worker-kill',
    files: ['tests/faults/worker-kill.test.ts'],
    fullRuns: 30,
    timeoutMinutes: { full: 60, short: 8 },
    figures: 'worker-kill.json',
  },
  {
    name: 'server-restart',
    files: ['tests/faults/server-restart.test.ts'],
    fullRuns: 10,
    timeoutMinutes: { full: 25, short: 6 },
    figures: 'server-restart.json',
  },
  {
    name: 'crash-after-create',
    files: ['tests/faults/crash-after-create.test.ts'],
    fullRuns: 20,
    timeoutMinutes: { full: 30, short: 8 },
    figures: 'crash-after-create.json',
  },
  {
    name: 'two-workers',
    files: ['tests/faults/two-workers.test.ts'],
    fullRuns: 3,
    timeoutMinutes: { full: 15, short: 8 },
    figures: 'two-workers.json',
  },
  {
    name: 'hung-docker',
    files: ['tests/faults/hung-docker.test.ts'],
    fullRuns: 2,
    timeoutMinutes: { full: 12, short: 8 },
    figures: 'hung-docker.json',
  },
  { name: 'hostile', files: ['tests/hostile'], timeoutMinutes: { full: 15, short: 15 }, figures: 'hostile.json' },
  { name: 'fuzz', files: ['tests/fuzz'], timeoutMinutes: { full: 15, short: 15 }, figures: 'fuzz.json' },
  { name: 'replay', files: ['tests/workflows/replay.test.ts'], timeoutMinutes: { full: 5, short: 5 }, figures: null },
];

interface Outcome {
  part: Part;
  status: 'passed' | 'failed' | 'timed out';
  durationMs: number;
  /** Containers of the part still there when it ended (removed by the runner). */
  leftOver: number;
  figures: Record<string, unknown> | null;
}

function parseArgs(argv: string[]): { short: boolean; only: string[] | null } {
  const short = argv.includes('--short');
  const at = argv.indexOf('--only');
  const only = at >= 0 ? (argv[at + 1] ?? '').split(',').filter(Boolean) : null;
  const unknown = (only ?? []).filter((n) => !PARTS.some((p) => p.name === n));
  if (unknown.length > 0)
    throw new Error(`unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.map((p) => p.name).join(', ')}`);
  return { short, only };
}

/** Runs one part's vitest files in a process group of its own, killed whole at the timeout. */
async function runPart(part: Part, short: boolean): Promise<Outcome> {
  if (part.figures) await rm(join(reliabilityDir, part.figures), { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (part.fullRuns && !short) env.LOCKSTEP_FAULT_RUNS = String(part.fullRuns);
  else delete env.LOCKSTEP_FAULT_RUNS;
  // Every temporary folder of the part (fleets, workspaces: the sandboxes' workspace labels)
  // lives under a root of its own, so what a killed part leaves is found and removed.
  const root = await mkdtemp(join(tmpdir(), 'lockstep-reliability-'));
  env.TMPDIR = root;
  const timeoutMs = (short ? part.timeoutMinutes.short : part.timeoutMinutes.full) * 60_000;
  const started = Date.now();
  console.log(
    `\n── ${part.name}: vitest run ${part.files.join(' ')}${env.LOCKSTEP_FAULT_RUNS ? ` (LOCKSTEP_FAULT_RUNS=${env.LOCKSTEP_FAULT_RUNS})` : ''}, at most ${timeoutMs / 60_000} min`,
  );
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...part.files],
    {
      cwd: projectRoot,
      env,
      stdio: 'inherit',
      detached: true,
    },
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // The part's own process group (vitest, its forks, their workers): SIGTERM, then SIGKILL.
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
    setTimeout(() => child.pid && child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 30_000).unref();
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const leftOver = await removeContainersUnder(root);
  await rm(root, { recursive: true, force: true });
  const figures = part.figures
    ? await readFile(join(reliabilityDir, part.figures), 'utf8')
        .then((t) => JSON.parse(t) as Record<string, unknown>)
        .catch(() => null)
    : null;
  return {
    part,
    status: timedOut ? 'timed out' : code === 0 ? 'passed' : 'failed',
    durationMs: Date.now() - started,
    leftOver,
    figures,
  };
}

/** Removes the Lockstep containers whose workspace lies under `root` (only this part's). */
async function removeContainersUnder(root: string): Promise<number> {
  const docker = new Docker();
  const all = await docker.listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
  const ours = all.filter((c) => (c.Labels[LABEL_WORKSPACE] ?? '').startsWith(root + sep));
  await Promise.all(
    ours.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  return ours.length;
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const show = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '–';
};

/** One row of the table per part, whatever kind of figures it writes. */
function row(o: Outcome): string[] {
  const f = o.figures ?? {};
  let runs: unknown = null;
  let completed: unknown = null;
  let prs: unknown = null;
  let duplicates: unknown = null;
  let orphans: unknown = null;
  let leftovers: unknown = null;
  let escapes: unknown = null;
  let containers: unknown = null;
  let seed: unknown = null;
  if ('part' in f && 'prsPerRepo' in f) {
    const ff = f as unknown as FaultFigures;
    runs = ff.runs;
    completed =
      ff.part === 'two-workers'
        ? `${ff.completed} (repos ${show(ff.details.reposCompleted)}/${show(ff.details.reposInterrupted)})`
        : ff.completed;
    prs = ff.prsPerRepo
      ? ff.prsPerRepo.min === ff.prsPerRepo.max
        ? ff.prsPerRepo.min
        : `${ff.prsPerRepo.min}–${ff.prsPerRepo.max}`
      : null;
    duplicates = ff.duplicates;
    orphans = ff.orphans;
    const l = ff.leftovers;
    leftovers = l
      ? `${l.atEnd.containers}/${l.atEnd.workTrees} → ${l.afterInterval.containers}/${l.afterInterval.workTrees}`
      : null;
    seed = ff.seed;
  } else if (o.part.name === 'hostile') {
    runs = num(f.cases);
    completed = num(f.passed);
    escapes = num(f.escapes);
    containers = `${show(f.containersCompliant)}/${show(f.containersChecked)}`;
  } else if (o.part.name === 'fuzz') {
    const totals = (f.totals ?? {}) as Record<string, unknown>;
    runs = num(totals.runs);
    completed = totals.failed === false ? num(totals.runs) : null;
    escapes = num(totals.escapes);
    seed = num(f.seed);
  }
  return [
    o.part.name,
    o.status,
    show(runs),
    show(completed),
    show(prs),
    show(duplicates),
    show(orphans),
    show(leftovers),
    show(escapes),
    show(containers),
    show(seed),
    `${Math.round(o.durationMs / 1000)}s`,
  ];
}

function table(outcomes: Outcome[]): string {
  const head = [
    'part',
    'result',
    'runs',
    'completed',
    'PRs/repo',
    'duplicates',
    'orphans',
    'left at end → after interval (containers/trees)',
    'escapes',
    'containers ok/checked',
    'seed',
    'time',
  ];
  const rows = [head, ...outcomes.map(row)];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const { short, only } = parseArgs(process.argv.slice(2));
  const parts = PARTS.filter((p) => !only || only.includes(p.name));
  console.log(
    `reliability: ${short ? 'CI' : 'full'} counts, fault seed ${process.env.LOCKSTEP_FAULT_SEED ?? DEFAULT_FAULT_SEED}, parts ${parts.map((p) => p.name).join(', ')}`,
  );
  const outcomes: Outcome[] = [];
  for (const part of parts) outcomes.push(await runPart(part, short));
  console.log(`\nreliability figures (${short ? 'CI' : 'full'} counts; details in .lockstep/reliability/)\n`);
  console.log(table(outcomes));
  for (const o of outcomes.filter((x) => x.leftOver > 0))
    console.log(`${o.part.name}: ${o.leftOver} container(s) were left when it ended; the runner removed them`);
  if (outcomes.some((o) => o.status !== 'passed' || o.leftOver > 0)) process.exitCode = 1;
}

await main();
