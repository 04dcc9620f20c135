/**
 * Bumps, piece by piece, against the real thing: `to` resolved by this machine's npm, go and pip
 * against the registries they are configured for (ms, logrus and six: old, stable packages whose
 * published history does not move), the manifests a repo declares, the commands a bump runs
 * (the pin rewrite is run with the real sed), the change file's rules, and the snapshot that
 * keeps a bump's install output out of its commit (real git), and the agent's side of a failing
 * bump: its task, the hint when no agent runs, and the guard that reads the work tree before and
 * after the fix.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredIn } from '../../activities/bump/manifests.ts';
import { declarationPaths, workspaceDeclaration } from '../../activities/bump/workspace.ts';
import { BumpResolveError, compareSemver, resolveBumpVersion } from '../../activities/bump/resolve.ts';
import { cloneWorkspace, commitAndPush, snapshotPrepared } from '../../activities/git/workspace.ts';
import { InputError, loadChange, loadReposConfig, type InputIssue } from '../../config/load.ts';
import {
  bumpFixHint,
  bumpFixInstructions,
  bumpPlan,
  bumpUndone,
  npmSaveStyle,
  pinRewrite,
} from '../../workflows/bump.ts';
import type { BumpSpec } from '../../core/bump.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-bump-unit-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function failure(spec: BumpSpec): Promise<BumpResolveError> {
  const err = await resolveBumpVersion(spec).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BumpResolveError);
  return err as BumpResolveError;
}

describe('resolving "to" once, with the worker\'s own tools', () => {
  it('npm: the highest version a range allows, latest, an exact version; unknown names and ranges name their field', async () => {
    expect((await resolveBumpVersion({ ecosystem: 'npm', package: 'ms', to: '>=2.0.0 <2.1.0' })).version).toBe('2.0.0');
    expect((await resolveBumpVersion({ ecosystem: 'npm', package: 'ms', to: '^2.1' })).version).toBe('2.1.3');
    expect(await resolveBumpVersion({ ecosystem: 'npm', package: 'ms', to: '2.1.2' })).toEqual({
      ecosystem: 'npm',
      package: 'ms',
      to: '2.1.2',
      version: '2.1.2',
    });
    const latest = execFileSync('npm', ['view', 'ms@latest', 'version'], { encoding: 'utf8' }).trim();
    expect((await resolveBumpVersion({ ecosystem: 'npm', package: 'ms', to: 'latest' })).version).toBe(latest);
    const missing = await failure({ ecosystem: 'npm', package: 'lockstep-no-such-package-zz9', to: 'latest' });
    expect(missing.field).toBe('bump.package');
    expect(missing.message).toMatch(/^bump\.package: the npm registry has no package "lockstep-no-such-package-zz9"/);
    expect((await failure({ ecosystem: 'npm', package: 'ms', to: '>=99' })).message).toMatch(
      /^bump\.to: no version of ms matches ">=99"/,
    );
  }, 60_000);

  it('go: module queries as the go command reads them (a prefix takes the highest, >= the lowest)', async () => {
    expect(
      (await resolveBumpVersion({ ecosystem: 'go', package: 'github.com/sirupsen/logrus', to: 'v1.4' })).version,
    ).toBe('v1.4.2');
    expect(
      (await resolveBumpVersion({ ecosystem: 'go', package: 'github.com/sirupsen/logrus', to: '>=v1.9.0' })).version,
    ).toBe('v1.9.0');
    expect(
      (await resolveBumpVersion({ ecosystem: 'go', package: 'github.com/sirupsen/logrus', to: 'latest' })).version,
    ).toMatch(/^v1\.\d+\.\d+$/);
    expect((await failure({ ecosystem: 'go', package: 'github.com/sirupsen/logrus', to: 'v9.1' })).message).toMatch(
      /^bump\.to: no version of github\.com\/sirupsen\/logrus matches "v9\.1"/,
    );
    expect(
      (await failure({ ecosystem: 'go', package: 'github.com/lockstep-no-such-owner-zz9/none', to: 'latest' })).field,
    ).toBe('bump.package');
  }, 120_000);

  it("pip: the highest release a specifier allows, by pip's own packaging", async () => {
    expect((await resolveBumpVersion({ ecosystem: 'pip', package: 'six', to: '>=1.15,<1.16' })).version).toBe('1.15.0');
    expect((await resolveBumpVersion({ ecosystem: 'pip', package: 'six', to: '1.16.0' })).version).toBe('1.16.0');
    expect((await resolveBumpVersion({ ecosystem: 'pip', package: 'six', to: '~=1.14.0' })).version).toBe('1.14.0');
    const index = execFileSync('python3', ['-m', 'pip', 'index', 'versions', 'six'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect((await resolveBumpVersion({ ecosystem: 'pip', package: 'six', to: 'latest' })).version).toBe(
      /^six \(([^)]+)\)/m.exec(index)?.[1],
    );
    expect((await failure({ ecosystem: 'pip', package: 'lockstep-no-such-dist-zz9', to: 'latest' })).message).toMatch(
      /^bump\.package: the package index has no distribution "lockstep-no-such-dist-zz9"/,
    );
    expect((await failure({ ecosystem: 'pip', package: 'six', to: '>=99' })).message).toMatch(
      /^bump\.to: no version of six matches ">=99" \(available: 1\.17\.0/,
    );
  }, 60_000);

  it('orders semver versions as npm does', () => {
    expect(['1.10.0', '1.2.0', '1.10.0-rc.1', '1.10.0-beta.2', '1.10.0-beta.10', '0.9.9'].sort(compareSemver)).toEqual([
      '0.9.9',
      '1.2.0',
      '1.10.0-beta.2',
      '1.10.0-beta.10',
      '1.10.0-rc.1',
      '1.10.0',
    ]);
  });
});

describe('what a repo declares', () => {
  it('npm: the section and spec in package.json, the version its lockfile holds', () => {
    const files = new Map([
      ['package.json', JSON.stringify({ dependencies: { ms: '^2.0.0' }, devDependencies: { other: '1.0.0' } })],
      [
        'package-lock.json',
        JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/ms': { version: '2.1.2' } } }),
      ],
    ]);
    expect(declaredIn('npm', 'ms', files)).toEqual({
      declares: true,
      current: '2.1.2',
      manifests: [
        { path: 'package.json', spec: '^2.0.0', kind: 'dependencies' },
        { path: 'package-lock.json', spec: '2.1.2', kind: 'lockfile' },
      ],
      problem: null,
    });
    expect(declaredIn('npm', 'other', files)).toMatchObject({
      declares: true,
      current: '1.0.0',
      manifests: [{ kind: 'devDependencies' }],
    });
    expect(declaredIn('npm', 'm', files).declares).toBe(false);
  });

  it('go: require lines, single and in blocks, indirect ones too', () => {
    const mod =
      'module example.com/svc\n\ngo 1.22\n\nrequire github.com/a/b v1.0.0\n\nrequire (\n\tgoogle.golang.org/grpc v1.60.1\n\tgithub.com/x/y v0.3.0 // indirect\n)\n';
    expect(declaredIn('go', 'google.golang.org/grpc', new Map([['go.mod', mod]]))).toMatchObject({
      declares: true,
      current: 'v1.60.1',
    });
    expect(declaredIn('go', 'github.com/a/b', new Map([['go.mod', mod]])).current).toBe('v1.0.0');
    expect(declaredIn('go', 'github.com/x/y', new Map([['go.mod', mod]])).manifests).toEqual([
      { path: 'go.mod', spec: 'v0.3.0', kind: 'indirect' },
    ]);
    expect(declaredIn('go', 'github.com/a', new Map([['go.mod', mod]])).declares).toBe(false);
  });

  it('pip: pins, ranges, compiled files, pyproject and Poetry, names compared as PEP 503 says', () => {
    const files = new Map([
      ['requirements.txt', '# deps\nSix == 1.15.0  # pinned\nrequests>=2\n'],
      ['requirements-dev.txt', '-r requirements.txt\nsix==1.15.0\n'],
      ['requirements-lock.txt', 'py_yaml==6.0\n'],
      ['requirements-lock.in', 'PyYAML\n'],
    ]);
    expect(declaredIn('pip', 'six', files)).toEqual({
      declares: true,
      current: '1.15.0',
      manifests: [
        { path: 'requirements-dev.txt', spec: '==1.15.0', kind: 'pin' },
        { path: 'requirements.txt', spec: '== 1.15.0', kind: 'pin' },
      ],
      problem: null,
    });
    expect(declaredIn('pip', 'Py.Yaml', files).manifests).toEqual([
      { path: 'requirements-lock.txt', spec: '==6.0', kind: 'compiled' },
    ]);
    const ranged = declaredIn('pip', 'requests', files);
    expect(ranged).toMatchObject({ declares: true, current: null });
    expect(ranged.problem).toMatch(
      /declares requests only as ">=2" in requirements\.txt; Lockstep moves pinned requirements/,
    );
    const pyproject =
      '[project]\nname = "svc"\ndependencies = [\n  "six==1.15.0",\n  "attrs>=22",\n]\n\n[tool.poetry.dependencies]\nrequests = "^2.31"\n';
    expect(declaredIn('pip', 'six', new Map([['pyproject.toml', pyproject]]))).toMatchObject({
      declares: true,
      current: '1.15.0',
      manifests: [{ path: 'pyproject.toml', kind: 'pin' }],
    });
    expect(declaredIn('pip', 'requests', new Map([['pyproject.toml', pyproject]])).problem).toMatch(
      /"\^2\.31" in pyproject\.toml \(Poetry\)/,
    );
  });
});

describe('the bump command of a repo', () => {
  it("npm keeps the repo's range style and section", () => {
    expect(npmSaveStyle('^2.0.0')).toEqual(['--save-prefix=^']);
    expect(npmSaveStyle('~2.0.0')).toEqual(['--save-prefix=~']);
    expect(npmSaveStyle('2.0.0')).toEqual(['--save-exact']);
    const m = {
      repo: 'web',
      declares: true,
      current: '2.0.0',
      manifests: [{ path: 'package.json', spec: '~2.0.0', kind: 'devDependencies' }],
      problem: null,
    };
    expect(bumpPlan('npm', 'ms', '2.1.3', m)).toEqual({
      command: "npm install --no-audit --no-fund --ignore-scripts --save-dev --save-prefix=~ 'ms@2.1.3'",
      files: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'],
    });
    expect(bumpPlan('go', 'google.golang.org/grpc', 'v1.85.0', { ...m, manifests: [] })).toMatchObject({
      command: "go get 'google.golang.org/grpc@v1.85.0' && go mod tidy",
      files: ['go.mod', 'go.sum'],
    });
    expect(bumpPlan('npm', 'ms', '2.1.3', { ...m, declares: false })).toEqual({ problem: 'does not declare ms' });
  });

  it('pip rewrites every pin of the package (the real sed), and nothing that only looks like it', async () => {
    const files = {
      'requirements.txt':
        '# six==1.0 is old\nsix==1.15.0\nSIX [extra] == 1.15.0 ; python_version >= "3"\nsixer==1.15.0\nrequests==2.31.0\n',
      'pyproject.toml': '[project]\ndependencies = [\n  "six==1.15.0",\n  \'six==1.15.0\',\n]\n',
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const declared = declaredIn('pip', 'six', new Map(Object.entries(files)));
    const plan = bumpPlan('pip', 'six', '1.17.0', { repo: 'py', ...declared });
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan.files).toEqual(['requirements.txt', 'pyproject.toml']);
    execFileSync('bash', ['-c', plan.command], { cwd: dir });
    expect(await readFile(join(dir, 'requirements.txt'), 'utf8')).toBe(
      '# six==1.0 is old\nsix==1.17.0\nSIX [extra] == 1.17.0 ; python_version >= "3"\nsixer==1.15.0\nrequests==2.31.0\n',
    );
    expect(await readFile(join(dir, 'pyproject.toml'), 'utf8')).toBe(
      '[project]\ndependencies = [\n  "six==1.17.0",\n  \'six==1.17.0\',\n]\n',
    );
    expect(pinRewrite('zope.interface', '6.0')).toContain('zope[-_.]+interface');
  });

  it('pip-compile recompiles a requirements file that has a .in beside it', () => {
    const plan = bumpPlan('pip', 'six', '1.17.0', {
      repo: 'py',
      declares: true,
      current: '1.15.0',
      manifests: [{ path: 'requirements.txt', spec: '==1.15.0', kind: 'compiled' }],
      problem: null,
    });
    expect(plan).toEqual({
      command:
        "pip-compile --quiet --no-header --upgrade-package 'six==1.17.0' --output-file='requirements.txt' 'requirements.in'",
      files: ['requirements.txt'],
    });
  });
});

describe('a bump in the change file', () => {
  /** The change's issues against a fleet whose one repo grants step egress (`steps: false`: grants none). */
  async function issues(change: object, { steps = true } = {}): Promise<InputIssue[]> {
    const config = join(dir, 'repos.config.json');
    await mkdir(join(dir, 'remotes', 'web'), { recursive: true });
    const egress = steps ? { egress: { allow: ['registry.example.org'], steps: {} } } : {};
    await writeFile(
      config,
      JSON.stringify({ repos: [{ name: 'web', url: 'remotes/web', sandbox: { test: 'npm test', ...egress } }] }),
    );
    const file = join(dir, 'change.yaml');
    await writeFile(file, JSON.stringify(change));
    const err = await loadChange(file, await loadReposConfig(config)).then(
      () => null,
      (e: unknown) => e,
    );
    if (!(err instanceof InputError)) return [];
    for (const i of err.issues) expect(i.file).toBe(file);
    return err.issues;
  }
  const base = { id: 'bump-ms', title: 'Bump ms' };
  /** Each issue as "<field>: <message>". */
  const said = async (change: object): Promise<string[]> =>
    (await issues(change)).map((i) => `${i.path}: ${i.message}`);

  it('needs no repos, and checks the package name and "to" per ecosystem, naming the field', async () => {
    expect(await issues({ ...base, bump: { ecosystem: 'npm', package: 'ms', to: 'latest' } })).toEqual([]);
    expect(
      await issues({ ...base, bump: { ecosystem: 'go', package: 'google.golang.org/grpc', to: '>=v1.80.0' } }),
    ).toEqual([]);
    expect(await issues({ ...base, bump: { ecosystem: 'pip', package: 'requests', to: '>=2,<3' } })).toEqual([]);
    expect(await said({ ...base, bump: { ecosystem: 'npm', package: 'Bad Name', to: 'latest' } })).toEqual([
      'bump.package: "Bad Name" is not an npm package name such as "axios" or "@scope/name" (lowercase)',
    ]);
    expect(await said({ ...base, bump: { ecosystem: 'go', package: 'grpc', to: 'latest' } })).toEqual([
      'bump.package: "grpc" is not a Go module path such as "google.golang.org/grpc" or "github.com/sirupsen/logrus"',
    ]);
    expect(await said({ ...base, bump: { ecosystem: 'go', package: 'google.golang.org/grpc', to: '1.85' } })).toEqual([
      'bump.to: "1.85" is not a Go version or module query ("v1.85.0", "v1.85", ">=v1.80.0") or "latest"',
    ]);
    expect(await issues({ ...base, bump: { ecosystem: 'pip', package: 'requests', to: '$(curl x)' } })).toMatchObject([
      { path: 'bump.to' },
    ]);
    expect(await issues({ ...base, bump: { ecosystem: 'cargo', package: 'serde', to: 'latest' } })).toMatchObject([
      { path: 'bump.ecosystem' },
    ]);
  });

  it("refuses steps on a bump's repo, and a change with neither repos nor bump", async () => {
    expect(
      await said({
        ...base,
        bump: { ecosystem: 'npm', package: 'ms', to: 'latest' },
        repos: [{ name: 'web', steps: [{ name: 'x', run: 'true' }] }],
      }),
    ).toEqual(['repos[0].steps: a bump change runs the ecosystem\'s own tool in "web"; it takes no steps']);
    expect(
      await issues({
        ...base,
        bump: { ecosystem: 'npm', package: 'ms', to: 'latest' },
        repos: [{ name: 'web', instructions: 'fix the code' }],
      }),
    ).toEqual([]);
    expect(await said(base)).toEqual([
      'repos: name at least one target repository, or choose them by query under "targets" (or give "bump", whose targets are the repos that declare the package)',
    ]);
  });

  it('refuses a bump whose repo the fleet does not grant step egress, naming the fleet key', async () => {
    const refused = await issues(
      { ...base, bump: { ecosystem: 'npm', package: 'ms', to: 'latest' }, repos: [{ name: 'web' }] },
      { steps: false },
    );
    expect(refused.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'bump: a bump runs npm\'s own tool with the steps phase\'s egress, but the fleet does not grant it to repo "web"',
    ]);
    expect(refused[0]?.fix).toMatch(
      /^set repos\[0\]\.sandbox\.egress \(with "steps"\) in .*repos\.config\.json, where repos\[0\]\.name is "web"/,
    );
  });
});

