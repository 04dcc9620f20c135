/**
 * The demo change end to end with every real part: a Temporal dev server, a Lockstep worker,
 * Docker sandboxes built from the project's image, git remotes, the local forge; and the CLI's
 * contract (one JSON document, exit codes) on top of them.
 */
import Docker from 'dockerode';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../activities/forges/body.ts';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import { projectRoot } from '../../config/paths.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeResult } from '../../core/change.ts';
import { exampleChange } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const exec = promisify(execFile);
const docker = new Docker();
let h: Harness;

async function gitOut(remote: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['--git-dir', remote, ...args]);
  return stdout;
}

beforeAll(async () => {
  h = await startHarness('e2e');
});

afterAll(async () => {
  await h?.close();
});

describe('the demo change, end to end', () => {
  let first: ChangeResult;

  it('changes all three repos, runs their tests green and opens one linked PR per repo', async () => {
    first = await h.run(await h.changeInput(exampleChange('price-cents.yaml')));
    expect(first.status).toBe('succeeded');
    expect(first.mergeOrder).toEqual(['catalog', 'storefront', 'billing']);
    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    for (const repo of first.repos) {
      expect(repo.status).toBe('green');
      expect(repo.tests).toMatchObject({ exitCode: 0, passed: true, timedOut: false });
      expect(repo.error).toBeNull();
      // The branch on the remote is the commit the result names.
      const head = (await gitOut(h.fleet.remote(repo.repo), 'rev-parse', 'refs/heads/lockstep/price-cents')).trim();
      expect(head).toBe(repo.commit);
      const pulls = await forge.listPullRequests(repo.repo);
      expect(pulls).toHaveLength(1);
      expect(pulls[0]).toMatchObject({
        head: 'lockstep/price-cents',
        base: 'main',
        commit: repo.commit,
        state: 'open',
        number: repo.pullRequest?.number,
      });
      const manifest = parseManifest(pulls[0]?.body ?? '');
      expect(manifest?.order).toEqual(['catalog', 'storefront', 'billing']);
      expect(manifest?.repos.map((r) => r.repo)).toEqual(['catalog', 'storefront', 'billing']);
      expect(manifest?.repos.find((r) => r.repo === repo.repo)?.commit).toBe(repo.commit);
      // The test output is stored by reference, not in history.
      expect(repo.tests?.log?.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('made the intended change in every repo, and only that', async () => {
    const diff = async (repo: string, file: string) =>
      gitOut(h.fleet.remote(repo), 'diff', 'main', 'lockstep/price-cents', '--', file);
    const openapi = JSON.parse(
      await gitOut(h.fleet.remote('catalog'), 'show', 'lockstep/price-cents:openapi.json'),
    ) as {
      components: { schemas: { Product: { properties: Record<string, { type: string }>; required: string[] } } };
    };
    expect(openapi.components.schemas.Product.properties.price_cents?.type).toBe('integer');
    expect(openapi.components.schemas.Product.properties.price).toBeUndefined();
    expect(await diff('storefront', 'test/fixtures/products.json')).toMatch(/\+\s*"price_cents": 1250/);
    expect(await diff('billing', 'product.go')).toContain('json:"price_cents"');
    for (const repo of ['catalog', 'storefront', 'billing']) {
      const log = await gitOut(h.fleet.remote(repo), 'log', '--format=%s%n%b', 'main..lockstep/price-cents');
      expect(log).toContain('Represent prices as integer cents');
      expect(log).toContain('Lockstep-Change: price-cents');
      expect((await gitOut(h.fleet.remote(repo), 'rev-list', '--count', 'main..lockstep/price-cents')).trim()).toBe(
        '1',
      );
    }
  });

  it('publishing the same change again keeps exactly one PR per repo', async () => {
    const again = await h.run(await h.changeInput(exampleChange('price-cents.yaml')));
    expect(again.status).toBe('succeeded');
    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    for (const repo of again.repos) {
      const pulls = await forge.listPullRequests(repo.repo);
      expect(pulls).toHaveLength(1);
      expect(repo.pullRequest?.number).toBe(first.repos.find((r) => r.repo === repo.repo)?.pullRequest?.number);
      // The PR follows the branch to the new commit.
      expect(pulls[0]?.commit).toBe(repo.commit);
    }
  });

  it('a repo whose tests fail blocks publishing for the whole set', async () => {
    const result = await h.run(await h.changeInput(exampleChange('price-cents-broken.yaml')));
    expect(result.status).toBe('failed');
    const billing = result.repos.find((r) => r.repo === 'billing');
    expect(billing).toMatchObject({ status: 'failed', commit: null, pullRequest: null });
    expect(billing?.error?.step).toBe('tests');
    expect(billing?.tests?.exitCode).not.toBe(0);
    expect(billing?.error?.outputTail).toMatch(/FAIL/);
    expect(result.repos.filter((r) => r.repo !== 'billing').every((r) => r.status === 'green')).toBe(true);
    expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);
    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    for (const repo of ['catalog', 'storefront', 'billing']) {
      const pulls = await forge.listPullRequests(repo);
      expect(pulls.filter((p) => p.head === 'lockstep/price-cents-broken')).toEqual([]);
    }
    expect(await gitOut(h.fleet.remote('billing'), 'branch', '--list', 'lockstep/price-cents-broken')).toBe('');
  });

  it('CLI: run --json prints exactly one JSON document and exits 1 when a repo fails', async () => {
    const { code, stdout } = await h.cli([
      'run',
      exampleChange('price-cents-broken.yaml'),
      '--json',
      '--rerun',
      '--no-worker',
    ]);
    expect(code).toBe(1);
    const doc = JSON.parse(stdout) as {
      changeId: string;
      status: string;
      repos: {
        repo: string;
        status: string;
        branch: string;
        commit: string | null;
        tests: { exitCode: number } | null;
        pullRequest: unknown;
        error: { step: string } | null;
      }[];
    };
    expect(doc.changeId).toBe('price-cents-broken');
    expect(doc.status).toBe('failed');
    expect(doc.repos.map((r) => r.repo).sort()).toEqual(['billing', 'catalog', 'storefront']);
    for (const r of doc.repos) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(['repo', 'status', 'branch', 'commit', 'tests', 'pullRequest', 'error']),
      );
      expect(r.pullRequest).toBeNull();
    }
    expect(doc.repos.find((r) => r.repo === 'billing')?.error?.step).toBe('tests');
  });

  it('CLI: status --json reads a finished change back from Temporal', async () => {
    const { code, stdout } = await h.cli(['status', 'price-cents', '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { status: string; repos: { pullRequest: { number: number } | null }[] };
    expect(doc.status).toBe('succeeded');
    expect(doc.repos.every((r) => r.pullRequest !== null)).toBe(true);
    const listed = await h.cli(['list', '--json']);
    const changes = JSON.parse(listed.stdout) as { changeId: string; status: string }[];
    expect(changes.map((c) => c.changeId)).toEqual(expect.arrayContaining(['price-cents', 'price-cents-broken']));
  });

  it('CLI: a bad change file exits 2, names file, field and fix, and starts nothing', async () => {
    const bad = join(h.fleet.root, 'bad-change.yaml');
    await writeFile(
      bad,
      'id: Not Valid\ntitle: ""\nrepos:\n  - name: nosuchrepo\n    steps: []\n  - name: catalog\n    steps:\n      - run: true\n',
    );
    const { code, stdout, stderr } = await h.cli(['run', bad, '--json']);
    expect(code).toBe(2);
    const doc = JSON.parse(stdout) as { status: string; issues: { path: string; fix: string }[] };
    expect(doc.status).toBe('invalid');
    const paths = doc.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['id', 'title', 'repos[0].steps', 'repos[1].steps[0].name', 'repos[1].steps[0].run']),
    );
    expect(doc.issues.every((i) => i.fix.length > 0)).toBe(true);
    expect(stderr).toContain('bad-change.yaml');
    expect(stderr).toContain('nothing was started');
    const unknown = join(h.fleet.root, 'unknown-repo.yaml');
    await writeFile(
      unknown,
      'id: unknown-repo\ntitle: t\nrepos:\n  - name: nosuchrepo\n    steps:\n      - name: s\n        run: "true"\n',
    );
    const second = await h.cli(['run', unknown]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('repos[0].name: unknown repo "nosuchrepo"');
    expect(second.stderr).toContain('use one of: catalog, storefront, billing');
    await expect(h.env.client.workflow.getHandle(changeWorkflowId('unknown-repo')).describe()).rejects.toThrow();
  });

  it('with two workers on two hosts, every sandbox activity goes to the host that cloned the repo', async () => {
    const otherHost = `${h.hostId}-other`;
    const second = spawn(process.execPath, [join(projectRoot, 'bin', 'lockstep.js'), 'worker'], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: h.env.address,
        LOCKSTEP_STATE_DIR: h.fleet.stateDir,
        LOCKSTEP_TASK_QUEUE: h.queue,
        LOCKSTEP_HOST_ID: otherHost,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        second.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('worker polling')) resolve();
        });
        void exited.then((code) => reject(new Error(`second worker exited with ${String(code)}: ${stderr}`)));
      });
      expect(stderr).toContain(`lockstep-host-${otherHost}`);
      const base = await h.changeInput(exampleChange('price-cents.yaml'));
      const result = await h.run({
        ...base,
        changeId: 'two-hosts',
        repos: base.repos.map((r) => ({ ...r, branch: 'lockstep/two-hosts' })),
      });
      expect(result.status).toBe('succeeded');
      const hostQueues = new Set<string>();
      for (const repo of result.repos) {
        const history = await h.env.client.workflow
          .getHandle(changeWorkflowId(`two-hosts/repo/${repo.repo}`))
          .fetchHistory();
        const scheduled = (history.events ?? []).flatMap((e) => {
          const a = e.activityTaskScheduledEventAttributes;
          return a
            ? [{ type: a.activityType?.name ?? '', queue: a.taskQueue?.name ?? '', id: e.eventId?.toString() ?? '' }]
            : [];
        });
        const completed = (history.events ?? []).flatMap((e) =>
          e.activityTaskCompletedEventAttributes ? [e.activityTaskCompletedEventAttributes] : [],
        );
        expect(scheduled[0]?.type).toBe('openWorkspace');
        expect(scheduled[0]?.queue).toBe(h.queue);
        // The queue openWorkspace returned is where every later activity of the repo went.
        const prepared = completed.find((c) => c.scheduledEventId?.toString() === scheduled[0]?.id);
        const payload = prepared?.result?.payloads?.[0]?.data;
        const hostQueue = (JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString()) as { hostQueue: string })
          .hostQueue;
        expect([h.worker?.hostQueue, `lockstep-host-${otherHost}`]).toContain(hostQueue);
        hostQueues.add(hostQueue);
        const later = scheduled.slice(1);
        expect(later.map((s) => s.type)).toEqual(
          expect.arrayContaining(['runInSandbox', 'commitAndPush', 'closeWorkspace']),
        );
        expect(later.every((s) => s.queue === hostQueue)).toBe(true);
      }
      expect(hostQueues.size).toBeGreaterThanOrEqual(1);
    } finally {
      second.kill('SIGTERM');
      await exited;
    }
  });

  it('leaves no sandbox, no workspace behind', async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
    expect(left.filter((c) => c.Labels['lockstep.owner']?.startsWith(`${h.hostId}:`))).toEqual([]);
    const workspaces = await readFile(
      join(h.fleet.stateDir, 'workspaces', 'price-cents', 'catalog', '.git', 'HEAD'),
    ).then(
      () => 'present',
      () => 'gone',
    );
    expect(workspaces).toBe('gone');
  });
});
