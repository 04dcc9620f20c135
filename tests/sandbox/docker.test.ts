/**
 * The hardened sandbox against a real Docker engine and the real `lockstep-sandbox:latest`
 * image: what the container is allowed to do, how commands end (exit, timeout, cancellation,
 * flood of output), idempotent create/remove, and the sweep of orphaned containers.
 */
import { ApplicationFailure } from '@temporalio/common';
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV,
  LABEL_CHANGE,
  LABEL_OWNER,
  LABEL_REPO,
  LABEL_WORKSPACE,
  containerName,
  createSandbox,
  reapOrphans,
  removeSandbox,
  runInSandbox,
  sandboxEnv,
  type SandboxDeps,
} from '../../activities/sandbox/docker.ts';
import { cloneWorkspace } from '../../activities/git/workspace.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { ownerAlive } from '../../activities/sandbox/owner.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';
import type { CommandResult } from '../../core/commands.ts';
import { complianceViolations, loopbackViolations } from '../helpers/compliance.ts';

const changeId = `sbx-${process.pid}`;
const user = `${SANDBOX_UID}:${SANDBOX_UID}`;
const deadOwner = 'testhost:999999';

const docker = new Docker();
let root = '';
let remote = '';
let deps: SandboxDeps;
/** Repos whose sandbox the current test created; removed after every test, pass or fail. */
const created = new Set<string>();
let commandIndex = 0;

function gitCli(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Lockstep Test', '-c', 'user.email=test@localhost', '-c', 'init.defaultBranch=main', ...args],
    {
      cwd,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_NOSYSTEM: '1' },
    },
  );
}

/** A fresh workspace cloned from the test remote, owned by the sandbox user. */
async function workspaceFor(repo: string): Promise<string> {
  const workspace = join(root, 'workspaces', repo);
  await cloneWorkspace(remote, 'main', `lockstep/${changeId}`, workspace, {
    owner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
  });
  return workspace;
}

async function sandboxFor(
  repo: string,
  config: Record<string, unknown> = {},
  extra: Partial<SandboxDeps> = {},
): Promise<string> {
  const workspace = await workspaceFor(repo);
  created.add(repo);
  return createSandbox(
    { ...deps, ...extra },
    { changeId, repo, workspace, sandbox: SandboxConfig.parse({ test: 'true', ...config }) },
  );
}

function run(
  repo: string,
  command: string,
  options: { timeoutSeconds?: number; outputBytes?: number } = {},
  signal?: AbortSignal,
): Promise<CommandResult> {
  commandIndex += 1;
  return runInSandbox(
    deps,
    {
      changeId,
      repo,
      kind: 'step',
      name: `cmd ${commandIndex}`,
      index: commandIndex,
      command,
      timeoutSeconds: options.timeoutSeconds ?? 30,
      outputBytes: options.outputBytes ?? 65536,
    },
    signal,
  );
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

async function ourContainers(repo?: string): Promise<Docker.ContainerInfo[]> {
  const label = [`${LABEL_CHANGE}=${changeId}`, ...(repo ? [`${LABEL_REPO}=${repo}`] : [])];
  return docker.listContainers({ all: true, filters: { label } });
}

async function removeAllOurs(): Promise<void> {
  for (const c of await ourContainers()) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-sandbox-test-'));
  remote = join(root, 'remote.git');
  const seed = join(root, 'seed');
  await mkdir(seed);
  gitCli(root, 'init', '--quiet', '--bare', remote);
  gitCli(seed, 'init', '--quiet');
  await writeFile(join(seed, 'README.md'), 'hello sandbox\n');
  gitCli(seed, 'add', 'README.md');
  gitCli(seed, 'commit', '--quiet', '-m', 'seed');
  gitCli(seed, 'push', '--quiet', remote, 'HEAD:refs/heads/main');
  deps = {
    docker,
    user,
    owner: `test:${process.pid}`,
    workerEnv: { PATH: process.env.PATH },
    logDir: join(root, 'logs'),
  };
});

afterEach(async () => {
  for (const repo of created) await removeSandbox(docker, { changeId, repo }).catch(() => undefined);
  created.clear();
});

