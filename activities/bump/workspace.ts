/**
 * How a repo's work tree declares the bumped package, read on its host: the bump guard reads it
 * before the agent's fix and after, so a fix that moves the package back never ships as a bump.
 * Only named manifests are read, as regular files inside the workspace (never through a symlink).
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { BumpEcosystem } from '../../config/change.ts';
import type { BumpDeclaration } from '../../core/bump.ts';
import { declaredIn } from './manifests.ts';

/** Lockfiles are the biggest manifests; anything larger is not one Lockstep reads. */
const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

/** The files a declaration is read from: the manifests the base branch had, the bump's files, a pip .txt's .in. */
export function declarationPaths(paths: readonly string[]): string[] {
  const all = new Set<string>();
  for (const p of paths) {
    all.add(p);
    if (p.endsWith('.txt')) all.add(p.replace(/\.txt$/, '.in'));
  }
  return [...all].filter((p) => p !== '' && !isAbsolute(p) && !normalize(p).split(/[\\/]/).includes('..')).sort();
}

/** A manifest's text, or undefined when it is missing, not a regular file, or too big. */
async function manifestText(root: string, path: string): Promise<string | undefined> {
  const file = join(root, path);
  // A folder on the way may be a symlink the repo's code made: the real path must stay inside.
  const real = await realpath(file).catch(() => null);
  const info = await lstat(file).catch(() => null);
  if (!real?.startsWith(root + sep) || !info?.isFile() || info.size > MAX_MANIFEST_BYTES) return undefined;
  return readFile(real, 'utf8');
}

export async function workspaceDeclaration(
  workspace: string,
  ecosystem: BumpEcosystem,
  pkg: string,
  paths: readonly string[],
): Promise<BumpDeclaration> {
  const root = await realpath(workspace);
  const files = new Map<string, string>();
  for (const path of declarationPaths(paths)) {
    const text = await manifestText(root, path);
    if (text !== undefined) files.set(path, text);
  }
  const { declares, current, manifests } = declaredIn(ecosystem, pkg, files);
  return { declares, current, manifests };
}
