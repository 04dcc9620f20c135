/**
 * Git on the worker's host: clone a repo into a worker-local workspace, commit what the
 * sandbox changed, push the change branch. Repository content is hostile by default: hooks,
 * fsmonitor and other config that could run code on the host are switched off on every call,
 * and the sandbox only ever sees `.git` read-only.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, chown, readdir, lstat, stat, utimes, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { fatal } from '../errors.ts';
import type { CommitAndPushInput, CommitAndPushResult } from '../../core/workspace.ts';

/** Config passed with `-c` on every git call on the host. */
export function safeGitConfig(workspace?: string): string[] {
  return [
    'core.hooksPath=/dev/null',
    'core.fsmonitor=false',
    'protocol.ext.allow=never',
    'protocol.file.allow=always',
    'submodule.recurse=false',
    'commit.gpgSign=false',
    'init.defaultBranch=main',
    ...(workspace ? [`safe.directory=${workspace}`] : []),
  ];
}

/**
 * Extra environment for git calls to one URL: a forge token goes to git only this way (as
 * `GIT_CONFIG_*` entries scoped to the forge's URL), never in argv or in a URL that is logged.
 */
export type GitCredentials = (url: string) => Record<string, string>;

export function git(baseDir: string | undefined, workspace?: string, extraEnv: Record<string, string> = {}): SimpleGit {
  return simpleGit({
    ...(baseDir ? { baseDir } : {}),
    config: safeGitConfig(workspace ?? baseDir),
    // simple-git refuses any override of these settings; ours only switch them off.
    // GIT_CONFIG_COUNT carries only the forge credential header that Lockstep itself sets.
    unsafe: {
      allowUnsafeHooksPath: true,
      allowUnsafeFsMonitor: true,
      allowUnsafeProtocolOverride: true,
      allowUnsafeConfigEnvCount: 'GIT_CONFIG_COUNT' in extraEnv,
    },
    timeout: { block: 120_000 },
    // A command ends when its output is closed, not 50 ms after its exit (simple-git's default):
    // on a loaded worker the last output can come later, and a `diff --cached` cut to nothing
    // made a changed repo look unchanged (one of 10,000 in the fleet-scale bench).
    completion: { onClose: true, onExit: 5_000 },
  }).env({ ...gitEnv(), ...extraEnv });
}

/** Who Lockstep's commits are by (a forge tells a head someone else pushed by its author). */
export const LOCKSTEP_AUTHOR = { name: 'Lockstep', email: 'lockstep@localhost' } as const;

/** A minimal environment: no prompt that would hang the worker, no system config, no secrets. */
export function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: LOCKSTEP_AUTHOR.name,
    GIT_AUTHOR_EMAIL: LOCKSTEP_AUTHOR.email,
    GIT_COMMITTER_NAME: LOCKSTEP_AUTHOR.name,
    GIT_COMMITTER_EMAIL: LOCKSTEP_AUTHOR.email,
  };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export interface WorkspaceOptions {
  /** uid:gid that owns the workspace, so the sandbox user can write it (null: leave as is). */
  owner: { uid: number; gid: number } | null;
  /** Continue from this commit of the pushed change branch (it must be on the remote). */
  startCommit?: string | null;
  /** How git authenticates to the remote (remote forges over HTTPS). */
  credentials?: GitCredentials;
}

/** Clones `url` at `baseBranch` into `workspace` (replacing what was there) and creates `branch`. */
export async function cloneWorkspace(
  url: string,
  baseBranch: string,
  branch: string,
  workspace: string,
  options: WorkspaceOptions,
): Promise<string> {
  await rm(workspace, { recursive: true, force: true });
  await mkdir(join(workspace, '..'), { recursive: true });
  try {
    await git(undefined, workspace, options.credentials?.(url)).clone(url, workspace, [
      '--no-hardlinks',
      '--single-branch',
      '--branch',
      baseBranch,
      '--no-recurse-submodules',
    ]);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/Remote branch .* not found/i.test(message)) {
      throw fatal(
        'BaseBranchMissing',
        `base branch "${baseBranch}" does not exist in ${url}; fix repos[].baseBranch in repos.config.json`,
      );
    }
    throw fatal('RemoteUnreachable', `cannot clone ${url}: ${firstLine(message)}`);
  }
  const repo = git(workspace);
  await repo.raw(['checkout', '-B', branch]);
  let baseCommit = (await repo.revparse(['HEAD'])).trim();
  if (options.startCommit) {
    try {
      await git(workspace, undefined, options.credentials?.(url)).raw([
        'fetch',
        '--quiet',
        '--no-tags',
        url,
        `refs/heads/${branch}`,
      ]);
      await repo.raw(['reset', '--quiet', '--hard', options.startCommit]);
    } catch (err) {
      throw fatal(
        'InvalidInput',
        `cannot continue ${branch} from ${options.startCommit.slice(0, 12)}: ${firstLine(err instanceof Error ? err.message : String(err))}`,
      );
    }
    // The diff of the change stays against the base it was built on, even if the base moved.
    baseCommit = (await repo.raw(['merge-base', baseCommit, options.startCommit])).trim();
  }
  if (options.owner) await chownTree(workspace, options.owner.uid, options.owner.gid);
  return baseCommit;
}

