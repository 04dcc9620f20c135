/**
 * `npm run bench`: Lockstep against a plain script on synthetic fleets, on this machine, in one
 * go. Starts its own Temporal dev server (in memory, loopback, free port) and `lockstep worker`
 * processes, measures, prints a table, writes bench/results/<date>.json (every raw sample) and
 * bench/results/<date>.svg (wall time against the number of repositories). Benchmarks report;
 * they never fail on time. `--quick`: N = 1 and 10, one run each.
 */
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import Docker from 'dockerode';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSandbox, removeSandbox, runInSandbox } from '../client/machine/libraries.ts';
import { loadChange, loadReposConfig, type LoadedConfig } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import type { Change } from '../config/change.ts';
import { projectRoot } from '../config/paths.ts';
import { changeInput } from '../core/inputs.ts';
import { runChange } from '../client/start.ts';
import { resumeChange } from '../client/resume.ts';
import { freePort, startDevServer, type DevServer } from '../workers/dev-server.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { changeWorkflowId, pageWorkflowId, repoWorkflowId } from '../core/ids.ts';
import { inPages } from '../client/pages.ts';
import { liveStatus, type StatusTiming } from '../client/live-status.ts';
import { temporalBlobStore } from '../workers/blobs.ts';
import type { ChangeResult } from '../core/change.ts';
import { BENCH_LABEL, dockerRunArgs, runBaseline, sandboxUser, sweepBenchContainers } from './baseline.ts';
import { agentOverhead, type AgentSamples } from './agent.ts';
import { egressOverhead, type EgressSamples } from './egress.ts';
import { pactSetup, type PactSetupSamples } from './pact-setup.ts';
import { bumpBench, type BumpSamples } from './bump.ts';
import {
  breakdown,
  coordinatorBreakdown,
  historyBounds,
  type Breakdown,
  type CoordinatorBreakdown,
  type HistoryBounds,
} from './history.ts';
import { cleanupAllFleets, createFleet, FAIL_ENV, type Fleet } from './fleet.ts';
import { DEFAULT_PAGE_SIZE } from '../core/pages.ts';
import { median, renderSvg, renderTable, summary, type Row, type Summary } from './report.ts';

const exec = promisify(execFile);
const CONCURRENCY = 4;

interface Plan {
  sizes: number[];
  reps: (n: number) => number;
  lifecycleReps: number;
  resumeReps: number;
  agentReps: number;
  egressReps: number;
  pactSetupReps: number;
  bumpReps: number;
}

const PARTS = [
  'scale',
  'lifecycle',
  'agent',
  'resume',
  'egress',
  'pact-setup',
  'bump',
  'fleet-scale',
  'fleet-light',
] as const;
/** Parts a plain `npm run bench` leaves out: they take from a quarter of an hour to an hour. */
const LONG_PARTS: readonly Part[] = ['fleet-scale', 'fleet-light'];
type Part = (typeof PARTS)[number];

/** `--name=value` from the command line, or null. */
function option(name: string): string | null {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : null;
}

const quick = process.argv.includes('--quick');
const plan: Plan = quick
  ? {
      sizes: [1, 10],
      reps: () => 1,
      lifecycleReps: 3,
      resumeReps: 1,
      agentReps: 1,
      egressReps: 2,
      pactSetupReps: 1,
      bumpReps: 1,
    }
  : {
      sizes: [1, 10, 50, 100],
      reps: (n) => (n >= 100 ? 2 : 3),
      lifecycleReps: 10,
      resumeReps: 5,
      agentReps: 3,
      egressReps: 5,
      pactSetupReps: 3,
      bumpReps: 3,
    };
// For a look at one figure: --sizes=10,50 --reps=3 --only=scale,lifecycle
function sizesOption(value: string | null): number[] | null {
  return value
    ? value
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0)
    : null;
}
const sizes = sizesOption(option('sizes'));
if (sizes) plan.sizes = sizes;
const repsOption = Number(option('reps') ?? NaN);
if (Number.isInteger(repsOption) && repsOption > 0) {
  plan.reps = () => repsOption;
  plan.resumeReps = repsOption;
  plan.egressReps = repsOption;
  plan.pactSetupReps = repsOption;
  plan.bumpReps = repsOption;
  plan.agentReps = repsOption;
}
const onlyOption = option('only');
const parts = new Set<Part>(
  onlyOption ? PARTS.filter((p) => onlyOption.split(',').includes(p)) : PARTS.filter((p) => !LONG_PARTS.includes(p)),
);
// Fleet scale (docs/performance.md): the bench fleet at N = 10, 100 and 1,000 (one repetition
// each side from 100 on), and the light fleet at --light=<N> (default 1,000), concurrency 8.
const fleetScaleSizes = sizes ?? [10, 100, 1000];
const fleetScaleReps = (n: number): number =>
  Number.isInteger(repsOption) && repsOption > 0 ? repsOption : n >= 100 ? 1 : 3;
const lightSize = Number(option('light') ?? 1000);
const LIGHT_CONCURRENCY = 8;
/** Seconds between two timed `status` calls during the light run. */
const STATUS_EVERY_S = 15;
const partial = sizes !== null || onlyOption !== null || Number.isInteger(repsOption);
// --out=<suffix>: results go to bench/results/<date>-<suffix>.json instead.
const outOption = option('out');

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// The worker, as a `lockstep worker` process (so its memory is its own).

interface WorkerProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Worker processes still running, so an interrupted benchmark can stop them. */
const liveWorkers = new Set<ChildProcess>();

async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  // --profile=<dir>: each worker writes a V8 CPU profile there when it stops (open it in Chrome's
  // DevTools or speedscope) to see where the orchestration's own CPU time goes.
  const profile = option('profile');
  const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...profiling, join(projectRoot, 'bin', 'lockstep.js'), 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  liveWorkers.add(child);
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => liveWorkers.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling')) resolve();
    });
    void exited.then(() => reject(new Error(`worker exited: ${stderr}`)));
  });
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Peak and current resident memory of a process, in MiB, from /proc (Linux). */
async function memoryOf(pid: number): Promise<{ peakMiB: number; rssMiB: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return null;
  }
}

