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
import { createFleet, FAIL_ENV, STEP_COMMAND, TEST_COMMAND, type Fleet } from '../../bench/fleet.ts';
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
