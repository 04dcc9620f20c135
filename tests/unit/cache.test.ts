/** Package-manager caches on the host: keys, warm seeding, the size cap, the fill lock, prune. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey, listCaches, lockCache, openCache, pruneCaches } from '../../activities/sandbox/cache.ts';
import { projectRoot } from '../../config/paths.ts';

let root: string;
let state: string;
let work: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-cache-'));
  state = join(root, 'state');
  work = join(root, 'work');
  await mkdir(work, { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

const config = { enabled: true, maxMb: 64 };

describe('cache keys', () => {
  it('hash the lockfiles at the root, so a dependency change gets its own key', async () => {
    await writeFile(join(work, 'package-lock.json'), '{"lockfileVersion":3}');
    await writeFile(join(work, 'requirements-dev.txt'), 'pytest==8.3.3\n');
    await writeFile(join(work, 'README.md'), 'not a lockfile');
    const first = await cacheKey(work, config);
    expect(first).toMatch(/^lock-[0-9a-f]{16}$/);
    await writeFile(join(work, 'README.md'), 'still not a lockfile');
    expect(await cacheKey(work, config)).toBe(first);
    await writeFile(join(work, 'requirements-dev.txt'), 'pytest==8.3.4\n');
    expect(await cacheKey(work, config)).not.toBe(first);
  });

  it('use the configured key, or say that there is no lockfile', async () => {
    expect(await cacheKey(work, { ...config, key: 'node24' })).toBe('key-node24');
    expect(await cacheKey(work, config)).toBe('no-lockfile');
  });
});

describe('opening a cache', () => {
  it('seeds a new key from the repo’s most recently used one, and leaves other repos alone', async () => {
    await writeFile(join(work, 'go.sum'), 'v1');
    const old = await openCache(state, 'billing', work, config, null);
    if (!old) throw new Error('no cache');
    await mkdir(join(old, 'go', 'mod'), { recursive: true });
    await writeFile(join(old, 'go', 'mod', 'module.zip'), 'bytes');
    await writeFile(join(work, 'go.sum'), 'v2');
    const next = await openCache(state, 'billing', work, config, null);
    expect(next).not.toBe(old);
    expect(await readFile(join(next ?? '', 'go', 'mod', 'module.zip'), 'utf8')).toBe('bytes');
    const other = await openCache(state, 'catalog', work, config, null);
    await expect(stat(join(other ?? '', 'go'))).rejects.toThrow();
    expect((await listCaches(state)).map((c) => c.repo).sort()).toEqual(['billing', 'billing', 'catalog']);
  });

  it('is off when the repo says so', async () => {
    expect(await openCache(state, 'billing', work, { ...config, enabled: false }, null)).toBeNull();
  });

  it('evicts the least recently used keys of the repo over its cap, never the key in use', async () => {
    const big = Buffer.alloc(40 * 1024 * 1024);
    for (const [i, v] of ['a', 'b'].entries()) {
      await writeFile(join(work, 'Cargo.lock'), v);
      const dir = await openCache(state, 'ledger', work, config, null);
      await writeFile(join(dir ?? '', 'blob'), big);
      const when = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(dir ?? '', when, when);
    }
    await writeFile(join(work, 'Cargo.lock'), 'c');
    const current = await openCache(state, 'ledger', work, config, null);
    await writeFile(join(current ?? '', 'blob'), big);
    await writeFile(join(work, 'Cargo.lock'), 'a');
    // Each open evicts the oldest keys not in use until the repo fits its 64 MB: the last opened stays alone.
    await openCache(state, 'ledger', work, config, null);
    const left = await listCaches(state, 'ledger');
    expect(left.map((c) => c.dir)).toEqual([await openCache(state, 'ledger', work, config, null)]);
  });
});

describe('the fill lock', () => {
  it('lets one setup fill a key at a time, and is taken over when its holder died', async () => {
    const dir = (await openCache(state, 'web', work, config, null)) ?? '';
    const order: string[] = [];
    const release = await lockCache(dir);
    const second = lockCache(dir, undefined, 20).then(async (r) => {
      order.push('second holds');
      await r();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push('first releases');
    await release();
    await second;
    expect(order).toEqual(['first releases', 'second holds']);
    // A holder that is gone (no such pid) does not block anyone.
    await mkdir(join(state, 'caches', 'web', `.lock-${dir.split('/').at(-1) ?? ''}`));
    await writeFile(join(state, 'caches', 'web', `.lock-${dir.split('/').at(-1) ?? ''}`, 'pid'), '999999999');
    await (
      await lockCache(dir, undefined, 20)
    )();
  });

  it('keeps a locked key through prune, and prunes the rest', async () => {
    await writeFile(join(work, 'yarn.lock'), '1');
    const held = (await openCache(state, 'kiosk', work, config, null)) ?? '';
    await writeFile(join(work, 'yarn.lock'), '2');
    await openCache(state, 'kiosk', work, config, null);
    const release = await lockCache(held);
    expect((await pruneCaches(state, { repo: 'kiosk' })).map((c) => c.dir)).not.toContain(held);
    await release();
    expect((await pruneCaches(state)).map((c) => c.dir)).toEqual([held]);
    expect(await listCaches(state)).toEqual([]);
  });
});

describe('lockstep cache', () => {
  const cli = async (...args: string[]) =>
    promisify(execFile)(process.execPath, [join(projectRoot, 'bin', 'lockstep.js'), 'cache', ...args], {
      env: { ...process.env, LOCKSTEP_STATE_DIR: state },
    });

  it('lists the caches as a table or JSON, and prunes one repo', async () => {
    await writeFile(join(work, 'go.sum'), 'v1');
    const dir = (await openCache(state, 'billing', work, config, null)) ?? '';
    await writeFile(join(dir, 'blob'), Buffer.alloc(3 * 1024 * 1024));
    await openCache(state, 'catalog', work, config, null);
    const table = (await cli('list')).stdout;
    expect(table).toMatch(/^REPO\s+KEY\s+SIZE\s+LAST USED\n/);
    expect(table).toMatch(/billing\s+lock-[0-9a-f]{16}\s+3\.0 MB/);
    expect(table).toContain('2 caches, 3.0 MB');
    const listed = JSON.parse((await cli('list', '--json')).stdout) as { repo: string; bytes: number }[];
    expect(listed.map((c) => [c.repo, c.bytes]).sort()).toEqual([
      ['billing', 3 * 1024 * 1024],
      ['catalog', 0],
    ]);
    expect((await cli('prune', '--repo', 'billing')).stderr).toContain('removed 1 cache, 3.0 MB');
    expect((await listCaches(state)).map((c) => c.repo)).toEqual(['catalog']);
    await expect(cli('prune', '--key', 'lock-0')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('add --repo <name>') as unknown,
    });
  });
});
