/**
 * The workspace boundary for the agent's file tools, which run on the worker's host (as root,
 * typically): a model-supplied path may only name something inside the workspace, outside
 * `.git`, after every symbolic link is resolved.
 *
 * Checking a path and then using it is racy when a process in the sandbox can swap a directory
 * for a symbolic link in between. So after the check, every file operation walks the already
 * resolved path one directory at a time with O_NOFOLLOW, and acts relative to the directory it
 * holds open (through /proc/self/fd on Linux, the kernel's openat): a link that appears after
 * the check makes the operation fail instead of leaving the workspace.
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join, posix, sep } from 'node:path';

/** A request the boundary refuses; the message is for the model, `reason` for a summary line. */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

/** JSON quoting: control characters and NUL bytes come out visible, never raw. */
export const quote = (text: string): string => JSON.stringify(text);

const isGitName = (name: string): boolean => name.toLowerCase() === '.git';

/**
 * The lexical checks, before the file system is touched. Returns the normalised relative path
 * (`''` for the workspace root, only when `allowRoot`).
 */
export function checkRelativePath(input: string, allowRoot: boolean): string {
  if (input.includes('\0'))
    throw new Refusal(`path ${quote(input)} contains a NUL byte; file names cannot contain one`, 'NUL byte in path');
  if (input.trim() === '' || input === '.' || input === './') {
    if (allowRoot) return '';
    throw new Refusal(
      `path ${quote(input)} names no file; give a path relative to the repository root, e.g. "src/index.ts"`,
      'empty path',
    );
  }
  if (posix.isAbsolute(input)) {
    throw new Refusal(
      `path ${quote(input)} is absolute; use a path relative to the repository root, e.g. "src/index.ts" (the repository is /workspace only inside run_command)`,
      'absolute path',
    );
  }
  if (!allowRoot && /\/\.?$/.test(input)) {
    throw new Refusal(`path ${quote(input)} ends with "/", so it names a directory, not a file`, 'names a directory');
  }
  const normal = posix.normalize(input).replace(/\/+$/, '');
  if (normal === '..' || normal.startsWith('../'))
    throw new Refusal(`path ${quote(input)} leaves the workspace`, 'leaves the workspace');
  if (normal === '.' || normal === '') {
    if (allowRoot) return '';
    throw new Refusal(`path ${quote(input)} names the repository root, not a file`, 'not a file');
  }
  if (normal.split('/').some(isGitName)) {
    throw new Refusal(
      `path ${quote(input)} is inside .git; git metadata is off limits (Lockstep commits your work itself)`,
      'inside .git',
    );
  }
  return normal;
}

/** uid/gid that written files and created directories get (the sandbox user). */
export type Owner = { uid: number; gid: number };

export interface WorkspaceRoot {
  /** The workspace's real path: symbolic links resolved. */
  real: string;
}

export async function workspaceRoot(workspace: string): Promise<WorkspaceRoot> {
  return { real: await realpath(workspace) };
}

/** The path of `real` relative to the root, or null when it is not inside. */
function insideRoot(root: WorkspaceRoot, real: string): string | null {
  if (real === root.real) return '';
  const prefix = root.real.endsWith(sep) ? root.real : root.real + sep;
  return real.startsWith(prefix) ? real.slice(prefix.length).split(sep).join('/') : null;
}

const joinRel = (...parts: string[]): string => parts.filter((p) => p !== '').join('/');
const parentOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const baseOf = (rel: string): string => rel.slice(rel.lastIndexOf('/') + 1);

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/**
 * Resolves an existing path (links followed) and checks where it really is. Returns the real
 * path relative to the root.
 */
export async function resolveExisting(root: WorkspaceRoot, rel: string, input: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(join(root.real, rel));
  } catch (err) {
    const c = code(err);
    if (c === 'ENOENT') {
      const link = await lstat(join(root.real, rel)).catch(() => null);
      if (link?.isSymbolicLink()) {
        throw new Refusal(
          `path ${quote(input)} is a symbolic link whose target does not exist`,
          'dangling symbolic link',
        );
      }
      throw new Refusal(`${quote(input)} does not exist; use list_directory to see what is there`, 'not found');
    }
    if (c === 'ENOTDIR')
      throw new Refusal(`path ${quote(input)} goes through something that is not a directory`, 'not a directory');
    if (c === 'ELOOP') throw new Refusal(`path ${quote(input)} has a loop of symbolic links`, 'symbolic link loop');
    throw err;
  }
  const realRel = insideRoot(root, real);
  if (realRel === null) {
    throw new Refusal(
      `path ${quote(input)} resolves through a symbolic link to outside the workspace`,
      'symbolic link leaves the workspace',
    );
  }
  if (realRel.split('/').some(isGitName)) {
    throw new Refusal(
      `path ${quote(input)} resolves through a symbolic link into .git; git metadata is off limits`,
      'symbolic link into .git',
    );
  }
  return realRel;
}