const CLOCK_TICKS = 100;

/**
 * A process's CPU seconds: its own, and its children's: those it reaped and, for another
 * process, those still running with theirs (a worker's git helper lives as long as the worker,
 * so its git calls are counted only this way).
 */
async function cpuTimes(pid: number | 'self'): Promise<{ own: number; children: number }> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i] ?? 0));
    let live = 0;
    // Not for this process: its live children are the Temporal server and the workers.
    const tasks = pid === 'self' ? [] : await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ').filter(Boolean)) {
        const t = await cpuTimes(Number(child));
        if (!Number.isNaN(t.own)) live += t.own + t.children;
      }
    }
    return {
      own: ((utime ?? 0) + (stime ?? 0)) / CLOCK_TICKS,
      children: ((cutime ?? 0) + (cstime ?? 0)) / CLOCK_TICKS + live,
    };
  } catch {
    return { own: NaN, children: NaN };
  }
}

/**
 * CPU seconds the whole machine spent busy (not idle, not waiting on I/O) since boot, from
 * /proc/stat: with the sandboxes' commands, dockerd, containerd and its shims, which no process
 * of the bench owns.
 */
async function machineBusySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  const ticks = line.split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some(Number.isNaN)) return NaN;
  const total = ticks.reduce((a, b) => a + b, 0);
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / CLOCK_TICKS;
}

async function cpuSeconds(pid: number | 'self'): Promise<number> {
  const { own, children } = await cpuTimes(pid);
  return own + children;
}

/** The pid of the Temporal dev server this process started (a direct child named temporal). */
async function temporalPid(): Promise<number | null> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (comm === 'temporal' && ppid === process.pid) return Number(entry);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Lockstep runs.

interface Ctx {
  server: DevServer;
  serverPid: number | null;
  client: Client;
  queue: string;
  hostId: string;
}

async function loadFleet(fleet: Fleet): Promise<{ loaded: LoadedConfig; change: Change }> {
  const loaded = await loadReposConfig(fleet.configFile);
  return { loaded, change: await loadChange(fleet.changeFile, loaded) };
}

/** A timed `status` call during a run: when (s after the start) and how long it took (ms). */
interface StatusSample {
  atS: number;
  ms: number;
  /** Its parts (client/live-status.ts). */
  parts?: StatusTiming;
}

/**
 * One run of the change, started as `lockstep run` starts it: a change of more repos than the
 * fleet's page size runs in pages, its tasks stored by reference first (inside the timed span,
 * as the CLI does it before the coordinator starts). `statusEveryS`: time the client's status
 * call (liveStatus, what `lockstep status` shows) that often while the change runs.
 */
