/**
 * `lockstep fleet import` against the strict fake GitHub and GitLab, through the real Octokit and
 * gitbeaker clients: listings of several pages, topics as tags, archived repos and forks skipped,
 * names the config cannot take reported, an existing commented file updated in place (the
 * user's fields and comments kept, gone repos kept or pruned), dry runs that write nothing, and
 * errors that name the flag or the environment variable to fix. Every file written loads with
 * the loader every command uses.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFleet, type FleetImportOptions } from '../../client/machine/fleet-import.ts';
import { projectRoot } from '../../config/paths.ts';
import { InputError, loadReposConfig } from '../../config/load.ts';
import { startFakeGitHub, type FakeGitHub } from '../fakes/github-server.ts';
import { startFakeGitLab, type FakeGitLab } from '../fakes/gitlab-server.ts';

const exec = promisify(execFile);
let gh: FakeGitHub;
let gl: FakeGitLab;
let dir: string;

/** 230 services: three pages of 100. Every tenth is tagged, and a few are archived, forks, empty or badly named. */
const SERVICES = Array.from({ length: 230 }, (_, i) => {
  const n = String(i + 1).padStart(3, '0');
  return { name: `svc-${n}`, topics: i % 10 === 0 ? ['go', 'team-payments'] : [] };
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-fleet-'));
  gh = await startFakeGitHub();
  gh.orgs.add('acme', [
    ...SERVICES,
    { name: 'Billing.API', topics: ['Java', '++'], defaultBranch: 'trunk' },
    { name: 'legacy', archived: true },
    { name: 'forked-lib', fork: true },
    { name: 'empty', defaultBranch: null },
    { name: '___', topics: [] },
  ]);
  gl = await startFakeGitLab();
  gl.groups.add('acme', [
    { name: 'api', topics: ['Go Lang', 'tier-1'] },
    { name: 'old', archived: true },
  ]);
  gl.groups.add(
    'acme/platform',
    Array.from({ length: 120 }, (_, i) => ({ name: `p-${i}`, defaultBranch: i === 0 ? 'develop' : 'main' })),
  );
  gl.groups.add('acme/tools', [{ name: 'api' }, { name: 'mirror', fork: true }]);
  gl.groups.add('other', [{ name: 'elsewhere' }]);
});
afterAll(async () => {
  await gh.close();
  await gl.close();
  await rm(dir, { recursive: true, force: true });
});

/** An import of `acme` from the fake forge `forge` into `file`, with the token in the environment. */
const importer =
  (forge: 'github' | 'gitlab') =>
  (file: string, extra: Partial<FleetImportOptions> = {}): ReturnType<typeof importFleet> =>
    importFleet({
      file,
      ...(forge === 'github'
        ? { source: { forge, org: 'acme' }, baseUrl: gh.baseUrl, env: { GITHUB_TOKEN: gh.token } }
        : { source: { forge, group: 'acme' }, baseUrl: gl.host, env: { GITLAB_TOKEN: gl.token } }),
      retryBaseMs: 10,
      ...extra,
    });
const github = importer('github');

const orgRequests = () => gh.requests.filter((r) => r.operationId === 'repos/list-for-org');

