/**
 * Resolves a bump's `to` (a version, a range or query, or "latest") to one concrete version,
 * with the worker's own tools and therefore the registries they are configured for: `npm view`,
 * `go list -m` (module mode, in an empty folder), and pip's index with pip's own `packaging` for
 * the specifier. Nothing here names a registry host.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BumpSpec, ResolvedBump } from '../../core/bump.ts';

/** A bump that cannot resolve: the field to fix (`bump.package` or `bump.to`) and why. */
export class BumpResolveError extends Error {
  constructor(
    readonly field: 'bump.package' | 'bump.to',
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'BumpResolveError';
  }
}

interface Exec {
  stdout: string;
  stderr: string;
  code: number;
}

function exec(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<Exec> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${file} ${args[0] ?? ''} could not run on this worker: ${err.message}`));
          return;
        }
        resolve({ stdout, stderr, code: err ? Number(err.code) : 0 });
      },
    );
  });
}

const firstLines = (text: string, n = 3): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l && !/^WARNING: pip index is currently an experimental/.test(l) && !/complete log of this run/.test(l),
    )
    .slice(0, n)
    .join(' / ');

/** Orders two semver versions (npm's); pre-releases before their release. */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre = ''] = v.replace(/^v/, '').split('+')[0]?.split(/-(.*)/s) ?? [];
    return { nums: core.split('.').map(Number), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** What a resolved version may look like before it is written into a sandbox command. */
const VERSION_SHAPE = {
  npm: /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/,
  go: /^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+incompatible)?$/,
  pip: /^[0-9][0-9A-Za-z.!+-]*$/,
} as const;

async function npmVersion(bump: BumpSpec, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await exec('npm', ['view', `${bump.package}@${bump.to}`, 'version', '--json'], { env });
  let parsed: unknown = null;
  try {
    parsed = r.stdout.trim() ? (JSON.parse(r.stdout) as unknown) : null;
  } catch {
    parsed = null;
  }
  const error =
    typeof parsed === 'object' && parsed !== null && 'error' in parsed
      ? (parsed as { error: { code?: string; summary?: string } }).error
      : null;
  if (error || r.code !== 0) {
    const summary = error?.summary ?? firstLines(r.stderr);
    if (/No match found for version/i.test(summary))
      throw new BumpResolveError(
        'bump.to',
        `no version of ${bump.package} matches "${bump.to}" (npm: ${summary}); name a version or range that exists`,
      );
    if (error?.code === 'E404' || /\b404\b/.test(summary))
      throw new BumpResolveError(
        'bump.package',
        `the npm registry has no package "${bump.package}" (npm: ${summary}); check the name`,
      );
    throw new Error(`npm view ${bump.package}@${bump.to} failed: ${summary}`);
  }
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v): v is string => typeof v === 'string');
  const highest = versions.sort(compareSemver).at(-1);
  if (!highest)
    throw new BumpResolveError(
      'bump.to',
      `no version of ${bump.package} matches "${bump.to}"; name a version or range that exists`,
    );
  return highest;
}

async function goVersion(bump: BumpSpec, env: NodeJS.ProcessEnv): Promise<string> {
  // An empty folder: module mode, no go.mod of anyone's in the way.
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-bump-'));
  try {
    const r = await exec('go', ['list', '-m', '-json', `${bump.package}@${bump.to}`], {
      env: { ...env, GO111MODULE: 'on', GOFLAGS: '-mod=mod' },
      cwd: dir,
    });
    if (r.code !== 0) {
      const why = firstLines(r.stderr);
      if (/no matching versions for query/.test(why))
        throw new BumpResolveError(
          'bump.to',
          `no version of ${bump.package} matches "${bump.to}" (go: ${why}); name a version or query that exists`,
        );
      if (/not found|404|410|403|unrecognized import path|malformed module path|invalid/i.test(why)) {
        throw new BumpResolveError(
          'bump.package',
          `the Go module proxy has no module "${bump.package}" (go: ${why}); check the module path`,
        );
      }
      throw new Error(`go list -m ${bump.package}@${bump.to} failed: ${why}`);
    }
    const version = (JSON.parse(r.stdout) as { Version?: string }).Version;
    if (!version) throw new Error(`go list -m ${bump.package}@${bump.to} named no version`);
    return version;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The highest version a specifier allows (or the highest release for "latest"), by pip's vendored `packaging`. */
const PICK = `
import sys
from pip._vendor.packaging.specifiers import SpecifierSet
from pip._vendor.packaging.version import Version, InvalidVersion
spec = sys.argv[1]
versions = []
for v in sys.argv[2:]:
    try:
        versions.append(Version(v))
    except InvalidVersion:
        pass
allowed = [v for v in versions if not v.is_prerelease] if spec == 'latest' else list(SpecifierSet(spec).filter(versions))
print(str(max(allowed)) if allowed else '')
`;

async function pipVersion(bump: BumpSpec, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await exec(
    'python3',
    ['-m', 'pip', 'index', 'versions', '--disable-pip-version-check', '--no-input', bump.package],
    { env },
  );
  if (r.code !== 0) {
    const why = firstLines(r.stderr || r.stdout);
    if (/No matching distribution/i.test(why))
      throw new BumpResolveError(
        'bump.package',
        `the package index has no distribution "${bump.package}" (pip: ${why}); check the name`,
      );
    throw new Error(`pip index versions ${bump.package} failed: ${why}`);
  }
  const line = r.stdout.split('\n').find((l) => l.startsWith('Available versions:'));
  const versions = (line?.slice('Available versions:'.length) ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const spec =
    bump.to.trim() === 'latest' ? 'latest' : /^[0-9]/.test(bump.to.trim()) ? `==${bump.to.trim()}` : bump.to.trim();
  const picked = await exec('python3', ['-c', PICK, spec, ...versions], { env });
  if (picked.code !== 0)
    throw new BumpResolveError(
      'bump.to',
      `pip cannot read "${bump.to}" as a specifier (${firstLines(picked.stderr)}); use a version or a set such as ">=2,<3"`,
    );
  const version = picked.stdout.trim();
  if (!version)
    throw new BumpResolveError(
      'bump.to',
      `no version of ${bump.package} matches "${bump.to}" (available: ${versions.slice(0, 8).join(', ')}${versions.length > 8 ? ', …' : ''})`,
    );
  return version;
}

/** `to` as one concrete version, from the registry the worker's tool is configured for. */
export async function resolveBumpVersion(bump: BumpSpec, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedBump> {
  const to = bump.to.trim();
  const spec = { ...bump, to };
  const version =
    bump.ecosystem === 'npm'
      ? await npmVersion(spec, env)
      : bump.ecosystem === 'go'
        ? await goVersion(spec, env)
        : await pipVersion(spec, env);
  if (!VERSION_SHAPE[bump.ecosystem].test(version))
    throw new Error(
      `${bump.ecosystem} answered "${version}" for ${bump.package}@${to}, which is not a version Lockstep will write into a command`,
    );
  return { ecosystem: bump.ecosystem, package: bump.package, to, version };
}
