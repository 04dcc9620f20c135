/**
 * Two hosts on a Temporal cluster as teams run it (tests/helpers/cluster.ts: the server built
 * from its Go module, PostgreSQL, mTLS on the frontend). Each host is a network namespace of its
 * own with only `lo` and no route out; its `lockstep worker` (its own host id, so its own
 * sandbox queue, and its own state folder) reaches the frontend over TLS with a client
 * certificate through a byte forwarder the test controls (tests/helpers/hosts.ts). Both share the
 * Docker engine, whose unix socket every namespace reaches, and the local forge's folder (the
 * forge both hosts talk to).
 *
 * 1. A six-repo steps change completes on the two hosts (each repo's commands on one host queue,
 *    read from the repo workflows' histories), one PR per repo, no container left.
 * 2. A second change: once one host holds a repo mid-step, its link is cut (the forwarder
 *    stops and its connections are reset). Its repos finish on the other host, one PR per repo,
 *    no container of the change left on the engine while the cut host is still cut. When the
 *    link returns, the cut worker's reconciler removes the work trees it was left with.
 */
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import Docker from 'dockerode';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_CHANGE, LABEL_HOST, LABEL_REPO } from '../../activities/sandbox/docker.ts';
import { changeWorkflowId, repoWorkflowId } from '../../core/ids.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import { hostQueueName } from '../../workers/worker.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { liveStatus } from '../../client/live-status.ts';
import { ms } from '../../cli/audit/records.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import {
  alive,
  expectOnePullRequestPerRepo,
  removeSandboxesOf,
  sandboxesLeft,
  seedSmallRepos,
  smallReposChange,
  startWorker,
  stopWorker,
  waitForStatus,
  workTreesLeft,
  TEST_RECONCILE_SECONDS,
  type WorkerProcess,
} from '../helpers/durable.ts';
import { startTestHost, type TestHost } from '../helpers/hosts.ts';
import { watchCreations } from '../helpers/sandboxes.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';
import type { TestFleet } from '../helpers/fleet.ts';

const REPOS = ['alpha', 'beta', 'delta', 'epsilon', 'gamma', 'zeta'];
const docker = new Docker();
const suffix = uniqueSuffix();
const queue = `two-hosts-${suffix}`;
const HOST_IDS = [`host-a-${suffix}`, `host-b-${suffix}`];

let cluster: TestCluster | undefined;
let root: string | undefined;
let connection: Connection | undefined;
let client: Client | undefined;
const hosts: TestHost[] = [];
const workers = new Map<string, WorkerProcess>();
const changeIds: string[] = [];

