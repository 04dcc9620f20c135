/**
 * The prepared environment on real parts (Temporal, Docker sandboxes, git). Only the change is
 * committed: web's setup leaves a node_modules folder, a symlink named like the ignored folder, a
 * venv, build output and a rewritten lockfile, and the branch must hold exactly what the steps
 * changed while the tests still see the prepared tree. The gate runs each repo's setup before
 * its contract commands (kiosk's pact and web's verifier need what setup installs), and a check
 * that could not run (a missing command, a setup that fails) is reported as such, blaming no one.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { listCaches } from '../../activities/sandbox/cache.ts';
import { fixtureFleet } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import type { ChangeResult } from '../../core/change.ts';

const exec = promisify(execFile);
let h: Harness;

beforeAll(async () => {
  h = await startHarness('prepared', { fleet: fixtureFleet('prepared-fleet') });
});
afterAll(async () => h?.close());

async function change(id: string, steps: string[], repo = 'web'): Promise<ChangeResult> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: `Prepared: ${id}`,
      description: 'prepared fixture change',
      repos: [{ name: repo, steps: steps.map((run, i) => ({ name: `step ${i + 1}`, run })) }],
    }),
  );
  return h.run(await h.changeInput(file));
}

const gitOut = async (...args: string[]): Promise<string> =>
  (await exec('git', ['--git-dir', h.fleet.remote('web'), ...args])).stdout;
const branchFiles = async (id: string): Promise<string[]> =>
  (await gitOut('ls-tree', '-r', '--name-only', `lockstep/${id}`)).split('\n').filter(Boolean).sort();
/** The output of every setup of `repo` in a change: its own run's first, then the gate's. */
async function setupLogs(changeId: string, repo: string): Promise<string[]> {
  const dir = join(h.fleet.stateDir, 'logs', changeId);
  const sandboxes = (await readdir(dir))
    .filter((d) => d === repo || (d.startsWith('gate-') && d.endsWith(`-${repo}`)))
    .sort((a, b) => Number(a.startsWith('gate-')) - Number(b.startsWith('gate-')));
  const logs: string[] = [];
  for (const s of sandboxes)
    for (const f of (await readdir(join(dir, s))).filter((f) => f.includes('-setup-')))
      logs.push(await readFile(join(dir, s, f), 'utf8'));
  return logs;
}
const fixtureFile = (path: string) => readFile(join(fixtureFleet('prepared-fleet'), 'web', path), 'utf8');

const addCurrency = [
  `cat > src/currency.js <<'JS'\n'use strict';\n\nmodule.exports = { currency: (cents) => (cents / 100).toFixed(2) + ' EUR' };\nJS`,
  `node -e 'const fs = require("node:fs"); fs.writeFileSync("src/index.js", fs.readFileSync("src/index.js", "utf8").replace("module.exports", "const { currency } = require(\\"./currency.js\\");\\n\\nmodule.exports"));'`,
  `node -e 'const fs = require("node:fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.description = "storefront"; fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\\n");'`,
];

