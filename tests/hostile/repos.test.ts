/**
 * The hostile repository corpus (corpus.ts) on real parts: each repository is generated with git
 * into a bare remote, cloned by Lockstep's workspace code, given a real hardened sandbox, and
 * attacked through the sandbox, the agent's tools and Lockstep's commit and push. Every case
 * must have its expected outcome and no escape; every sandbox the file creates is inspected.
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeTool } from '../../activities/agent/tools/index.ts';
import { cloneWorkspace, commitAndPush } from '../../activities/git/workspace.ts';
import {
  LABEL_CHANGE,
  createSandbox,
  removeSandbox,
  runInSandbox,
  type SandboxDeps,
} from '../../activities/sandbox/docker.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';
import type { CommandResult } from '../../core/commands.ts';
import { watchSandboxes, type SandboxWatch } from '../helpers/compliance.ts';
import { CASES, type HostPaths, type HostileCase, type Observation, type Run } from './corpus.ts';
import { emptyFigures, writeFigures, type HostileFigures } from './figures.ts';

const changeId = `hostile-${process.pid}`;
const docker = new Docker();
let root = '';
let host: HostPaths;
let deps: SandboxDeps;
let watch: SandboxWatch;
const figures: HostileFigures = emptyFigures();
let commandIndex = 0;

function gitCli(cwd: string, args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=Hostile',
      '-c',
      'user.email=hostile@localhost',
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

/** Writes the case's repository, commits it and makes the bare remote Lockstep clones from. */
async function buildRemote(c: HostileCase, workspace: string): Promise<string> {
  const seed = join(root, 'seed', c.id);
  await mkdir(seed, { recursive: true });
  gitCli(seed, ['init', '--quiet']);
  const gitlinks: [string, string][] = [];
  const writes: Promise<void>[] = [];
  c.seed({
    host,
    workspace,
    file: (path, content, mode) => {
      const full = typeof path === 'string' ? join(seed, path) : Buffer.concat([Buffer.from(`${seed}/`), path]);
      writes.push(
        (async () => {
          await mkdir(dirname(full.toString()), { recursive: true });
          await writeFile(full, content);
          if (mode !== undefined) await chmod(full, mode);
        })(),
      );
    },
    symlink: (path, target) => {
      writes.push(
        (async () => {
          await mkdir(dirname(join(seed, path)), { recursive: true });
          await symlink(target, join(seed, path));
        })(),
      );
    },
    gitlink: (path, sha) => void gitlinks.push([path, sha]),
  });
  await Promise.all(writes);
  gitCli(seed, ['add', '--all']);
  for (const [path, sha] of gitlinks) gitCli(seed, ['update-index', '--add', '--cacheinfo', `160000,${sha},${path}`]);
  gitCli(seed, ['commit', '--quiet', '--no-verify', '-m', `hostile: ${c.id}`]);
  const remote = join(root, 'remotes', `${c.id}.git`);
  gitCli(root, ['clone', '--quiet', '--bare', '--no-hardlinks', seed, remote]);
  await rm(seed, { recursive: true, force: true });
  return remote;
}

