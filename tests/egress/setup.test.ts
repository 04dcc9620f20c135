/**
 * Setup's egress against a real Docker engine, the real sandbox image, the real forwarder and
 * the npm registry this machine's npm uses (read from its config, never written here): a real
 * `npm ci` of a fixture with a real lockfile passes through the proxy and the log names the
 * registry; a host outside the allowlist fails setup with the host and the config key named;
 * the same sandbox's steps are refused (the change asked for no step egress) and its tests have
 * no route out.
 *
 * The sandbox image has Node but no npm, and its recipe is not this test's to change: npm 10
 * (the last major that runs on the image's Node 18) is fetched once with the host's npm and
 * mounted read-only, as a repo's own toolchain image would carry it.
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  egressDepsFor,
  egressDir,
  FORWARDER_PORT,
  removeEgressDir,
  type EgressDeps,
} from '../../activities/egress/sandbox.ts';
import { REFUSALS_TO_GIVE_UP, type EgressRecord } from '../../activities/egress/proxy.ts';
import { cloneWorkspace } from '../../activities/git/workspace.ts';
import { createSandbox, removeSandbox, runInSandbox, type SandboxDeps } from '../../activities/sandbox/docker.ts';
import { projectRoot } from '../../config/paths.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';
import type { CommandKind, CommandResult } from '../../core/commands.ts';
import { complianceViolations } from '../helpers/compliance.ts';

const NPM_VERSION = '10.9.4';
const NPM_MOUNT = '/opt/test-npm';
const PIP_VERSION = '24.3.1';
const PIP_MOUNT = '/opt/test-pip';
const changeId = `egress-${process.pid}`;
const docker = new Docker();
let root = '';
/** Bare remotes of the fixtures, by fixture folder name. */
const remotes = new Map<string, string>();
let deps: SandboxDeps;
let egress: EgressDeps;
let registryHost = '';
const created = new Set<string>();
let index = 0;

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=Lockstep Test',
      '-c',
      'user.email=test@localhost',
      '-c',
      'init.defaultBranch=main',
      '-c',
      'core.hooksPath=/dev/null',
      ...args,
    ],
    {
      cwd,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_NOSYSTEM: '1' },
    },
  );
}

/** npm 10 unpacked once per checkout (its tarball bundles its dependencies). */
async function npmForSandbox(): Promise<string> {
  const dir = join(projectRoot, '.lockstep', 'test-cache', `npm-${NPM_VERSION}`);
  const ready = join(dir, 'package', 'bin', 'npm-cli.js');
  if (
    await access(ready).then(
      () => true,
      () => false,
    )
  )
    return join(dir, 'package');
  const part = `${dir}.part-${process.pid}`;
  await mkdir(part, { recursive: true });
  const tgz =
    execFileSync('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', part, '--silent'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() ?? '';
  execFileSync('tar', ['-xzf', join(part, tgz), '-C', part]);
  await rm(dir, { recursive: true, force: true });
  await rename(part, dir);
  return join(dir, 'package');
}

/** pip's own wheel (it runs straight from the .whl), fetched once per checkout. */
async function pipForSandbox(): Promise<string> {
  const dir = join(projectRoot, '.lockstep', 'test-cache', `pip-${PIP_VERSION}`);
  const wheel = join(dir, `pip-${PIP_VERSION}-py3-none-any.whl`);
  if (
    !(await access(wheel).then(
      () => true,
      () => false,
    ))
  ) {
    execFileSync('python3', [
      '-m',
      'pip',
      'download',
      '--quiet',
      '--no-deps',
      '--only-binary=:all:',
      '-d',
      dir,
      `pip==${PIP_VERSION}`,
    ]);
  }
  return dir;
}

async function seedRemote(fixture: string): Promise<void> {
  const remote = join(root, `${fixture.replace('/', '-')}.git`);
  const seed = join(root, 'seed', fixture.replace('/', '-'));
  await cp(join(projectRoot, 'tests', 'fixtures', fixture), seed, { recursive: true });
  git(root, 'init', '--quiet', '--bare', remote);
  git(seed, 'init', '--quiet');
  git(seed, 'add', '.');
  git(seed, 'commit', '--quiet', '-m', 'seed');
  git(seed, 'push', '--quiet', remote, 'HEAD:refs/heads/main');
  remotes.set(fixture, remote);
}

async function sandboxFor(
  repo: string,
  egressConfig: Record<string, unknown> | undefined,
  fixture = 'egress-npm',
): Promise<void> {
  const workspace = join(root, 'workspaces', repo);
  await cloneWorkspace(remotes.get(fixture) ?? '', 'main', `lockstep/${changeId}`, workspace, {
    owner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
  });
  created.add(repo);
  await createSandbox(deps, {
    changeId,
    repo,
    workspace,
    sandbox: SandboxConfig.parse({ test: 'npm test', ...(egressConfig ? { egress: egressConfig } : {}) }),
  });
}

function run(repo: string, kind: CommandKind, command: string): Promise<CommandResult> {
  index += 1;
  return runInSandbox(deps, {
    changeId,
    repo,
    kind,
    name: kind,
    index,
    command,
    timeoutSeconds: 120,
    outputBytes: 256 * 1024,
  });
}

async function egressLog(repo: string): Promise<EgressRecord[]> {
  const text = await readFile(join(root, 'logs', changeId, repo, 'egress.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EgressRecord);
}

const npm = `node ${NPM_MOUNT}/bin/npm-cli.js`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-egress-setup-'));
  registryHost = new URL(execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()).hostname;
  for (const fixture of ['egress-npm', 'egress-pip', 'egress-fleet/ids']) await seedRemote(fixture);
  egress = await egressDepsFor(root, join(projectRoot, '.tools', 'egress', 'bin'), process.env);
  if (!egress.forwarderDir)
    throw new Error(
      'the egress forwarder is not built: run "bash scripts/egress-forwarder.sh" (npm run bootstrap does)',
    );
  deps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `test:${process.pid}`,
    workerEnv: { PATH: process.env.PATH },
    logDir: join(root, 'logs'),
    egress,
    readOnlyMounts: [
      { source: await npmForSandbox(), target: NPM_MOUNT },
      { source: await pipForSandbox(), target: PIP_MOUNT },
    ],
  };
}, 120_000);

