/**
 * A real Gitea server for the forge tests: the binary scripts/gitea.sh builds into
 * .tools/gitea-<version>/, started on 127.0.0.1 at a free port with SQLite in a temporary folder
 * (offline, no mailer, no avatars, no cron, no indexers), an admin and a reviewer made with its
 * own CLI, each with an API token. It makes repositories from real git content, protects
 * branches, posts commit statuses and reviews (as the reviewer), and stops and removes
 * everything on close.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../config/paths.ts';
import { freePort } from '../../workers/dev-server.ts';

const run = promisify(execFile);
export const GITEA_VERSION = '1.27.3';
const giteaDir = join(projectRoot, '.tools', `gitea-${GITEA_VERSION}`);

export interface GiteaUser {
  login: string;
  token: string;
}

export interface Protection {
  /** Status contexts (globs) that must succeed. */
  checks?: string[];
  approvals?: number;
  blockOnRejectedReviews?: boolean;
  blockOnOutdatedBranch?: boolean;
}

export interface GiteaServer {
  /** The server root, `http://127.0.0.1:<port>/` (the API is at `api/v1`). */
  baseUrl: string;
  admin: GiteaUser;
  reviewer: GiteaUser;
  /** The organisation every test repository lives in. */
  org: string;
  /** The clone URL of `<org>/<name>`. */
  cloneUrl(name: string): string;
  /** git's environment that sends `user`'s token to this server (never in a URL or command line). */
  gitEnv(user?: GiteaUser): Record<string, string>;
  /** A JSON API call as `user` (default the admin); throws with Gitea's answer unless 2xx. */
  api<T = unknown>(method: string, path: string, body?: unknown, user?: GiteaUser): Promise<T>;
  /** Creates `<org>/<name>` with `files` committed on `main` and pushed over HTTP; the reviewer may write to it. */
  createRepo(name: string, files: Record<string, string>): Promise<void>;
  /** Commits `files` on `branch` (created from `from`, default the branch itself) and pushes it; returns the commit. */
  pushCommit(name: string, branch: string, files: Record<string, string>, from?: string): Promise<string>;
  protect(name: string, branch: string, protection: Protection): Promise<void>;
  status(name: string, sha: string, context: string, state: 'pending' | 'success' | 'failure' | 'error'): Promise<void>;
  review(name: string, index: number, event: 'APPROVED' | 'REQUEST_CHANGES' | 'COMMENT'): Promise<void>;
  /** The commit `branch` of `<org>/<name>` points at. */
  branchSha(name: string, branch: string): Promise<string>;
  stop(): Promise<void>;
}