/** Everything a case produced that a person or a model could read: checked for the host secret. */
class Seen {
  readonly texts: string[] = [];
  async result(result: CommandResult): Promise<CommandResult> {
    this.texts.push(result.outputTail);
    if (result.log) this.texts.push(await readFile(result.log.path, 'utf8').catch(() => ''));
    return result;
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** What escaped in one case: each entry names a way the host was reached. */
async function escapes(seen: Seen): Promise<string[]> {
  const found: string[] = [];
  if (await exists(host.marker)) found.push(`a hook or filter ran on the host: ${await readFile(host.marker, 'utf8')}`);
  const canary = await readdir(host.canary, { recursive: true });
  if (canary.length > 0) found.push(`written into the host folder: ${canary.join(', ')}`);
  if ((await readFile(host.secretFile, 'utf8')) !== `${host.secret}\n`) found.push('the host secret file was changed');
  if (seen.texts.some((t) => t.includes(host.secret))) found.push('the host secret was read');
  return found;
}

async function runCase(c: HostileCase): Promise<{ observation: Observation; escaped: string[] }> {
  const workspace = join(root, 'ws', c.id);
  const remote = await buildRemote(c, workspace);
  const branch = `lockstep/${changeId}`;
  const baseCommit = await cloneWorkspace(remote, 'main', branch, workspace, {
    owner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
  });
  await c.plant?.(workspace, host);
  const sandbox = SandboxConfig.parse({
    test: c.sandbox?.test ?? 'true',
    limits: c.sandbox?.limits ?? {},
    timeouts: c.sandbox?.timeouts ?? {},
  });
  const ref = { changeId, repo: c.id };
  const seen = new Seen();
  await createSandbox(deps, { ...ref, workspace, sandbox });
  const sh = async (
    command: string,
    kind: 'step' | 'test',
    timeoutSeconds: number,
    outputBytes: number,
  ): Promise<CommandResult> => {
    commandIndex += 1;
    return seen.result(
      await runInSandbox(deps, {
        ...ref,
        kind,
        name: `${c.id} ${commandIndex}`,
        index: commandIndex,
        command,
        timeoutSeconds,
        outputBytes,
      }),
    );
  };
  const run: Run = {
    host,
    workspace,
    sh: (command, o = {}) => sh(command, 'step', o.timeoutSeconds ?? 60, o.outputBytes ?? sandbox.limits.outputBytes),
    test: () => sh(sandbox.test, 'test', sandbox.timeouts.testSeconds, sandbox.limits.outputBytes),
    async tool(name, args) {
      const outcome = await executeTool(
        {
          workspace,
          sandbox: deps,
          ref,
          testCommand: sandbox.test,
          commandTimeoutSeconds: 60,
          testTimeoutSeconds: sandbox.timeouts.testSeconds,
          outputBytes: sandbox.limits.outputBytes,
          nextIndex: () => ++commandIndex,
          owner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
        },
        name,
        JSON.stringify(args),
      );
      seen.texts.push(outcome.content, outcome.summary);
      return outcome;
    },
    commit: () =>
      commitAndPush({ changeId, repo: c.id, workspace, url: remote, branch, baseCommit, message: `hostile ${c.id}` }),
    pushedFiles: async () =>
      gitCli(root, ['--git-dir', remote, 'ls-tree', '-r', '--name-only', branch]).split('\n').filter(Boolean),
  };
  try {
    const observation = await c.attack(run);
    if (c.bomb) {
      // The host and the sandbox are still fine: the engine answers, the next command runs.
      await docker.ping();
      const after = await run.sh('echo alive');
      if (after.exitCode !== 0 || !after.outputTail.includes('alive')) observation.outcome = 'allowed';
    }
    return { observation, escaped: await escapes(seen) };
  } finally {
    await removeSandbox(docker, ref);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-hostile-'));
  const dir = join(root, 'host');
  host = {
    dir,
    secretFile: join(dir, 'secret.txt'),
    secret: `HOST-SENTINEL-${randomBytes(12).toString('hex')}`,
    canary: join(dir, 'canary'),
    marker: join(dir, 'hook-ran'),
  };
  await mkdir(host.canary, { recursive: true });
  await writeFile(host.secretFile, `${host.secret}\n`);
  deps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `hostile:${process.pid}`,
    workerEnv: process.env,
    logDir: join(root, 'logs'),
  };
  watch = await watchSandboxes(docker, (workspace) => workspace.startsWith(root + sep), { secrets: [host.secret] });
});

afterAll(async () => {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  for (const c of ours)
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('hostile repositories', () => {
  it('the corpus has at least 30 cases, with unique ids', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(`${c.id}: ${c.expected.text}`, async () => {
      const { observation, escaped } = await runCase(c);
      const ok =
        observation.outcome === c.expected.outcome &&
        c.expected.detail.test(observation.detail) &&
        escaped.length === 0;
      figures.cases += 1;
      figures.passed += ok ? 1 : 0;
      figures.escapes += escaped.length;
      if (c.bomb) {
        figures.bombs += 1;
        figures.bombsContained += ok ? 1 : 0;
      }
      figures.outcomes.push({
        id: c.id,
        expected: `${c.expected.outcome}: ${c.expected.text}`,
        observed: `${observation.outcome}: ${observation.detail.slice(0, 300)}`,
        ok,
        escapes: escaped,
      });
      expect(escaped).toEqual([]);
      expect(observation.outcome, observation.detail).toBe(c.expected.outcome);
      expect(observation.detail).toMatch(c.expected.detail);
    });
  }

  it('every sandbox the corpus created was compliant when inspected', async () => {
    const { checked, compliant, missed, reports } = await watch.stop();
    figures.containersChecked += checked;
    figures.containersCompliant += compliant;
    figures.containersMissed += missed;
    const file = await writeFigures('repos', figures);
    console.log(
      `hostile repositories: ${figures.passed}/${figures.cases} cases as expected, ${figures.escapes} escapes, ${figures.bombsContained}/${figures.bombs} bombs contained, ${compliant}/${checked} containers compliant -> ${file}`,
    );
    expect(reports.filter((r) => r.violations.length > 0)).toEqual([]);
    expect(missed).toBe(0);
    expect(checked).toBeGreaterThanOrEqual(CASES.length);
    expect(compliant).toBe(checked);
  });
});