afterEach(async () => {
  for (const repo of created) {
    await removeSandbox(docker, { changeId, repo }).catch(() => undefined);
    await removeEgressDir(egress, { changeId, repo });
  }
  created.clear();
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('setup through the egress proxy', () => {
  it('installs a real lockfile with npm ci through the proxy, and nothing else has a route out', async () => {
    const repo = 'npm-ok';
    await sandboxFor(repo, { allow: [registryHost] });
    const info = await docker.getContainer(`lockstep-${changeId}-${repo}`).inspect();
    expect(complianceViolations(info, {})).toEqual([]);

    const setup = await run(repo, 'setup', `${npm} ci --no-audit --no-fund --fetch-retries=0`);
    expect(setup.outputTail).not.toMatch(/SELF_SIGNED_CERT_IN_CHAIN/);
    expect(setup.exitCode).toBe(0);
    expect(setup.egress).toMatchObject({ denied: 0, hosts: [registryHost], log: join(changeId, repo, 'egress.jsonl') });
    expect(setup.egress?.bytesDown).toBeGreaterThan(1000);
    const lines = await egressLog(repo);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.host === registryHost && l.port === 443 && l.method === 'CONNECT' && l.allowed)).toBe(
      true,
    );

    const tests = await run(repo, 'test', 'npm test 2>/dev/null || node index.js');
    expect(tests.exitCode).toBe(0);
    expect(tests.outputTail).toMatch(/timeout 2m/);

    // A step of a change that asked for no step egress, in a fleet that grants none: refused, naming the keys.
    const step = await run(
      repo,
      'step',
      `python3 -c 'import urllib.request; urllib.request.urlopen("https://${registryHost}/ms")'`,
    );
    expect(step.exitCode).not.toBe(0);
    expect(step.egress).toMatchObject({
      phase: 'steps',
      connections: 0,
      deniedHosts: [
        { host: registryHost, port: 443, reason: expect.stringContaining('egress for steps is off') as unknown },
      ],
    });
    expect(step.outputTail).toMatch(
      /the step was refused egress to .*repos\[<i>\]\.sandbox\.egress\.steps in repos\.config\.json, where repos\[<i>\]\.name is "npm-ok"/,
    );
    // Tests never have a route: no socket listening, no forwarder running.
    const socket = await run(
      repo,
      'test',
      `python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("/run/lockstep-egress/egress.sock")'`,
    );
    expect(socket.exitCode).not.toBe(0);
    expect(socket.outputTail).toMatch(/FileNotFoundError|ConnectionRefusedError/);
    // Nothing listens on the forwarder's port (state 0A is LISTEN; port 3128 is 0C38).
    expect(FORWARDER_PORT).toBe(0x0c38);
    const listening = await run(repo, 'test', `awk '$2 ~ /:0C38$/ && $4 == "0A"' /proc/net/tcp /proc/net/tcp6 | wc -l`);
    expect(listening.outputTail.trim()).toBe('0');
    expect((await egressLog(repo)).length).toBe(lines.length + 1);
  }, 180_000);

  it('fails a setup that reaches a host outside the allowlist, naming the host and the key to add it to', async () => {
    const repo = 'npm-denied';
    await sandboxFor(repo, { allow: [registryHost] });
    const setup = await run(
      repo,
      'setup',
      `${npm} view ms version --registry https://not-allowed.example.org/ --fetch-retries=0`,
    );
    expect(setup.exitCode).not.toBe(0);
    expect(setup.egress).toMatchObject({
      connections: 0,
      deniedHosts: [{ host: 'not-allowed.example.org', port: 443, reason: 'host is not in the allowlist' }],
    });
    expect(setup.outputTail).toMatch(/refused egress to not-allowed\.example\.org:443: host is not in the allowlist/);
    expect(setup.outputTail).toMatch(
      /add "not-allowed\.example\.org" to repos\[<i>\]\.sandbox\.egress\.allow in repos\.config\.json, where repos\[<i>\]\.name is "npm-denied"/,
    );
    expect((await egressLog(repo))[0]).toMatchObject({ host: 'not-allowed.example.org', allowed: false });
  }, 120_000);

  it('stops a setup that retries a refused host without end, long before its timeout', async () => {
    const repo = 'retry-denied';
    await sandboxFor(repo, { allow: [registryHost] });
    // npm retries a refused CONNECT without end whatever its settings; an endless loop is the same.
    const setup = await run(
      repo,
      'setup',
      'while :; do git ls-remote https://refused.example.org/x.git >/dev/null 2>&1; done',
    );
    expect(setup.timedOut).toBe(false);
    expect(setup.exitCode).toBe(137);
    expect(setup.egress).toMatchObject({ connections: 0, deniedHosts: [{ host: 'refused.example.org', port: 443 }] });
    expect(setup.egress?.denied).toBeGreaterThanOrEqual(REFUSALS_TO_GIVE_UP);
    expect(setup.outputTail).toMatch(
      /stopped: the egress proxy refused 50 connections, the first to refused\.example\.org:443/,
    );
    expect(setup.outputTail).toMatch(/add "refused\.example\.org" to repos\[<i>\]\.sandbox\.egress\.allow/);
    // The log stops growing at the limit; the summary keeps the count.
    expect((await egressLog(repo)).length).toBe(REFUSALS_TO_GIVE_UP);
    // The container was killed to stop it; the next command starts it again.
    expect((await run(repo, 'test', 'true')).exitCode).toBe(0);
  }, 120_000);

  it('keeps setup offline when the repo configures no egress', async () => {
    const repo = 'npm-offline';
    await sandboxFor(repo, undefined);
    const info = await docker.getContainer(`lockstep-${changeId}-${repo}`).inspect();
    expect(info.Mounts.map((m) => m.Destination)).not.toContain('/run/lockstep-egress');
    const setup = await run(repo, 'setup', `${npm} ci --no-audit --no-fund --fetch-retries=0 --fetch-timeout=5000`);
    expect(setup.exitCode).not.toBe(0);
    expect(setup.egress).toBeUndefined();
    expect(await egressLog(repo)).toEqual([]);
    await expect(access(egressDir(egress, { changeId, repo }))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('installs a requirements file with pip from the index pip itself defaults to', async () => {
    const repo = 'pip-ok';
    // pip names its default index and file host in its own code; nothing here names them.
    const [index, files] = execFileSync(
      'python3',
      ['-c', 'from pip._internal.models.index import PyPI; print(PyPI.pypi_url); print(PyPI.file_storage_domain)'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    const hosts = [new URL(index ?? '').hostname, files ?? ''];
    await sandboxFor(repo, { allow: hosts }, 'egress-pip');
    const setup = await run(
      repo,
      'setup',
      `python3 ${PIP_MOUNT}/pip-${PIP_VERSION}-py3-none-any.whl/pip install --quiet --no-cache-dir --disable-pip-version-check --target .deps -r requirements.txt`,
    );
    expect({ exitCode: setup.exitCode, output: setup.outputTail }).toMatchObject({ exitCode: 0 });
    expect(setup.egress?.denied).toBe(0);
    expect(new Set(setup.egress?.hosts)).toEqual(new Set(hosts));
    const tests = await run(repo, 'test', 'python3 main.py');
    expect(tests.outputTail.trim()).toBe('six 1.16.0 on python 3');
  }, 120_000);

  it('fetches a Go module dependency through the GOPROXY the worker uses', async () => {
    const repo = 'go-ok';
    const goproxy = execFileSync('go', ['env', 'GOPROXY'], { encoding: 'utf8' }).trim();
    const proxyHost = new URL(goproxy.split(/[,|]/)[0] ?? '').hostname;
    await sandboxFor(repo, { allow: [proxyHost] }, 'egress-fleet/ids');
    const setup = await run(repo, 'setup', 'go mod download');
    expect({ exitCode: setup.exitCode, output: setup.outputTail }).toMatchObject({ exitCode: 0 });
    expect(setup.egress).toMatchObject({ denied: 0, hosts: [proxyHost] });
    const lines = await egressLog(repo);
    expect(lines.length).toBeGreaterThan(0);
    // The module came from the proxy, so tests build offline (GOPROXY=off outside setup).
    const tests = await run(repo, 'test', 'go run .');
    expect(tests.exitCode).toBe(0);
    expect(tests.outputTail).toMatch(/^order id [0-9a-f-]{36}$/m);
  }, 120_000);
});
