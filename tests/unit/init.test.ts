/**
 * `lockstep init` on real git remotes of realistic shapes: what it detects from each repo's
 * files at the base branch, the commented file it writes, which the real loader accepts, and
 * that it never overwrites a file unasked. Also the JSON-with-comments reading it relies on.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectSandbox } from '../../client/machine/detect.ts';
import { initConfig, repoName } from '../../client/machine/init.ts';
import { InputError, loadReposConfig } from '../../config/load.ts';
import { parseJsonc } from '../../config/jsonc.ts';

const exec = promisify(execFile);
let dir: string;

/** A bare remote at `<dir>/remotes/<name>.git` whose `branch` holds exactly `files`. */
async function remote(name: string, files: Record<string, string>, branch = 'main'): Promise<string> {
  const work = join(dir, 'work', name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), text);
  }
  const git = (cwd: string, ...args: string[]) => exec('git', args, { cwd });
  await git(work, 'init', '--quiet', '--initial-branch', branch);
  await git(work, 'add', '--all');
  await git(work, '-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '--quiet', '-m', 'import');
  const bare = join(dir, 'remotes', `${name}.git`);
  await git(dir, 'clone', '--quiet', '--bare', work, bare);
  return bare;
}

const NODE_SERVICE = {
  'package.json': JSON.stringify(
    {
      name: 'orders',
      version: '1.4.0',
      scripts: { start: 'node src/server.js', test: 'node --test test/' },
      engines: { node: '>=22.11.0' },
      dependencies: { express: '^5.1.0' },
    },
    null,
    2,
  ),
  'package-lock.json': JSON.stringify({ name: 'orders', lockfileVersion: 3, packages: {} }),
  '.nvmrc': '22\n',
  'src/server.js': "import express from 'express';\n",
  'test/server.test.js': "import test from 'node:test';\n",
};

const GO_MODULE = {
  'go.mod': 'module example.org/ledger\n\ngo 1.26.2\n\nrequire github.com/google/uuid v1.6.0\n',
  'go.sum': 'github.com/google/uuid v1.6.0 h1:abc=\n',
  'ledger.go': 'package ledger\n',
  'ledger_test.go': 'package ledger\n',
  Makefile: 'test:\n\tgo test ./...\n',
};

const PYTHON_PROJECT = {
  'pyproject.toml':
    '[project]\nname = "pricing"\nversion = "0.3.0"\nrequires-python = ">=3.10"\ndependencies = ["httpx>=0.27"]\n\n[project.optional-dependencies]\ntest = ["pytest>=8"]\n',
  'pricing/__init__.py': '',
  'tests/test_pricing.py': 'def test_one():\n    assert True\n',
};

