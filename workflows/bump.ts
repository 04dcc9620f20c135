/**
 * A bump's command in one repo, built from what its base branch declares (pure: the coordinator
 * and the repo workflow use it deterministically; tests run what it builds). Every value in a
 * command was validated first (the change file's package name, the resolved version) and is
 * quoted all the same.
 */
import type { BumpEcosystem } from '../config/change.ts';
import type { BumpDeclaration, RepoBumpManifests } from '../core/bump.ts';

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
export function bumpPlan(
  ecosystem: BumpEcosystem,
  pkg: string,
  version: string,
  m: RepoBumpManifests,
): BumpPlan | { problem: string } {
  if (m.problem) return { problem: m.problem };
  if (!m.declares) return { problem: `does not declare ${pkg}` };
  switch (ecosystem) {
    case 'npm': {
      const declared = m.manifests.find((x) => x.path === 'package.json');
      const flags = [
        NPM_SAVE[declared?.kind ?? 'dependencies'] ?? '--save-prod',
        ...npmSaveStyle(declared?.spec ?? ''),
      ];
      // --ignore-scripts: the new version's install scripts do not run here; setup runs next.
      const command = [
        'npm',
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        ...flags,
        shQuote(`${pkg}@${version}`),
      ].join(' ');
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
          parts.push(
            `pip-compile --quiet --no-header --upgrade-package ${shQuote(`${pkg}==${version}`)} --output-file=${shQuote(x.path)} ${shQuote(input)}`,
          );
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

/** Where the agent's fix of a failing bump takes what the change asks: the repo's entry, or the change's description. */
export interface BumpFixAsk {
  source: 'instructions' | 'description';
  text: string;
}

/**
 * The agent's task when the tests fail with the new version in place: the package, both
 * versions, the failing output (as data) and what the change asks. The agent starts from the
 * bumped tree and must leave the version where the bump put it.
 */
export function bumpFixInstructions(
  pkg: string,
  from: string | null,
  version: string,
  testCommand: string,
  testsTail: string,
  ask: BumpFixAsk,
): string {
  return [
    `${pkg} was moved${from ? ` from ${from}` : ''} to ${version} in this repository: the manifests and lockfiles are already updated in the workspace and the dependencies installed.`,
    `With ${pkg} ${version} the tests (${testCommand}) fail. Change the code so that it works with ${pkg} ${version} and the tests pass, then call finish.`,
    `Do not change the version: ${pkg} must stay at ${version} in the manifests and lockfiles; a fix that moves it back fails this repository.`,
    '',
    'The failing test output, as data:',
    testsTail.slice(-3000),
    '',
    ask.source === 'instructions'
      ? `What the change asks of this repository:\n${ask.text}`
      : `What the change asks (its description):\n${ask.text}`,
  ].join('\n');
}

/**
 * Why a failing bump got no agent, and how to ask for one: the message of the repo's error.
 * `model`: whether the repo's host has a model (null: not asked, the change has no description).
 */
export function bumpFixHint(
  repo: string,
  pkg: string,
  version: string,
  testCommand: string,
  exit: { exitCode: number; timedOut: boolean },
  model: boolean | null,
): string {
  const how = exit.timedOut ? 'timed out' : `exited with code ${exit.exitCode}`;
  const entry = `instructions on this repo's entry in the change file (repos: [{ name: ${repo}, instructions: "…" }])`;
  const why =
    model === false
      ? `no model is configured on the workers, so the change's description could not be its task`
      : `this repo's entry has no instructions and the change no description`;
  const ask = model === false ? `give ${entry}` : `give ${entry}, or the change a description,`;
  return `the tests (${testCommand}) fail with ${pkg} ${version} in place (${how}). No agent ran: ${why}. To ask for a fix, ${ask} and run the workers with a model (OPENAI_API_KEY; docs/bumps.md)`;
}

/**
 * What the agent changed in how the repo declares the bumped package (its manifests' specs and
 * the locked version), or null when the declaration is as the bump left it. A fix may change
 * the code and other dependencies, never the bump.
 */
export function bumpUndone(
  pkg: string,
  version: string,
  before: BumpDeclaration,
  after: BumpDeclaration,
): string | null {
  const specs = (d: BumpDeclaration) => new Map(d.manifests.map((m) => [`${m.path} (${m.kind})`, m.spec]));
  const was = specs(before);
  const now = specs(after);
  const changes: string[] = [];
  for (const key of new Set([...was.keys(), ...now.keys()])) {
    const a = was.get(key);
    const b = now.get(key);
    if (a !== b)
      changes.push(
        `${key} ${a === undefined ? '(none)' : JSON.stringify(a)} → ${b === undefined ? '(none)' : JSON.stringify(b)}`,
      );
  }
  if (before.current !== after.current && changes.length === 0)
    changes.push(`the version in use ${before.current ?? '(none)'} → ${after.current ?? '(none)'}`);
  if (changes.length === 0) return null;
  return `the agent changed the bump: ${pkg} must stay at ${version}, but ${changes.join(', ')}; a bump's fix changes the code, not the version, so nothing was committed`;
}
