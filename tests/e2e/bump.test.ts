/**
 * Dependency bumps end to end, through Temporal, Docker and git, against the real npm registry
 * and PyPI (their hosts read from npm's and pip's own settings; the fleet's setup egress allows
 * them): the bump-fleet fixture holds two Node services with real package-lock.json files at
 * older versions of `debug` (one with a caret range, one pinned exactly) and a Python service
 * pinning `six`.
 *
 * In order: the dry run lists the targets and starts nothing; `to: latest` moves both Node
 * repos to the one version resolved before they started, their commits holding package.json and
 * package-lock.json only; a rerun of a change whose earlier run resolved an older version keeps
 * that version and asks the registry nothing; the pip bump rewrites the pin, and the Node repo
 * named with it is reported as not using six; a repo already at the version is unchanged.
 */
import { execFile, execFileSync } from 'node:child_process';
import { access, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { RepoOutcome } from '../../core/repo.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { npmRegistryHost, placeNode24Recipe } from '../helpers/pact-fleet.ts';

const exec = promisify(execFile);
const PIP_VERSION = '24.3.1';
const PIP_WHEEL = `pip-${PIP_VERSION}-py3-none-any.whl`;
let h: Harness;

/** pip's own wheel in a recipe on the sandbox image (which has python3 but no pip), like the Node 24 one. */
async function placePipRecipe(fleetRoot: string): Promise<void> {
  const cache = join(projectRoot, '.lockstep', 'test-cache', `pip-${PIP_VERSION}`);
  if (
    !(await access(join(cache, PIP_WHEEL)).then(
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
      cache,
      `pip==${PIP_VERSION}`,
    ]);
  }
  const dir = join(fleetRoot, 'images', 'pip');
  await mkdir(dir, { recursive: true });
  await cp(join(cache, PIP_WHEEL), join(dir, PIP_WHEEL));
  await writeFile(
    join(dir, 'Dockerfile'),
    [
      '# pip on top of the sandbox image: its wheel runs as it is.',
      'FROM lockstep-sandbox:latest',
      'USER 0',
      `COPY ${PIP_WHEEL} /opt/pip/`,
      `RUN printf '#!/bin/sh\\nexec python3 /opt/pip/${PIP_WHEEL}/pip "$@"\\n' > /usr/local/bin/pip && chmod 755 /usr/local/bin/pip && pip --version`,
      'USER 10001:10001',
      '',
    ].join('\n'),
  );
}

async function changeFile(id: string, body: object): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(file, stringify({ id, title: `Bump: ${id}`, description: 'bump fleet fixture change', ...body }));
  return file;
}

async function cliRun(args: string[]): Promise<ChangeResult> {
  const out = await h.cli(['run', ...args, '--json']);
  if (!out.stdout.trim().startsWith('{'))
    throw new Error(`lockstep run ${args.join(' ')} printed no result (exit ${out.code}):\n${out.stderr.slice(-3000)}`);
  return JSON.parse(out.stdout) as ChangeResult;
}

const show = async (repo: string, ref: string, path: string): Promise<string> =>
  (await exec('git', ['--git-dir', h.fleet.remote(repo), 'show', `${ref}:${path}`])).stdout;
const lockedDebug = async (repo: string, ref: string): Promise<string | undefined> =>
  (JSON.parse(await show(repo, ref, 'package-lock.json')) as { packages: Record<string, { version?: string }> })
    .packages['node_modules/debug']?.version;
const specOf = async (repo: string, ref: string): Promise<string | undefined> =>
  (JSON.parse(await show(repo, ref, 'package.json')) as { dependencies: Record<string, string> }).dependencies.debug;
const repoOf = (result: ChangeResult, name: string): RepoOutcome | undefined =>
  result.repos.find((r) => r.repo === name);
const npmLatest = (pkg: string): string =>
  execFileSync('npm', ['view', `${pkg}@latest`, 'version'], { encoding: 'utf8' }).trim();

/** The activity types a change's latest run scheduled. */
async function activitiesOf(changeId: string): Promise<string[]> {
  const history = await h.env.client.workflow.getHandle(changeWorkflowId(changeId)).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name
      ? [e.activityTaskScheduledEventAttributes.activityType.name]
      : [],
  );
}

