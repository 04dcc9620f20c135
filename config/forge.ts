/** Where a fleet repo lives on a remote forge: its `owner/repo` (GitLab: project path). */
import type { ForgeConfig } from './repos.ts';

/** The repository path of a git URL (`https://host/owner/repo.git`, `git@host:owner/repo.git`), or null. */
export function slugFromUrl(url: string): string | null {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/(.+)$/i.exec(url);
  const scp = /^[^/\\@]+@[^/\\:]+:(.+)$/.exec(url);
  const path = (scheme?.[1] ?? scp?.[1] ?? '').replace(/\.git\/?$/, '').replace(/\/+$/, '');
  return /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(path) ? path : null;
}

/** The forge path of a fleet repo: the explicit `forge.repos[name]`, else read from its URL. */
export function repoSlug(forge: ForgeConfig, name: string, url: string): string | null {
  if (forge.type === 'local') return null;
  return forge.repos[name] ?? slugFromUrl(url);
}
