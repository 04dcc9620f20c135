/**
 * `lockstep cache list|prune`: the repos' package-manager caches under this host's state folder,
 * the ones its workers' sandboxes mount (activities/sandbox/cache.ts owns their layout and locks).
 */
export { listCaches, pruneCaches, type CacheEntry } from '../../activities/sandbox/cache.ts';
