/**
 * Package-manager caches that outlive sandboxes: one folder per repo and key on the worker's
 * host (`<state>/caches/<repo>/<key>`), mounted read-write at /cache. The key is a hash of the
 * repo's lockfiles (or `sandbox.cache.key`), so a dependency change gets a fresh folder, which
 * starts as a copy of the repo's most recently used one: a changed lockfile still starts warm.
 *
 * Concurrency: a key folder may be mounted by several sandboxes at once (two changes, or a
 * repo and the gate). Commands that fill it — a repo's setup — take the key's lock (a folder
 * created atomically, released after the command, taken over when its holder's process is
 * gone), so two installs never write one cache at the same time; the other phases only read
 * what setup fetched or use caches built for concurrent use (Go's build cache). Seeding copies
 * into a scratch folder and renames it into place, so no sandbox sees a half-made key.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SandboxCache } from '../../config/repos.ts';
import { chownTree } from '../git/workspace.ts';
import { pidAlive } from './owner.ts';

/** The fill lock of a key, beside it (a sandbox can write its cache, not its lock). */
const lockPath = (dir: string): string => join(dirname(dir), `.lock-${basename(dir)}`);

/** Where a sandbox sees its cache. */
export const CACHE_MOUNT = '/cache';

/** What the package managers are told, so every download lands in the mounted cache. */
export const CACHE_ENV: Readonly<Record<string, string>> = {
  npm_config_cache: `${CACHE_MOUNT}/npm`,
  npm_config_prefer_offline: 'true',
  YARN_CACHE_FOLDER: `${CACHE_MOUNT}/yarn`,
  PIP_CACHE_DIR: `${CACHE_MOUNT}/pip`,
  GOMODCACHE: `${CACHE_MOUNT}/go/mod`,
  // Go makes its module cache read-only; the host must still copy, evict and prune it.
  GOFLAGS: '-mod=mod -modcacherw',
  GOCACHE: `${CACHE_MOUNT}/go/build`,
  CARGO_HOME: `${CACHE_MOUNT}/cargo`,
  MAVEN_OPTS: `-Dmaven.repo.local=${CACHE_MOUNT}/m2`,
};

/** Files whose content decides the dependencies, at the repo's root. */
export const LOCKFILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'poetry.lock',
  'Pipfile.lock',
  'go.sum',
  'Cargo.lock',
  'pom.xml',
] as const;

const DEFAULT_CACHE: SandboxCache = { enabled: true, maxMb: 4096 };
const cacheRoot = (stateDir: string): string => join(stateDir, 'caches');

/** The key of a repo's cache: `sandbox.cache.key`, else a hash of the lockfiles in the work tree. */
export async function cacheKey(workspace: string, config: SandboxCache | undefined): Promise<string> {
  if (config?.key) return `key-${config.key}`;
  const names = (await readdir(workspace))
    .filter((n) => (LOCKFILES as readonly string[]).includes(n) || /^requirements.*\.txt$/.test(n))
    .sort();
  const hash = createHash('sha256');
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(await readFile(join(workspace, name)));
    hash.update('\0');
  }
  return names.length === 0 ? 'no-lockfile' : `lock-${hash.digest('hex').slice(0, 16)}`;
}

export interface CacheEntry {
  repo: string;
  key: string;
  dir: string;
  bytes: number;
  /** When a sandbox last mounted it (ms since the epoch). */
  usedAt: number;
}

/**
 * The repo's cache folder for this work tree, made (seeded from the newest key of the repo)
 * when missing, marked as used, owned by the sandbox user; older keys over the size cap are
 * evicted. Null when the repo turned caching off.
 */
export async function openCache(
  stateDir: string,
  repo: string,
  workspace: string,
  config: SandboxCache | undefined,
  owner: { uid: number; gid: number } | null,
): Promise<string | null> {
  const cache = config ?? DEFAULT_CACHE;
  if (!cache.enabled) return null;
  const key = await cacheKey(workspace, cache);
  const repoDir = join(cacheRoot(stateDir), repo);
  const dir = join(repoDir, key);
  const made = !(await exists(dir));
  if (made) {
    await mkdir(repoDir, { recursive: true });
    const scratch = join(repoDir, `.seed-${key}-${process.pid}-${Date.now()}`);
    const newest = (await listCaches(stateDir, repo))[0];
    if (newest) await cp(newest.dir, scratch, { recursive: true, verbatimSymlinks: true });
    else await mkdir(scratch);
    if (owner) await chownTree(scratch, owner.uid, owner.gid);
    // Another sandbox may have made the key meanwhile: its folder stands, the copy goes.
    await rename(scratch, dir).catch(() => rm(scratch, { recursive: true, force: true }));
  }
  const now = new Date();
  await utimes(dir, now, now);
  // Sizing walks every file of the repo's caches: done when a key is made (which is when the
  // repo's caches grow by a folder), not on every sandbox.
  if (made) await evict(stateDir, repo, cache.maxMb, key);
  return dir;
}

/** Every cache on this host, most recently used first (one repo's when `repo` is given). */
export async function listCaches(stateDir: string, repo?: string): Promise<CacheEntry[]> {
  const root = cacheRoot(stateDir);
  const repos = repo ? [repo] : await readdir(root).catch(() => [] as string[]);
  const entries: CacheEntry[] = [];
  for (const r of repos) {
    for (const key of await readdir(join(root, r)).catch(() => [] as string[])) {
      if (key.startsWith('.')) continue;
      const dir = join(root, r, key);
      entries.push({ repo: r, key, dir, bytes: await folderBytes(dir), usedAt: (await stat(dir)).mtimeMs });
    }
  }
  return entries.sort((a, b) => b.usedAt - a.usedAt);
}

/** Removes caches not in use: one repo's (or one key of it), or all; returns what went. */
export async function pruneCaches(
  stateDir: string,
  options: { repo?: string; key?: string } = {},
): Promise<CacheEntry[]> {
  const removed: CacheEntry[] = [];
  for (const entry of await listCaches(stateDir, options.repo)) {
    if (options.key && entry.key !== options.key) continue;
    if (await exists(lockPath(entry.dir))) continue;
    await rm(entry.dir, { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

/** Least recently used keys of the repo go until it fits `maxMb`; the key in use and locked keys stay. */
async function evict(stateDir: string, repo: string, maxMb: number, keep: string): Promise<void> {
  const entries = await listCaches(stateDir, repo);
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  for (const entry of entries.reverse()) {
    if (total <= maxMb * 1024 * 1024) break;
    if (entry.key === keep || (await exists(lockPath(entry.dir)))) continue;
    await rm(entry.dir, { recursive: true, force: true });
    total -= entry.bytes;
  }
}

/**
 * Takes the cache's fill lock, waiting while another live process holds it. The lock is a
 * folder (mkdir is atomic) naming its holder's pid; a holder that died leaves it to be taken
 * over. Returns the release.
 */
export async function lockCache(dir: string, signal?: AbortSignal, pollMs = 250): Promise<() => Promise<void>> {
  const lock = lockPath(dir);
  for (;;) {
    signal?.throwIfAborted();
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return () => rm(lock, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(join(lock, 'pid'), 'utf8').catch(() => '')).trim());
    // No pid yet: the holder is between mkdir and writeFile, or died there (then it is old).
    const orphan =
      holder > 0
        ? !pidAlive(holder)
        : Date.now() - ((await stat(lock).catch(() => null))?.mtimeMs ?? Date.now()) > 10_000;
    if (orphan) await rm(lock, { recursive: true, force: true });
    else await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}
