/**
 * Synthetic fleets for the benchmarks: N small Python repositories, each with a bare remote
 * under a temporary state folder, a `repos.config.json` naming them and a change file with a
 * one-line change step. The test command is `python3 -m unittest` over a dozen tests, one of
 * which does a little real work, so a test run takes a fraction of a second like a small
 * project's suite.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const SANDBOX_IMAGE = 'lockstep-sandbox:latest';
export const TEST_COMMAND = 'python3 -m unittest discover -s tests';
/** The one-line change: bump the version constant, and check that the line changed. */
export const STEP_COMMAND = `sed -i 's/^VERSION = "1.0.0"$/VERSION = "1.0.1"/' app/version.py && grep -q '^VERSION = "1.0.1"$' app/version.py`;
export const LIMITS = { cpus: 1, memoryMb: 1024, pids: 256, tmpfsMb: 512 } as const;
/**
 * The light fleet (fleet scale, docs/performance.md): the same workflows, sandboxes, git and
 * pull requests, with a step and tests that do almost nothing, so what is measured at 10,000
 * repos is the orchestration.
 */
export const LIGHT_STEP_COMMAND = "echo 1.0.1 > VERSION && grep -qx '1.0.1' VERSION";
export const LIGHT_TEST_COMMAND = 'true';
/** The worker environment variable a resume fleet's step reads to fail on purpose. */
export const FAIL_ENV = 'BENCH_FAIL_REPO';

export interface Fleet {
  root: string;
  stateDir: string;
  configFile: string;
  changeFile: string;
  repos: string[];
  remote(repo: string): string;
  cleanup(): Promise<void>;
}

export const repoName = (i: number, total = 999): string =>
  `r${String(i).padStart(Math.max(3, String(total).length), '0')}`;

function projectFiles(name: string): Record<string, string> {
  const calc = [
    'def add(a, b):',
    '    return a + b',
    '',
    '',
    'def mean(values):',
    '    return sum(values) / len(values) if values else 0.0',
    '',
    '',
    'def primes_below(n):',
    '    sieve = bytearray([1]) * n',
    '    sieve[0:2] = b"\\x00\\x00"',
    '    for i in range(2, int(n ** 0.5) + 1):',
    '        if sieve[i]:',
    '            sieve[i * i::i] = bytearray(len(range(i * i, n, i)))',
    '    return [i for i, v in enumerate(sieve) if v]',
    '',
    '',
    'def fib(n):',
    '    a, b = 0, 1',
    '    for _ in range(n):',
    '        a, b = b, a + b',
    '    return a',
    '',
  ].join('\n');
  const tests = [
    'import json',
    'import re',
    'import unittest',
    '',
    'from app import calc, version',
    '',
    '',
    'class CalcTest(unittest.TestCase):',
    ...Array.from({ length: 10 }, (_, i) => [
      `    def test_add_${i}(self):`,
      `        self.assertEqual(calc.add(${i}, ${i * 2}), ${i * 3})`,
      '',
    ]).flat(),
    '    def test_mean(self):',
    '        self.assertAlmostEqual(calc.mean([1, 2, 3, 4]), 2.5)',
    '',
    '    def test_primes(self):',
    '        self.assertEqual(len(calc.primes_below(2_000_000)), 148933)',
    '',
    '    def test_fib(self):',
    '        self.assertEqual(calc.fib(5000) % 1000007, calc.fib(5000) % 1000007)',
    '        total = sum(calc.fib(i) % 97 for i in range(1500)) + sum(i * i % 7 for i in range(6_000_000))',
    '        self.assertGreater(total, 0)',
    '',
    '    def test_json_roundtrip(self):',
    '        data = {"items": [{"id": i, "name": f"item-{i}"} for i in range(20000)]}',
    '        self.assertEqual(json.loads(json.dumps(data)), data)',
    '',
    '',
    'class VersionTest(unittest.TestCase):',
    '    def test_semver(self):',
    '        self.assertRegex(version.VERSION, re.compile(r"^\\d+\\.\\d+\\.\\d+$"))',
    '',
    '',
    'if __name__ == "__main__":',
    '    unittest.main()',
    '',
  ].join('\n');
  return {
    'README.md': `# ${name}\n\nA synthetic service for the Lockstep benchmarks.\n`,
    'app/__init__.py': '',
    'app/version.py': 'VERSION = "1.0.0"\n',
    'app/calc.py': calc,
    'tests/__init__.py': '',
    'tests/test_calc.py': tests,
  };
}

const gitIdentity = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'user.name=Lockstep Bench',
  '-c',
  'user.email=bench@lockstep.invalid',
];

