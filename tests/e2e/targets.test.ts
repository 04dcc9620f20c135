/**
 * Targets by query over a fleet of eight real git repositories (bare remotes, tags, contracts
 * and content that differ), through the real CLI, Temporal, Docker and git: tags, contract
 * consumers and content (a path, a fixed text, a regex) and their intersections; a repo whose
 * base branch is missing is reported by name and stops the change; the scan of an unchanged base
 * branch comes from the cache; `run --plan` shows the set and starts nothing; a resume works on
 * the set the first run recorded, after the fleet's content changed.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { planTargets, withChangeTargets, type TargetPlan } from '../../client/machine/targets.ts';
import { InputError, loadChange, loadReposConfig, type LoadedConfig } from '../../config/load.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const exec = promisify(execFile);
let h: Harness;
let fixture: string;
let loaded: LoadedConfig;

/** Eight services: what each one's base branch holds, and its fleet entry. */
const FLEET: Record<string, { files: Record<string, string>; entry: object }> = {
  catalog: {
    files: { 'src/index.ts': 'export const catalog = [];\n' },
    entry: { tags: ['node', 'core'], provides: [{ name: 'catalog-api', kind: 'command', command: 'true' }] },
  },
  billing: {
    files: { 'src/pay.ts': 'import log from "legacy-log";\nexport const pay = () => log("paid");\n' },
    entry: { tags: ['node', 'payments'], consumes: [{ name: 'catalog-api' }] },
  },
  storefront: {
    files: { 'src/app.ts': 'export function render() {\n  legacyLog("render");\n}\n' },
    entry: { tags: ['node', 'web'], consumes: [{ name: 'catalog-api' }] },
  },
  ledger: {
    files: { 'go.mod': 'module example.com/ledger\n\ngo 1.22\n', 'main.go': 'package main\n' },
    entry: { tags: ['go', 'payments'] },
  },
  search: {
    files: { 'app.py': 'print("search")\n' },
    entry: { tags: ['python'], consumes: [{ name: 'catalog-api' }] },
  },
  mailer: {
    // FAIL makes the change's step fail here, so the change ends resumable.
    files: { 'src/mail.ts': '  legacyLog("mail");\n', FAIL: 'this repo fails the step\n' },
    entry: { tags: ['node'] },
  },
  docs: { files: { 'README.md': '# docs\n' }, entry: { tags: ['docs'] } },
  broken: {
    files: { 'src/index.ts': 'legacyLog("never read")\n' },
    // Its base branch does not exist on the remote: a scan of it fails.
    entry: { tags: ['node'], baseBranch: 'release' },
  },
};

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** Commits these files to a repo's base branch on its remote, as a push by someone else would. */
async function pushToBase(repo: string, files: Record<string, string>, remove: string[] = []): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lockstep-targets-push-'));
  try {
    const git = (...args: string[]) => exec('git', ['-C', work, ...args]);
    await exec('git', ['clone', '--quiet', h.fleet.remote(repo), work]);
    await writeFiles(work, files);
    for (const path of remove) await git('rm', '--quiet', path);
    await git('add', '--all');
    await git('-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '--quiet', '-m', 'change on base');
    await git('push', '--quiet', 'origin', 'HEAD:main');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function changeFile(id: string, targets: object, extra: object = {}): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(file, stringify({ id, title: `Targets: ${id}`, targets, ...extra }));
  return file;
}

async function plan(id: string, targets: object): Promise<TargetPlan> {
  const file = await changeFile(id, targets);
  return planTargets(loaded, await loadChange(file, loaded), h.fleet.stateDir);
}

const repos = (p: TargetPlan): string[] => p.targets.map((t) => t.repo).sort();

beforeAll(async () => {
  fixture = await mkdtemp(join(tmpdir(), 'lockstep-targets-fleet-'));
  for (const [name, { files }] of Object.entries(FLEET)) await writeFiles(join(fixture, name), files);
  await writeFile(
    join(fixture, 'repos.config.json'),
    JSON.stringify({
      defaults: { sandbox: { timeouts: { setupSeconds: 60, stepSeconds: 30, testSeconds: 30 } } },
      gate: { contracts: false, secrets: false, insecure: false },
      repos: Object.entries(FLEET).map(([name, { entry }]) => ({
        name,
        url: `.lockstep/remotes/${name}.git`,
        sandbox: { test: 'true' },
        ...entry,
      })),
    }),
  );
  h = await startHarness('targets', { fleet: fixture });
  loaded = await loadReposConfig(h.fleet.configFile);
}, 120_000);

afterAll(async () => {
  await h?.close();
  await rm(fixture, { recursive: true, force: true });
});

describe('targets by query', () => {
  it('tags and contract consumers select from the fleet config, reading no base branch', async () => {
    const payments = await plan('by-tag', { tags: ['payments'] });
    expect(repos(payments)).toEqual(['billing', 'ledger']);
    expect(payments.scans).toEqual({ read: 0, cached: 0 });
    expect(payments.targets.find((t) => t.repo === 'ledger')?.reasons).toEqual(['tag "payments"']);

    expect(repos(await plan('consumers', { consumersOf: 'catalog-api' }))).toEqual(['billing', 'search', 'storefront']);
    expect(repos(await plan('provider', { providersOf: 'catalog-api' }))).toEqual(['catalog']);
    expect(repos(await plan('tags-and-consumers', { tags: ['node'], consumersOf: 'catalog-api' }))).toEqual([
      'billing',
      'storefront',
    ]);
  });

  it('content: a path that exists, a fixed text, a regex, each with the file and line that matched', async () => {
    const gomod = await plan('path', { contains: { path: 'go.mod' }, exclude: ['broken'] });
    expect(gomod.targets).toEqual([
      { repo: 'ledger', reasons: ['contains go.mod'], matches: [{ path: 'go.mod', line: null, excerpt: null }] },
    ]);

    const text = await plan('text', {
      tags: ['node'],
      contains: { path: 'src/**/*.ts', text: '"legacy-log"' },
      exclude: ['broken'],
    });
    expect(text.targets).toEqual([
      {
        repo: 'billing',
        reasons: ['tag "node"', 'contains src/**/*.ts with ""legacy-log""'],
        matches: [{ path: 'src/pay.ts', line: 1, excerpt: 'import log from "legacy-log";' }],
      },
    ]);

    // The intersection: only consumers of catalog-api are scanned (mailer's match is not theirs, broken is no candidate).
    const regex = await plan('regex', {
      consumersOf: 'catalog-api',
      contains: { path: '**/*.ts', regex: '^\\s*legacyLog\\(' },
    });
    expect(regex.targets.map((t) => [t.repo, t.matches])).toEqual([
      ['storefront', [{ path: 'src/app.ts', line: 2, excerpt: 'legacyLog("render");' }]],
    ]);
    expect(regex.unscannable).toEqual([]);
    expect(regex.scans.read + regex.scans.cached).toBe(3);
  });

  it('a repo whose base branch cannot be read is reported by name and reason, and the change does not start without it', async () => {
    const file = await changeFile('unscannable', { tags: ['node'], contains: { path: 'src/**' } });
    const change = await loadChange(file, loaded);
    const shown = await planTargets(loaded, change, h.fleet.stateDir);
    expect(shown.unscannable.map((u) => u.repo)).toEqual(['broken']);
    expect(shown.unscannable[0]?.reason).toContain('"release"');

    const err = await withChangeTargets(loaded, change, file, h.fleet.stateDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const issues = (err as InputError).issues;
    expect(issues.map((i) => [i.file, i.path])).toEqual([[file, 'targets.contains']]);
    expect(issues[0]?.message).toContain('repo "broken" could not be scanned');
    expect(issues[0]?.fix).toContain('add "broken" to targets.exclude');

    const cli = await h.cli(['run', file, '--plan', '--json']);
    expect(cli.code).toBe(2);
    const printed = JSON.parse(cli.stdout) as TargetPlan & { issues: { path: string }[] };
    expect(printed.unscannable.map((u) => u.repo)).toEqual(['broken']);
    expect(printed.issues.map((i) => i.path)).toEqual(['targets.contains']);
  });

  it('an unchanged base branch is not scanned again; a changed one is', async () => {
    const query = { tags: ['node'], contains: { path: 'src/*.ts', text: 'export' }, exclude: ['broken'] };
    const first = await plan('cache', query);
    expect(first.scans).toEqual({ read: 4, cached: 0 });
    expect(repos(first)).toEqual(['billing', 'catalog', 'storefront']);

    const second = await plan('cache', query);
    expect(second.scans).toEqual({ read: 0, cached: 4 });
    expect(second.targets).toEqual(first.targets);

    await pushToBase('mailer', { 'src/mail.ts': 'export const mail = () => legacyLog("mail");\n' });
    const third = await plan('cache', query);
    expect(third.scans).toEqual({ read: 1, cached: 3 });
    expect(repos(third)).toEqual(['billing', 'catalog', 'mailer', 'storefront']);
  });

  it('run --plan lists the set and why, starting nothing; a resume works on the recorded set after the fleet changed', async () => {
    const targets = {
      contains: { path: '**/*.ts', text: 'legacyLog(' },
      exclude: ['broken'],
      steps: [{ name: 'touch', run: 'test ! -f FAIL && echo done > TOUCHED' }],
    };
    const file = await changeFile('legacy-calls', targets, { description: 'mark the repos that call legacyLog' });

    const shown = await h.cli(['run', file, '--plan']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^targets of legacy-calls: 2 repos \(contains \*\*\/\*\.ts with "legacyLog\("\)$/m);
    expect(shown.stdout).toMatch(/^ {2}mailer {6}contains \*\*\/\*\.ts with "legacyLog\("$/m);
    expect(shown.stdout).toMatch(/^ +src\/app\.ts:2 {2}legacyLog\("render"\);$/m);
    expect(shown.stdout).toContain('excluded: broken');
    expect(shown.stdout).toContain('plan only: nothing started');
    const validated = await h.cli(['validate', file, '--targets', '--json']);
    expect(validated.code).toBe(0);
    const printed = JSON.parse(validated.stdout) as TargetPlan & { issues: unknown[] };
    expect(printed.targets.map((t) => t.repo)).toEqual(['storefront', 'mailer']);
    expect(printed.scans).toEqual({ read: 0, cached: 7 });
    expect(printed.issues).toEqual([]);
    const listed = await h.cli(['list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain('legacy-calls');

    // mailer's step fails: the change ends failed, with both repos in its input and result.
    const run = await h.cli(['run', file, '--json', '--no-worker']);
    expect(run.code).toBe(1);
    const first = JSON.parse(run.stdout) as { repos: { repo: string; status: string }[] };
    expect(first.repos.map((r) => [r.repo, r.status]).sort()).toEqual([
      ['mailer', 'failed'],
      ['storefront', 'green'],
    ]);

    // Now billing calls legacyLog too, and storefront no longer does: a new scan would pick billing and mailer.
    await pushToBase('billing', { 'src/pay.ts': 'legacyLog("pay");\n' });
    await pushToBase('storefront', { 'src/app.ts': 'export function render() {}\n' });
    expect(repos(await plan('legacy-calls-now', { contains: targets.contains, exclude: ['broken'] }))).toEqual([
      'billing',
      'mailer',
    ]);

    for (const args of [
      ['resume', 'legacy-calls'],
      ['resume', 'legacy-calls', '--change', file],
    ]) {
      const resumed = await h.cli([...args, '--json', '--no-worker']);
      const result = JSON.parse(resumed.stdout) as { repos: { repo: string; status: string }[] };
      expect(result.repos.map((r) => [r.repo, r.status]).sort()).toEqual([
        ['mailer', 'failed'],
        ['storefront', 'green'],
      ]);
    }
  });
});