let remotes: Record<'node' | 'go' | 'python' | 'plain', string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-init-'));
  remotes = {
    node: await remote('orders', NODE_SERVICE),
    go: await remote('ledger', GO_MODULE, 'trunk'),
    python: await remote('pricing', PYTHON_PROJECT),
    plain: await remote('web', { 'package.json': '{"name":"web","scripts":{"test":"node --test"}}' }),
  };
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('lockstep init', () => {
  it('detects the test command, toolchain and setup of a Node service, a Go module and a Python project', async () => {
    const file = join(dir, 'fleet', 'repos.config.json');
    await mkdir(dirname(file), { recursive: true });
    const { repos } = await initConfig({ file, remotes: [remotes.node, remotes.go, remotes.python, remotes.plain] });

    const byName = Object.fromEntries(repos.map((r) => [r.name, r]));
    expect(byName.orders).toMatchObject({
      baseBranch: 'main',
      url: '../remotes/orders.git',
      sandbox: { image: 'lockstep-node:22', setup: 'npm ci', egress: ['registry.npmjs.org'], test: 'npm test' },
    });
    // The go line asks for more than the default image's Go 1.19; the branch is the remote's HEAD.
    expect(byName.ledger).toMatchObject({
      baseBranch: 'trunk',
      sandbox: {
        image: 'lockstep-go:1.26',
        setup: 'go mod download',
        egress: ['proxy.golang.org', 'sum.golang.org'],
        test: 'go test ./...',
      },
    });
    // Python 3.10 or newer: the default image's 3.11 fits.
    expect(byName.pricing?.sandbox).toMatchObject({
      image: 'lockstep-sandbox:latest',
      setup: null,
      test: 'python3 -m pytest',
    });
    expect(byName.web?.sandbox).toMatchObject({ image: 'lockstep-sandbox:latest', setup: null, test: 'node --test' });

    // The real loader accepts the file; the comments say where each value came from.
    const loaded = await loadReposConfig(file);
    expect(loaded.config.repos.map((r) => [r.name, r.sandbox.image, r.sandbox.test, r.sandbox.setup ?? null])).toEqual([
      ['orders', 'lockstep-node:22', 'npm test', 'npm ci'],
      ['ledger', 'lockstep-go:1.26', 'go test ./...', 'go mod download'],
      ['pricing', 'lockstep-sandbox:latest', 'python3 -m pytest', null],
      ['web', 'lockstep-sandbox:latest', 'node --test', null],
    ]);
    expect(loaded.config.repos[1]?.sandbox.egress?.allow).toEqual(['proxy.golang.org', 'sum.golang.org']);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('// package.json engines.node asks for Node.js >=22.11.0');
    expect(text).toContain("// go.mod's go line asks for Go 1.26.2; lockstep-sandbox:latest has Go 1.19 only");
    expect(text).toContain('// package-lock.json: dependencies installed by npm ci');
    expect(text).toContain(
      '// pyproject.toml requires-python asks for Python >=3.10; lockstep-sandbox:latest has Python 3.11',
    );
  });

  it('refuses to overwrite a file without --force, and overwrites it with', async () => {
    const file = join(dir, 'existing.json');
    await writeFile(file, '{ "keep": true }\n');
    const refused = await initConfig({ file, remotes: [remotes.plain] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputError);
    expect((refused as InputError).issues[0]).toMatchObject({ file, message: 'already exists' });
    expect(await readFile(file, 'utf8')).toBe('{ "keep": true }\n');

    await initConfig({ file, remotes: [remotes.plain], force: true });
    expect((await loadReposConfig(file)).config.repos.map((r) => r.name)).toEqual(['web']);
  });

  it('names the remote it cannot read, and writes nothing', async () => {
    const file = join(dir, 'unreadable.json');
    const err = await initConfig({ file, remotes: [remotes.plain, join(dir, 'remotes', 'absent.git')] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).issues[0]).toMatchObject({ path: 'repos[1].url' });
    expect((err as InputError).issues[0]?.message).toContain('absent.git');
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });

  it('asks for an image with npm when a lockfile needs npm ci, even where the Node.js version fits', async () => {
    const files: Record<string, string> = {
      'package.json': '{"scripts":{"test":"jest"}}',
      'package-lock.json': '{}',
    };
    const found = await detectSandbox({ names: Object.keys(files), read: async (n) => files[n] ?? null });
    expect(found).toMatchObject({ image: 'lockstep-node:18', setup: 'npm ci', test: 'npm test' });
    expect(found.notes.find((n) => n.field === 'image')?.text).toContain('has Node.js 18 but no npm');
  });

  it('names repos after their remotes as the config allows', () => {
    expect(repoName('https://github.com/acme/Order_Service.git')).toBe('order_service');
    expect(repoName('git@gitlab.example.org:team/api.git')).toBe('api');
    expect(repoName('/srv/git/billing/')).toBe('billing');
  });
});

describe('repos.config.json with comments', () => {
  it('reads // and /* */ comments, and leaves comment-like text inside strings alone', () => {
    expect(parseJsonc('// head\n{ "a": "http://x/*y*/", /* b */ "b": [1, 2] // tail\n}')).toEqual({
      a: 'http://x/*y*/',
      b: [1, 2],
    });
  });

  it('names the line and column of a syntax error, and the fix', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '// fleet\n{\n  "repos": [],\n}\n');
    const err = await loadReposConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).issues[0]).toMatchObject({
      file,
      message: 'invalid JSON at line 3, column 14: a trailing comma before "}" (remove it)',
      fix: 'fix the syntax there (comments // and /* */ are allowed, trailing commas are not)',
    });
    expect(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}')).toThrow(
      'line 3, column 3: expected "," or "}" after a value, found "\\""',
    );
    expect(() => parseJsonc('{ "a": 1 /* open')).toThrow('line 1, column 10: a /* comment is never closed with */');
  });
});
