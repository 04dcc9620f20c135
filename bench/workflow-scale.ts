/**
 * The coordinator's bounds at fleet scale, workflows only: a change of N repos on a real
 * Temporal dev server and a real Lockstep worker (the real workflow bundle, the real blob store,
 * pages and publishing), with the activities that clone, run commands in sandboxes, push and
 * talk to the forge replaced in-process by ones that answer at once. It measures what the
 * workflows cost Temporal whatever the repos do: the coordinator's and the pages' history events,
 * bytes and largest payload, how fast `lockstep status` answers while the change runs, and the
 * process's peak memory. The light and real fleets (`npm run bench`) add git and Docker.
 *
 *   node --import tsx bench/workflow-scale.ts --sizes=1000,10000 --concurrency=32
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentBudgets, ModelsConfig, SandboxConfig } from '../config/repos.ts';
import { projectRoot, taskQueue } from '../config/paths.ts';
import { changeBranch, changeWorkflowId, pageWorkflowId } from '../core/ids.ts';
import type { ChangeInput } from '../core/change.ts';
import type { RepoTask } from '../core/repo.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { openTemporal } from '../client/connection.ts';
import { liveStatus } from '../client/live-status.ts';
import { blobStore, inPages } from '../client/pages.ts';
import { startInProcessWorker } from '../client/worker.ts';
import { freePort, startDevServer } from '../workers/dev-server.ts';
import { historyBounds, type HistoryBounds } from './history.ts';
import { median } from './report.ts';
import { stepsTask } from './tasks.ts';

const option = (name: string): string | null =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? null;
const sizes = (option('sizes') ?? '1000,10000').split(',').map(Number);
const concurrency = Number(option('concurrency') ?? '32');
const log = (line: string) => process.stderr.write(`[workflow-scale] ${line}\n`);

/** Peak resident memory of this process (the worker and the client), MiB. */
async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const ok = {
  exitCode: 0,
  timedOut: false,
  durationMs: 1,
  outputBytes: 2,
  truncated: false,
  outputTail: 'ok',
  log: null,
};

const task = (repo: string, id: string): RepoTask =>
  stepsTask(repo, {
    url: `/nowhere/${repo}.git`,
    branch: changeBranch(id),
    sandbox: SandboxConfig.parse({ test: 'true' }),
    steps: [{ name: 'bump', run: "sh -c 'echo 2 > VERSION'" }],
  });

interface Row {
  n: number;
  pages: number;
  wallS: number;
  status: string;
  coordinator: HistoryBounds;
  /** The largest page history (events, bytes) and payload of any page. */
  page: HistoryBounds;
  statusMs: { samples: number; median: number; max: number };
  peakRssMiB: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-workflow-scale-'));
  const server = await startDevServer({
    stateDir: dir,
    address: `127.0.0.1:${await freePort()}`,
    dbFile: null,
    uiPort: null,
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  const session = await openTemporal({ stateDir: dir, startServer: false, log });
  let hostQueue = '';
  let pulls = 0;
  const worker = await startInProcessWorker(session, join(dir, 'state'), log, [], {
    maxConcurrentActivities: 64,
    activities: {
      shared: {
        openWorkspace: (input: { repo: string }) =>
          Promise.resolve({ hostQueue, workspace: `/nowhere/${input.repo}`, baseCommit: 'b'.repeat(40) }),
        openPullRequest: (input: { repo: string }) =>
          Promise.resolve({ number: ++pulls, url: `local://${input.repo}/pulls/1` }),
        linkPullRequest: () => Promise.resolve(),
        bumpManifests: () => Promise.resolve([]),
      },
      host: {
        runInSandbox: () => Promise.resolve(ok),
        commitAndPush: () => Promise.resolve({ commit: 'c'.repeat(40), changedFiles: ['VERSION'] }),
        closeWorkspace: () => Promise.resolve(),
        removeSandbox: () => Promise.resolve(),
      },
    },
  });
  hostQueue = worker.worker.hostQueue;
  const rows: Row[] = [];
  const load = [loadavg()];
  try {
    for (const n of sizes) {
      const id = `workflow-scale-${n}`;
      const input: ChangeInput = {
        changeId: id,
        title: `bump VERSION in ${n} repos`,
        description: 'A light change: every repo writes one file.',
        forge: { type: 'local' },
        concurrency,
        repos: Array.from({ length: n }, (_, i) => task(`svc-${String(i).padStart(5, '0')}`, id)),
        models: ModelsConfig.parse({}),
        budgets: AgentBudgets.parse({}),
        pageSize: 100,
      };
      const started = Date.now();
      const paged = await inPages(blobStore(session), input);
      const handle = await session.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
        workflowId: changeWorkflowId(id),
        taskQueue: taskQueue(),
        args: [paged],
      });
      const statusMs: number[] = [];
      let done = false;
      const result = handle.result().finally(() => (done = true));
      while (!done) {
        const t = Date.now();
        const view = await liveStatus(handle);
        statusMs.push(Date.now() - t);
        if (statusMs.length % 10 === 1)
          log(
            `N=${n}: ${view.phase}, pages done ${view.paged?.pagesDone ?? 0}/${view.paged?.pages ?? 0}, ${JSON.stringify(view.paged?.counts ?? {})}`,
          );
        await new Promise((r) => setTimeout(r, 3000));
      }
      const outcome = await result;
      const wallS = (Date.now() - started) / 1000;
      const coordinator = historyBounds(await handle.fetchHistory());
      const pageCount = paged.pages?.pages.length ?? 0;
      const page: HistoryBounds = { events: 0, bytes: 0, largestPayload: 0 };
      for (const mode of ['run', 'publish'] as const)
        for (let i = 0; i < pageCount; i++) {
          const b = historyBounds(await session.client.workflow.getHandle(pageWorkflowId(id, mode, i)).fetchHistory());
          page.events = Math.max(page.events, b.events);
          page.bytes = Math.max(page.bytes, b.bytes);
          page.largestPayload = Math.max(page.largestPayload, b.largestPayload);
        }
      const row: Row = {
        n,
        pages: pageCount,
        wallS,
        status: `${outcome.status}: ${outcome.summary}`,
        coordinator,
        page,
        statusMs: { samples: statusMs.length, median: median(statusMs), max: Math.max(...statusMs) },
        peakRssMiB: await peakRssMiB(),
      };
      rows.push(row);
      log(JSON.stringify(row));
      load.push(loadavg());
    }
  } finally {
    await worker.stop();
    await session.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const out = join(projectRoot, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-workflow-scale.json`);
  await writeFile(out, `${JSON.stringify({ concurrency, pageSize: 100, loadavg: load, rows }, null, 2)}\n`);
  log(`wrote ${out}`);
}

await main();
