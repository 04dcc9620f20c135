/**
 * Picks the forge of a change by its config: the worker's `local` forge, or a GitHub, GitLab or
 * Gitea client built with the token the worker reads from its own environment (`tokenEnv`). The
 * token never leaves the worker: it is not in any activity input, result or error.
 */
import type { ForgeConfig, RemoteForgeConfig } from '../../config/repos.ts';
import { fatal } from '../errors.ts';
import type { Forge } from './forge.ts';
import { GitHubForge } from './github/index.ts';
import { GiteaForge } from './gitea/index.ts';
import { GitLabForge } from './gitlab/index.ts';

export interface ForgeResolverDeps {
  local: Forge;
  /** The worker's environment, read only for a forge's `tokenEnv`. */
  env: NodeJS.ProcessEnv;
  /** Base of client-side retry backoff in ms (default 1000; tests shorten it). */
  retryBaseMs?: number;
}

export type ForgeResolver = (config: ForgeConfig | undefined) => Forge;

export function forgeToken(config: RemoteForgeConfig, env: NodeJS.ProcessEnv): string {
  const token = env[config.tokenEnv];
  if (!token) {
    throw fatal(
      'InvalidInput',
      `the ${config.type} forge needs a token: set ${config.tokenEnv} in the environment of every Lockstep worker (see docs/forges.md for the scopes)`,
    );
  }
  return token;
}

export function createForgeResolver(deps: ForgeResolverDeps): ForgeResolver {
  return (config) => {
    if (!config || config.type === 'local') return deps.local;
    const slugOf = (repo: string): string => {
      const slug = config.repos[repo];
      if (!slug)
        throw fatal(
          'InvalidInput',
          `no ${config.type} repository is known for "${repo}"; add it to forge.repos in repos.config.json`,
        );
      return slug;
    };
    const options = {
      token: forgeToken(config, deps.env),
      slugOf,
      ...(deps.retryBaseMs !== undefined ? { retryBaseMs: deps.retryBaseMs } : {}),
    };
    switch (config.type) {
      case 'github':
        return new GitHubForge({ config, ...options });
      case 'gitlab':
        return new GitLabForge({ config, ...options });
      case 'gitea':
        return new GiteaForge({ config, ...options });
    }
  };
}