describe('only the change is committed', () => {
  it('keeps every leftover of setup out of the commit, and the base lockfile the steps did not touch', async () => {
    const result = await change('prepared-leftovers', addCurrency);
    expect(result.status, result.summary).toBe('succeeded');
    const web = result.repos.find((r) => r.repo === 'web');
    expect(web?.changedFiles.slice().sort()).toEqual(['package.json', 'src/currency.js', 'src/index.js']);
    const base = (await gitOut('ls-tree', '-r', '--name-only', 'main')).split('\n').filter(Boolean);
    expect(await branchFiles('prepared-leftovers')).toEqual([...base, 'src/currency.js'].sort());
    // Setup rewrote the lockfile; nothing after it did, so the branch keeps the base's.
    expect(await gitOut('show', 'lockstep/prepared-leftovers:package-lock.json')).toBe(
      await fixtureFile('package-lock.json'),
    );
    expect(await gitOut('show', 'lockstep/prepared-leftovers:src/index.js')).toContain('require("./currency.js")');
    // The tests ran after the steps against the prepared tree (require('greet') needs setup's node_modules).
    expect(web?.tests?.passed).toBe(true);
    // Each needs what its repo's setup installed: the gate ran setup first.
    expect(Object.fromEntries((result.gate?.contracts ?? []).map((c) => [c.contract, c.status]))).toEqual({
      'web-greeting': 'passed',
      'web-smoke': 'passed',
    });
    // The first setup filled the repo's cache; the gate's setups of the same repo (one per
    // contract check: web-greeting's verifier, web-smoke) found it there.
    const logs = await setupLogs('prepared-leftovers', 'web');
    expect(logs).toHaveLength(3);
    expect(logs[0]).toContain('greet@0.3.1: fetched into the cache');
    for (const gateLog of logs.slice(1)) expect(gateLog).toContain('greet@0.3.1: from the cache');
    const caches = await listCaches(h.fleet.stateDir, 'web');
    expect(caches.map((c) => c.key)).toEqual([expect.stringMatching(/^lock-[0-9a-f]{16}$/)]);
  });

  it('commits a path setup changed when a step changed it too, and keeps setup leftovers out even when a step un-ignores them', async () => {
    const result = await change('prepared-touched', [
      `node -e 'const fs = require("node:fs"); const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")); lock.version = lock.packages[""].version = "1.5.0"; fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\\n");'`,
      `printf '# dependencies are installed by setup\\n' > .gitignore`,
      'rm -r .venv',
      'rm test.js && printf "console.log(1)\\n" > test.js',
    ]);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.repos[0]?.changedFiles.slice().sort()).toEqual(['.gitignore', 'package-lock.json', 'test.js']);
    // A second change on the repo installs from the cache the first one filled.
    expect((await setupLogs('prepared-touched', 'web'))[0]).toContain('greet@0.3.1: from the cache');
    const lock = JSON.parse(await gitOut('show', 'lockstep/prepared-touched:package-lock.json')) as {
      version: string;
      packages: Record<string, { integrity?: string }>;
    };
    // The step's file as it left it: built on what setup had written.
    expect(lock.version).toBe('1.5.0');
    expect(lock.packages['vendor/greet']?.integrity).toBe('sha512-prepared');
    const files = await branchFiles('prepared-touched');
    expect(files.filter((f) => /^(node_modules|\.venv|dist)\/|\/node_modules$/.test(f))).toEqual([]);
  });

  it('says a check could not run, why and what to fix, when a command is missing or a setup fails in the gate', async () => {
    const result = await change(
      'prepared-could-not-run',
      [`printf '\\n// Entries are in cents.\\n' >> index.js`],
      'ledger',
    );
    expect(result.status, result.summary).toBe('blocked');
    const verdicts = new Map((result.gate?.contracts ?? []).map((c) => [c.contract, c]));
    const lint = verdicts.get('ledger-lint');
    expect(lint?.status).toBe('failed');
    expect(lint?.blame).toEqual([]);
    expect(lint?.problems).toEqual([
      expect.objectContaining({
        rule: 'could-not-run',
        repo: 'ledger',
        message: expect.stringContaining(
          'could not run: the command "eslint" is not installed in the sandbox. Fix: install it',
        ) as unknown,
      }),
    ]);
    const entries = verdicts.get('ledger-entries');
    expect(entries?.status).toBe('failed');
    expect(entries?.blame).toEqual([]);
    expect(entries?.problems).toEqual([
      expect.objectContaining({
        rule: 'could-not-run',
        repo: 'legacy',
        message: expect.stringContaining(
          "legacy's pact command could not run: legacy's sandbox.setup exited with code 1",
        ) as unknown,
      }),
    ]);
    expect(entries?.problems[0]?.message).toContain('No module named pip');
    expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);
  });
});
