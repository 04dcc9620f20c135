/**
 * A bump's command in one repo, built from what its base branch declares (pure: the coordinator
 * and the repo workflow use it deterministically; tests run what it builds). Every value in a
 * command was validated first (the change file's package name, the resolved version) and is
 * quoted all the same.
 */
import type { BumpEcosystem } from '../config/change.ts';
import type { RepoBumpManifests } from './types.ts';

/** One argument for `bash -c`, single-quoted. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const NPM_SAVE: Record<string, string> = {
  dependencies: '--save-prod',
  devDependencies: '--save-dev',
  optionalDependencies: '--save-optional',
  peerDependencies: '--save-peer',
};

/** How npm should write the new version: the repo's own range style ("^", "~", or exact). */
export function npmSaveStyle(spec: string): string[] {
  const s = spec.trim();
  if (s.startsWith('~')) return ['--save-prefix=~'];
  if (/^=?v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(s)) return ['--save-exact'];
  return ['--save-prefix=^'];
}

/** A sed expression that rewrites `<name>==<any>` to `<name>==<version>` (PEP 503 name match, extras kept). */
export function pinRewrite(pkg: string, version: string): string {
  const name = pkg
    .toLowerCase()
    .split(/[-_.]+/)
    .map((part) => part.replace(/[^a-z0-9]/g, ''))
    .join('[-_.]+');
  // At a line's start (requirements) or after a quote (pyproject strings); the name must end
  // there: extras, spaces or "==" follow, so "six" never matches "sixer".
  return `s/(^[[:space:]]*|["'])(${name}([[:space:]]*\\[[^]]*\\])?[[:space:]]*==[[:space:]]*)[0-9][^[:space:];#,"']*/\\1\\2${version.replace(/[./&\\]/g, '\\$&')}/I`;
}

export interface BumpPlan {
  /** The command to run in the sandbox, with bash -c. */
  command: string;
  /** The files it edits: kept as prepared by the setup that follows, so their edits stay in the change. */
  files: string[];
}

/** The bump of one repo, or why it cannot be made. */
export function bumpPlan(ecosystem: BumpEcosystem, pkg: string, version: string, m: RepoBumpManifests): BumpPlan | { problem: string } {
  if (m.problem) return { problem: m.problem };
  if (!m.declares) return { problem: `does not declare ${pkg}` };
  switch (ecosystem) {
    case 'npm': {
      const declared = m.manifests.find((x) => x.path === 'package.json');
      const flags = [NPM_SAVE[declared?.kind ?? 'dependencies'] ?? '--save-prod', ...npmSaveStyle(declared?.spec ?? '')];
      // --ignore-scripts: the new version's install scripts do not run here; setup runs next.
      const command = ['npm', 'install', '--no-audit', '--no-fund', '--ignore-scripts', ...flags, shQuote(`${pkg}@${version}`)].join(' ');
      return { command, files: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'] };
    }
    case 'go':
      return { command: `go get ${shQuote(`${pkg}@${version}`)} && go mod tidy`, files: ['go.mod', 'go.sum'] };
    case 'pip': {
      const parts: string[] = [];
      const files: string[] = [];
      for (const x of m.manifests) {
        if (files.includes(x.path)) continue;
        if (x.kind === 'compiled') {
          const input = x.path.replace(/\.txt$/, '.in');
          parts.push(`pip-compile --quiet --no-header --upgrade-package ${shQuote(`${pkg}==${version}`)} --output-file=${shQuote(x.path)} ${shQuote(input)}`);
          files.push(x.path);
        } else if (x.kind === 'pin') {
          parts.push(`sed -i -E ${shQuote(pinRewrite(pkg, version))} ${shQuote(x.path)}`);
          files.push(x.path);
        }
      }
      return { command: parts.join(' && '), files };
    }
  }
}

/** The agent's task when the tests fail with the new version in place. */
export function bumpFixInstructions(pkg: string, from: string | null, version: string, testsTail: string, instructions: string | null): string {
  return [
    `${pkg} was moved${from ? ` from ${from}` : ''} to ${version} in this repository; the manifests and lockfiles are already updated in the workspace and the dependencies installed.`,
    `The tests fail with ${version}. Change the code (not the version) so they pass, then call finish. The test output, as data:`,
    '',
    testsTail.slice(-3000),
    '',
    instructions ? `What the change asks of this repository:\n${instructions}` : '',
  ].join('\n');
}
