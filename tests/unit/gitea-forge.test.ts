/**
 * The pure parts of the Gitea forge: required status contexts as Gitea's globs, the checks
 * landing reads, the files named in a conflict, and where git sends the token. The requests
 * themselves run against a real Gitea server in tests/e2e/forge-gitea.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { gitCredentials, gitWebRoot } from '../../activities/forges/git-credentials.ts';
import {
  changedInPullAndBase,
  conflictFiles,
  contextPattern,
  landingChecks,
} from '../../activities/forges/gitea/index.ts';
import { GiteaForgeConfig } from '../../config/repos.ts';

const config = (baseUrl: string) => GiteaForgeConfig.parse({ type: 'gitea', baseUrl, tokenEnv: 'GITEA_T' });

describe('the Gitea forge', () => {
  it('reads required contexts as globs: * any text, ? one character, the rest literal', () => {
    expect(contextPattern('ci/*').test('ci/test (push)')).toBe(true);
    expect(contextPattern('ci/*').test('lint')).toBe(false);
    expect(contextPattern('build-?').test('build-1')).toBe(true);
    expect(contextPattern('build-?').test('build-12')).toBe(false);
    expect(contextPattern('a.b (c)').test('a.b (c)')).toBe(true);
    expect(contextPattern('a.b (c)').test('axb (c)')).toBe(false);
  });

  it('marks the required checks, maps states as Gitea counts them, and names a required context that never reported', () => {
    const branch = {
      name: 'main',
      commit: { id: 'abc' },
      enable_status_check: true,
      status_check_contexts: ['ci/*', 'deploy'],
    };
    const combined = {
      state: 'failure',
      statuses: [
        { context: 'ci/test', status: 'warning', target_url: 'http://ci/1' },
        { context: 'ci/lint', status: 'skipped' },
        { context: 'docs', status: 'pending', target_url: null },
      ],
    };
    expect(landingChecks(combined, branch)).toEqual([
      { name: 'ci/test', state: 'failure', required: true, url: 'http://ci/1' },
      { name: 'ci/lint', state: 'success', required: true },
      { name: 'docs', state: 'pending', required: false },
      { name: 'deploy', state: 'missing', required: true },
    ]);
    // Contexts listed while the status check is off require nothing.
    expect(landingChecks({ state: '', statuses: null }, { ...branch, enable_status_check: false })).toEqual([]);
  });

  it('names the files git reports in conflict, once each', () => {
    const output =
      'Auto-merging a.txt\nCONFLICT (content): Merge conflict in a.txt\nCONFLICT (content): Merge conflict in dir/b.go\nMerge conflict in a.txt';
    expect(conflictFiles(output)).toEqual(['a.txt', 'dir/b.go']);
    expect(conflictFiles('merge failed because of conflict')).toEqual([]);
  });

  it('names the files both the PR and its base changed since their merge base, once each, sorted', () => {
    const pullFiles = [{ filename: 'README.md' }, { filename: 'src/a.ts' }, { filename: 'only-pr.txt' }];
    const base = {
      total_commits: 2,
      commits: [
        { files: [{ filename: 'src/a.ts' }, { filename: 'only-base.txt' }] },
        { files: [{ filename: 'README.md' }, { filename: 'src/a.ts' }] },
      ],
    };
    expect(changedInPullAndBase(pullFiles, base)).toEqual(['README.md', 'src/a.ts']);
    // Commits listed without their files (or none at all) name nothing.
    expect(changedInPullAndBase(pullFiles, { total_commits: 1, commits: [{ files: null }] })).toEqual([]);
    expect(changedInPullAndBase(pullFiles, { total_commits: 0 })).toEqual([]);
  });

  it('sends the token to the server root only, also under a path', () => {
    expect(gitWebRoot(config('https://example.com/git'))).toBe('https://example.com/git/');
    const creds = gitCredentials([config('https://example.com/git/')], { GITEA_T: 'gitea_secret' });
    expect(creds('https://example.com/git/acme/api.git')).toMatchObject({
      GIT_CONFIG_KEY_0: 'http.https://example.com/git/.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('lockstep:gitea_secret').toString('base64')}`,
    });
    expect(creds('https://example.com/other/acme/api.git')).toEqual({});
  });
});