async function runLockstep(
  ctx: Ctx,
  fleet: Fleet,
  changeId: string,
  options: { concurrency?: number; statusEveryS?: number } = {},
): Promise<{ ms: number; result: ChangeResult; status: StatusSample[] }> {
  const { loaded, change } = await loadFleet(fleet);
  const renamed = { ...change, id: changeId };
  const started = performance.now();
  const input = await inPages(temporalBlobStore(ctx.client, ctx.queue), {
    ...changeInput(loaded, renamed, resolveTasks(loaded, renamed), { concurrency: options.concurrency ?? CONCURRENCY }),
    searchAttributes: true,
  });
  const handle = await ctx.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
    workflowId: changeWorkflowId(changeId),
    taskQueue: ctx.queue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  const status: StatusSample[] = [];
  let done = false;
  const outcome = handle.result().finally(() => {
    done = true;
  });
  const every = options.statusEveryS;
  if (every) {
    while (!done) {
      await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, every * 1000))]);
      if (done) break;
      const t0 = performance.now();
      const parts: StatusTiming = {};
      const view = await liveStatus(handle, parts).catch((err: unknown) => {
        log(`${changeId}: status failed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      });
      if (!view) continue;
      const sample = { atS: (t0 - started) / 1000, ms: performance.now() - t0, parts };
      status.push(sample);
      const p = view.paged;
      log(
        `${changeId} at ${sample.atS.toFixed(0)} s: status in ${sample.ms.toFixed(0)} ms ` +
          `(coordinator ${parts.coordinatorMs?.toFixed(0) ?? '-'}, pages ${parts.pagesMs?.toFixed(0) ?? '-'}, repos ${parts.reposMs?.toFixed(0) ?? '-'}); ${view.status}` +
          (p ? `, ${p.pagesDone}/${p.pages} pages done, ${JSON.stringify(p.counts)}, ${p.pullRequests} PRs` : ''),
      );
    }
  }
  const result = await outcome;
  return { ms: performance.now() - started, result, status };
}

/** The largest history among a change's page workflows (events, bytes and largest payload each a maximum). */
interface PageBounds {
  /** Page workflows read (run and publish). */
  pages: number;
  largest: HistoryBounds;
}

interface HistoryStats {
  coordinator: { events: number; bytes: number; phases: CoordinatorBreakdown; largestPayload?: number };
  /** A change in pages: its page workflows. */
  pages?: PageBounds | null;
  perRepo: { events: number; bytes: number };
  /** Medians over the repo workflows of the run, in ms. */
  perRepoTime: {
    totalMs: number;
    idleMs: number;
    queueWaitMs: number;
    workflowTaskMs: number;
    activityMs: Record<string, number>;
  };
  /**
   * Along the run: the repos in tenths by start time, each tenth's median repo workflow and
   * sandbox commands (ms). A cost that grows with what the run has done shows as a slope here;
   * a slower machine for the whole run does not.
   */
  perRepoTrend?: { totalMs: number[]; runInSandboxMs: number[] };
}

/** History size of the coordinator and (median over) its children; bytes = protobuf-encoded size. */
async function historyStats(client: Client, changeId: string, repos: string[]): Promise<HistoryStats> {
  const size = async (workflowId: string): Promise<{ events: number; bytes: number; breakdown: Breakdown }> => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return {
      events: history.events?.length ?? 0,
      bytes: proto.temporal.api.history.v1.History.encode(history).finish().length,
      breakdown: breakdown(history),
    };
  };
  const coordinatorHistory = await client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
  const { events, bytes, largestPayload } = historyBounds(coordinatorHistory);
  const coordinator = { events, bytes, largestPayload, phases: coordinatorBreakdown(coordinatorHistory) };
  const pages = await pageBounds(client, changeId, pageCountOf(repos.length));
  const children: { events: number; bytes: number; breakdown: Breakdown }[] = [];
  for (let i = 0; i < repos.length; i += 10) {
    children.push(...(await Promise.all(repos.slice(i, i + 10).map((r) => size(repoWorkflowId(changeId, r))))));
  }
  const types = [...new Set(children.flatMap((c) => Object.keys(c.breakdown.activityMs)))];
  const byStart = children.map((c) => c.breakdown).sort((a, b) => a.startedAtMs - b.startedAtMs);
  const tenths = Array.from({ length: 10 }, (_, i) =>
    byStart.slice(Math.floor((i * byStart.length) / 10), Math.floor(((i + 1) * byStart.length) / 10)),
  );
  return {
    coordinator,
    ...(byStart.length >= 100
      ? {
          perRepoTrend: {
            totalMs: tenths.map((t) => median(t.map((b) => b.totalMs))),
            runInSandboxMs: tenths.map((t) => median(t.map((b) => b.activityMs.runInSandbox ?? 0))),
          },
        }
      : {}),
    pages,
    perRepo: { events: median(children.map((c) => c.events)), bytes: median(children.map((c) => c.bytes)) },
    perRepoTime: {
      totalMs: median(children.map((c) => c.breakdown.totalMs)),
      idleMs: median(children.map((c) => c.breakdown.idleMs)),
      queueWaitMs: median(children.map((c) => c.breakdown.queueWaitMs)),
      workflowTaskMs: median(children.map((c) => c.breakdown.workflowTaskMs)),
      activityMs: Object.fromEntries(
        types.map((t) => [t, median(children.map((c) => c.breakdown.activityMs[t] ?? 0))]),
      ),
    },
  };
}

/** Pages of a change of `repos` repos at the bench fleets' page size (operations.pageSize default), 0 if it does not page. */
function pageCountOf(repos: number): number {
  return repos > DEFAULT_PAGE_SIZE ? Math.ceil(repos / DEFAULT_PAGE_SIZE) : 0;
}

/** The largest of the page workflows' histories (`indexes`: the run pages to read; default all), or null for a change of one page. */
async function pageBounds(
  client: Client,
  changeId: string,
  pages: number,
  indexes: number[] = Array.from({ length: pages }, (_, i) => i),
): Promise<PageBounds | null> {
  if (pages === 0) return null;
  const largest: HistoryBounds = { events: 0, bytes: 0, largestPayload: 0 };
  let read = 0;
  for (const i of indexes) {
    for (const mode of ['run', 'publish'] as const) {
      const b = historyBounds(await client.workflow.getHandle(pageWorkflowId(changeId, mode, i)).fetchHistory());
      largest.events = Math.max(largest.events, b.events);
      largest.bytes = Math.max(largest.bytes, b.bytes);
      largest.largestPayload = Math.max(largest.largestPayload, b.largestPayload);
      read++;
    }
  }
  return { pages: read, largest };
}

// ---------------------------------------------------------------------------------------------
// Fleet scale, light: the real workflows, sandboxes, git and pull requests at N in the thousands,
// with a step and tests that do almost nothing.

interface LightPoint {
  n: number;
  concurrency: number;
  /** Making the fleet (set-up, not measured). */
  createMs: number;
  ms: number;
  status: StatusSample[];
  coordinator: HistoryBounds & { phases: CoordinatorBreakdown };
  /** The first, middle and last run pages and their publish pages. */
  pages: PageBounds | null;
  /** Median over 20 repos spread over the fleet. */
  perRepo: HistoryBounds;
  workerMemory: { peakMiB: number; rssMiB: number } | null;
  cpu: { worker: number; workerChildren: number; server: number };
  load: { before: number[]; after: number[] };
}

async function lightFleet(ctx: Ctx, n: number): Promise<LightPoint> {
  log(`light fleet of ${n}: creating`);
  const t0 = performance.now();
  const fleet = await createFleet(n, { light: true, concurrency: LIGHT_CONCURRENCY });
  const createMs = performance.now() - t0;
  log(`light fleet of ${n}: created in ${(createMs / 1000).toFixed(0)} s; running, concurrency ${LIGHT_CONCURRENCY}`);
  const worker = await startWorker({
    TEMPORAL_ADDRESS: ctx.server.address,
    LOCKSTEP_STATE_DIR: fleet.stateDir,
    LOCKSTEP_TASK_QUEUE: ctx.queue,
    LOCKSTEP_HOST_ID: ctx.hostId,
  });
  try {
    const changeId = `bench-light-${n}`;
    const workerPid = worker.child.pid ?? 0;
    const load = { before: loadavg(), after: [] as number[] };
    const [w0, s0] = [await cpuTimes(workerPid), ctx.serverPid ? await cpuSeconds(ctx.serverPid) : NaN];
    const { ms, result, status } = await runLockstep(ctx, fleet, changeId, {
      concurrency: LIGHT_CONCURRENCY,
      statusEveryS: STATUS_EVERY_S,
    });
    if (result.status !== 'succeeded') throw new Error(`${changeId}: ${result.status}: ${result.summary}`);
    load.after = loadavg();
    const w1 = await cpuTimes(workerPid);
    const cpu = {
      worker: w1.own + w1.children - (w0.own + w0.children),
      workerChildren: w1.children - w0.children,
      server: (ctx.serverPid ? await cpuSeconds(ctx.serverPid) : NaN) - s0,
    };
    const workerMemory = await memoryOf(workerPid);
    const coordinatorHistory = await ctx.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
    const coordinator = { ...historyBounds(coordinatorHistory), phases: coordinatorBreakdown(coordinatorHistory) };
    const pageCount = pageCountOf(n);
    const pages = await pageBounds(ctx.client, changeId, pageCount, [
      ...new Set([0, Math.floor(pageCount / 2), pageCount - 1]),
    ]);
    const sampled = fleet.repos.filter((_, i) => i % Math.max(1, Math.floor(n / 20)) === 0);
    const repoBounds: HistoryBounds[] = [];
    for (const repo of sampled)
      repoBounds.push(
        historyBounds(await ctx.client.workflow.getHandle(repoWorkflowId(changeId, repo)).fetchHistory()),
      );
    const perRepo = {
      events: median(repoBounds.map((b) => b.events)),
      bytes: median(repoBounds.map((b) => b.bytes)),
      largestPayload: median(repoBounds.map((b) => b.largestPayload)),
    };
    log(
      `light N=${n}: ${(ms / 1000).toFixed(0)} s (${(ms / n).toFixed(0)} ms per repo); coordinator ${coordinator.events} events, ` +
        `${coordinator.bytes} bytes, largest payload ${coordinator.largestPayload}; largest page ${pages?.largest.events ?? 0} events, ` +
        `${pages?.largest.bytes ?? 0} bytes, payload ${pages?.largest.largestPayload ?? 0}; status median ${median(status.map((x) => x.ms)).toFixed(0)} ms, ` +
        `max ${Math.max(0, ...status.map((x) => x.ms)).toFixed(0)} ms (${status.length}); worker peak ${workerMemory?.peakMiB.toFixed(0) ?? '?'} MiB; ` +
        `running ${(coordinator.phases.fanOutMs / 1000).toFixed(0)} s, gate and publishing ${(coordinator.phases.publishMs / 1000).toFixed(0)} s`,
    );
    return {
      n,
      concurrency: LIGHT_CONCURRENCY,
      createMs,
      ms,
      status,
      coordinator,
      pages,
      perRepo,
      workerMemory,
      cpu,
      load,
    };
  } finally {
    await worker.stop();
    await fleet.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures 1, 2 and 6: the fleet at each N, Lockstep and baseline alternating.

interface ScaleSample {
  n: number;
  rep: number;
  lockstepMs: number;
  baselineMs: number;
  /** CPU seconds during the Lockstep run: the worker (with its git children) and the Temporal server. */
  lockstepCpu: { worker: number; server: number; workerChildren?: number };
  /** CPU seconds of the baseline script's children (git, docker CLI). */
  baselineCpu: number;
  /** CPU seconds the whole machine was busy during each side's run (see machineBusySeconds). */
  machineCpu?: { lockstep: number; baseline: number };
}

interface ScalePoint {
  n: number;
  samples: ScaleSample[];
  history: HistoryStats | null;
  workerMemory: { peakMiB: number; rssMiB: number } | null;
}

async function scale(ctx: Ctx, n: number, reps: number, warmUp: boolean): Promise<ScalePoint> {
  log(`fleet of ${n}: seeding`);
  const fleet = await createFleet(n);
  const worker = await startWorker({
    TEMPORAL_ADDRESS: ctx.server.address,
    LOCKSTEP_STATE_DIR: fleet.stateDir,
    LOCKSTEP_TASK_QUEUE: ctx.queue,
    LOCKSTEP_HOST_ID: ctx.hostId,
  });
  const point: ScalePoint = { n, samples: [], history: null, workerMemory: null };
  try {
    // One unmeasured warm-up run so the first measured run does not pay for caches and JIT. Past
    // 100 repos a run is long enough that its start-up does not count, and a warm-up would double
    // the time (--sizes=1000 alone).
    if (warmUp && n <= 100) {
      await runLockstep(ctx, fleet, `bench-warmup-${n}`);
      await runBaseline(fleet, CONCURRENCY, `warmup-${n}`);
    }
    for (let rep = 1; rep <= reps; rep++) {
      const changeId = `bench-n${n}-${rep}`;
      // Alternate the order so neither side always runs on a warmer machine.
      let lockstepMs = 0;
      let baselineMs = 0;
      const lockstepCpu: ScaleSample['lockstepCpu'] = { worker: 0, server: 0 };
      let baselineCpu = 0;
      const machineCpu = { lockstep: 0, baseline: 0 };
      const workerPid = worker.child.pid ?? 0;
      const lockstep = async (): Promise<void> => {
        const [w0, s0] = [await cpuTimes(workerPid), ctx.serverPid ? await cpuSeconds(ctx.serverPid) : NaN];
        const m0 = await machineBusySeconds();
        const { ms, result } = await runLockstep(ctx, fleet, changeId);
        machineCpu.lockstep = (await machineBusySeconds()) - m0;
        if (result.status !== 'succeeded')
          throw new Error(
            `${changeId}: ${result.status}: ${JSON.stringify(result.repos.find((r) => r.status !== 'green')?.error)}`,
          );
        lockstepMs = ms;
        const w1 = await cpuTimes(workerPid);
        lockstepCpu.worker = w1.own + w1.children - (w0.own + w0.children);
        lockstepCpu.workerChildren = w1.children - w0.children;
        lockstepCpu.server = (ctx.serverPid ? await cpuSeconds(ctx.serverPid) : NaN) - s0;
      };
      const baseline = async (): Promise<void> => {
        const c0 = await cpuSeconds('self');
        const m0 = await machineBusySeconds();
        const started = performance.now();
        await runBaseline(fleet, CONCURRENCY, `n${n}-${rep}`);
        baselineMs = performance.now() - started;
        machineCpu.baseline = (await machineBusySeconds()) - m0;
        baselineCpu = (await cpuSeconds('self')) - c0;
      };
      if (rep % 2 === 1) {
        await lockstep();
        await baseline();
      } else {
        await baseline();
        await lockstep();
      }
      point.samples.push({ n, rep, lockstepMs, baselineMs, lockstepCpu, baselineCpu, machineCpu });
      log(
        `N=${n} rep ${rep}: lockstep ${(lockstepMs / 1000).toFixed(1)} s (cpu: worker ${lockstepCpu.worker.toFixed(1)} s of which git ${(lockstepCpu.workerChildren ?? NaN).toFixed(1)} s, server ${lockstepCpu.server.toFixed(1)} s), ` +
          `baseline ${(baselineMs / 1000).toFixed(1)} s (cpu ${baselineCpu.toFixed(1)} s); machine busy ${machineCpu.lockstep.toFixed(0)} / ${machineCpu.baseline.toFixed(0)} CPU s; load ${loadavg()[0]?.toFixed(1) ?? '?'}`,
      );
      if (rep === 1) point.history = await historyStats(ctx.client, changeId, fleet.repos);
    }
    point.workerMemory = await memoryOf(worker.child.pid ?? 0);
  } finally {
    await worker.stop();
    await fleet.cleanup();
  }
  return point;
}

// ---------------------------------------------------------------------------------------------
// Figure 3: sandbox lifecycle (create + start + one exec + remove) against `docker run --rm`.

async function lifecycle(): Promise<{ lockstepMs: number[]; dockerRunMs: number[] }> {
  const fleet = await createFleet(1);
  const out = { lockstepMs: [] as number[], dockerRunMs: [] as number[] };
  try {
    const { loaded } = await loadFleet(fleet);
    const sandbox = loaded.config.repos[0]?.sandbox;
    if (!sandbox) throw new Error('no sandbox config');
    const workspace = join(fleet.stateDir, 'lifecycle');
    await exec('git', ['clone', '--quiet', fleet.remote(fleet.repos[0] ?? ''), workspace]);
    const { user, chownTo } = sandboxUser();
    if (chownTo) await exec('chown', ['-R', chownTo, workspace]);
    const docker = new Docker();
    const deps = { docker, user, owner: `bench:${process.pid}`, workerEnv: {}, logDir: join(fleet.stateDir, 'logs') };
    const command = 'true';
    for (let rep = 0; rep <= plan.lifecycleReps; rep++) {
      const ref = { changeId: `bench-lifecycle-${rep}`, repo: 'r001' };
      let started = performance.now();
      await createSandbox(deps, { ...ref, workspace, sandbox });
      const result = await runInSandbox(deps, {
        ...ref,
        kind: 'test',
        name: 'lifecycle',
        index: 0,
        command,
        timeoutSeconds: 60,
        outputBytes: 65_536,
      });
      await removeSandbox(docker, ref);
      const lockstepMs = performance.now() - started;
      if (result.exitCode !== 0) throw new Error(`sandbox exec exited ${result.exitCode}`);
      started = performance.now();
      await exec('docker', dockerRunArgs(workspace, command, 'lifecycle'));
      const dockerRunMs = performance.now() - started;
      if (rep === 0) continue; // warm-up
      out.lockstepMs.push(lockstepMs);
      out.dockerRunMs.push(dockerRunMs);
    }
  } finally {
    await fleet.cleanup();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Figure 5: resuming a 10-repo run where one repo failed, against a fresh 1-repo run.

async function resume(ctx: Ctx): Promise<{ resumeMs: number[]; freshMs: number[] }> {
  const failRepo = 'r003';
  const fleet = await createFleet(10, { failRepo });
  const single = await createFleet(1, { changeId: 'bench-fresh-one' });
  const out = { resumeMs: [] as number[], freshMs: [] as number[] };
  const baseEnv = {
    TEMPORAL_ADDRESS: ctx.server.address,
    LOCKSTEP_STATE_DIR: fleet.stateDir,
    LOCKSTEP_TASK_QUEUE: ctx.queue,
    LOCKSTEP_HOST_ID: ctx.hostId,
  };
  // resumeChange and runChange read the server and queue from the environment, like the CLI.
  process.env.TEMPORAL_ADDRESS = ctx.server.address;
  process.env.LOCKSTEP_TASK_QUEUE = ctx.queue;
  try {
    for (let rep = 1; rep <= plan.resumeReps; rep++) {
      const changeId = `bench-resume-${rep}`;
      let worker = await startWorker({ ...baseEnv, [FAIL_ENV]: 'yes' });
      try {
        const { result } = await runLockstep(ctx, fleet, changeId);
        const failed = result.repos.filter((r) => r.status !== 'green').map((r) => r.repo);
        if (result.status === 'succeeded' || failed.join() !== failRepo)
          throw new Error(`${changeId}: expected only ${failRepo} to fail, got ${failed.join(', ') || 'none'}`);
      } finally {
        await worker.stop();
      }
      worker = await startWorker(baseEnv);
      try {
        const freshRun = async (): Promise<number> => {
          const started = performance.now();
          const fresh = await runChange({
            configFile: single.configFile,
            changeFile: single.changeFile,
            stateDir: single.stateDir,
            rerun: true,
            worker: 'never',
            preflight: false,
            log: () => undefined,
          });
          if (fresh.status !== 'succeeded') throw new Error(`fresh 1-repo run ended ${fresh.status}`);
          return performance.now() - started;
        };
        const resumeRun = async (): Promise<number> => {
          const started = performance.now();
          const resumed = await resumeChange({
            changeId,
            configFile: fleet.configFile,
            stateDir: fleet.stateDir,
            log: () => undefined,
            worker: 'never',
            redoChanged: false,
          });
          if (resumed.status !== 'succeeded') throw new Error(`${changeId}: resume ended ${resumed.status}`);
          return performance.now() - started;
        };
        // The worker is new: one unmeasured run first, so neither side pays for its cold start;
        // then the two alternate which goes first.
        await freshRun();
        let resumeMs = 0;
        let freshMs = 0;
        if (rep % 2 === 1) {
          resumeMs = await resumeRun();
          freshMs = await freshRun();
        } else {
          freshMs = await freshRun();
          resumeMs = await resumeRun();
        }
        out.resumeMs.push(resumeMs);
        out.freshMs.push(freshMs);
        const phases = coordinatorBreakdown(
          await ctx.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory(),
        );
        log(
          `resume rep ${rep}: resume ${(resumeMs / 1000).toFixed(1)} s (coordinator ${phases.totalMs.toFixed(0)} ms: before the rerun ${phases.beforeFanOutMs.toFixed(0)}, ` +
            `rerun ${phases.fanOutMs.toFixed(0)}, publish ${phases.publishMs.toFixed(0)}), fresh 1-repo ${(freshMs / 1000).toFixed(1)} s`,
        );
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await fleet.cleanup();
    await single.cleanup();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  const stateDir = await mkdtemp(join(tmpdir(), 'lockstep-bench-server-'));
  const server = await startDevServer({
    stateDir,
    address: `127.0.0.1:${await freePort()}`,
    dbFile: null,
    uiPort: null,
  });
  const connection = await Connection.connect({ address: server.address });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const ctx: Ctx = {
    server,
    serverPid: await temporalPid(),
    client: new Client({ connection, namespace: 'default' }),
    queue: `bench-${suffix}`,
    hostId: `bench-${suffix}`,
  };
  log(`Temporal dev server at ${server.address} (in memory); ${cpus().length} CPUs; ${quick ? 'quick' : 'full'} run`);
  const ours = (owner: string): boolean => owner.startsWith(`${ctx.hostId}:`) || owner === `bench:${process.pid}`;
  const cleanUp = async (): Promise<void> => {
    for (const child of liveWorkers) child.kill('SIGKILL');
    // Containers and fleets first: they outlive this process; the connection and server do not.
    const left = await sweepBenchContainers(ours).catch(() => 0);
    if (left > 0) log(`removed ${left} leftover benchmark container(s)`);
    await cleanupAllFleets();
    await rm(stateDir, { recursive: true, force: true });
    await connection.close().catch(() => undefined);
    await server.stop();
  };
  // Ctrl-C or a kill: stop the workers and the server and remove every container of this run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      // Calls in flight fail once their connection closes; that must not end the clean-up early.
      const late = (err: unknown) =>
        log(`ignored during clean-up: ${err instanceof Error ? err.message : String(err)}`);
      process.on('uncaughtException', late);
      process.on('unhandledRejection', late);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  const points: ScalePoint[] = [];
  let life: Awaited<ReturnType<typeof lifecycle>> | null = null;
  let res: Awaited<ReturnType<typeof resume>> | null = null;
  let agent: AgentSamples | null = null;
  let egress: EgressSamples | null = null;
  let pactSetupSamples: PactSetupSamples | null = null;
  let bump: BumpSamples | null = null;
  let light: LightPoint | null = null;
  try {
    if (parts.has('scale'))
      for (const n of plan.sizes) points.push(await scale(ctx, n, plan.reps(n), n === plan.sizes[0]));
    if (parts.has('fleet-scale')) {
      for (const n of fleetScaleSizes) points.push(await scale(ctx, n, fleetScaleReps(n), n === fleetScaleSizes[0]));
    }
    if (parts.has('fleet-light')) light = await lightFleet(ctx, lightSize);
    if (parts.has('lifecycle')) {
      log('sandbox lifecycle');
      life = await lifecycle();
    }
    if (parts.has('agent')) {
      log('agent loop');
      const agentFleet = await createFleet(1);
      try {
        agent = await agentOverhead(
          {
            client: ctx.client,
            queue: ctx.queue,
            startWorker,
            workerEnv: {
              TEMPORAL_ADDRESS: ctx.server.address,
              LOCKSTEP_STATE_DIR: agentFleet.stateDir,
              LOCKSTEP_TASK_QUEUE: ctx.queue,
              LOCKSTEP_HOST_ID: ctx.hostId,
            },
          },
          agentFleet,
          plan.agentReps,
        );
      } finally {
        await agentFleet.cleanup();
      }
    }
    if (parts.has('resume')) {
      log('resume');
      res = await resume(ctx);
    }
    if (parts.has('egress')) {
      log('egress: cold npm ci direct and through the egress proxy');
      egress = await egressOverhead(plan.egressReps, log);
    }
    if (parts.has('pact-setup')) {
      log('pact-setup: the Node pair of the Pact fixture fleet, cold direct, cold and warm through the egress proxy');
      pactSetupSamples = await pactSetup(plan.pactSetupReps, log);
    }
    if (parts.has('bump')) {
      log('bump: google.golang.org/grpc across the gRPC fixture fleet, a plain script and Lockstep, cold and warm');
      bump = await bumpBench(
        {
          client: ctx.client,
          queue: ctx.queue,
          startWorker,
          workerEnv: {
            TEMPORAL_ADDRESS: ctx.server.address,
            LOCKSTEP_TASK_QUEUE: ctx.queue,
            LOCKSTEP_HOST_ID: ctx.hostId,
          },
        },
        plan.bumpReps,
        log,
      );
    }
  } finally {
    await cleanUp();
  }

  const rows: Row[] = [];
  const ratio = (a: Summary, b: Summary): number => a.median / b.median;
  for (const n of [10, 50, 1000]) {
    const p = points.find((x) => x.n === n);
    if (!p) continue;
    const l = summary(p.samples.map((s) => s.lockstepMs / 1000));
    const b = summary(p.samples.map((s) => s.baselineMs / 1000));
    rows.push({
      figure: `1. overhead, N=${n} (wall s)`,
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: '≤ 1.10',
      met: ratio(l, b) <= 1.1,
    });
  }
  for (const p of points) {
    const l = summary(p.samples.map((s) => s.lockstepMs / 1000 / p.n));
    const b = summary(p.samples.map((s) => s.baselineMs / 1000 / p.n));
    rows.push({
      figure: `2. time per repo, N=${p.n} (s)`,
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: '—',
      met: null,
    });
  }
  if (life) {
    const l = summary(life.lockstepMs);
    const b = summary(life.dockerRunMs);
    rows.push({
      figure: '3. sandbox lifecycle (ms)',
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: '≤ 1.2',
      met: ratio(l, b) <= 1.2,
      baselineLabel: 'docker run --rm',
    });
  }
  if (agent) {
    const l = summary(agent.lockstepPerTurnMs);
    const b = summary(agent.directPerTurnMs);
    rows.push({
      figure: '4. agent, ms per turn (model call + tool call)',
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: 'report',
      met: null,
      baselineLabel: 'same calls, direct',
    });
    rows.push({
      figure: '4. agent, ms added per turn',
      lockstep: summary(agent.lockstepPerTurnMs.map((x, i) => x - (agent?.directPerTurnMs[i] ?? NaN))),
      baseline: summary(agent.directToolMs),
      ratio: null,
      goal: 'report',
      met: null,
      baselineLabel: 'tool call alone, direct',
    });
  }
  if (res) {
    const l = summary(res.resumeMs.map((x) => x / 1000));
    const b = summary(res.freshMs.map((x) => x / 1000));
    rows.push({
      figure: '5. resume 10 (1 failed) (s)',
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: '≤ 1.3',
      met: ratio(l, b) <= 1.3,
      baselineLabel: 'fresh 1-repo run',
    });
  }
  if (egress) {
    const l = summary(egress.proxiedMs.map((x) => x / 1000));
    const b = summary(egress.directMs.map((x) => x / 1000));
    rows.push({
      figure: '7. cold npm ci through the egress proxy (s)',
      lockstep: l,
      baseline: b,
      ratio: ratio(l, b),
      goal: '≤ 1.10',
      met: ratio(l, b) <= 1.1,
      baselineLabel: 'same install, direct',
    });
  }
  if (pactSetupSamples) {
    const cold = summary(pactSetupSamples.proxiedColdMs.map((x) => x / 1000));
    const direct = summary(pactSetupSamples.directColdMs.map((x) => x / 1000));
    const warm = summary(pactSetupSamples.proxiedWarmMs.map((x) => x / 1000));
    rows.push({
      figure: '8. Pact pair setup, cold, through the egress proxy (s)',
      lockstep: cold,
      baseline: direct,
      ratio: ratio(cold, direct),
      goal: '≤ 1.10',
      met: ratio(cold, direct) <= 1.1,
      baselineLabel: 'same install, direct',
    });
    rows.push({
      figure: '9. Pact pair setup, warm cache (s)',
      lockstep: warm,
      baseline: cold,
      ratio: ratio(warm, cold),
      goal: '≤ 0.25',
      met: ratio(warm, cold) <= 0.25,
      baselineLabel: 'cold, through the proxy',
    });
  }
  if (bump) {
    const pending = bump.lockstepPending ? `not run: ${bump.lockstepPending.split('\n')[0]}` : undefined;
    for (const [n, kind, l, b] of [
      ['10', 'cold', bump.lockstepColdMs, bump.plainColdMs],
      ['11', 'warm cache', bump.lockstepWarmMs, bump.plainWarmMs],
    ] as const) {
      const plain = summary(b.map((x) => x / 1000));
      const lockstep = l.length > 0 ? summary(l.map((x) => x / 1000)) : null;
      const r = lockstep ? ratio(lockstep, plain) : null;
      rows.push({
        figure: `${n}. Go bump across the gRPC pair, ${kind} (s)`,
        lockstep,
        baseline: plain,
        ratio: r,
        goal: '≤ 1.15',
        met: r === null ? null : r <= 1.15,
        baselineLabel: 'plain script, same commands and containers',
        ...(pending ? { note: pending } : {}),
      });
    }
  }
  const biggest = points.at(-1);
  if (biggest?.workerMemory) {
    rows.push({
      figure: `6. worker peak RSS, N=${biggest.n} (MiB)`,
      lockstep: summary([biggest.workerMemory.peakMiB]),
      baseline: null,
      ratio: null,
      goal: 'report',
      met: null,
    });
  }

  const table = renderTable(
    rows,
    points.map((p) => ({ n: p.n, history: p.history })),
  );
  process.stdout.write(table + '\n');
  const timed = points.filter((p) => p.history);
  if (timed.length > 0) {
    const types = [...new Set(timed.flatMap((p) => Object.keys(p.history?.perRepoTime.activityMs ?? {})))];
    const lines = [
      '',
      'Where a repo workflow\'s time goes (median ms over the repos of the first run at each N; "no activity running" is the orchestration\'s own share):',
      `| N | repo workflow | no activity running | queue wait | workflow tasks | ${types.join(' | ')} |`,
      `|---|---|---|---|---|${types.map(() => '---').join('|')}|`,
      ...timed.map((p) => {
        const t = p.history?.perRepoTime;
        return `| ${p.n} | ${(t?.totalMs ?? 0).toFixed(0)} | ${(t?.idleMs ?? 0).toFixed(0)} | ${(t?.queueWaitMs ?? 0).toFixed(0)} | ${(t?.workflowTaskMs ?? 0).toFixed(0)} | ${types.map((k) => (t?.activityMs[k] ?? 0).toFixed(0)).join(' | ')} |`;
      }),
    ];
    lines.push(
      '',
      'The coordinator (ms, first run at each N): phases, median child start latency, median idle lane between a child and the next, workflow tasks:',
      '| N | total | before fan-out | fan-out | publish | child start | lane gap | workflow tasks (count, ms) | progress signals |',
      '|---|---|---|---|---|---|---|---|---|',
      ...timed.map((p) => {
        const c = p.history?.coordinator.phases;
        if (!c) return `| ${p.n} | — |`;
        return `| ${p.n} | ${c.totalMs.toFixed(0)} | ${c.beforeFanOutMs.toFixed(0)} | ${c.fanOutMs.toFixed(0)} | ${c.publishMs.toFixed(0)} | ${c.childStartMs.toFixed(0)} | ${c.laneGapMs.toFixed(0)} | ${c.workflowTasks}, ${c.workflowTaskMs.toFixed(0)} | ${c.signals} |`;
      }),
    );
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (points.length > 0) {
    const cpu = [
      '',
      "CPU seconds per run (median): the worker with its git children, the Temporal server, and the baseline script's children (git, docker CLI); sandbox CPU is in dockerd and not counted there, but is in the whole machine's busy time during each side's run:",
      '| N | worker | Temporal server | baseline | machine busy: Lockstep | machine busy: baseline |',
      '|---|---|---|---|---|---|',
      ...points.map(
        (p) =>
          `| ${p.n} | ${median(p.samples.map((s) => s.lockstepCpu.worker)).toFixed(1)} | ${median(p.samples.map((s) => s.lockstepCpu.server)).toFixed(1)} | ${median(p.samples.map((s) => s.baselineCpu)).toFixed(1)} | ` +
          `${median(p.samples.map((s) => s.machineCpu?.lockstep ?? NaN)).toFixed(1)} | ${median(p.samples.map((s) => s.machineCpu?.baseline ?? NaN)).toFixed(1)} |`,
      ),
    ];
    const trends = points.filter((p) => p.history?.perRepoTrend);
    if (trends.length > 0)
      cpu.push(
        '',
        'Along the run (first run at each N): median ms per tenth of the repos by start time, repo workflow / sandbox commands:',
        ...trends.map((p) => {
          const t = p.history?.perRepoTrend;
          return `- N = ${p.n}: ${(t?.totalMs ?? []).map((v, i) => `${v.toFixed(0)}/${(t?.runInSandboxMs[i] ?? NaN).toFixed(0)}`).join(', ')}`;
        }),
      );
    process.stdout.write(cpu.join('\n') + '\n');
  }

  const bounded = [
    ...points.flatMap((p) =>
      p.history
        ? [
            {
              fleet: 'bench',
              n: p.n,
              coordinator: p.history.coordinator,
              pages: p.history.pages ?? null,
              perRepo: p.history.perRepo,
            },
          ]
        : [],
    ),
    ...(light
      ? [{ fleet: 'light', n: light.n, coordinator: light.coordinator, pages: light.pages, perRepo: light.perRepo }]
      : []),
  ];
  if (parts.has('fleet-scale') || parts.has('fleet-light')) {
    const kb = (b: number | undefined): string => (b === undefined ? '—' : (b / 1024).toFixed(1));
    process.stdout.write(
      [
        '',
        'History bounds (KB = 1024 bytes; pages: the largest of the page workflows read):',
        '| fleet | N | coordinator events | coordinator KB | largest payload KB | pages read | largest page events | page KB | page payload KB | repo events, KB (median) |',
        '|---|---|---|---|---|---|---|---|---|---|',
        ...bounded.map(
          (b) =>
            `| ${b.fleet} | ${b.n} | ${b.coordinator.events} | ${kb(b.coordinator.bytes)} | ${kb(b.coordinator.largestPayload)} | ${b.pages?.pages ?? 0} | ` +
            `${b.pages?.largest.events ?? '—'} | ${kb(b.pages?.largest.bytes)} | ${kb(b.pages?.largest.largestPayload)} | ${b.perRepo.events}, ${kb(b.perRepo.bytes)} |`,
        ),
      ].join('\n') + '\n',
    );
  }
  if (light) {
    const st = light.status.map((x) => x.ms);
    process.stdout.write(
      `\nLight fleet, N = ${light.n}, concurrency ${light.concurrency}: ${(light.ms / 1000).toFixed(0)} s, ${(light.ms / light.n).toFixed(0)} ms per repo; ` +
        `status ${st.length > 0 ? `median ${median(st).toFixed(0)} ms, max ${Math.max(...st).toFixed(0)} ms over ${st.length} calls` : 'not sampled'}; ` +
        `worker peak RSS ${light.workerMemory?.peakMiB.toFixed(0) ?? '?'} MiB; CPU s: worker ${light.cpu.worker.toFixed(0)} (git ${light.cpu.workerChildren.toFixed(0)}), server ${light.cpu.server.toFixed(0)}\n`,
    );
  }

  const date = startedAt.toISOString().slice(0, 10);
  const outDir = join(projectRoot, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  const base = outOption ? `${date}-${outOption}` : `${date}${quick ? '-quick' : ''}${partial ? '-partial' : ''}`;
  const doc = {
    date: startedAt.toISOString(),
    mode: quick ? 'quick' : 'full',
    options: {
      sizes: plan.sizes,
      parts: [...parts],
      reps: plan.sizes.map((n) => plan.reps(n)),
      ...(parts.has('fleet-scale')
        ? {
            fleetScale: {
              sizes: fleetScaleSizes,
              reps: fleetScaleSizes.map(fleetScaleReps),
              pageSize: DEFAULT_PAGE_SIZE,
            },
          }
        : {}),
      ...(parts.has('fleet-light') ? { fleetLight: { n: lightSize, concurrency: LIGHT_CONCURRENCY } } : {}),
    },
    // Load averages (1, 5, 15 min) before and after: other work on the machine shows here.
    load: { before: loadBefore, after: loadavg() },
    // The commit measured (a "+" when the tree had changes), so two runs compare what they say.
    commit: await benchedCommit(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
    },
    concurrency: CONCURRENCY,
    containerLabel: BENCH_LABEL,
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    figures: rows,
    scale: points,
    lifecycle: life,
    resume: res,
    agent,
    egress,
    pactSetup: pactSetupSamples,
    bump,
    fleetLight: light,
  };
  await writeFile(join(outDir, `${base}.json`), JSON.stringify(doc, null, 2) + '\n');
  if (points.length > 0)
    await writeFile(
      join(outDir, `${base}.svg`),
      renderSvg(
        points.map((p) => ({
          n: p.n,
          lockstep: summary(p.samples.map((s) => s.lockstepMs / 1000)),
          baseline: summary(p.samples.map((s) => s.baselineMs / 1000)),
        })),
      ),
    );
  log(`wrote bench/results/${base}.json${points.length > 0 ? ` and bench/results/${base}.svg` : ''}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

/** The project's commit, "+"-suffixed when its tree differs; null outside a git checkout. */
async function benchedCommit(): Promise<string | null> {
  const git = (...args: string[]) => exec('git', args, { cwd: projectRoot }).then((r) => r.stdout.trim());
  try {
    const head = await git('rev-parse', '--short=12', 'HEAD');
    const dirty = (await git('status', '--porcelain', '--untracked-files=no')) !== '';
    return dirty ? `${head}+` : head;
  } catch {
    return null;
  }
}