const stateDirOf = (hostId: string): string => join(root ?? '', 'hosts', hostId, '.lockstep');
/** The remotes and the forge both hosts reach, in the shape expectOnePullRequestPerRepo reads. */
const shared = (): TestFleet => {
  const dir = root ?? '';
  return {
    root: dir,
    stateDir: join(dir, 'shared'),
    configFile: join(dir, 'repos.config.json'),
    remote: (repo) => join(dir, 'remotes', `${repo}.git`),
    cleanup: () => Promise.resolve(),
  };
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-two-hosts-'));
  const dir = root;
  [cluster] = await Promise.all([startTestCluster(), seedSmallRepos(dir, REPOS)]);
  await writeFile(
    join(dir, 'repos.config.json'),
    JSON.stringify({
      concurrency: REPOS.length,
      gate: { contracts: false, secrets: false, insecure: false },
      defaults: { sandbox: { image: 'lockstep-sandbox:latest', limits: { memoryMb: 256 } } },
      repos: REPOS.map((name) => ({ name, url: `remotes/${name}.git`, sandbox: { test: 'grep -q cents README.md' } })),
    }),
  );
  // The hosts' Temporal settings: a temporal.toml profile with the cluster's CA, the server name
  // its certificate carries, and a client certificate.
  const profile = join(dir, 'temporal.toml');
  await writeFile(
    profile,
    [
      '[profile.cluster]',
      `address = "${cluster.address}"`,
      `namespace = "${cluster.namespace}"`,
      '[profile.cluster.tls]',
      `server_name = "localhost"`,
      `server_ca_cert_path = "${cluster.files.ca}"`,
      `client_cert_path = "${cluster.files.clientCert}"`,
      `client_key_path = "${cluster.files.clientKey}"`,
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'shared', 'forge'), { recursive: true });
  const port = Number(cluster.address.split(':')[1]);
  for (const hostId of HOST_IDS) {
    // Each host its own state folder (work trees, logs); the forge's folder is the one both reach.
    await mkdir(stateDirOf(hostId), { recursive: true });
    await symlink(join(dir, 'shared', 'forge'), join(stateDirOf(hostId), 'forge'));
    hosts.push(await startTestHost(hostId, dir, port));
  }
  const [ca, crt, key] = await Promise.all(
    [cluster.files.ca, cluster.files.clientCert, cluster.files.clientKey].map((f) => readFile(f)),
  );
  connection = await Connection.connect({
    address: cluster.address,
    tls: { serverNameOverride: 'localhost', serverRootCACertificate: ca, clientCertPair: { crt: crt!, key: key! } },
  });
  client = new Client({ connection, namespace: cluster.namespace });
  for (const [i, hostId] of HOST_IDS.entries()) {
    const host = hosts[i];
    if (!host) throw new Error('set-up failed');
    workers.set(
      hostId,
      await startWorker({
        address: cluster.address,
        queue,
        stateDir: stateDirOf(hostId),
        hostId,
        args: ['-c', join(dir, 'repos.config.json')],
        env: { TEMPORAL_CONFIG_FILE: profile, TEMPORAL_PROFILE: 'cluster', TEMPORAL_NAMESPACE: cluster.namespace },
        prefix: host.enter,
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all([...workers.values()].map((w) => stopWorker(w, 'SIGKILL')));
  await Promise.all(hosts.map((h) => h.stop()));
  await connection?.close();
  await cluster?.stop();
  await removeSandboxesOf(changeIds, docker);
  if (root) await rm(root, { recursive: true, force: true });
});

async function input(id: string, pauseSeconds: number): Promise<ChangeInput> {
  if (!root) throw new Error('set-up failed');
  changeIds.push(id);
  return smallReposChange({
    root,
    id,
    repos: REPOS,
    step: { name: 'note', run: `sleep ${pauseSeconds} && echo cents >> README.md` },
  });
}

/** Per repo, the task queues its sandbox commands were scheduled on, from its workflow's history. */
async function commandQueues(changeId: string): Promise<Record<string, string[]>> {
  if (!client) throw new Error('set-up failed');
  const out: Record<string, string[]> = {};
  for (const repo of REPOS) {
    const history = await client.workflow.getHandle(repoWorkflowId(changeId, repo)).fetchHistory();
    const queues = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'runInSandbox')
      .map((a) => a?.taskQueue?.name ?? '?');
    out[repo] = [...new Set(queues)];
  }
  return out;
}

const timeoutName = (type: unknown): string =>
  String(proto.temporal.api.enums.v1.TimeoutType[Number(type)] ?? type)
    .replace('TIMEOUT_TYPE_', '')
    .toLowerCase();

/**
 * What a workflow saw from `since` on, one line per event that tells: each activity's name and
 * how it ended (completed, failed, which timeout), and workflow task timeouts, in seconds after
 * `since`.
 */
async function timeline(workflowId: string, since: number): Promise<string[]> {
  if (!client) throw new Error('set-up failed');
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const names = new Map<string, string>();
  const lines: string[] = [];
  for (const e of history.events ?? []) {
    const at = `+${((ms(e.eventTime) - since) / 1000).toFixed(1)}s`;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) names.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    if (ms(e.eventTime) < since) continue;
    const timedOut = e.activityTaskTimedOutEventAttributes;
    const ended = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? timedOut;
    if (ended) {
      const how = timedOut
        ? `timed out (${timeoutName(timedOut.failure?.timeoutFailureInfo?.timeoutType)})`
        : e.activityTaskFailedEventAttributes
          ? 'failed'
          : 'completed';
      lines.push(`${names.get(String(ended.scheduledEventId)) ?? '?'} ${how} at ${at}`);
    }
    if (e.workflowTaskTimedOutEventAttributes)
      lines.push(
        `workflow task timed out (${timeoutName(e.workflowTaskTimedOutEventAttributes.timeoutType)}) at ${at}`,
      );
  }
  return lines;
}

/** The change's containers, polled for a few reconciler intervals until none is left. */
async function containersAfter(changeId: string): Promise<string[]> {
  let left = await sandboxesLeft(changeId, docker);
  for (let i = 0; i < 4 * TEST_RECONCILE_SECONDS * 5 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    left = await sandboxesLeft(changeId, docker);
  }
  return left;
}

const statuses = (result: ChangeResult) => Object.fromEntries(result.repos.map((r) => [r.repo, r.status]));
const allGreen = Object.fromEntries(REPOS.map((r) => [r, 'green']));

describe('two hosts in their own network namespaces, on a cluster with mTLS', () => {
  it('each host has only its loopback: no route out, the frontend unreachable but through its link', () => {
    if (!cluster) throw new Error('set-up failed');
    for (const host of hosts) {
      expect(host.isolation.links, host.name).toEqual(['lo']);
      for (const route of host.isolation.routes.split('\n').filter(Boolean))
        expect(route, host.name).toContain('dev lo');
      expect(host.isolation.direct.ok, host.name).toBe(false);
      expect(host.isolation.direct.output, host.name).toContain('Connection refused');
      // Its worker polls the cluster, so through the link alone.
      expect(host.link().open(), host.name).toBeGreaterThan(0);
    }
  });

  it('a six-repo change completes on the two hosts, one PR per repo, no container left', async () => {
    if (!client) throw new Error('set-up failed');
    const started = Date.now();
    const change = await input(`th-${suffix}-1`, 1);
    const result = await client.workflow.execute<typeof changeWorkflow>('changeWorkflow', {
      workflowId: changeWorkflowId(change.changeId),
      taskQueue: queue,
      args: [change],
    });
    expect(result.status, result.summary).toBe('succeeded');
    expect(statuses(result)).toEqual(allGreen);
    const queues = await commandQueues(change.changeId);
    // Each repo's commands ran on one host of ours. Which host takes which repo is Temporal's
    // matching (it has split them 3/3 in every run so far, but nothing forces it): the second
    // change below is the one that must use both hosts, and does by construction.
    const ours = HOST_IDS.map(hostQueueName);
    for (const repo of REPOS) {
      expect(queues[repo], repo).toHaveLength(1);
      expect(ours, repo).toContain(queues[repo]?.[0]);
    }
    await expectOnePullRequestPerRepo(shared(), result);
    expect(await containersAfter(change.changeId)).toEqual([]);
    process.stderr.write(
      `two-hosts: first change in ${Date.now() - started} ms; repos per host queue ${JSON.stringify(queues)}\n`,
    );
  });

  it("one host's link is cut mid-step: its repos finish on the other host, one PR each, no container left", async () => {
    if (!client) throw new Error('set-up failed');
    const started = Date.now();
    const change = await input(`th-${suffix}-2`, 8);
    const creations = await watchCreations(change.changeId, docker);
    try {
      const handle = await client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
        workflowId: changeWorkflowId(change.changeId),
        taskQueue: queue,
        args: [change],
      });
      await waitForStatus(handle, 'a repo is mid-step', (view) =>
        view.repos.some((r) => r.status === 'running' && r.phase === 'step'),
      );
      // The host of a sandbox whose repo is at work in it now is the one cut.
      const view = await liveStatus(handle);
      const atWork = new Set(view.repos.filter((r) => r.status === 'running' && r.phase === 'step').map((r) => r.repo));
      const running = (
        await docker.listContainers({ filters: { label: [`${LABEL_CHANGE}=${change.changeId}`] } })
      ).filter((c) => atWork.has(c.Labels[LABEL_REPO] ?? ''));
      const victimQueue = running[0]?.Labels[LABEL_HOST];
      const victimAt = HOST_IDS.findIndex((h) => hostQueueName(h) === victimQueue);
      const victim = hosts[victimAt];
      const victimId = HOST_IDS[victimAt];
      const survivorId = HOST_IDS[1 - victimAt];
      if (!victim || !victimId || !survivorId) throw new Error(`no host of ours holds ${JSON.stringify(running)}`);
      const interrupted = running.filter((c) => c.Labels[LABEL_HOST] === victimQueue).map((c) => c.Labels[LABEL_REPO]);
      await victim.cut();
      const cutAt = Date.now();
      expect(victim.link().open()).toBe(0);

      const result = await handle.result();
      const finishedAfterCutMs = Date.now() - cutAt;
      expect(result.status, result.summary).toBe('succeeded');
      expect(statuses(result)).toEqual(allGreen);
      const owners = await creations.owners();
      for (const repo of interrupted) {
        const r = result.repos.find((x) => x.repo === repo);
        expect(r?.attempts, repo).toBeGreaterThanOrEqual(2);
        // Its last sandbox was made by the surviving host's worker.
        expect(owners[repo ?? '']?.at(-1)?.split(':')[0], repo).toBe(survivorId);
      }
      const queues = await commandQueues(change.changeId);
      // One change that used both hosts: each interrupted repo ran commands on the cut host, then on the survivor.
      for (const repo of interrupted)
        expect(queues[repo ?? ''], repo).toEqual(expect.arrayContaining([victimQueue, hostQueueName(survivorId)]));
      await expectOnePullRequestPerRepo(shared(), result);
      // Nothing of the change on the engine, with the cut host still cut: the survivor's next
      // attempt replaced the cut host's sandbox (one name per repo), and its reconciler removes
      // any other that no live attempt uses.
      expect(await containersAfter(change.changeId)).toEqual([]);
      const cutWorker = workers.get(victimId);
      expect(cutWorker && alive(cutWorker.child), 'the cut worker still runs').toBe(true);
      const treesWhileCut = await workTreesLeft(change.changeId, stateDirOf(victimId));
      expect(treesWhileCut.length, 'the cut host keeps its work trees while it cannot ask').toBeGreaterThan(0);

      // The link returns: the cut worker's reconciler asks Temporal again and removes them.
      await victim.restore();
      const restoredAt = Date.now();
      let trees = treesWhileCut;
      while (trees.length > 0 && Date.now() - restoredAt < 60_000) {
        await new Promise((r) => setTimeout(r, 500));
        trees = await workTreesLeft(change.changeId, stateDirOf(victimId));
      }
      expect(trees).toEqual([]);
      expect(await sandboxesLeft(change.changeId, docker)).toEqual([]);
      for (const id of [changeWorkflowId(change.changeId), ...REPOS.map((r) => repoWorkflowId(change.changeId, r))]) {
        const moved = await timeline(id, cutAt);
        process.stderr.write(`two-hosts: ${id} after the cut: ${moved.join('; ')}\n`);
      }
      process.stderr.write(
        `two-hosts: cut ${victimId} holding ${interrupted.join(',')}; the change ended ${finishedAfterCutMs} ms after the cut ` +
          `(${Date.now() - started} ms in all); its work trees went ${Date.now() - restoredAt} ms after the link returned\n`,
      );
    } finally {
      creations.stop();
    }
  });
});
