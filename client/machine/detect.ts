/**
 * What `lockstep init` reads from a repository's files at its base branch: the test command,
 * the toolchain and its version, and the setup that installs dependencies from a lockfile.
 * Pure: it sees the repository only through `RepoFiles`, so tests give it any shape.
 */

export interface RepoFiles {
  /** Paths of the top-level entries. */
  names: readonly string[];
  /** A top-level file's text, or null when it is absent. */
  read(name: string): Promise<string | null>;
}

/** Where a comment in repos.config.json goes: above this field of the repo's sandbox. */
export type SandboxField = 'image' | 'setup' | 'test';

export interface DetectedSandbox {
  image: string;
  setup: string | null;
  /** Hosts the setup downloads from (sandbox.egress.allow); empty without a setup. */
  egress: string[];
  /** The test command, or null when none was found. */
  test: string | null;
  /** Why each value is what it is, written as comments above its field. */
  notes: { field: SandboxField; text: string }[];
}

export const DEFAULT_IMAGE = 'lockstep-sandbox:latest';

/**
 * The toolchains of the default image (Debian bookworm's packages in
 * scripts/sandbox-image/packages.txt). A repo that asks for a newer one needs its own image.
 */
export const DEFAULT_TOOLCHAINS = { node: '18', go: '1.19', python: '3.11' } as const;

const TOOLCHAIN_NAMES = { node: 'Node.js', go: 'Go', python: 'Python', rust: 'Rust' } as const;
type Toolchain = keyof typeof TOOLCHAIN_NAMES;

/** npm's placeholder for "no tests": not a test command. */
const NPM_NO_TEST = /no test specified/;

/** The first version number in a constraint (">=20.3", "^22 || ^24", "v24.1.0", "go 1.26"), as [major, minor]. */
export function leadingVersion(constraint: string): [number, number] | null {
  const match = /(\d+)(?:\.(\d+))?/.exec(constraint);
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : null;
}

const newer = (a: [number, number], b: [number, number]): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

function firstLine(text: string | null): string | null {
  const line = text?.split('\n')[0]?.trim();
  return line ? line : null;
}

function tomlString(text: string, key: string): string | null {
  return new RegExp(`^\\s*${key}\\s*=\\s*["']([^"']+)["']`, 'm').exec(text)?.[1] ?? null;
}

interface Requirement {
  toolchain: Toolchain;
  /** The constraint as written, or null when the repo states none. */
  constraint: string | null;
  /** Where it was read, for the comment. */
  source: string;
}

/**
 * The image a requirement needs: the default one when its toolchain there is new enough (and,
 * for Node.js, when the repo needs no npm: the default image has Node.js without npm).
 */
function imageFor(req: Requirement, needsNpm: boolean): { image: string; note: string } {
  const name = TOOLCHAIN_NAMES[req.toolchain];
  const stated = req.constraint ? `${req.source} asks for ${name} ${req.constraint}` : `${name} (${req.source})`;
  const wanted = req.constraint ? leadingVersion(req.constraint) : null;
  const own = req.toolchain === 'rust' ? null : DEFAULT_TOOLCHAINS[req.toolchain];
  const ownVersion = leadingVersion(own ?? '0') ?? [0, 0];
  const fits = own !== null && (!wanted || !newer(wanted, ownVersion));
  if (fits && !needsNpm) return { image: DEFAULT_IMAGE, note: `${stated}; ${DEFAULT_IMAGE} has ${name} ${own}` };
  const at = wanted && newer(wanted, ownVersion) ? wanted : ownVersion;
  const version = own === null && !wanted ? 'stable' : req.toolchain === 'node' ? `${at[0]}` : `${at[0]}.${at[1]}`;
  const image = `lockstep-${req.toolchain}:${version}`;
  const has = own === null ? `has no ${name}` : fits ? `has ${name} ${own} but no npm` : `has ${name} ${own} only`;
  return {
    image,
    note: `${stated}; ${DEFAULT_IMAGE} ${has}: build ${image} on top of it (docs/environments.md, recipes in the package's examples/images/) or name your own image here`,
  };
}