describe('fleet import from a GitHub organization', () => {
  it('writes a new file from every page, with topics as tags, skipping archived repos, forks, empty repos and names it cannot map', async () => {
    const file = join(dir, 'new', 'repos.config.json');
    await mkdir(join(dir, 'new'), { recursive: true });
    const before = orgRequests().length;
    const report = await github(file);

    expect(orgRequests().length - before).toBe(3);
    expect(gh.violations).toEqual([]);
    expect(report.created).toBe(true);
    expect(report.written).toBe(true);
    expect(report.added).toHaveLength(231);
    expect(report.skipped).toEqual([
      { slug: 'acme/___', reason: expect.stringContaining('cannot be a repo name') as string },
      { slug: 'acme/empty', reason: 'empty: it has no branch yet' },
      { slug: 'acme/forked-lib', reason: 'a fork (--include-forks imports it)' },
      { slug: 'acme/legacy', reason: 'archived (--include-archived imports it)' },
    ]);
    expect(report.notes).toEqual(['acme/Billing.API: topic "++" cannot be a tag, left out']);

    const { config } = await loadReposConfig(file);
    expect(config.forge).toMatchObject({ type: 'github', baseUrl: gh.baseUrl, tokenEnv: 'GITHUB_TOKEN' });
    expect(config.repos).toHaveLength(231);
    const billing = config.repos.find((r) => r.name === 'billing.api');
    expect(billing).toMatchObject({
      url: 'http://github.test/acme/Billing.API.git',
      baseBranch: 'trunk',
      tags: ['java'],
    });
    expect(config.repos.find((r) => r.name === 'svc-011')?.tags).toEqual(['go', 'team-payments']);
    expect(config.repos.find((r) => r.name === 'svc-012')?.tags).toEqual([]);
    // Imported repos start from defaults.sandbox, whose test says what to set.
    expect(config.repos[0]?.sandbox.test).toMatch(/set sandbox\.test/);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(gh.token);
    expect(text).toMatch(/^\/\/ The fleet Lockstep changes, imported by "lockstep fleet import"/);
  });

  it("rides out a 5xx on a later page with the client's retries, and reads every page once it answers", async () => {
    gh.inject({ kind: '5xx', operationId: 'repos/list-for-org', after: 1 });
    const before = orgRequests().length;
    const report = await github(join(dir, 'retried.json'), { dryRun: true });
    expect(gh.pendingFaults()).toEqual([]);
    expect(
      orgRequests()
        .slice(before)
        .map((r) => r.status),
    ).toEqual([200, 502, 200, 200]);
    expect(report.added).toHaveLength(231);
  });

  it('includes archived repositories and forks when asked', async () => {
    const report = await github(join(dir, 'all.json'), { includeArchived: true, includeForks: true, dryRun: true });
    expect(report.added.map((r) => r.name)).toEqual(expect.arrayContaining(['legacy', 'forked-lib']));
    expect(report.skipped.map((s) => s.slug)).toEqual(['acme/___', 'acme/empty']);
  });

  it('updates an existing commented file in place: user fields and comments kept, gone repos reported, pruned on request', async () => {
    const file = join(dir, 'existing.json');
    const original = [
      '// Our fleet. Hand-edited: keep this comment.',
      '{',
      `  "forge": { "type": "github", "baseUrl": ${JSON.stringify(gh.baseUrl)}, "draft": false },`,
      '  "defaults": { "sandbox": { "test": "make test" } },',
      '  "repos": [',
      '    // the payments team owns this one',
      '    {',
      '      "name": "svc-001",',
      '      "url": "git@github.test:acme/svc-001.git",',
      '      "baseBranch": "master",',
      '      "tags": ["hand-made"],',
      '      "sandbox": { "test": "go test ./...", "image": "golang-sandbox:1" },',
      '      "merge": "squash",',
      '      "provides": [{ "name": "payments-api", "kind": "openapi", "path": "openapi.yaml" }]',
      '    },',
      '    { "name": "svc-011", "url": "http://github.test/acme/svc-011.git" },',
      '    /* retired last year */',
      '    { "name": "retired", "url": "http://github.test/acme/retired.git" },',
      '    { "name": "other-tool", "url": "http://github.test/other-org/other-tool.git" },',
      '    { "name": "svc-020", "url": "http://github.test/other-org/svc-020.git" }',
      '  ]',
      '}',
      '',
    ].join('\n');
    await writeFile(file, original);

    const report = await github(file);
    expect(report.created).toBe(false);
    expect(report.written).toBe(true);
    expect(report.updated).toEqual([
      {
        name: 'svc-001',
        slug: 'acme/svc-001',
        changes: [
          { field: 'baseBranch', from: 'master', to: 'main' },
          { field: 'tags', from: ['hand-made'], to: ['go', 'team-payments'] },
        ],
      },
      {
        name: 'svc-011',
        slug: 'acme/svc-011',
        changes: [{ field: 'tags', from: [], to: ['go', 'team-payments'] }],
      },
    ]);
    expect(report.gone).toEqual([{ name: 'retired', url: 'http://github.test/acme/retired.git', removed: false }]);
    expect(report.added).toHaveLength(228);
    // A namesake of another owner keeps its entry; the organization's repository is reported.
    expect(report.skipped).toContainEqual({
      slug: 'acme/svc-020',
      reason:
        'its name "svc-020" is taken by the entry of http://github.test/other-org/svc-020.git (rename one of them)',
    });

    const text = await readFile(file, 'utf8');
    for (const kept of [
      '// Our fleet. Hand-edited: keep this comment.',
      '// the payments team owns this one',
      '/* retired last year */',
      '"url": "git@github.test:acme/svc-001.git"',
      '{ "name": "svc-011", "url": "http://github.test/acme/svc-011.git", "tags": ["go", "team-payments"] }',
      '"baseBranch": "main",\n      "tags": ["go", "team-payments"],\n      "sandbox": { "test": "go test ./...", "image": "golang-sandbox:1" },',
    ])
      expect(text).toContain(kept);
    const { config } = await loadReposConfig(file);
    expect(config.forge).toMatchObject({ draft: false });
    const svc1 = config.repos.find((r) => r.name === 'svc-001');
    expect(svc1).toMatchObject({
      baseBranch: 'main',
      tags: ['go', 'team-payments'],
      merge: 'squash',
      sandbox: { test: 'go test ./...', image: 'golang-sandbox:1' },
      provides: [{ name: 'payments-api' }],
    });
    expect(config.repos.map((r) => r.name)).toEqual(expect.arrayContaining(['retired', 'other-tool', 'svc-230']));
    // New entries take the file's defaults.sandbox.
    expect(config.repos.find((r) => r.name === 'svc-230')?.sandbox.test).toBe('make test');

    // Again: nothing changes, nothing is written.
    const again = await github(file);
    expect(again).toMatchObject({ written: false, added: [], updated: [] });
    expect(again.unchanged).toHaveLength(230);
    expect(await readFile(file, 'utf8')).toBe(text);

    const pruned = await github(file, { prune: true });
    expect(pruned.gone).toEqual([{ name: 'retired', url: 'http://github.test/acme/retired.git', removed: true }]);
    const after = await readFile(file, 'utf8');
    expect(after).not.toContain('"retired"');
    expect(after).not.toContain('/* retired last year */');
    expect(after).toContain('{ "name": "other-tool", "url": "http://github.test/other-org/other-tool.git" }');
    expect((await loadReposConfig(file)).config.repos.map((r) => r.name)).not.toContain('retired');
  });

  it('a dry run reports and writes nothing, for a new file and an existing one', async () => {
    const fresh = join(dir, 'dry-new.json');
    const report = await github(fresh, { dryRun: true });
    expect(report).toMatchObject({ created: true, written: false });
    expect(report.added).toHaveLength(231);
    expect(existsSync(fresh)).toBe(false);

    const file = join(dir, 'dry-existing.json');
    const text =
      '{ "defaults": { "sandbox": { "test": "true" } }, "repos": [{ "name": "svc-002", "url": "https://git.example.org/acme/svc-002.git" }] }\n';
    await writeFile(file, text);
    const dry = await github(file, { dryRun: true });
    expect(dry.added).toHaveLength(230);
    expect(dry.unchanged).toEqual(['svc-002']);
    expect(dry.notes).toContain(
      `the file's forge stays "local": set forge.type to "github" to open pull requests on ${gh.baseUrl}`,
    );
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('names the flag for an organization GitHub does not know, and the variable for a missing token', async () => {
    const file = join(dir, 'errors.json');
    const unknown = await github(file, { source: { forge: 'github', org: 'no-such-org' } }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(InputError);
    expect((unknown as InputError).issues[0]).toMatchObject({
      path: '--github-org',
      message: expect.stringContaining('has no organization "no-such-org"') as string,
    });
    const malformed = await github(file, { source: { forge: 'github', org: 'acme/x' } }).catch((e: unknown) => e);
    expect((malformed as InputError).issues[0]).toMatchObject({ path: '--github-org' });

    const noToken = await github(file, { env: {} }).catch((e: unknown) => e);
    expect(noToken).toBeInstanceOf(InputError);
    expect((noToken as InputError).issues[0]).toMatchObject({
      file: 'environment',
      path: 'GITHUB_TOKEN',
      message: expect.stringContaining('GITHUB_TOKEN is not set') as string,
    });
    expect(existsSync(file)).toBe(false);
  });
});

describe('fleet import from a GitLab group', () => {
  const gitlab = importer('gitlab');

  it('lists the group and its subgroups over several pages; topics become tags; a name taken twice is reported', async () => {
    const file = join(dir, 'gitlab.json');
    const before = gl.requests.filter((r) => r.operationId === 'groups/projects').length;
    const report = await gitlab(file);
    expect(gl.requests.filter((r) => r.operationId === 'groups/projects').length - before).toBe(2);
    expect(gl.violations).toEqual([]);
    expect(report.added).toHaveLength(121);
    expect(report.skipped).toEqual([
      { slug: 'acme/old', reason: 'archived (--include-archived imports it)' },
      { slug: 'acme/tools/api', reason: 'its name becomes "api", already the name of acme/api' },
      { slug: 'acme/tools/mirror', reason: 'a fork (--include-forks imports it)' },
    ]);
    const { config } = await loadReposConfig(file);
    expect(config.forge).toMatchObject({ type: 'gitlab', baseUrl: gl.host });
    expect(config.repos.find((r) => r.name === 'api')).toMatchObject({
      url: `${gl.host}/acme/api.git`,
      tags: ['go-lang', 'tier-1'],
    });
    expect(config.repos.find((r) => r.name === 'p-0')?.baseBranch).toBe('develop');
  });

  it('names the flag for a group GitLab does not know', async () => {
    const err = await gitlab(join(dir, 'nogroup.json'), { source: { forge: 'gitlab', group: 'nobody/here' } }).catch(
      (e: unknown) => e,
    );
    expect((err as InputError).issues[0]).toMatchObject({
      path: '--gitlab-group',
      message: expect.stringContaining('has no group "nobody/here"') as string,
    });
  });
});

describe('the command', () => {
  it('prints the report as JSON, reads the token from the environment and refuses two sources', async () => {
    const file = join(dir, 'cli.json');
    const run = (args: string[], env: NodeJS.ProcessEnv) =>
      exec(process.execPath, [join(projectRoot, 'bin', 'lockstep.js'), 'fleet', 'import', ...args], {
        env: { ...process.env, ...env },
        cwd: dir,
      });
    const { stdout } = await run(
      ['--github-org', 'acme', '--base-url', gh.baseUrl, '-c', file, '--dry-run', '--json'],
      { GITHUB_TOKEN: gh.token },
    );
    const report = JSON.parse(stdout) as { dryRun: boolean; added: unknown[]; written: boolean };
    expect(report).toMatchObject({ dryRun: true, written: false });
    expect(report.added).toHaveLength(231);
    expect(stdout).not.toContain(gh.token);

    const both = await run(['--github-org', 'acme', '--gitlab-group', 'acme', '-c', file], {}).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(both).toMatchObject({ code: 2 });
    expect((both as { stderr: string }).stderr).toContain('--github-org/--gitlab-group');
  });
});
