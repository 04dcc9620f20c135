/** Demo remotes follow the bundled fleet: seeded once, brought up to date on main when it changes. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedRemotes } from '../../client/machine/demo.ts';
import { git } from '../../activities/git/workspace.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-seed-test-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

const remoteGit = (remote: string) => git(undefined).env({ GIT_DIR: remote, PATH: process.env.PATH ?? '' });

describe('seedRemotes', () => {
  it('seeds each service once, then adds a commit on main when the fleet changed, keeping change branches', async () => {
    const fleet = join(root, 'fleet');
    const state = join(root, '.lockstep');
    await mkdir(join(fleet, 'api'), { recursive: true });
    await writeFile(join(fleet, 'api', 'app.py'), 'VERSION = 1\n');
    const logs: string[] = [];
    expect(await seedRemotes(fleet, state, (l) => logs.push(l))).toEqual(['api']);
    const remote = join(state, 'remotes', 'api.git');
    const r = remoteGit(remote);
    const first = (await r.revparse(['refs/heads/main'])).trim();
    await r.raw(['update-ref', 'refs/heads/lockstep/some-change', first]);

    // Unchanged fleet: nothing to do.
    expect(await seedRemotes(fleet, state)).toEqual([]);
    expect((await r.revparse(['refs/heads/main'])).trim()).toBe(first);

    // A changed fleet: one more commit on main with the new content; the change branch stays.
    await writeFile(join(fleet, 'api', 'uses.json'), '{"uses": []}\n');
    expect(await seedRemotes(fleet, state, (l) => logs.push(l))).toEqual(['api']);
    const second = (await r.revparse(['refs/heads/main'])).trim();
    expect(second).not.toBe(first);
    expect((await r.raw(['rev-list', '--parents', '-n', '1', second])).trim().split(' ')).toEqual([second, first]);
    expect((await r.raw(['ls-tree', '--name-only', second])).trim().split('\n').sort()).toEqual([
      'app.py',
      'uses.json',
    ]);
    expect((await r.revparse(['refs/heads/lockstep/some-change'])).trim()).toBe(first);
    expect(logs.at(-1)).toContain('updated demo remote api');
  });
});