afterAll(async () => {
  await removeAllOurs();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('docker sandbox', () => {
  it('creates a hardened container with only allowlisted environment', async () => {
    const repo = 'harden';
    const workspace = await workspaceFor(repo);
    const config = SandboxConfig.parse({
      test: 'true',
      limits: { memoryMb: 300, pids: 64, cpus: 0.5 },
      env: { FIXED_VAR: 'fixed' },
      passEnv: ['ALLOWED_VAR', 'UNSET_VAR'],
    });
    const workerEnv = { ...process.env, SECRET_TOKEN: 'hunter2', AWS_SECRET_ACCESS_KEY: 'x', ALLOWED_VAR: 'yes' };
    created.add(repo);
    const name = await createSandbox({ ...deps, workerEnv }, { changeId, repo, workspace, sandbox: config });
    expect(name).toBe(`lockstep-${changeId}-${repo}`);
    expect(containerName({ changeId, repo })).toBe(name);

    const info = await docker.getContainer(name).inspect();
    expect(info.Name).toBe(`/${name}`);
    const host = info.HostConfig;
    expect(host.NetworkMode).toBe('none');
    expect(host.CapDrop).toContain('ALL');
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.SecurityOpt).toContain('no-new-privileges');
    expect(host.ReadonlyRootfs).toBe(true);
    expect(Object.keys(host.Tmpfs ?? {})).toContain('/tmp');
    expect(host.PidsLimit).toBe(64);
    expect(host.Memory).toBe(300 * 1024 * 1024);
    expect(host.NanoCpus).toBe(500_000_000);
    expect(host.Privileged).toBe(false);
    expect(info.Config.User).toBe(user);
    expect(info.Config.User.split(':')[0]).not.toBe('0');
    expect(info.Config.Labels).toMatchObject({
      [LABEL_CHANGE]: changeId,
      [LABEL_REPO]: repo,
      [LABEL_OWNER]: `test:${process.pid}`,
      [LABEL_WORKSPACE]: workspace,
    });

    const env = info.Config.Env;
    const allowed = new Set([...Object.keys(BASE_ENV), 'FIXED_VAR', 'ALLOWED_VAR']);
    const keys = env.map((entry) => entry.slice(0, entry.indexOf('=')));
    expect(keys.filter((k) => !allowed.has(k))).toEqual([]);
    expect(env).toContain('ALLOWED_VAR=yes');
    expect(env).toContain('FIXED_VAR=fixed');
    for (const secret of ['SECRET_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'hunter2']) {
      expect(env.some((entry) => entry.includes(secret))).toBe(false);
    }

    // The filter holds even for a config that slipped past the schema.
    const bypass = sandboxEnv(
      { ...config, passEnv: ['SECRET_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'ALLOWED_VAR'] },
      workerEnv,
    );
    expect(bypass).toContain('ALLOWED_VAR=yes');
    expect(
      bypass.some((entry) => entry.startsWith('SECRET_TOKEN=') || entry.startsWith('AWS_SECRET_ACCESS_KEY=')),
    ).toBe(false);

    expect(SandboxConfig.safeParse({ test: 'true', passEnv: ['GITHUB_TOKEN'] }).success).toBe(false);
  });

  it('confines commands: non-root, read-only root and .git, no network, no capabilities', async () => {
    const repo = 'confine';
    await sandboxFor(repo);

    const uid = await run(repo, 'id -u');
    expect(uid.exitCode).toBe(0);
    expect(uid.outputTail.trim()).toBe(String(SANDBOX_UID));

    const etc = await run(repo, 'echo x > /etc/x');
    expect(etc.exitCode).not.toBe(0);
    expect(etc.outputTail).toMatch(/Read-only file system/);

    const nets = await run(repo, 'ls /sys/class/net');
    expect(nets.exitCode).toBe(0);
    expect(nets.outputTail.split(/\s+/).filter(Boolean)).toEqual(['lo']);
    // Loopback only, but a real one: a service under test binds localhost and its tests call it.
    expect(await loopbackViolations(docker, containerName({ changeId, repo }))).toEqual([]);
    expect(complianceViolations(await docker.getContainer(containerName({ changeId, repo })).inspect())).toEqual([]);
    const hosts = await run(repo, 'getent hosts localhost');
    expect(hosts.outputTail).toMatch(/^(127\.0\.0\.1|::1)\s+localhost/m);

    const connect = await run(
      repo,
      `python3 -c 'import socket; s = socket.socket(); s.settimeout(2); s.connect(("192.0.2.1", 80))'`,
    );
    expect(connect.exitCode).not.toBe(0);
    expect(connect.outputTail).toMatch(/Network is unreachable/);

    const write = await run(repo, 'echo written-inside > /workspace/inside.txt && cat /workspace/inside.txt');
    expect(write.exitCode).toBe(0);
    expect(write.outputTail.trim()).toBe('written-inside');
    const workspace = join(root, 'workspaces', repo);
    expect(await readFile(join(workspace, 'inside.txt'), 'utf8')).toBe('written-inside\n');

    const gitConfigBefore = await readFile(join(workspace, '.git', 'config'), 'utf8');
    const gitWrite = await run(repo, 'echo "[core]" >> /workspace/.git/config');
    expect(gitWrite.exitCode).not.toBe(0);
    expect(gitWrite.outputTail).toMatch(/Read-only file system/);
    expect(await readFile(join(workspace, '.git', 'config'), 'utf8')).toBe(gitConfigBefore);

    const caps = await run(repo, 'grep CapEff /proc/self/status');
    expect(caps.exitCode).toBe(0);
    expect(caps.outputTail).toMatch(/CapEff:\s+0{16}\s*$/);

    const nnp = await run(repo, 'grep NoNewPrivs /proc/self/status');
    expect(nnp.exitCode).toBe(0);
    expect(nnp.outputTail).toMatch(/NoNewPrivs:\s+1\s*$/);
  });

  it('kills a command at its timeout, whole process tree included, and the sandbox keeps working', async () => {
    const repo = 'timeout';
    await sandboxFor(repo, { limits: { pids: 64 } });

    const slow = await run(repo, 'sleep 61', { timeoutSeconds: 2 });
    expect(slow.timedOut).toBe(true);
    expect(slow.exitCode).toBe(137);
    expect(slow.durationMs).toBeLessThan(30_000);
    expect(slow.outputTail).toContain('killed after 2s timeout');

    const next = await run(repo, 'echo ok; ps -eo args=');
    expect(next.exitCode, next.outputTail).toBe(0);
    expect(next.timedOut).toBe(false);
    const lines = next.outputTail.split('\n').map((l) => l.trim());
    expect(lines[0]).toBe('ok');
    expect(lines).toContain('sleep infinity');
    expect(lines).not.toContain('sleep 61');

    const bomb = await run(repo, 'for i in $(seq 1 500); do sleep 100 & done; wait', { timeoutSeconds: 3 });
    expect(bomb.timedOut).toBe(true);
    expect(bomb.exitCode).toBe(137);

    const after = await run(repo, 'ps -eo args=');
    expect(after.exitCode).toBe(0);
    expect(after.outputTail.split('\n').map((l) => l.trim())).not.toContain('sleep 100');
  });

  it('kills what a command left running when it returns, and says so; init and the main process stay', async () => {
    const repo = 'leftovers';
    await sandboxFor(repo, { limits: { pids: 64 } });

    const clean = await run(repo, 'echo clean');
    expect(clean.exitCode).toBe(0);
    expect(clean.leftovers).toBeUndefined();
    expect(clean.outputTail).not.toContain('left behind');

    // One job holds the output open, one detaches into its own session with its output closed.
    const started = await run(repo, 'sleep 300 & setsid sh -c "sleep 301" </dev/null >/dev/null 2>&1 & echo started', {
      timeoutSeconds: 20,
    });
    expect(started.timedOut).toBe(false);
    expect(started.exitCode).toBe(0);
    expect(started.leftovers).toBeGreaterThanOrEqual(2);
    expect(started.outputTail).toMatch(/\[lockstep: the command returned; \d+ processes it left behind were killed\]/);
    expect(started.log && (await readFile(started.log.path, 'utf8'))).toContain('left behind were killed');

    const next = await run(repo, 'for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline; echo; done');
    const lines = next.outputTail
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    expect(lines).toContain('sleep infinity');
    expect(lines.some((l) => l.startsWith('/sbin/docker-init') || l.startsWith('docker-init'))).toBe(true);
    expect(lines.filter((l) => /^sleep 30[01]/.test(l) || /sleep 301/.test(l))).toEqual([]);
    expect(next.leftovers).toBeUndefined();
  });

  it("sweeps in the command's own exec, and believes no report its shell did not make", async () => {
    const repo = 'swept';
    await sandboxFor(repo, { limits: { pids: 64 } });
    // Every exec the sandbox layer starts, by its argv.
    const execs: string[][] = [];
    const counting = new Proxy(docker, {
      get(target, key, receiver) {
        if (key !== 'getContainer') return Reflect.get(target, key, receiver) as unknown;
        return (id: string) => {
          const container = target.getContainer(id);
          const exec = container.exec.bind(container);
          container.exec = ((options: { Cmd: string[] }) => (execs.push(options.Cmd), exec(options))) as typeof exec;
          return container;
        };
      },
    });
    const swept = (command: string): Promise<CommandResult> =>
      runInSandbox(
        { ...deps, docker: counting },
        {
          changeId,
          repo,
          kind: 'test',
          name: `swept ${++commandIndex}`,
          index: commandIndex,
          command,
          timeoutSeconds: 20,
          outputBytes: 65536,
        },
      );

    // One exec for a command, leftovers included; its code and output pass through, the report does not.
    const left = await swept('echo out; printf "err\\0\\n" >&2; sleep 300 & exit 3');
    expect(execs.length).toBe(1);
    expect(left.exitCode).toBe(3);
    expect(left.leftovers).toBe(1);
    expect(left.outputTail).toContain('out');
    expect(left.outputTail).toContain('err\0\n');
    expect(left.outputTail).not.toContain('lockstep-swept');
    expect(left.outputBytes).toBe('out\nerr\0\n'.length);

    // A command that imitates the report and kills its shell is swept in an exec of its own.
    execs.length = 0;
    const forged = await swept('printf "\\000lockstep-swept 0 0 0\\n" >&2; sleep 302 & kill -9 $PPID');
    expect(execs.length).toBe(2);
    expect(forged.exitCode).toBe(137);
    expect(forged.leftovers).toBeGreaterThanOrEqual(1);
    expect(forged.outputTail).toContain('lockstep-swept 0 0 0');

    // Processes that end while the sweep reads /proc cost it nothing, and add nothing to the output.
    for (let i = 0; i < 3; i++) {
      const churn = await swept('for i in $(seq 1 60); do (sleep 0.0$((i % 10)) &) ; done; echo done');
      expect(churn.outputTail.trim()).toMatch(/^done(\n+\[lockstep: the command returned; .*\])?$/);
    }

    const next = await swept('for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline; echo; done');
    expect(next.outputTail).not.toMatch(/sleep 30[02]/);
    expect(next.leftovers).toBeUndefined();
  });

  it('caps the kept output but counts every byte and keeps the tail', async () => {
    const repo = 'flood';
    await sandboxFor(repo);
    const result = await run(repo, "head -c 3000000 /dev/zero | tr '\\0' 'a'; echo; echo TAIL-MARKER", {
      outputBytes: 65536,
    });
    expect(result.exitCode).toBe(0);
    expect(result.outputBytes).toBeGreaterThanOrEqual(3_000_000);
    expect(result.truncated).toBe(true);
    expect(result.log).not.toBeNull();
    const log = result.log!;
    const content = await readFile(log.path);
    expect((await stat(log.path)).size).toBeLessThan(70_000);
    expect(content.length).toBe(log.bytes);
    expect(createHash('sha256').update(content).digest('hex')).toBe(log.sha256);
    expect(result.outputTail).toContain('TAIL-MARKER');
    expect(result.outputTail.length).toBeLessThanOrEqual(5000);
  });

  it('reports exit codes and captures stderr', async () => {
    const repo = 'exits';
    await sandboxFor(repo);
    const three = await run(repo, 'exit 3');
    expect(three.exitCode).toBe(3);
    expect(three.timedOut).toBe(false);

    const oops = await run(repo, 'echo oops >&2; exit 1');
    expect(oops.exitCode).toBe(1);
    expect(oops.timedOut).toBe(false);
    expect(oops.outputTail).toContain('oops');
  });

  it('rejects promptly when the caller cancels', async () => {
    const repo = 'cancel';
    await sandboxFor(repo);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('cancelled by test')), 1000);
    const started = Date.now();
    try {
      const err = await rejection(run(repo, 'sleep 60', { timeoutSeconds: 120 }, controller.signal));
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('cancelled by test');
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      clearTimeout(timer);
    }
  });

  it('creates idempotently, removes idempotently, and a removed sandbox is gone', async () => {
    const repo = 'idem';
    const workspace = await workspaceFor(repo);
    const input = { changeId, repo, workspace, sandbox: SandboxConfig.parse({ test: 'true' }) };
    created.add(repo);
    const first = await createSandbox(deps, input);
    const firstId = (await docker.getContainer(first).inspect()).Id;
    const second = await createSandbox(deps, input);
    expect(second).toBe(first);
    const listed = await ourContainers(repo);
    expect(listed).toHaveLength(1);
    expect(listed[0]?.Id).toBe(firstId);
    // Another worker process's container under the name (a dead one's) is replaced, not reused.
    const other = await createSandbox({ ...deps, owner: `successor:${process.pid}` }, input);
    expect(other).toBe(first);
    expect((await docker.getContainer(other).inspect()).Id).not.toBe(firstId);
    expect(await ourContainers(repo)).toHaveLength(1);

    await expect(removeSandbox(docker, { changeId, repo })).resolves.toBeUndefined();
    await expect(removeSandbox(docker, { changeId, repo })).resolves.toBeUndefined();
    expect(await ourContainers(repo)).toHaveLength(0);

    const err = await rejection(run(repo, 'echo never'));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('SandboxGone');
  });

  it('runs any image: its own entrypoint is overridden, and commands run with sh where there is no bash', async () => {
    // Built on the sandbox image without network (about a second, no download), removed after.
    const image = `lockstep-test-nobash:${process.pid}`;
    const context = join(root, 'nobash-image');
    await mkdir(context, { recursive: true });
    await writeFile(
      join(context, 'Dockerfile'),
      'FROM lockstep-sandbox:latest\nUSER 0\nRUN rm -f /usr/bin/bash /bin/bash\nENTRYPOINT ["/bin/sh", "-c", "echo entrypoint ran; exit 3"]\n',
    );
    execFileSync('docker', ['build', '--quiet', '--network', 'none', '--tag', image, context], { stdio: 'ignore' });
    try {
      await sandboxFor('nobash', { image });
      const r = await run(
        'nobash',
        'test -e /bin/bash && echo has-bash; echo "shell: $(readlink -f /proc/$$/exe)"; [ "$HOME" = /tmp/home ] && [ -d "$HOME" ] && echo home-ok',
      );
      expect(r.exitCode, r.outputTail).toBe(0);
      expect(r.outputTail).not.toContain('has-bash');
      expect(r.outputTail).toContain('shell: /usr/bin/dash');
      expect(r.outputTail).toContain('home-ok');
      // With bash present, commands keep bash (its syntax included).
      await sandboxFor('withbash');
      const b = await run('withbash', 'arr=(a b); echo "${arr[1]} $BASH_VERSION"');
      expect(b.outputTail).toMatch(/^b 5\./);
    } finally {
      for (const repo of ['nobash', 'withbash']) await removeSandbox(docker, { changeId, repo });
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  it('fails fatally with a bootstrap hint when the image is missing', async () => {
    const repo = 'noimage';
    const workspace = await workspaceFor(repo);
    created.add(repo);
    const err = await rejection(
      createSandbox(deps, {
        changeId,
        repo,
        workspace,
        sandbox: SandboxConfig.parse({ test: 'true', image: 'lockstep-does-not-exist:1' }),
      }),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('SandboxImageMissing');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('npm run bootstrap');
    expect(await ourContainers(repo)).toHaveLength(0);
  });

  it('sweeps containers of dead owners and keeps those of live ones', async () => {
    expect(ownerAlive(deadOwner)).toBe(false);
    expect(ownerAlive(`testhost:${process.pid}`)).toBe(true);
    // Workers of other test files reap on start too, and would take a container of a truly dead
    // owner first. So the orphan's owner is a live pid under a name only this sweep calls dead.
    const orphanOwner = `gone:${process.pid}`;
    const orphan = await sandboxFor('orphan', {}, { owner: orphanOwner });
    const live = await sandboxFor('live', {}, { owner: `testhost:${process.pid}` });

    const removed = await reapOrphans(docker, (owner) => owner !== orphanOwner && ownerAlive(owner));
    expect(removed).toContain(orphan);
    expect(removed).not.toContain(live);
    expect(await ourContainers('orphan')).toHaveLength(0);
    const kept = await ourContainers('live');
    expect(kept).toHaveLength(1);
    expect(kept[0]?.Labels[LABEL_OWNER]).toBe(`testhost:${process.pid}`);
  });

  it('leaves no container of this change behind', async () => {
    expect(await ourContainers()).toEqual([]);
  });
});
