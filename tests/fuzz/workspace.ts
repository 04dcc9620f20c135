/**
 * A hostile workspace for the fuzz suites, and the oracle that says whether a tool call left it.
 *
 * Everything lives under one temporary base folder, deep enough that any path with at most
 * MAX_UPS `..` parts (through a link to outside or not) still lands under it, while two `..`
 * from the workspace reach the outside folder: the oracle sees every write a broken boundary
 * could make, and a broken boundary has something to reach. Outside the workspace sit sentinel files and a
 * stand-in for /etc/passwd (so no property run can touch the real one, even if the boundary
 * broke); inside sit links to all of them, links into .git, loops, a dangling link and a FIFO.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';

/** The most `..` parts a generated path may hold. */
export const MAX_UPS = 4;

export interface FuzzWorkspace {
  /** The watched tree: everything under it but the workspace's working files is snapshotted. */
  base: string;
  /** A folder outside the watched tree, for logs and other fixtures. */
  scratch: string;
  /** The folder that holds the workspace and the outside folder, MAX_UPS+1 levels below base. */
  root: string;
  workspace: string;
  outside: string;
  /** Strings that must never appear in what a tool returns. */
  secrets: { outside: string; git: string; passwd: string; env: string };
  /** Names of the planted entries, for path generators. */
  planted: readonly string[];
  /** Everything under base except the workspace's working files (its .git included). */
  snapshot(): Promise<Map<string, string>>;
  /** True when `relative` (as a tool reported it) resolves inside the workspace, outside .git. */
  insideWorkspace(relative: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

export const ENV_SENTINEL_NAME = 'LOCKSTEP_FUZZ_ENV_SENTINEL';

export async function createFuzzWorkspace(): Promise<FuzzWorkspace> {
  const token = randomBytes(8).toString('hex');
  const top = await realpath(await mkdtemp(join(tmpdir(), 'lockstep-fuzz-')));
  const base = join(top, 'tree');
  const scratch = join(top, 'scratch');
  await mkdir(scratch, { recursive: true });
  const root = join(base, ...Array.from({ length: MAX_UPS + 1 }, (_, i) => `up${i}`));
  // Two `..` from the workspace reach the outside folder (a broken lexical check must show);
  // MAX_UPS from anywhere still stays under base.
  const workspace = join(root, 'w1', 'workspace');
  const outside = join(root, 'outside');
  const secrets = {
    outside: `OUTSIDE-SENTINEL-${token}`,
    git: `GIT-SENTINEL-${token}`,
    passwd: `root:x:0:0:${token}`,
    env: `ENV-SENTINEL-${token}`,
  };
  process.env[ENV_SENTINEL_NAME] = secrets.env;

  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'sentinel.txt'), `${secrets.outside}\n`);
  await writeFile(join(outside, 'dir', 'inner.txt'), `${secrets.outside} inner\n`);
  await writeFile(join(outside, 'passwd'), `${secrets.passwd}:root:/root:/bin/bash\n`);

  await mkdir(join(workspace, '.git'), { recursive: true });
  await writeFile(join(workspace, '.git', 'config'), `[core]\n\t# ${secrets.git}\n`);
  await writeFile(join(workspace, '.git', 'HEAD'), `ref: refs/heads/main\n# ${secrets.git}\n`);
  await mkdir(join(workspace, 'src'), { recursive: true });
  await mkdir(join(workspace, 'docs'), { recursive: true });
  await writeFile(join(workspace, 'README.md'), 'hello fuzz\n');
  await writeFile(join(workspace, 'src', 'a.ts'), 'export const a = 1;\nexport const b = 2;\n');
  await writeFile(join(workspace, 'src', 'ünïcødé-名前.txt'), 'unicode\n');
  await writeFile(join(workspace, 'docs', 'notes.md'), 'the --version flag\n-f/etc/passwd is text here\n');
  await writeFile(join(workspace, '-dash.txt'), '--help\n');

  const links: [string, string][] = [
    ['out-link', '../../outside'],
    ['abs-link', join(outside, 'sentinel.txt')],
    ['dir-link', join(outside, 'dir')],
    ['passwd-link', join(outside, 'passwd')],
    ['git-link', '.git'],
    ['gitcfg-link', '.git/config'],
    ['loop-a', 'loop-b'],
    ['loop-b', 'loop-a'],
    ['dangling', join(outside, 'nope')],
    ['inner-link', 'src'],
    ['inner-file-link', 'src/a.ts'],
    ['self-link', '.'],
    ['up-link', '..'],
  ];
  for (const [name, target] of links) await symlink(target, join(workspace, name));
  // A FIFO: opening it for reading without O_NONBLOCK would hang the worker.
  execFileSync('mkfifo', [join(workspace, 'fifo')]);

  const planted = [
    'src',
    'docs',
    'README.md',
    'a.ts',
    'notes.md',
    'ünïcødé-名前.txt',
    '-dash.txt',
    'fifo',
    ...links.map(([name]) => name),
    'outside',
    'sentinel.txt',
    'passwd',
    'dir',
    'inner.txt',
    'config',
    'HEAD',
    '.git',
  ];

  async function snapshot(): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    const walk = async (dir: string): Promise<void> => {
      for (const name of (await readdir(dir)).sort()) {
        const path = join(dir, name);
        const info = await lstat(path);
        if (path === workspace) {
          // Only .git inside the workspace is off limits; the rest is the tools' to change.
          await walk(join(workspace, '.git'));
          continue;
        }
        if (info.isSymbolicLink()) seen.set(path, `link ${await readlink(path)}`);
        else if (info.isDirectory()) {
          seen.set(path, `dir ${info.mode}`);
          await walk(path);
        } else if (info.isFile()) {
          seen.set(
            path,
            `file ${info.mode} ${createHash('sha256')
              .update(await readFile(path))
              .digest('hex')}`,
          );
        } else seen.set(path, `other ${info.mode}`);
      }
    };
    await walk(base);
    return seen;
  }

  async function insideWorkspace(relative: string): Promise<boolean> {
    const real = await realpath(join(workspace, relative)).catch(() => null);
    if (real === null || !real.startsWith(workspace + sep)) return false;
    return !real
      .slice(workspace.length + 1)
      .split(sep)
      .some((part) => part.toLowerCase() === '.git');
  }

  return {
    base,
    scratch,
    root,
    workspace,
    outside,
    secrets,
    planted,
    snapshot,
    insideWorkspace,
    cleanup: async () => {
      delete process.env[ENV_SENTINEL_NAME];
      await rm(top, { recursive: true, force: true });
    },
  };
}

/** The differences between two snapshots, as lines for a failure message. */
export function changedEntries(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [path, what] of after) {
    const was = before.get(path);
    if (was === undefined) lines.push(`added ${path} (${what})`);
    else if (was !== what) lines.push(`changed ${path}: ${was} -> ${what}`);
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`removed ${path}`);
  return lines;
}
