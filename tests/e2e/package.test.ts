/**
 * Lockstep as a user gets it: `npm pack` of this checkout, installed into an empty folder from
 * the npm cache the clone's `npm ci` filled, then `npx lockstep init` on two real bare remotes
 * (a Node service and a Go module), `npx lockstep run` of a steps change against a real Temporal
 * dev server with real Docker sandboxes, and `npx lockstep doctor` with a tools folder that is
 * still empty. State must land in that folder's .lockstep/ only: nothing new in the installed
 * package, nothing in the clone's own state folder.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { seedRemotes } from '../../client/machine/demo.ts';
import { projectRoot } from '../../config/paths.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { DoctorCheck } from '../../client/machine/doctor.ts';
import { startTestTemporal, uniqueSuffix } from '../helpers/temporal.ts';

const exec = promisify(execFile);

let root: string;
let work: string;
let installed: string;
let origin: string;
let env: TestWorkflowEnvironment;
let tarball: { file: string; bytes: number };
let installSeconds: number;
/** The per-user tools folder of this test: what the clone's bootstrap built, linked, so setup finds it all. */
let tools: string;
const cloneState = join(projectRoot, '.lockstep');

/** Every path under `dir` (relative), with its size and mtime, so a later listing shows any change. */
async function listing(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch(() => null);
    if (info) out.set(path.slice(dir.length + 1), `${info.size}:${info.mtimeMs}`);
  }
  return out;
}

function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([path, sig]) => before.get(path) !== sig).map(([path]) => path);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A user's shell environment: none of the npm_* variables `npm test` hands down (they describe
 * the clone), no LOCKSTEP_STATE_DIR or LOCKSTEP_TOOLS_DIR.
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('npm_') && name !== 'LOCKSTEP_STATE_DIR' && name !== 'LOCKSTEP_TOOLS_DIR',
    ),
  );
}

/** `npx lockstep <args>` in the working folder, as a user runs it. */
function npx(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const base = userEnv();
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['--no-install', 'lockstep', ...args],
      { cwd: work, env: { ...base, CI: 'true', ...extraEnv }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const SERVICES = {
  inventory: {
    'package.json': `${JSON.stringify({ name: 'inventory', private: true, type: 'module', scripts: { test: 'node --test' } }, null, 2)}\n`,
    'stock.js': 'export const LOW_STOCK = 5;\nexport const isLow = (count) => count < LOW_STOCK;\n',
    'stock.test.js':
      "import test from 'node:test';\nimport assert from 'node:assert';\nimport { LOW_STOCK, isLow } from './stock.js';\ntest('low stock', () => assert.equal(isLow(LOW_STOCK - 1), true));\n",
  },
  ledger: {
    'go.mod': 'module example.org/ledger\n\ngo 1.19\n',
    'ledger.go': 'package ledger\n\nconst LowStock = 5\n\nfunc IsLow(count int) bool { return count < LowStock }\n',
    'ledger_test.go':
      'package ledger\n\nimport "testing"\n\nfunc TestIsLow(t *testing.T) {\n\tif !IsLow(LowStock - 1) {\n\t\tt.Fatal("below the threshold is low")\n\t}\n}\n',
  },
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-package-'));
  work = join(root, 'work');
  origin = join(root, 'origin');
  const fleet = join(root, 'fleet');
  for (const [name, files] of Object.entries(SERVICES)) {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(fleet, name), { recursive: true });
      await writeFile(join(fleet, name, path), text);
    }
  }
  await mkdir(work, { recursive: true });
  tools = join(root, 'tools');
  await mkdir(join(tools, 'bin'), { recursive: true });
  for (const entry of await readdir(join(projectRoot, '.tools'))) {
    if (entry !== 'bin') await symlink(join(projectRoot, '.tools', entry), join(tools, entry));
  }
  const [temporal] = await Promise.all([
    startTestTemporal(),
    seedRemotes(fleet, origin),
    (async () => {
      const packed = JSON.parse(
        (await exec('npm', ['pack', '--json', '--pack-destination', root], { cwd: projectRoot, env: userEnv() }))
          .stdout,
      ) as { filename: string; size: number }[];
      tarball = { file: join(root, packed[0]?.filename ?? ''), bytes: packed[0]?.size ?? 0 };
      await writeFile(join(work, 'package.json'), '{ "private": true }\n');
      const started = performance.now();
      const flags = ['--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];
      await exec('npm', ['install', ...flags, tarball.file], {
        cwd: work,
        env: userEnv(),
        maxBuffer: 16 * 1024 * 1024,
      });
      installSeconds = (performance.now() - started) / 1000;
    })(),
  ]);
  env = temporal;
  installed = join(work, 'node_modules', 'lockstep');
  console.log(
    `package: ${(tarball.bytes / 1024).toFixed(0)} KB packed; npm install took ${installSeconds.toFixed(1)} s`,
  );
}, 600_000);