/**
 * Commits the change (once, also when retried) and force-pushes the branch. After a setup that
 * is what changed since its snapshot (snapshotPrepared), else every change in the work tree.
 */
export async function commitAndPush(
  input: CommitAndPushInput,
  credentials?: GitCredentials,
): Promise<CommitAndPushResult> {
  const repo = git(input.workspace, undefined, credentials?.(input.url));
  // simple-git waits 50 ms more after a command that printed nothing (it cannot tell a finished
  // process from one whose output is late), so these commands print: --verbose, no --quiet.
  // That was 150 ms of every repo's critical path (see docs/performance.md).
  if (!(await stagePreparedChanges(input.workspace))) await repo.raw(['add', '--all', '--verbose']);
  const staged = await repo.raw(['diff', '--cached', '--name-only', '-z']);
  // A retry after a crash finds the commit already made and the index clean: no second commit.
  if (staged.length > 0) await repo.raw(['commit', '--no-verify', '-m', input.message]);
  const head = (await repo.revparse(['HEAD'])).trim();
  if (head === input.baseCommit) return { commit: null, changedFiles: [] };
  const changed = (await repo.raw(['diff', '--name-only', '-z', input.baseCommit, head])).split('\0').filter(Boolean);
  // The branch namespace lockstep/<changeId> is ours: a rerun replaces what an earlier run pushed.
  await repo.raw(['push', '--force', input.url, `HEAD:refs/heads/${input.branch}`]);
  return { commit: head, changedFiles: changed.slice(0, 200) };
}

/** Where the work tree's state right after the repo's setup is kept (a tree object). */
export const PREPARED_REF = 'refs/lockstep/prepared';
const PREPARED_IGNORED = join('lockstep', 'prepared-ignored');

/**
 * Records the work tree as the repo's setup left it, so the commit can hold only what came
 * after. A repo's .gitignore is no guard: `node_modules/` does not match a symlink named
 * node_modules, a venv or build output may not be listed, and setup may rewrite a tracked
 * lockfile. The tree is written through a scratch index (the real one stays at the base) and
 * kept under a ref; the paths that were ignored then are listed too, so a step that edits
 * .gitignore cannot bring setup's leftovers into view.
 */
