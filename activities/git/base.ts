/**
 * A repo's base branch read from its remote into a scratch bare repository: one shallow fetch,
 * no work tree, no checkout, so nothing of the repo runs (no hooks, filters or submodules). A
 * bump's manifests (activities/bump/manifests.ts) and the content queries of `targets`
 * (client/machine/targets.ts) read the fleet this way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, gitExec, type GitCredentials } from './workspace.ts';

export interface BaseTree {
  /** The commit the base branch pointed at when fetched. */
  commit: string;
  /** Every tracked path. */
  paths: string[];
  /** The text of these paths (one git process for all); binary files and files over `maxBytes` are left out. */
  read(paths: readonly string[], maxBytes?: number): Promise<Map<string, string>>;
}

export async function withBaseTree<R>(
  target: { repo: string; url: string; baseBranch: string },
  credentials: GitCredentials | undefined,
  use: (tree: BaseTree) => Promise<R>,
): Promise<R> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-base-'));
  try {
    const g = git(dir, dir, credentials?.(target.url) ?? {});
    await g.raw(['init', '--quiet', '--bare']);
    try {
      await g.raw(['fetch', '--quiet', '--depth', '1', '--no-tags', target.url, `refs/heads/${target.baseBranch}`]);
    } catch (err) {
      throw new Error(
        `cannot read branch "${target.baseBranch}" of ${target.repo} from its remote: ${(err as Error).message.split('\n')[0] ?? ''}`,
      );
    }
    const commit = (await g.raw(['rev-parse', 'FETCH_HEAD^{commit}'])).trim();
    const sizes = new Map<string, number>();
    // "<mode> <type> <object> <size>\t<path>", NUL-terminated.
    for (const entry of (await g.raw(['ls-tree', '-r', '-z', '-l', commit])).split('\0')) {
      const tab = entry.indexOf('\t');
      if (tab < 0) continue;
      const size = Number(entry.slice(0, tab).trim().split(/\s+/)[3]);
      sizes.set(entry.slice(tab + 1), Number.isFinite(size) ? size : Infinity);
    }
    return await use({
      commit,
      paths: [...sizes.keys()],
      read: (paths, maxBytes = Infinity) =>
        catFiles(
          dir,
          commit,
          paths.filter((p) => (sizes.get(p) ?? Infinity) <= maxBytes),
        ),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `git cat-file --batch` of `<commit>:<path>` for each path: path → text, binary blobs left out. */
async function catFiles(dir: string, commit: string, paths: readonly string[]): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  if (paths.length === 0) return files;
  // A path with a newline cannot be named on this protocol's lines; such a path is skipped.
  const named = paths.filter((p) => !p.includes('\n'));
  const out = await gitExec(dir, ['cat-file', '--batch'], {
    input: named.map((p) => `${commit}:${p}\n`).join(''),
    // Every queried file up to the caller's size cap, at once.
    maxBuffer: 1024 * 1024 * 1024,
  });
  let at = 0;
  for (const path of named) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) break;
    // "<sha> blob <size>" or "<name> missing".
    const [, type, size] = out.subarray(at, eol).toString().split(' ');
    at = eol + 1;
    if (type !== 'blob') continue;
    const body = out.subarray(at, at + Number(size));
    at += Number(size) + 1;
    if (!body.includes(0)) files.set(path, body.toString('utf8'));
  }
  return files;
}