afterAll(async () => {
  await env?.teardown();
  await rm(root, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('ships the product only', async () => {
    const shipped = await readdir(installed);
    expect(shipped).toEqual(expect.arrayContaining(['bin', 'cli', 'workflows', 'activities', 'scripts', 'schemas']));
    for (const absent of ['tests', '.tools', '.lockstep', 'bench', 'docs', 'node_modules'])
      expect(shipped).not.toContain(absent);
    expect(await readdir(join(installed, 'scripts'))).not.toContain('temporal-cluster.sh');
  });

  it('sets up the per-user tools folder with the packaged bootstrap, keeping what is already there', async () => {
    const setup = await npx(['setup'], { LOCKSTEP_TOOLS_DIR: tools });
    expect(setup.code, setup.stderr).toBe(0);
    for (const part of ['Temporal CLI', 'gitleaks', 'semgrep', 'sandbox image']) {
      expect(setup.stderr).toMatch(new RegExp(`\\[bootstrap\\] ${part} \\S+: present`));
    }
    expect(setup.stderr).toContain('[bootstrap] npm packages: installed with the package');
    expect(setup.stderr).not.toContain('npm ci');
    expect(setup.stderr).toContain(`lockstep: tools are in ${tools}`);
    // The Temporal CLI's link is the tools folder's own; the bootstrap's logs stay with the tools.
    expect((await stat(join(tools, 'bin', 'temporal'))).isFile()).toBe(true);
    expect(await readdir(join(tools, 'setup'))).toContain('logs');
  });

  it('inits a fleet from two remotes and runs a steps change with all its state in the working folder', async () => {
    const packageBefore = await listing(installed);
    const cloneBefore = await listing(cloneState);

    const init = await npx(['init', join(origin, 'remotes', 'inventory.git'), join(origin, 'remotes', 'ledger.git')]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('wrote repos.config.json (2 repos)');
    const config = await readFile(join(work, 'repos.config.json'), 'utf8');
    expect(config).toContain('"test": "node --test"');
    expect(config).toContain('"test": "go test ./..."');
    expect(config).toContain('"$schema": "./node_modules/lockstep/schemas/repos.config.schema.json"');
    // A second init keeps the file.
    const again = await npx(['init', join(origin, 'remotes', 'inventory.git')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('repos.config.json: already exists');
    expect(await readFile(join(work, 'repos.config.json'), 'utf8')).toBe(config);

    const changeId = `low-stock-${uniqueSuffix()}`;
    await writeFile(
      join(work, 'change.yaml'),
      stringify({
        id: changeId,
        title: 'Raise the low-stock threshold to 10',
        description: 'Both services flag low stock below 10 items instead of 5.',
        repos: [
          {
            name: 'inventory',
            steps: [{ name: 'threshold 10', run: "sed -i 's/LOW_STOCK = 5/LOW_STOCK = 10/' stock.js" }],
          },
          {
            name: 'ledger',
            steps: [{ name: 'threshold 10', run: "sed -i 's/LowStock = 5/LowStock = 10/' ledger.go" }],
          },
        ],
      }),
    );
    const run = await npx(['run', 'change.yaml', '--json'], {
      TEMPORAL_ADDRESS: env.address,
      LOCKSTEP_TASK_QUEUE: `package-${uniqueSuffix()}`,
      LOCKSTEP_HOST_ID: `package-host-${uniqueSuffix()}`,
      LOCKSTEP_TOOLS_DIR: tools,
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ChangeResult;
    expect(result.status).toBe('succeeded');
    expect(result.repos.map((r) => [r.repo, r.status]).sort()).toEqual([
      ['inventory', 'green'],
      ['ledger', 'green'],
    ]);

    // The branches reached the remotes, with the steps' edit.
    const show = (repo: string, path: string) =>
      exec('git', ['--git-dir', join(origin, 'remotes', `${repo}.git`), 'show', `lockstep/${changeId}:${path}`]);
    expect((await show('inventory', 'stock.js')).stdout).toContain('LOW_STOCK = 10');
    expect((await show('ledger', 'ledger.go')).stdout).toContain('LowStock = 10');

    // State in the working folder: pull request records, logs, workspaces' parent.
    const state = join(work, '.lockstep');
    for (const repo of ['inventory', 'ledger']) {
      const pr = JSON.parse(await readFile(join(state, 'forge', 'local', repo, 'pulls', '1.json'), 'utf8')) as {
        head: string;
      };
      expect(pr.head).toBe(`lockstep/${changeId}`);
    }
    expect(await readdir(join(state, 'logs', changeId))).toEqual(expect.arrayContaining(['inventory', 'ledger']));
    // Nothing new in the installed package, nothing in the clone's state folder.
    expect(changed(packageBefore, await listing(installed))).toEqual([]);
    // (A Docker engine the clone's bootstrap started keeps writing its own log there, and other
    // test files running beside this one fill their download cache there: tests/helpers/recipes.ts.)
    const daemonLog = join('logs', 'dockerd.log');
    const testCache = 'test-cache';
    expect(
      changed(cloneBefore, await listing(cloneState)).filter(
        (p) => p !== daemonLog && p !== testCache && !p.startsWith(`${testCache}/`),
      ),
    ).toEqual([]);
  });

  it('doctor passes what is here and fails the tools setup has not installed yet, with the fix', async () => {
    const cache = join(root, 'cache');
    const doctor = await npx(['doctor', '--json'], { XDG_CACHE_HOME: cache, TEMPORAL_ADDRESS: env.address });
    expect(doctor.code).toBe(3);
    const report = JSON.parse(doctor.stdout) as { healthy: boolean; checks: DoctorCheck[] };
    const check = (name: string) => report.checks.find((c) => c.name === name);
    expect(report.healthy).toBe(false);
    expect(check('docker')?.status).toBe('pass');
    expect(check('temporal')).toMatchObject({ status: 'pass', detail: `a server answers at ${env.address}` });
    expect(check('temporal')?.lines).toContain(`address: ${env.address} [TEMPORAL_ADDRESS]`);
    // An installed package keeps its tools per user, and its fix is setup, not the clone's bootstrap.
    expect(check('gate tools')).toEqual({
      name: 'gate tools',
      status: 'fail',
      detail: `buf, gitleaks, semgrep missing from ${join(cache, 'lockstep', 'gate', 'bin')}`,
      fix: 'run "npx lockstep setup"',
    });

    const text = await npx(['doctor'], { XDG_CACHE_HOME: cache, TEMPORAL_ADDRESS: env.address });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^ok {3}docker/m);
    expect(text.stdout).toMatch(/^FAIL gate tools +buf, gitleaks, semgrep missing/m);
    expect(text.stdout).toContain('fix: run "npx lockstep setup"');
  });
});
