/**
 * One rate budget per forge host and token: every request to a remote forge runs as an
 * activity on that forge's own task queue, polled one task at a time at a server-enforced rate.
 * Pure code, shared by the workflow (which routes to the queue) and the worker (which polls it).
 */
import type { ForgeConfig } from '../config/repos.ts';

/** FNV-1a, 32 bits: a short stable name part without Node's crypto (not available to workflows). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The host (and port) of the forge's API URL, lowercased. */
export function forgeHost(baseUrl: string): string {
  return (/^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(baseUrl)?.[1] ?? baseUrl).toLowerCase();
}

/** The task queue of a remote forge's budget, or null for the local forge (it needs none). */
export function forgeQueue(forge: ForgeConfig): string | null {
  if (forge.type === 'local') return null;
  return `lockstep-forge-${fnv1a(`${forgeHost(forge.baseUrl)}\n${forge.tokenEnv}`)}`;
}
