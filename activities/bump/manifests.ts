/**
 * Which manifests of a repo declare a package, and at which version: package.json (its four
 * dependency sections) with package-lock.json, go.mod's require, requirements*.txt (and a .in
 * beside one, compiled with pip-compile) and pyproject.toml ([project] dependencies, Poetry's
 * table). Read from a repo's base branch on its remote, without a work tree.
 */
import { posix } from 'node:path';
import type { BumpEcosystem } from '../../config/change.ts';
import type { BumpManifest, RepoBumpManifests } from '../../core/bump.ts';
import { withBaseTree } from '../git/base.ts';
import type { GitCredentials } from '../git/workspace.ts';

const NPM_SECTIONS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
/** Folders whose manifests are someone else's (vendored or installed code). */
const FOREIGN = /(^|\/)(node_modules|vendor|\.venv|venv|site-packages|\.git)\//;

/** PEP 503: names compare lowercased, with runs of "-", "_" and "." as one "-". */
export const normalisePipName = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/** The paths of a repo's tree worth reading for an ecosystem. */
export function manifestPaths(ecosystem: BumpEcosystem, paths: readonly string[]): string[] {
  switch (ecosystem) {
    case 'npm':
      return paths.filter((p) => p === 'package.json' || p === 'package-lock.json' || p === 'npm-shrinkwrap.json');
    case 'go':
      return paths.filter((p) => p === 'go.mod');
    case 'pip':
      return paths.filter(
        (p) => !FOREIGN.test(p) && (/^requirements[^/]*\.(txt|in)$/.test(posix.basename(p)) || p === 'pyproject.toml'),
      );
  }
}

function npmManifests(pkg: string, files: ReadonlyMap<string, string>): Omit<RepoBumpManifests, 'repo'> {
  const manifests: BumpManifest[] = [];
  const text = files.get('package.json');
  if (text === undefined) return { declares: false, current: null, manifests, problem: null };
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return {
      declares: false,
      current: null,
      manifests,
      problem: `package.json is not valid JSON (${(err as Error).message})`,
    };
  }
  for (const section of NPM_SECTIONS) {
    const deps = json[section];
    if (typeof deps === 'object' && deps !== null && typeof (deps as Record<string, unknown>)[pkg] === 'string') {
      manifests.push({ path: 'package.json', spec: (deps as Record<string, string>)[pkg] ?? '', kind: section });
    }
  }
  if (manifests.length === 0) return { declares: false, current: null, manifests, problem: null };
  let current: string | null = null;
  for (const lockfile of ['npm-shrinkwrap.json', 'package-lock.json']) {
    const lock = files.get(lockfile);
    if (lock === undefined) continue;
    try {
      const parsed = JSON.parse(lock) as {
        packages?: Record<string, { version?: string }>;
        dependencies?: Record<string, { version?: string }>;
      };
      const version = parsed.packages?.[`node_modules/${pkg}`]?.version ?? parsed.dependencies?.[pkg]?.version;
      if (version) {
        current = version;
        manifests.push({ path: lockfile, spec: version, kind: 'lockfile' });
      }
    } catch {
      // A lockfile npm cannot read either: npm install rewrites it.
    }
    break;
  }
  current ??= /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(manifests[0]?.spec ?? '') ? (manifests[0]?.spec ?? null) : null;
  return { declares: true, current, manifests, problem: null };
}

function goManifests(mod: string, files: ReadonlyMap<string, string>): Omit<RepoBumpManifests, 'repo'> {
  const text = files.get('go.mod');
  const manifests: BumpManifest[] = [];
  if (text !== undefined) {
    let block = false;
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      if (/^require\s*\($/.test(line)) block = true;
      else if (block && line === ')') block = false;
      else {
        const m = (block ? /^(\S+)\s+(\S+)$/ : /^require\s+(\S+)\s+(\S+)$/).exec(line);
        if (m && m[1] === mod)
          manifests.push({
            path: 'go.mod',
            spec: m[2] ?? '',
            kind: /\/\/\s*indirect/.test(raw) ? 'indirect' : 'require',
          });
      }
    }
  }
  return { declares: manifests.length > 0, current: manifests[0]?.spec ?? null, manifests, problem: null };
}