export interface WriteTarget {
  /** Real directory (relative to the root) the file goes into; parts of it may not exist yet. */
  dir: string;
  name: string;
  exists: boolean;
}

/**
 * Where a write to `rel` really lands. An existing file (or a link to one inside the workspace)
 * is replaced at its real location; for a new file, the deepest existing ancestor is resolved
 * and checked, and the missing directories below it will be created.
 */
export async function resolveForWrite(root: WorkspaceRoot, rel: string, input: string): Promise<WriteTarget> {
  const present = await lstat(join(root.real, rel)).catch((err: unknown) => {
    if (code(err) === 'ENOENT') return null;
    if (code(err) === 'ENOTDIR')
      throw new Refusal(`path ${quote(input)} goes through something that is not a directory`, 'not a directory');
    throw err;
  });
  if (present) {
    const realRel = await resolveExisting(root, rel, input);
    if ((await stat(join(root.real, realRel))).isDirectory()) {
      throw new Refusal(`path ${quote(input)} is a directory, not a file`, 'is a directory');
    }
    return { dir: parentOf(realRel), name: baseOf(realRel), exists: true };
  }
  const parts = rel.split('/');
  for (let depth = parts.length - 1; depth >= 0; depth--) {
    const ancestor = parts.slice(0, depth).join('/');
    const found = await lstat(join(root.real, ancestor)).catch((err: unknown) => {
      if (code(err) === 'ENOENT') return null;
      if (code(err) === 'ENOTDIR')
        throw new Refusal(`path ${quote(input)} goes through something that is not a directory`, 'not a directory');
      throw err;
    });
    if (!found) continue;
    const realAncestor = await resolveExisting(root, ancestor, input);
    if (!(await stat(join(root.real, realAncestor))).isDirectory()) {
      throw new Refusal(
        `path ${quote(input)} goes through ${quote(ancestor)}, which is a file, not a directory`,
        'not a directory',
      );
    }
    return {
      dir: joinRel(realAncestor, ...parts.slice(depth, -1)),
      name: parts[parts.length - 1] ?? '',
      exists: false,
    };
  }
  // Unreachable: the root itself always exists.
  throw new Refusal(`path ${quote(input)} cannot be resolved`, 'unresolvable');
}

const PROC_FD = '/proc/self/fd';
let procFd: boolean | undefined;
const haveProcFd = (): boolean => (procFd ??= existsSync(PROC_FD));

/** A directory held open; names are resolved relative to it, never through a path string again. */
class Dir {
  private constructor(
    private readonly handle: FileHandle,
    /** Fallback where /proc/self/fd is missing (not Linux): the checked real path. */
    private readonly path: string,
  ) {}

