/**
 * The benchmarks' synthetic fleet: what `npm run bench` measures must be a valid fleet whose
 * step really changes one line and whose tests really pass, or both sides would time a failure.
 */
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFleet,
  FAIL_ENV,
  LIGHT_STEP_COMMAND,
  LIGHT_TEST_COMMAND,
  repoName,
  STEP_COMMAND,
  TEST_COMMAND,
  type Fleet,
} from '../../bench/fleet.ts';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { resolveTasks } from '../../core/inputs.ts';

const exec = promisify(execFile);
let fleet: Fleet;
let work: string;

beforeAll(async () => {
  fleet = await createFleet(3, { failRepo: 'r002' });
  work = await mkdtemp(join(tmpdir(), 'lockstep-bench-fleet-'));
});
afterAll(async () => {
  await fleet.cleanup();
  await rm(work, { recursive: true, force: true });
});

/** Runs a step as the sandbox would (bash -c in the work tree); the exit code, never a throw. */
async function step(dir: string, command: string, env: Record<string, string> = {}): Promise<number> {
  return exec('bash', ['-c', command], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  );
}

describe('bench fleet', () => {
  it('is a valid repos.config.json and change file naming every repo, with a bare remote each', async () => {
    const loaded = await loadReposConfig(fleet.configFile);
    const change = await loadChange(fleet.changeFile, loaded);
    const tasks = resolveTasks(loaded, change);
    expect(tasks.map((t) => [t.repo, t.mode, t.steps.length])).toEqual([
      ['r001', 'steps', 1],
      ['r002', 'steps', 1],
      ['r003', 'steps', 1],
    ]);
    for (const repo of fleet.repos) await access(join(fleet.remote(repo), 'HEAD'));
    expect(loaded.config.repos[1]?.sandbox.passEnv).toEqual([FAIL_ENV]);
  });

  it('changes exactly one line, and the tests pass before and after', async () => {
    const dir = join(work, 'r001');
    await exec('git', ['clone', '--quiet', fleet.remote('r001'), dir]);
    expect(await step(dir, TEST_COMMAND)).toBe(0);
    expect(await step(dir, STEP_COMMAND)).toBe(0);
    const { stdout } = await exec('git', ['diff', '--numstat'], { cwd: dir });
    expect(stdout.trim()).toBe('1\t1\tapp/version.py');
    expect(await readFile(join(dir, 'app', 'version.py'), 'utf8')).toBe('VERSION = "1.0.1"\n');
    expect(await step(dir, TEST_COMMAND)).toBe(0);
  });

  it("fails the chosen repo's step only while the worker's environment names it", async () => {
    const loaded = await loadReposConfig(fleet.configFile);
    const change = await loadChange(fleet.changeFile, loaded);
    const failing = change.repos.find((r) => r.name === 'r002')?.steps?.[0]?.run ?? '';
    const dir = join(work, 'r002');
    await exec('git', ['clone', '--quiet', fleet.remote('r002'), dir]);
    expect(await step(dir, failing, { [FAIL_ENV]: 'yes' })).not.toBe(0);
    expect(await step(dir, failing)).toBe(0);
  });
});

describe('light bench fleet (fleet scale)', () => {
  let light: Fleet;
  beforeAll(async () => {
    light = await createFleet(12, { light: true, concurrency: 8 });
  });
  afterAll(async () => {
    await light.cleanup();
  });

  it('names repos so they sort in order whatever N is', () => {
    expect([repoName(7), repoName(7, 1000), repoName(10000, 10000)]).toEqual(['r007', 'r0007', 'r10000']);
  });

  it('is a valid config and change at the given concurrency, with the light step and tests', async () => {
    const loaded = await loadReposConfig(light.configFile);
    const change = await loadChange(light.changeFile, loaded);
    const tasks = resolveTasks(loaded, change);
    expect(tasks).toHaveLength(12);
    expect(new Set(tasks.map((t) => t.steps[0]?.run))).toEqual(new Set([LIGHT_STEP_COMMAND]));
    expect(loaded.config.concurrency).toBe(8);
    expect(new Set(loaded.config.repos.map((r) => r.sandbox.test))).toEqual(new Set([LIGHT_TEST_COMMAND]));
  });

  it('gives every repo a remote of its own: a push to one leaves the others as they were', async () => {
    const [a, b] = [join(work, 'light-a'), join(work, 'light-b')];
    await exec('git', ['clone', '--quiet', light.remote('r001'), a]);
    expect(await step(a, LIGHT_TEST_COMMAND)).toBe(0);
    expect(await step(a, LIGHT_STEP_COMMAND)).toBe(0);
    const { stdout } = await exec('git', ['diff', '--numstat'], { cwd: a });
    expect(stdout.trim()).toBe('1\t1\tVERSION');
    const git = (...args: string[]) =>
      exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd: a });
    await git('commit', '--quiet', '-am', 'bump');
    await git('push', '--quiet', 'origin', 'HEAD:refs/heads/lockstep/x');
    await exec('git', ['clone', '--quiet', light.remote('r002'), b]);
    const heads = async (repo: string) =>
      (await exec('git', ['--git-dir', light.remote(repo), 'for-each-ref', '--format=%(refname)'])).stdout.trim();
    expect(await heads('r001')).toBe('refs/heads/lockstep/x\nrefs/heads/main');
    expect(await heads('r002')).toBe('refs/heads/main');
    expect(await readFile(join(b, 'VERSION'), 'utf8')).toBe('1.0.0\n');
  });
});