/** One requirement of a requirements file or a PEP 508 string: its name and what follows it. */
function requirement(line: string): { name: string; spec: string } | null {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)/.exec(line);
  if (!m?.[1] || line.trim().startsWith('-')) return null;
  return { name: m[1], spec: (m[3] ?? '').trim() };
}

const PIN = /^==\s*([0-9][0-9A-Za-z.!+-]*)$/;

function pipManifests(pkg: string, files: ReadonlyMap<string, string>): Omit<RepoBumpManifests, 'repo'> {
  const want = normalisePipName(pkg);
  const manifests: BumpManifest[] = [];
  const paths = [...files.keys()].sort();
  for (const path of paths.filter((p) => p.endsWith('.txt'))) {
    for (const line of (files.get(path) ?? '').split('\n')) {
      const r = requirement(line.replace(/\s+#.*$/, ''));
      if (!r || normalisePipName(r.name) !== want) continue;
      const compiled = files.has(path.replace(/\.txt$/, '.in'));
      manifests.push({ path, spec: r.spec, kind: compiled ? 'compiled' : PIN.test(r.spec) ? 'pin' : 'range' });
    }
  }
  const pyproject = files.get('pyproject.toml');
  if (pyproject !== undefined) {
    let table = '';
    for (const raw of pyproject.split('\n')) {
      const line = raw.trim();
      const header = /^\[([^\]]+)\]$/.exec(line);
      if (header) {
        table = header[1]?.trim() ?? '';
        continue;
      }
      if (table === 'project') {
        // Strings of the dependencies array, one or several per line.
        for (const s of line.matchAll(/["']([^"']+)["']/g)) {
          const r = requirement(s[1] ?? '');
          if (r && normalisePipName(r.name) === want && /^dependencies\s*=|^["']/.test(line))
            manifests.push({ path: 'pyproject.toml', spec: r.spec, kind: PIN.test(r.spec) ? 'pin' : 'range' });
        }
      } else if (table === 'tool.poetry.dependencies' || table === 'tool.poetry.group.dev.dependencies') {
        const m = /^["']?([A-Za-z0-9][A-Za-z0-9._-]*)["']?\s*=\s*(.*)$/.exec(line);
        if (m?.[1] && normalisePipName(m[1]) === want)
          manifests.push({
            path: 'pyproject.toml',
            spec: (m[2] ?? '').trim().replace(/^["']|["']$/g, ''),
            kind: 'poetry',
          });
      }
    }
  }
  if (manifests.length === 0) return { declares: false, current: null, manifests, problem: null };
  const movable = manifests.filter((m) => m.kind === 'pin' || m.kind === 'compiled');
  const pinned = manifests.map((m) => PIN.exec(m.spec)?.[1]).find(Boolean) ?? null;
  const problem =
    movable.length === 0
      ? `declares ${pkg} only as ${manifests.map((m) => `"${m.spec || '(any)'}" in ${m.path}${m.kind === 'poetry' ? ' (Poetry)' : ''}`).join(', ')}; Lockstep moves pinned requirements (${pkg}==<version> in requirements*.txt or [project] dependencies) and requirements compiled from a .in file with pip-compile`
      : null;
  return { declares: true, current: pinned, manifests, problem };
}

/** What the given files (path → content) say about the package. */
export function declaredIn(
  ecosystem: BumpEcosystem,
  pkg: string,
  files: ReadonlyMap<string, string>,
): Omit<RepoBumpManifests, 'repo'> {
  switch (ecosystem) {
    case 'npm':
      return npmManifests(pkg, files);
    case 'go':
      return goManifests(pkg, files);
    case 'pip':
      return pipManifests(pkg, files);
  }
}

/** What a repo's base branch declares, read without a work tree (activities/git/base.ts). */
export async function baseManifests(
  target: { repo: string; url: string; baseBranch: string },
  bump: { ecosystem: BumpEcosystem; package: string },
  credentials?: GitCredentials,
): Promise<RepoBumpManifests> {
  return withBaseTree(target, credentials, async (tree) => ({
    repo: target.repo,
    ...declaredIn(bump.ecosystem, bump.package, await tree.read(manifestPaths(bump.ecosystem, tree.paths))),
  }));
}
