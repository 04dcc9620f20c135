/**
 * Git over HTTPS to a remote forge: the token reaches the git process only through its
 * environment, as an `http.<url>.extraHeader` scoped to the forge's web root, so git sends it to
 * that host alone and it never appears in a command line, a remote URL or a log.
 */
import type { ForgeConfig } from '../../config/repos.ts';
import type { GitCredentials } from '../git/workspace.ts';

/**
 * The web root git talks to: github.com for api.github.com, the host of a GHE or GitLab API URL,
 * a Gitea server's root (which may be a path under its host).
 */
export function gitWebRoot(config: Exclude<ForgeConfig, { type: 'local' }>): string {
  const url = new URL(config.baseUrl);
  if (config.type === 'gitea') return `${url.protocol}//${url.host}${url.pathname.replace(/\/*$/, '/')}`;
  const host = config.type === 'github' && url.host === 'api.github.com' ? 'github.com' : url.host;
  return `${url.protocol}//${host}/`;
}

/** The user name git sends with the token: GitHub takes any, GitLab wants "oauth2", Gitea reads only the token. */
const GIT_USER = { github: 'x-access-token', gitlab: 'oauth2', gitea: 'lockstep' } as const;

export function gitCredentials(forges: ForgeConfig[], env: NodeJS.ProcessEnv): GitCredentials {
  const entries = forges.flatMap((f) => {
    if (f.type === 'local') return [];
    const token = env[f.tokenEnv];
    if (!token) return [];
    const user = GIT_USER[f.type];
    return [
      { root: gitWebRoot(f), header: `Authorization: Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` },
    ];
  });
  return (url): Record<string, string> => {
    const entry = entries.find((e) => url.startsWith(e.root));
    if (!entry) return {};
    return {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `http.${entry.root}.extraHeader`,
      GIT_CONFIG_VALUE_0: entry.header,
    };
  };
}