describe('the commit of a bump holds only what the bump meant to change', () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync(
      'git',
      ['-c', 'user.name=t', '-c', 'user.email=t@localhost', '-c', 'init.defaultBranch=main', ...args],
      {
        cwd,
        encoding: 'utf8',
      },
    );
  /** A remote holding an npm service, and a workspace cloned from it on the bump's branch. */
  async function seeded(name: string): Promise<{ remote: string; ws: string; base: string }> {
    const seed = join(dir, `${name}-seed`);
    const remote = join(dir, `${name}.git`);
    await mkdir(seed, { recursive: true });
    await writeFile(join(seed, 'package.json'), '{"dependencies":{"ms":"^2.0.0"}}\n');
    await writeFile(join(seed, 'index.js'), 'require("ms")\n');
    git(dir, 'init', '--quiet', '--bare', remote);
    git(seed, 'init', '--quiet');
    git(seed, 'add', '.');
    git(seed, 'commit', '--quiet', '-m', 'seed');
    git(seed, 'push', '--quiet', remote, 'HEAD:refs/heads/main');
    const ws = join(dir, `${name}-ws`);
    const base = await cloneWorkspace(remote, 'main', 'lockstep/bump-ms', ws, { owner: null });
    return { remote, ws, base };
  }
  const pushBump = (url: string, workspace: string, baseCommit: string) =>
    commitAndPush({
      changeId: 'bump-ms',
      repo: 'web',
      workspace,
      url,
      branch: 'lockstep/bump-ms',
      baseCommit,
      message: 'bump',
    });
  const pushedManifest = (remote: string) => git(dir, '--git-dir', remote, 'show', 'lockstep/bump-ms:package.json');

  it('a setup run again after the bump keeps the manifests as prepared and everything else out', async () => {
    const { remote, ws, base } = await seeded('again');

    // setup installs (no .gitignore: node_modules is in plain view)
    await mkdir(join(ws, 'node_modules', 'ms'), { recursive: true });
    await writeFile(join(ws, 'node_modules', 'ms', 'index.js'), 'v2.0.0');
    await snapshotPrepared(ws);
    // the bump edits the manifest, writes a lockfile and reinstalls
    await writeFile(join(ws, 'package.json'), '{"dependencies":{"ms":"^2.1.3"}}\n');
    await writeFile(join(ws, 'package-lock.json'), '{"packages":{"node_modules/ms":{"version":"2.1.3"}}}\n');
    await writeFile(join(ws, 'node_modules', 'ms', 'index.js'), 'v2.1.3');
    // setup again leaves more behind
    await writeFile(join(ws, 'node_modules', '.package-lock.json'), '{}');
    await snapshotPrepared(ws, { keep: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'] });
    // a fix after it counts too
    await writeFile(join(ws, 'index.js'), 'require("ms") // fixed\n');

    const pushed = await pushBump(remote, ws, base);
    expect(pushed.changedFiles.sort()).toEqual(['index.js', 'package-lock.json', 'package.json']);
    expect(pushedManifest(remote)).toBe('{"dependencies":{"ms":"^2.1.3"}}\n');
  });

  it('counts a manifest rewritten at the same size within the clock tick of the checkout', async () => {
    // A coarse file clock: checkout, index and the bump's edit all carry the same mtime, and
    // the change time is not trusted; only git's racy-entry check can see the edit.
    const { remote, ws, base } = await seeded('racy');
    git(ws, 'config', 'core.trustctime', 'false');
    const tick = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await utimes(join(ws, 'package.json'), tick, tick);
    git(ws, 'update-index', '--refresh');
    await utimes(join(ws, '.git', 'index'), tick, tick);
    await snapshotPrepared(ws);
    await writeFile(join(ws, 'package.json'), '{"dependencies":{"ms":"^2.1.3"}}\n');
    await utimes(join(ws, 'package.json'), tick, tick);

    const pushed = await pushBump(remote, ws, base);
    expect(pushed.changedFiles).toEqual(['package.json']);
    expect(pushedManifest(remote)).toBe('{"dependencies":{"ms":"^2.1.3"}}\n');
  });
});

describe("the agent's fix of a failing bump", () => {
  const lock = (version: string) =>
    JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/uuid': { version } } });
  const pkg = (spec: string) => JSON.stringify({ name: 'ids', dependencies: { uuid: spec } });

  it('tells the agent the package, both versions, the test command and output, and what the change asks', () => {
    const task = bumpFixInstructions(
      'uuid',
      '3.4.0',
      '9.0.1',
      'npm test',
      `${'x'.repeat(5000)}ERR_PACKAGE_PATH_NOT_EXPORTED`,
      { source: 'instructions', text: 'Keep the ids.' },
    );
    expect(task.split('\n').slice(0, 3)).toEqual([
      'uuid was moved from 3.4.0 to 9.0.1 in this repository: the manifests and lockfiles are already updated in the workspace and the dependencies installed.',
      'With uuid 9.0.1 the tests (npm test) fail. Change the code so that it works with uuid 9.0.1 and the tests pass, then call finish.',
      'Do not change the version: uuid must stay at 9.0.1 in the manifests and lockfiles; a fix that moves it back fails this repository.',
    ]);
    // The output's end, where the error is, capped.
    expect(task).toContain(`${'x'.repeat(100)}ERR_PACKAGE_PATH_NOT_EXPORTED\n`);
    expect(task.length).toBeLessThan(3600);
    expect(task.endsWith('What the change asks of this repository:\nKeep the ids.')).toBe(true);
    expect(
      bumpFixInstructions('uuid', null, '9.0.1', 'npm test', 'boom', { source: 'description', text: 'Move to 9.' }),
    ).toMatch(/^uuid was moved to 9\.0\.1 [^]*What the change asks \(its description\):\nMove to 9\.$/);
  });

  it('says why no agent ran and how to ask for one', () => {
    expect(bumpFixHint('ids', 'uuid', '9.0.1', 'npm test', { exitCode: 1, timedOut: false }, null)).toBe(
      "the tests (npm test) fail with uuid 9.0.1 in place (exited with code 1). No agent ran: this repo's entry has no instructions and the change no description. " +
        'To ask for a fix, give instructions on this repo\'s entry in the change file (repos: [{ name: ids, instructions: "…" }]), or the change a description, and run the workers with a model (OPENAI_API_KEY; docs/bumps.md)',
    );
    expect(bumpFixHint('ids', 'uuid', '9.0.1', 'npm test', { exitCode: 137, timedOut: true }, false)).toMatch(
      /^the tests \(npm test\) fail with uuid 9\.0\.1 in place \(timed out\)\. No agent ran: no model is configured on the workers/,
    );
  });

  it('the guard: any change to how the package is declared is named; everything else is the fix', () => {
    const bumped = declaredIn(
      'npm',
      'uuid',
      new Map([
        ['package.json', pkg('^9.0.1')],
        ['package-lock.json', lock('9.0.1')],
      ]),
    );
    expect(bumpUndone('uuid', '9.0.1', bumped, bumped)).toBeNull();
    const withOther = declaredIn(
      'npm',
      'uuid',
      new Map([
        ['package.json', JSON.stringify({ dependencies: { uuid: '^9.0.1', ms: '2.1.3' } })],
        ['package-lock.json', lock('9.0.1')],
      ]),
    );
    expect(bumpUndone('uuid', '9.0.1', bumped, withOther)).toBeNull();
    const back = declaredIn(
      'npm',
      'uuid',
      new Map([
        ['package.json', pkg('^3.4.0')],
        ['package-lock.json', lock('3.4.0')],
      ]),
    );
    expect(bumpUndone('uuid', '9.0.1', bumped, back)).toBe(
      'the agent changed the bump: uuid must stay at 9.0.1, but package.json (dependencies) "^9.0.1" → "^3.4.0", package-lock.json (lockfile) "9.0.1" → "3.4.0"; ' +
        "a bump's fix changes the code, not the version, so nothing was committed",
    );
    const gone = declaredIn('npm', 'uuid', new Map([['package.json', JSON.stringify({ dependencies: {} })]]));
    expect(bumpUndone('uuid', '9.0.1', bumped, gone)).toMatch(
      /package\.json \(dependencies\) "\^9\.0\.1" → \(none\), package-lock\.json \(lockfile\) "9\.0\.1" → \(none\)/,
    );
  });

  it('reads the work tree on the host: named manifests only, regular files inside it, never through a symlink', async () => {
    const ws = join(dir, 'guard-ws');
    const outside = join(dir, 'guard-outside');
    await mkdir(ws, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(ws, 'package.json'), pkg('^9.0.1'));
    await writeFile(join(ws, 'package-lock.json'), lock('9.0.1'));
    expect(
      await workspaceDeclaration(ws, 'npm', 'uuid', ['package.json', 'package-lock.json', 'npm-shrinkwrap.json']),
    ).toEqual({
      declares: true,
      current: '9.0.1',
      manifests: [
        { path: 'package.json', spec: '^9.0.1', kind: 'dependencies' },
        { path: 'package-lock.json', spec: '9.0.1', kind: 'lockfile' },
      ],
    });
    // A lockfile swapped for a symlink to one outside is not read: the declaration changed.
    await writeFile(join(outside, 'package-lock.json'), lock('9.0.1'));
    await rm(join(ws, 'package-lock.json'));
    await symlink(join(outside, 'package-lock.json'), join(ws, 'package-lock.json'));
    expect(
      (await workspaceDeclaration(ws, 'npm', 'uuid', ['package.json', 'package-lock.json'])).manifests.map(
        (m) => m.path,
      ),
    ).toEqual(['package.json']);
    // Nor a requirements file behind a symlinked folder.
    await writeFile(join(outside, 'requirements.txt'), 'six==1.17.0\n');
    await symlink(outside, join(ws, 'linked'));
    expect((await workspaceDeclaration(ws, 'pip', 'six', ['linked/requirements.txt'])).declares).toBe(false);
    expect(declarationPaths(['requirements/base.txt', '../x.txt', '/etc/passwd', 'pyproject.toml'])).toEqual([
      'pyproject.toml',
      'requirements/base.in',
      'requirements/base.txt',
    ]);
  });
});