beforeAll(async () => {
  h = await startHarness('bump', { fleet: fixtureFleet('bump-fleet') });
  // pip names its default index and file host in its own code; nothing here names them.
  const [index = '', files = ''] = execFileSync(
    'python3',
    ['-c', 'from pip._internal.models.index import PyPI; print(PyPI.pypi_url); print(PyPI.file_storage_domain)'],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n');
  await placeNode24Recipe(h.fleet.root);
  await placePipRecipe(h.fleet.root);
  // The bump runs npm under the steps phase: GET, HEAD, OPTIONS to the same hosts as setup.
  await allowEgress(h.fleet.configFile, [npmRegistryHost(), new URL(index).hostname, files], { steps: {} });
  const loaded = await loadReposConfig(h.fleet.configFile);
  await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    h.fleet.stateDir,
    () => undefined,
  );
}, 900_000);
afterAll(async () => h?.close());

describe('a dependency bump across the fleet', () => {
  it('--dry-run lists the repos that declare the package, their versions and the resolved one, and starts nothing', async () => {
    const file = await changeFile('bump-debug', { bump: { ecosystem: 'npm', package: 'debug', to: 'latest' } });
    const out = await h.cli(['run', file, '--dry-run', '--json']);
    expect(out.code).toBe(0);
    const dry = JSON.parse(out.stdout) as {
      bump: { version: string };
      repos: { repo: string; current: string; action: string; manifests: string[] }[];
    };
    const latest = npmLatest('debug');
    expect(dry.bump).toEqual({ ecosystem: 'npm', package: 'debug', to: 'latest', version: latest });
    expect(dry.repos.map((r) => [r.repo, r.current, r.manifests])).toEqual([
      ['api', '4.3.4', ['package.json', 'package-lock.json']],
      ['web', '4.3.1', ['package.json', 'package-lock.json']],
    ]);
    expect(dry.repos[1]?.action).toBe(`bump 4.3.1 → ${latest}`);
    const text = await h.cli(['run', file, '--dry-run']);
    expect(text.stdout).toContain(`bump npm debug to "latest": resolves to ${latest} (dry run: nothing started)`);
    await expect(h.env.client.workflow.getHandle(changeWorkflowId('bump-debug')).describe()).rejects.toThrow(
      /not found/i,
    );
  }, 120_000);

  it('moves both Node repos to the one resolved version; the commits hold package.json and package-lock.json only', async () => {
    const result = await cliRun([join(h.fleet.root, 'bump-debug.yaml')]);
    const version = result.bump?.version ?? '';
    expect(version).toBe(npmLatest('debug'));
    expect(result.status).toBe('succeeded');
    expect(result.repos.map((r) => r.repo).sort()).toEqual(['api', 'web']);
    for (const name of ['api', 'web']) {
      const r = repoOf(result, name);
      expect({ status: r?.status, error: r?.error, files: [...(r?.changedFiles ?? [])].sort() }).toEqual({
        status: 'green',
        error: null,
        files: ['package-lock.json', 'package.json'],
      });
      expect(r?.steps.map((s) => `${s.kind}:${s.name}`)).toEqual([
        'setup:setup',
        `bump:debug@${version}`,
        'setup:setup again',
        'test:tests',
      ]);
      expect(await lockedDebug(name, 'lockstep/bump-debug')).toBe(version);
      // npm ran under the steps phase: TLS opened, every request logged with its method and path,
      // the new version's archive among them.
      const bump = r?.steps.find((s) => s.kind === 'bump');
      expect({ phase: bump?.egress?.phase, denied: bump?.egress?.denied }).toEqual({ phase: 'steps', denied: 0 });
      const log = (await readFile(join(h.fleet.stateDir, 'logs', 'bump-debug', name, 'egress.jsonl'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as EgressRecord);
      const requests = log.filter((l) => l.phase === 'steps' && l.path !== undefined);
      expect(requests.length).toBe(bump?.egress?.requests);
      expect(requests.every((l) => l.method === 'GET' && l.allowed && (l.status ?? 0) < 400)).toBe(true);
      expect(requests.map((l) => l.path)).toContain(`/debug/-/debug-${version}.tgz`);
      // Only the bump's files, nothing setup or npm left (no .gitignore in these repos).
      expect(
        (
          await exec('git', ['--git-dir', h.fleet.remote(name), 'diff', '--name-only', 'main', 'lockstep/bump-debug'])
        ).stdout
          .split('\n')
          .filter(Boolean)
          .sort(),
      ).toEqual(['package-lock.json', 'package.json']);
    }
    expect(repoOf(result, 'web')?.bump).toEqual({ package: 'debug', version, from: '4.3.1', outcome: 'bumped' });
    // Each keeps its range style: a caret stays a caret, an exact pin stays exact.
    expect(await specOf('web', 'lockstep/bump-debug')).toBe(`^${version}`);
    expect(await specOf('api', 'lockstep/bump-debug')).toBe(version);
    expect(await activitiesOf('bump-debug')).toContain('resolveBump');
  }, 600_000);

  it('a rerun moves to the version its earlier run resolved, and never asks the registry again', async () => {
    // As if the first run had resolved "latest" when 4.3.7 was the newest.
    const file = await changeFile('bump-debug-older', {
      bump: { ecosystem: 'npm', package: 'debug', to: 'latest' },
      repos: [{ name: 'web' }],
    });
    const input = await h.changeInput(file);
    const first = await h.run({
      ...input,
      bump: { ecosystem: 'npm', package: 'debug', to: 'latest', version: '4.3.7' },
    });
    expect(first.bump?.version).toBe('4.3.7');
    expect(await activitiesOf('bump-debug-older')).not.toContain('resolveBump');

    const out = await h.cli(['run', file, '--rerun', '--json']);
    expect(out.stderr).toContain('bump: debug 4.3.7, as resolved by the earlier run of bump-debug-older');
    const rerun = JSON.parse(out.stdout) as ChangeResult;
    expect(rerun.bump).toEqual({ ecosystem: 'npm', package: 'debug', to: 'latest', version: '4.3.7' });
    expect(npmLatest('debug')).not.toBe('4.3.7');
    expect(await activitiesOf('bump-debug-older')).not.toContain('resolveBump');
    expect(repoOf(rerun, 'web')?.status).toBe('green');
    expect(await lockedDebug('web', 'lockstep/bump-debug-older')).toBe('4.3.7');
  }, 600_000);

  it('rewrites a pinned requirement, and reports a named repo that does not use the package', async () => {
    const file = await changeFile('bump-six', {
      bump: { ecosystem: 'pip', package: 'six', to: '1.17.0' },
      repos: [{ name: 'py' }, { name: 'web' }],
    });
    const result = await cliRun([file]);
    expect(result.status).toBe('succeeded');
    const py = repoOf(result, 'py');
    expect({ status: py?.status, error: py?.error, files: py?.changedFiles, bump: py?.bump }).toEqual({
      status: 'green',
      error: null,
      files: ['requirements.txt'],
      bump: { package: 'six', version: '1.17.0', from: '1.16.0', outcome: 'bumped' },
    });
    expect(await show('py', 'lockstep/bump-six', 'requirements.txt')).toBe(
      "# the service's one dependency, pinned\nsix==1.17.0\n",
    );
    expect(py?.tests?.outputTail).toContain('py: six 1.17.0 ok');
    const web = repoOf(result, 'web');
    expect({ status: web?.status, commit: web?.commit, steps: web?.steps, bump: web?.bump }).toEqual({
      status: 'unchanged',
      commit: null,
      steps: [],
      bump: { package: 'six', version: '1.17.0', from: null, outcome: 'not-declared' },
    });
    const status = await h.cli(['status', 'bump-six']);
    expect(status.stdout + status.stderr).toMatch(/web\s+unchanged[^\n]*\n\s+bump: does not declare six/);
  }, 600_000);

  it('leaves a repo already at the version unchanged: no sandbox, no commit, no pull request', async () => {
    const file = await changeFile('six-already', { bump: { ecosystem: 'pip', package: 'six', to: '1.16.0' } });
    const result = await cliRun([file]);
    expect(result.summary).toBe('no repository changed; nothing to publish');
    expect(result.repos.map((r) => [r.repo, r.status, r.commit, r.pullRequest, r.bump?.outcome])).toEqual([
      ['py', 'unchanged', null, null, 'already'],
    ]);
    await expect(
      exec('git', ['--git-dir', h.fleet.remote('py'), 'rev-parse', '--verify', 'lockstep/six-already']),
    ).rejects.toThrow();
  }, 300_000);
});