async function seedRemote(remote: string, name: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), `lockstep-bench-seed-${name}-`));
  try {
    for (const [path, text] of Object.entries(projectFiles(name))) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), text);
    }
    const git = (...args: string[]) => exec('git', [...gitIdentity, ...args], { cwd: work });
    await git('init', '--quiet', '--initial-branch', 'main');
    await git('add', '--all');
    await git('commit', '--quiet', '--no-verify', '-m', `Initial import of ${name}`);
    await exec('git', ['clone', '--quiet', '--bare', '--no-hardlinks', work, remote]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The light fleet's one-file repository: every remote is a copy of this one. */
async function seedLightRemote(remote: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lockstep-bench-seed-light-'));
  try {
    await writeFile(join(work, 'VERSION'), '1.0.0\n');
    const git = (...args: string[]) => exec('git', [...gitIdentity, ...args], { cwd: work });
    await git('init', '--quiet', '--initial-branch', 'main');
    await git('add', '--all');
    await git('commit', '--quiet', '--no-verify', '-m', 'Initial import');
    // No template: no sample hooks, a dozen files to copy per repo.
    await exec('git', ['clone', '--quiet', '--bare', '--no-hardlinks', '--template=', work, remote]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface FleetOptions {
  /** Change id written into the change file (runs override it). */
  changeId?: string;
  /** Make this repo's step fail while the worker's BENCH_FAIL_REPO names it (figure 5). */
  failRepo?: string;
  /** The light fleet: one-file repos (copies of one bare remote), LIGHT_STEP_COMMAND and LIGHT_TEST_COMMAND. */
  light?: boolean;
  /** The change's concurrency (default 4). */
  concurrency?: number;
}

/** Creates N repositories with bare remotes, their config and a change file. */
export async function createFleet(n: number, options: FleetOptions = {}): Promise<Fleet> {
  const root = await mkdtemp(join(tmpdir(), 'lockstep-bench-'));
  liveRoots.add(root);
  const stateDir = join(root, '.lockstep');
  const repos = Array.from({ length: n }, (_, i) => repoName(i + 1, n));
  const remote = (repo: string): string => join(stateDir, 'remotes', `${repo}.git`);
  await mkdir(join(stateDir, 'remotes'), { recursive: true });
  if (options.light) {
    // One bare remote, copied: each repo is a real separate remote, made in milliseconds.
    const template = join(root, 'light-template.git');
    await seedLightRemote(template);
    for (let i = 0; i < repos.length; i += 16) {
      await Promise.all(repos.slice(i, i + 16).map((r) => cp(template, remote(r), { recursive: true })));
    }
    await rm(template, { recursive: true, force: true });
  } else {
    // Seed a few at a time: this is set-up, not measured.
    for (let i = 0; i < repos.length; i += 8) {
      await Promise.all(repos.slice(i, i + 8).map((r) => seedRemote(remote(r), r)));
    }
  }
  const testCommand = options.light ? LIGHT_TEST_COMMAND : TEST_COMMAND;
  const stepCommand = options.light ? LIGHT_STEP_COMMAND : STEP_COMMAND;
  const config = {
    concurrency: options.concurrency ?? 4,
    forge: { type: 'local' },
    // The guardrail scan (gitleaks and semgrep over each repo's diff) is work the baseline does
    // not do; it is off here so the figures compare the same work (docs/performance.md).
    gate: { secrets: false, insecure: false },
    defaults: {
      sandbox: {
        image: SANDBOX_IMAGE,
        timeouts: { setupSeconds: 300, stepSeconds: 120, testSeconds: 300 },
        limits: { ...LIMITS },
      },
    },
    repos: repos.map((name) => ({
      name,
      url: `.lockstep/remotes/${name}.git`,
      baseBranch: 'main',
      sandbox: { test: testCommand, ...(options.failRepo ? { passEnv: [FAIL_ENV] } : {}) },
    })),
  };
  const configFile = join(root, 'repos.config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2) + '\n');
  // The failing repo's step refuses to run while the worker's environment sets FAIL_ENV.
  const step = (name: string): string =>
    name === options.failRepo ? `test -z "\${${FAIL_ENV}:-}" && ${stepCommand}` : stepCommand;
  const change = {
    id: options.changeId ?? 'bench-bump',
    title: 'Bump the patch version',
    description: 'A one-line change in every repository of the synthetic fleet.',
    repos: repos.map((name) => ({ name, steps: [{ name: 'Bump version', run: step(name) }] })),
  };
  const changeFile = join(root, 'change.json');
  await writeFile(changeFile, JSON.stringify(change, null, 2) + '\n');
  const cleanup = async (): Promise<void> => {
    await rm(root, { recursive: true, force: true });
    liveRoots.delete(root);
  };
  return { root, stateDir, configFile, changeFile, repos, remote, cleanup };
}

/** Roots of fleets not cleaned up yet, so an interrupted benchmark can remove them. */
const liveRoots = new Set<string>();

export async function cleanupAllFleets(): Promise<void> {
  await Promise.all([...liveRoots].map((root) => rm(root, { recursive: true, force: true })));
  liveRoots.clear();
}