export async function detectSandbox(files: RepoFiles): Promise<DetectedSandbox> {
  const has = (name: string): boolean => files.names.includes(name);
  const notes: DetectedSandbox['notes'] = [];
  let test: string | null = null;
  let setup: string | null = null;
  let egress: string[] = [];
  let requirement: Requirement | null = null;
  let needsNpm = false;
  let nodeScript: string | null = null;

  const packageJson = await files.read('package.json');
  const goMod = await files.read('go.mod');
  const pyproject = await files.read('pyproject.toml');
  const cargo = await files.read('Cargo.toml');

  if (packageJson !== null) {
    let manifest: { scripts?: Record<string, unknown>; engines?: Record<string, unknown> } = {};
    try {
      manifest = JSON.parse(packageJson) as typeof manifest;
    } catch {
      notes.push({ field: 'test', text: 'package.json is not valid JSON, so its scripts could not be read' });
    }
    const script = manifest.scripts?.test;
    if (typeof script === 'string' && !NPM_NO_TEST.test(script)) {
      nodeScript = script;
      test = 'npm test';
      notes.push({ field: 'test', text: `package.json scripts.test: ${script}` });
    }
    const engine = manifest.engines?.node;
    const nvmrc = firstLine(await files.read('.nvmrc'));
    const nodeVersion = firstLine(await files.read('.node-version'));
    requirement =
      typeof engine === 'string'
        ? { toolchain: 'node', constraint: engine, source: 'package.json engines.node' }
        : nvmrc
          ? { toolchain: 'node', constraint: nvmrc, source: '.nvmrc' }
          : nodeVersion
            ? { toolchain: 'node', constraint: nodeVersion, source: '.node-version' }
            : { toolchain: 'node', constraint: null, source: 'package.json' };
    const lockfile = ['package-lock.json', 'npm-shrinkwrap.json'].find(has);
    if (lockfile) {
      needsNpm = true;
      setup = 'npm ci';
      egress = ['registry.npmjs.org'];
      notes.push({ field: 'setup', text: `${lockfile}: dependencies installed by npm ci from the npm registry` });
    } else if (has('yarn.lock') || has('pnpm-lock.yaml')) {
      notes.push({
        field: 'setup',
        text: `${has('yarn.lock') ? 'yarn.lock' : 'pnpm-lock.yaml'}: add the install command and its registry (sandbox.egress) yourself; the default image has npm only`,
      });
    }
  } else if (goMod !== null) {
    test = 'go test ./...';
    notes.push({ field: 'test', text: 'go.mod: a Go module' });
    const go = /^go\s+(\S+)/m.exec(goMod)?.[1] ?? null;
    requirement = { toolchain: 'go', constraint: go, source: "go.mod's go line" };
    if (has('go.sum')) {
      setup = 'go mod download';
      egress = ['proxy.golang.org', 'sum.golang.org'];
      notes.push({ field: 'setup', text: 'go.sum: modules downloaded from the Go module proxy' });
    }
  } else if (pyproject !== null || has('requirements.txt') || has('setup.py')) {
    test = 'python3 -m pytest';
    const from = pyproject !== null ? 'pyproject.toml' : has('requirements.txt') ? 'requirements.txt' : 'setup.py';
    notes.push({
      field: 'test',
      text: `${from}: a Python project, tested with pytest (use "python3 -m unittest" if it has no pytest)`,
    });
    const requires = pyproject !== null ? tomlString(pyproject, 'requires-python') : null;
    const pinned = firstLine(await files.read('.python-version'));
    requirement = requires
      ? { toolchain: 'python', constraint: requires, source: 'pyproject.toml requires-python' }
      : pinned
        ? { toolchain: 'python', constraint: pinned, source: '.python-version' }
        : { toolchain: 'python', constraint: null, source: from };
    notes.push({
      field: 'setup',
      text: 'Python dependencies (pytest among them) need an image that has them, or a setup that installs them with egress to pypi.org and files.pythonhosted.org',
    });
  } else if (cargo !== null) {
    test = 'cargo test';
    notes.push({ field: 'test', text: 'Cargo.toml: a Rust crate' });
    const toolchainFile = await files.read('rust-toolchain.toml');
    const channel =
      toolchainFile !== null ? tomlString(toolchainFile, 'channel') : firstLine(await files.read('rust-toolchain'));
    const rustVersion = tomlString(cargo, 'rust-version');
    requirement = rustVersion
      ? { toolchain: 'rust', constraint: rustVersion, source: 'Cargo.toml rust-version' }
      : channel
        ? { toolchain: 'rust', constraint: channel, source: 'rust-toolchain' }
        : { toolchain: 'rust', constraint: null, source: 'Cargo.toml' };
  }

  const makefile = (await files.read('Makefile')) ?? (await files.read('makefile'));
  if (test === null && makefile !== null && /^test\s*:/m.test(makefile)) {
    test = 'make test';
    notes.push({
      field: 'test',
      text: `the Makefile's test target (${DEFAULT_IMAGE} has no make: name an image that has it)`,
    });
  }

  let image = DEFAULT_IMAGE;
  if (requirement) {
    const chosen = imageFor(requirement, needsNpm);
    image = chosen.image;
    notes.push({ field: 'image', text: chosen.note });
  }
  if (nodeScript !== null && image === DEFAULT_IMAGE) {
    // No npm to run it: the script itself, which is all npm test would run here (no dependencies).
    test = nodeScript;
    notes.push({ field: 'test', text: `run as written: ${DEFAULT_IMAGE} has no npm` });
  }
  if (test === null) {
    notes.push({
      field: 'test',
      text: 'no test command found (package.json scripts.test, go.mod, pyproject.toml, requirements.txt, Cargo.toml or a Makefile test target): set it',
    });
  }
  return { image, setup, egress, test, notes };
}