/** Polls `read` every 200 ms until `done` holds (Gitea checks PRs and moves their heads in the background); gives up after a minute. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let attempt = 0; attempt < 300; attempt++) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gave up waiting for ${what}; last: ${JSON.stringify(last)}`);
}

function appIni(dir: string, port: number): string {
  return `APP_NAME = lockstep-test
RUN_MODE = prod
WORK_PATH = ${dir}
; the tests run as root in their container; Gitea refuses that without this line
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = ${port}
ROOT_URL = http://127.0.0.1:${port}/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = ${dir}/data
STATIC_ROOT_PATH = ${giteaDir}

[database]
DB_TYPE = sqlite3
PATH = ${dir}/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = ${dir}/repos
DEFAULT_BRANCH = main

[repository.pull-request]
WORK_IN_PROGRESS_PREFIXES = WIP:,[WIP]

[security]
INSTALL_LOCK = true
SECRET_KEY = ${randomBytes(24).toString('hex')}

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
ENABLE_NOTIFY_MAIL = false
DEFAULT_KEEP_EMAIL_PRIVATE = true

[mailer]
ENABLED = false

[picture]
DISABLE_GRAVATAR = true
ENABLE_FEDERATED_AVATAR = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = ${dir}/log
`;
}

export async function startGitea(): Promise<GiteaServer> {
  const bin = join(giteaDir, 'gitea');
  if (!existsSync(bin))
    throw new Error(
      `Gitea ${GITEA_VERSION} is not built at ${bin}: run "bash scripts/bootstrap.sh --tests" (scripts/gitea.sh)`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-gitea-'));
  const port = await freePort();
  const config = join(dir, 'app.ini');
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(config, appIni(dir, port));
  const env = { ...process.env, GITEA_WORK_DIR: dir, HOME: dir, USER: 'root' };
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(bin, [...args, '--config', config, '--work-path', dir], {
      env,
      cwd: dir,
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout.trim();
  };
  let server: ChildProcess | null = null;
  const stop = async (): Promise<void> => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await cli('migrate');
    const user = async (login: string, admin: boolean): Promise<GiteaUser> => {
      await cli(
        'admin',
        'user',
        'create',
        '--username',
        login,
        '--password',
        `${login}-password-1`,
        '--email',
        `${login}@lockstep.invalid`,
        '--must-change-password=false',
        ...(admin ? ['--admin'] : []),
      );
      const token = await cli(
        'admin',
        'user',
        'generate-access-token',
        '--username',
        login,
        '--token-name',
        'lockstep-test',
        '--scopes',
        'write:repository,write:issue,write:user,write:organization',
        '--raw',
      );
      return { login, token };
    };
    const admin = await user('lockstep-admin', true);
    const reviewer = await user('reviewer', false);

    server = spawn(bin, ['web', '--config', config, '--work-path', dir, '--port', String(port)], {
      env,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const baseUrl = `http://127.0.0.1:${port}/`;
    for (const deadline = Date.now() + 60_000; ;) {
      if (server.exitCode !== null) {
        const log = await readFile(join(dir, 'log', 'gitea.log'), 'utf8').catch(() => '');
        throw new Error(`gitea web exited (${server.exitCode}): ${stderr}\n${log.slice(-3000)}`);
      }
      const up = await fetch(`${baseUrl}api/v1/version`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`gitea web did not answer at ${baseUrl} within 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const api = async <T>(method: string, path: string, body?: unknown, as: GiteaUser = admin): Promise<T> => {
      const response = await fetch(`${baseUrl}api/v1${path}`, {
        method,
        headers: { Authorization: `token ${as.token}`, 'Content-Type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`Gitea answered ${response.status} to ${method} ${path}: ${text}`);
      return (text ? JSON.parse(text) : null) as T;
    };
    const org = 'acme';
    await api('POST', '/orgs', { username: org, visibility: 'public' });
    const gitEnv = (as: GiteaUser = admin): Record<string, string> => ({
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `http.${baseUrl}.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`${as.login}:${as.token}`).toString('base64')}`,
    });
    const cloneUrl = (name: string) => `${baseUrl}${org}/${name}.git`;
    const git = async (cwd: string, ...args: string[]): Promise<string> => {
      const { stdout } = await run(
        'git',
        [
          '-c',
          'core.hooksPath=/dev/null',
          '-c',
          'user.name=Gitea Test',
          '-c',
          'user.email=test@lockstep.invalid',
          ...args,
        ],
        { cwd, env: { PATH: process.env.PATH ?? '', HOME: dir, ...gitEnv() } },
      );
      return stdout.trim();
    };
    const pushCommit = async (
      name: string,
      branch: string,
      files: Record<string, string>,
      from = branch,
    ): Promise<string> => {
      const work = await mkdtemp(join(dir, 'work-'));
      try {
        await git(work, 'clone', '--quiet', '--branch', from, cloneUrl(name), '.');
        if (from !== branch) await git(work, 'checkout', '--quiet', '-b', branch);
        for (const [path, content] of Object.entries(files)) await writeFile(join(work, path), content);
        await git(work, 'add', '--all');
        await git(work, 'commit', '--quiet', '--no-verify', '-m', `Change ${Object.keys(files).join(', ')}`);
        await git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
        return await git(work, 'rev-parse', 'HEAD');
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    };
    return {
      baseUrl,
      admin,
      reviewer,
      org,
      cloneUrl,
      gitEnv,
      api,
      async createRepo(name, files) {
        await api('POST', `/orgs/${org}/repos`, { name, default_branch: 'main', auto_init: false, private: false });
        await api('PUT', `/repos/${org}/${name}/collaborators/${reviewer.login}`, { permission: 'write' });
        const work = await mkdtemp(join(dir, 'seed-'));
        try {
          for (const [path, content] of Object.entries(files)) await writeFile(join(work, path), content);
          await git(work, 'init', '--quiet', '--initial-branch', 'main');
          await git(work, 'add', '--all');
          await git(work, 'commit', '--quiet', '--no-verify', '-m', `Initial ${name}`);
          await git(work, 'push', '--quiet', cloneUrl(name), 'main');
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      },
      pushCommit,
      async protect(name, branch, p) {
        await api('POST', `/repos/${org}/${name}/branch_protections`, {
          rule_name: branch,
          // Anyone with write access may still push (the tests move bases by hand).
          enable_push: true,
          enable_status_check: (p.checks ?? []).length > 0,
          status_check_contexts: p.checks ?? [],
          required_approvals: p.approvals ?? 0,
          block_on_rejected_reviews: p.blockOnRejectedReviews ?? false,
          block_on_outdated_branch: p.blockOnOutdatedBranch ?? false,
        });
      },
      async status(name, sha, context, state) {
        await api('POST', `/repos/${org}/${name}/statuses/${sha}`, {
          context,
          state,
          description: `${context} is ${state}`,
          target_url: `${baseUrl}ci/${context}`,
        });
      },
      async review(name, index, event) {
        await api(
          'POST',
          `/repos/${org}/${name}/pulls/${index}/reviews`,
          { event, body: `${event.toLowerCase()} by the test` },
          reviewer,
        );
      },
      async branchSha(name, branch) {
        const b = await api<{ commit: { id: string } }>(
          'GET',
          `/repos/${org}/${name}/branches/${encodeURIComponent(branch)}`,
        );
        return b.commit.id;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