  static async open(path: string): Promise<Dir> {
    return new Dir(await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW), path);
  }

  at(name: string): string {
    return haveProcFd() ? `${PROC_FD}/${this.handle.fd}/${name}` : join(this.path, name);
  }

  /** The directory itself, for readdir. */
  self(): string {
    return haveProcFd() ? `${PROC_FD}/${this.handle.fd}` : this.path;
  }

  async child(name: string): Promise<Dir> {
    return new Dir(
      await open(this.at(name), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW),
      join(this.path, name),
    );
  }

  async chown(uid: number, gid: number): Promise<void> {
    await this.handle.chown(uid, gid);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

function raced(input: string): Refusal {
  return new Refusal(
    `path ${quote(input)} passes through a symbolic link or changed while it was being checked; Lockstep follows no link it has not checked`,
    'path changed or passes through a symbolic link',
  );
}

/** Opens the real directory `dirRel`, creating missing parts (owned by `owner`) when asked. */
async function openDir(
  root: WorkspaceRoot,
  dirRel: string,
  input: string,
  create: { owner: Owner | null } | null,
): Promise<Dir> {
  let dir = await Dir.open(root.real);
  try {
    for (const name of dirRel === '' ? [] : dirRel.split('/')) {
      let made = false;
      if (create) {
        made = await mkdir(dir.at(name), 0o755).then(
          () => true,
          (err: unknown) => {
            if (code(err) === 'EEXIST') return false;
            throw err;
          },
        );
      }
      const next = await dir.child(name).catch(async (err: unknown) => {
        const c = code(err);
        if (c === 'ENOTDIR' && !(await lstat(dir.at(name))).isSymbolicLink()) {
          throw new Refusal(`path ${quote(input)}: ${quote(name)} is a file, not a directory`, 'not a directory');
        }
        if (c === 'ELOOP' || c === 'ENOTDIR') throw raced(input);
        if (c === 'ENOENT') throw new Refusal(`${quote(input)} does not exist`, 'not found');
        throw err;
      });
      await dir.close();
      dir = next;
      if (made && create?.owner) await dir.chown(create.owner.uid, create.owner.gid);
    }
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/** Reads a regular file at its checked real path; refuses anything else and files over `maxBytes`. */
export async function readRealFile(
  root: WorkspaceRoot,
  realRel: string,
  input: string,
  maxBytes: number,
): Promise<Buffer> {
  if (realRel === '')
    throw new Refusal(`path ${quote(input)} is the repository root, a directory; use list_directory`, 'is a directory');
  const dir = await openDir(root, parentOf(realRel), input, null);
  let file: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted in the workspace must not hang the worker.
    file = await open(dir.at(baseOf(realRel)), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
      (err: unknown) => {
        if (code(err) === 'ELOOP') throw raced(input);
        if (code(err) === 'ENOENT') throw new Refusal(`${quote(input)} does not exist`, 'not found');
        throw err;
      },
    );
  } finally {
    await dir.close();
  }
  try {
    const info = await file.stat();
    if (info.isDirectory())
      throw new Refusal(`path ${quote(input)} is a directory; use list_directory`, 'is a directory');
    if (!info.isFile()) throw new Refusal(`path ${quote(input)} is not a regular file`, 'not a regular file');
    // A hard link looks like any file of the workspace to realpath, but the same inode may be a
    // file anywhere else on the host's file system. Git never checks out hard links, and the
    // sandbox cannot make one across its mounts, so a second link is something to refuse.
    if (info.nlink > 1) {
      throw new Refusal(
        `${quote(input)} is a hard link (${info.nlink} names for one file); read_file and edit_file do not read hard links, which may be files outside the workspace`,
        'hard link',
      );
    }
    if (info.size > maxBytes) {
      throw new Refusal(
        `${quote(input)} is too large to read (${info.size} bytes; the limit is ${maxBytes}); use grep_codebase, or run_command with head, tail or sed -n`,
        'file too large',
      );
    }
    return await file.readFile();
  } finally {
    await file.close();
  }
}

export interface ListedEntry {
  name: string;
  kind: 'dir' | 'file' | 'link' | 'other';
  target?: string;
}

/** The entries of a checked real directory, `.git` left out. */
export async function listRealDir(root: WorkspaceRoot, realRel: string, input: string): Promise<ListedEntry[]> {
  const dir = await openDir(root, realRel, input, null);
  try {
    const entries = await readdir(dir.self(), { withFileTypes: true });
    const listed: ListedEntry[] = [];
    for (const entry of entries) {
      if (isGitName(entry.name)) continue;
      if (entry.isDirectory()) listed.push({ name: entry.name, kind: 'dir' });
      else if (entry.isFile()) listed.push({ name: entry.name, kind: 'file' });
      else if (entry.isSymbolicLink()) {
        const target = await readlink(dir.at(entry.name)).catch(() => '?');
        listed.push({ name: entry.name, kind: 'link', target });
      } else listed.push({ name: entry.name, kind: 'other' });
    }
    return listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    await dir.close();
  }
}

/**
 * Replaces (or creates) a file atomically: a fresh temporary file in the same directory
 * (O_EXCL | O_NOFOLLOW, so nothing planted there is followed) renamed over the target, which
 * replaces a link rather than writing through it. An existing file keeps its mode.
 */
export async function writeRealFile(
  root: WorkspaceRoot,
  target: WriteTarget,
  input: string,
  data: Buffer,
  owner: Owner | null,
): Promise<void> {
  const dir = await openDir(root, target.dir, input, { owner });
  try {
    const current = await lstat(dir.at(target.name)).catch((err: unknown) => {
      if (code(err) === 'ENOENT') return null;
      throw err;
    });
    if (current?.isSymbolicLink()) throw raced(input);
    if (current?.isDirectory()) throw new Refusal(`path ${quote(input)} is a directory, not a file`, 'is a directory');
    const mode = current ? current.mode & 0o777 : 0o644;
    const keepOwner = owner ?? (current && process.getuid?.() === 0 ? { uid: current.uid, gid: current.gid } : null);
    const temp = dir.at(`.lockstep-${randomBytes(8).toString('hex')}.tmp`);
    const file = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      try {
        await file.writeFile(data);
        if (keepOwner) await file.chown(keepOwner.uid, keepOwner.gid);
        await file.chmod(mode);
      } finally {
        await file.close();
      }
      await rename(temp, dir.at(target.name));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  } finally {
    await dir.close();
  }
}

/** Error codes a model's request can cause; anything else is the host's problem and is thrown. */
export const MODEL_FS_ERRORS: ReadonlySet<string> = new Set([
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'ELOOP',
  'EEXIST',
  'ENAMETOOLONG',
  'EINVAL',
  'EACCES',
  'EPERM',
  'ENOTEMPTY',
  'EXDEV',
  'EBUSY',
]);

export function modelFsError(err: unknown): string | null {
  const c = code(err);
  return c !== undefined && MODEL_FS_ERRORS.has(c) ? c : null;
}