export async function snapshotPrepared(workspace: string, options: { keep?: readonly string[] } = {}): Promise<string> {
  const before = options.keep?.length
    ? (
        await git(workspace)
          .raw(['rev-parse', '--verify', '--quiet', PREPARED_REF])
          .catch(() => '')
      ).trim()
    : '';
  const tree = await scratchTree(workspace, before ? { from: before, paths: options.keep ?? [] } : null);
  const ignored = (
    await git(workspace).raw(['ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '-z'])
  )
    .split('\0')
    .filter(Boolean);
  await mkdir(join(workspace, '.git', 'lockstep'), { recursive: true });
  await writeFile(join(workspace, '.git', PREPARED_IGNORED), ignored.join('\0'));
  await git(workspace).raw(['update-ref', PREPARED_REF, tree]);
  return tree;
}

/**
 * Stages exactly the paths whose content differs from the post-setup snapshot, taking their
 * entries from the work tree as it is now; a path setup changed that nothing touched later
 * keeps its base content. False when there is no snapshot (the repo has no setup).
 */
async function stagePreparedChanges(workspace: string): Promise<boolean> {
  const g = git(workspace);
  const prepared = (await g.raw(['rev-parse', '--verify', '--quiet', PREPARED_REF]).catch(() => '')).trim();
  if (!prepared) return false;
  const ignoredThen = (await readFile(join(workspace, '.git', PREPARED_IGNORED), 'utf8').catch(() => ''))
    .split('\0')
    .filter(Boolean);
  const underIgnored = (path: string): boolean =>
    ignoredThen.some((i) => (i.endsWith('/') ? path.startsWith(i) : path === i));
  const current = await scratchTree(workspace);
  // Raw records: ":<old mode> <new mode> <old sha> <new sha> <status>\0<path>\0".
  const raw = (await g.raw(['diff-tree', '-r', '-z', '--no-renames', prepared, current])).split('\0');
  const entries: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const [, newMode, , newSha, status] = (raw[i] ?? '').slice(1).split(' ');
    const path = raw[i + 1] ?? '';
    if (!path || !newMode || !newSha) continue;
    if (status === 'A' && underIgnored(path)) continue;
    // Mode 0 removes the path from the index.
    entries.push(status === 'D' ? `0 ${'0'.repeat(newSha.length)}\t${path}` : `${newMode} ${newSha}\t${path}`);
  }
  if (entries.length > 0)
    await gitExec(workspace, ['update-index', '-z', '--index-info'], { input: entries.map((e) => `${e}\0`).join('') });
  return true;
}

/**
 * The work tree as a tree object, hashed into a scratch copy of the index (the real one is
 * untouched). With `keep`, those paths are taken from the tree `keep.from` instead (absent
 * there: left out), so a later snapshot still counts their edits as part of the change.
 */
async function scratchTree(
  workspace: string,
  keep: { from: string; paths: readonly string[] } | null = null,
): Promise<string> {
  const index = join(workspace, '.git', 'lockstep-scratch.index');
  // Starting from the real index reuses its stat cache: only files that changed are hashed.
  // The copy keeps the index's own mtime (a shade earlier, never later): git trusts an entry's
  // stat only when the file is older than the index, so a file rewritten at the same size in
  // the clock tick of the checkout is hashed again, not taken as unchanged (racy git).
  const real = join(workspace, '.git', 'index');
  await copyFile(real, index);
  const { mtimeMs, atime } = await stat(real);
  await utimes(index, atime, new Date(Math.floor(mtimeMs) - 1));
  try {
    const g = git(workspace, undefined, { GIT_INDEX_FILE: index });
    await g.raw(['add', '--all', '--verbose']);
    if (keep && keep.paths.length > 0) {
      // Records: "<mode> <type> <sha>\t<path>\0"; a path missing from `from` is removed (mode 0).
      const listed = (await g.raw(['ls-tree', '-r', '-z', '--full-tree', keep.from, '--', ...keep.paths]))
        .split('\0')
        .filter(Boolean);
      const found = new Map(
        listed.map((r) => [r.slice(r.indexOf('\t') + 1), r.slice(0, r.indexOf('\t')).split(' ')] as const),
      );
      const entries = keep.paths.map((path) => {
        const [mode, , sha] = found.get(path) ?? [];
        return mode && sha ? `${mode} ${sha}\t${path}` : `0 ${'0'.repeat(keep.from.length)}\t${path}`;
      });
      await gitExec(workspace, ['update-index', '-z', '--index-info'], {
        input: entries.map((e) => `${e}\0`).join(''),
        env: { GIT_INDEX_FILE: index },
      });
    }
    return (await g.raw(['write-tree'])).trim();
  } finally {
    await rm(index, { force: true });
  }
}

/**
 * A git call with the same safe config that fails on any non-zero exit (simple-git lets one with
 * an empty stderr pass, as `merge-base --is-ancestor` or a conflicting `revert` exit), with
 * `input` on stdin when given (simple-git has none); its stdout as bytes.
 */
export function gitExec(
  workspace: string,
  args: string[],
  options: { input?: string; env?: Record<string, string>; maxBuffer?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...safeGitConfig(workspace).flatMap((c) => ['-c', c]), ...args],
      {
        cwd: workspace,
        env: { ...gitEnv(), ...options.env },
        encoding: 'buffer',
        maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`git ${args[0]} failed: ${firstLine(stderr.toString() || err.message)}`))
          : resolve(stdout),
    );
    // A git that exits before reading all its input (a failure) answers by its exit code above.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
  });
}

export async function removeWorkspace(workspace: string): Promise<void> {
  await rm(workspace, { recursive: true, force: true });
}

/** Reads the commit a branch points at on a remote, or null. */
export async function remoteBranchCommit(
  url: string,
  branch: string,
  credentials?: GitCredentials,
): Promise<string | null> {
  const out = await git(undefined, undefined, credentials?.(url)).raw([
    'ls-remote',
    '--heads',
    url,
    `refs/heads/${branch}`,
  ]);
  const sha = out.split(/\s+/)[0];
  return sha && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
}

export async function chownTree(dir: string | Buffer, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  // Names as bytes: a file name that is not UTF-8 would come back from a string readdir with
  // replacement characters, name no file, and fail the whole workspace.
  for (const entry of await readdir(dir, { encoding: 'buffer' })) {
    const path = Buffer.concat([Buffer.from(dir), Buffer.from(sep), entry]);
    const stat = await lstat(path);
    // lchown semantics: never follow a symlink out of the workspace.
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) await chownTree(path, uid, gid);
    else await chown(path, uid, gid);
  }
}

/** Deletes a branch on a remote; false when it was not there. */
export async function deleteRemoteBranch(url: string, branch: string, credentials?: GitCredentials): Promise<boolean> {
  if ((await remoteBranchCommit(url, branch, credentials)) === null) return false;
  await git(undefined, undefined, credentials?.(url)).raw(['push', '--quiet', url, '--delete', `refs/heads/${branch}`]);
  return true;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? text
  );
}
