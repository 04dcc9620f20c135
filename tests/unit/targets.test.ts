/** Targets by query: the change file's `targets` schema and the pure selection (globs, content, tags, contracts). */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Change } from '../../config/change.ts';
import { InputError, loadChange, loadReposConfig, type InputIssue } from '../../config/load.ts';
import { RepoConfig } from '../../config/repos.ts';
import { recordedTargets } from '../../client/machine/targets.ts';
import { withBaseTree } from '../../activities/git/base.ts';
import { configReasons, contentMatches, globRegExp, queriedPaths, withSelected } from '../../core/targets.ts';

const base = { id: 'q', title: 'Query' };
const issuePaths = (input: unknown): string[] => {
  const parsed = Change.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
};

describe('the targets schema', () => {
  it('takes a query instead of a repo list, and defaults exclude to none', () => {
    const change = Change.parse({ ...base, targets: { tags: ['payments'], contains: { path: '**/*.ts', text: 'x' } } });
    expect(change.repos).toEqual([]);
    expect(change.targets?.exclude).toEqual([]);
  });

  it('refuses an empty query, text with regex, a bad regex, an absolute or escaping glob, steps with instructions', () => {
    expect(issuePaths({ ...base, targets: {} })).toEqual(['targets']);
    expect(issuePaths({ ...base, targets: { contains: { path: 'a', text: 'x', regex: 'y' } } })).toEqual([
      'targets.contains.regex',
    ]);
    expect(issuePaths({ ...base, targets: { contains: { path: 'a', regex: '(' } } })).toEqual([
      'targets.contains.regex',
    ]);
    expect(issuePaths({ ...base, targets: { contains: { path: '/etc/passwd' } } })).toEqual(['targets.contains.path']);
    expect(issuePaths({ ...base, targets: { contains: { path: 'src/../../x' } } })).toEqual(['targets.contains.path']);
    expect(
      issuePaths({ ...base, targets: { tags: ['a'], steps: [{ name: 's', run: 'true' }], instructions: 'do it' } }),
    ).toEqual(['targets.instructions']);
    expect(issuePaths({ ...base, targets: { tags: ['a'], unknown: 1 } })).toEqual(['targets']);
  });

  it('still asks for a target when neither repos, targets nor bump is given, and refuses steps in a bump', () => {
    expect(issuePaths(base)).toEqual(['repos']);
    expect(
      issuePaths({
        ...base,
        bump: { ecosystem: 'npm', package: 'debug' },
        targets: { tags: ['a'], steps: [{ name: 's', run: 'true' }] },
      }),
    ).toEqual(['targets.steps']);
  });
});

describe('globs', () => {
  const paths = ['a.ts', 'src/a.ts', 'src/deep/b.ts', 'src/c.js', 'pkg/src/d.ts', 'README.md', 'docs/x.md'];
  const match = (glob: string) => paths.filter((p) => globRegExp(glob).test(p));

  it('`*` stays in a folder, `**/` spans any number of them, `{a,b}` is either, `?` one character', () => {
    expect(match('*.ts')).toEqual(['a.ts']);
    expect(match('src/*.ts')).toEqual(['src/a.ts']);
    expect(match('src/**/*.ts')).toEqual(['src/a.ts', 'src/deep/b.ts']);
    expect(match('**/*.ts')).toEqual(['a.ts', 'src/a.ts', 'src/deep/b.ts', 'pkg/src/d.ts']);
    expect(match('**/*.{md,js}')).toEqual(['src/c.js', 'README.md', 'docs/x.md']);
    expect(match('src/?.ts')).toEqual(['src/a.ts']);
    expect(match('src/**')).toEqual(['src/a.ts', 'src/deep/b.ts', 'src/c.js']);
  });

  it('treats regex characters in a glob literally', () => {
    expect(globRegExp('a+b(c).txt').test('a+b(c).txt')).toBe(true);
    expect(globRegExp('a.txt').test('abtxt')).toBe(false);
  });
});

describe('content matches', () => {
  const files = new Map([
    ['src/a.ts', 'import x from "legacy-log";\nconst y = 1;\nlegacyLog(y);\n'],
    ['src/b.ts', 'nothing here\n'],
  ]);

  it('a path query matches on the paths alone', () => {
    expect(queriedPaths({ path: 'src/*.ts' }, ['src/a.ts', 'src/b.ts', 'lib/c.ts'])).toEqual(['src/a.ts', 'src/b.ts']);
    expect(contentMatches({ path: 'src/*.ts' }, files)).toEqual([
      { path: 'src/a.ts', line: null, excerpt: null },
      { path: 'src/b.ts', line: null, excerpt: null },
    ]);
  });

  it('a fixed text matches literally, with the file and line', () => {
    expect(contentMatches({ path: 'src/*.ts', text: '"legacy-log"' }, files)).toEqual([
      { path: 'src/a.ts', line: 1, excerpt: 'import x from "legacy-log";' },
    ]);
    expect(contentMatches({ path: 'src/*.ts', text: 'legacy.log' }, files)).toEqual([]);
  });

  it('a regex matches per line', () => {
    expect(contentMatches({ path: 'src/*.ts', regex: '^legacy[A-Z]\\w+\\(' }, files)).toEqual([
      { path: 'src/a.ts', line: 3, excerpt: 'legacyLog(y);' },
    ]);
  });

  it('keeps the first five matches only', () => {
    const many = new Map([['f', 'hit\n'.repeat(50)]]);
    expect(contentMatches({ path: 'f', text: 'hit' }, many)).toHaveLength(5);
  });
});

describe('selection by the fleet config', () => {
  const repo = (extra: object) => RepoConfig.parse({ name: 'r', url: 'r', sandbox: { test: 't' }, ...extra });
  const consumer = repo({ tags: ['payments', 'node'], consumes: [{ name: 'catalog-api' }] });
  const provider = repo({ tags: ['node'], provides: [{ name: 'catalog-api', kind: 'command', command: 'true' }] });

  it('tags select a repo carrying any of them; every query given must hold', () => {
    expect(configReasons({ tags: ['payments', 'go'], exclude: [] }, consumer)).toEqual(['tag "payments"']);
    expect(configReasons({ tags: ['go'], exclude: [] }, consumer)).toBeNull();
    expect(configReasons({ tags: ['node'], consumersOf: 'catalog-api', exclude: [] }, consumer)).toEqual([
      'tag "node"',
      'consumes catalog-api',
    ]);
    expect(configReasons({ tags: ['node'], consumersOf: 'catalog-api', exclude: [] }, provider)).toBeNull();
    expect(configReasons({ providersOf: 'catalog-api', exclude: [] }, provider)).toEqual(['provides catalog-api']);
  });

  it('listed repos keep their own task; selected ones take the query’s steps; the recorded set replaces the query', () => {
    const steps = [{ name: 'edit', run: 'true' }];
    const listed = [{ name: 'a', instructions: 'own task' }];
    expect(withSelected(listed, { steps }, ['b', 'a'])).toEqual([
      { name: 'a', instructions: 'own task' },
      { name: 'b', steps },
    ]);
    const change = Change.parse({ ...base, repos: listed, targets: { tags: ['x'], steps } });
    const recorded = recordedTargets(change, ['a', 'c']);
    expect(recorded.targets).toBeUndefined();
    expect(recorded.repos).toEqual([
      { name: 'a', instructions: 'own task' },
      { name: 'c', steps },
    ]);
  });
});

describe('loading a change with targets', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockstep-targets-'));
    await mkdir(join(dir, 'remotes', 'api'), { recursive: true });
    await writeFile(
      join(dir, 'repos.config.json'),
      JSON.stringify({
        repos: [
          {
            name: 'api',
            url: 'remotes/api',
            sandbox: { test: 't' },
            tags: ['node'],
            provides: [{ name: 'api-spec', kind: 'command', command: 'true' }],
          },
        ],
      }),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names an unknown tag, contract or excluded repo with the file, the field and what exists', async () => {
    const loaded = await loadReposConfig(join(dir, 'repos.config.json'));
    const file = join(dir, 'change.json');
    await writeFile(
      file,
      JSON.stringify({ ...base, targets: { tags: ['go'], consumersOf: 'nope', exclude: ['ghost'] } }),
    );
    const err = await loadChange(file, loaded).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const issues = (err as InputError).issues.map((i: InputIssue) => [i.file, i.path, i.fix]);
    expect(issues).toEqual([
      [file, 'targets.tags[0]', expect.stringContaining('use one of: node')],
      [file, 'targets.consumersOf', expect.stringContaining('use one of: api-spec')],
      [file, 'targets.exclude[0]', expect.stringContaining('use one of: api')],
    ]);
  });
});

describe('reading a base branch without a work tree', () => {
  it('lists every path and reads text files in one batch: binary, oversized and unknown paths left out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-base-test-'));
    try {
      const exec = promisify(execFile);
      const work = join(dir, 'work');
      await mkdir(join(work, 'src'), { recursive: true });
      await writeFile(join(work, 'src', 'a file.ts'), 'legacyLog(1);\n');
      await writeFile(join(work, 'logo.png'), Buffer.from([0x89, 0x50, 0x00, 0x01]));
      await writeFile(join(work, 'big.txt'), 'x'.repeat(5000));
      await writeFile(join(work, 'empty.txt'), '');
      const git = (...args: string[]) => exec('git', ['-C', work, ...args]);
      await git('init', '--quiet', '--initial-branch', 'main');
      await git('add', '--all');
      await git('-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '--quiet', '-m', 'base');
      const head = (await git('rev-parse', 'HEAD')).stdout.trim();

      const read = await withBaseTree({ repo: 'r', url: work, baseBranch: 'main' }, undefined, async (tree) => ({
        commit: tree.commit,
        paths: [...tree.paths].sort(),
        files: await tree.read(['src/a file.ts', 'logo.png', 'big.txt', 'empty.txt', 'nope.txt'], 1000),
        unbounded: [...(await tree.read(['nope.txt', 'big.txt'])).keys()],
      }));
      expect(read.commit).toBe(head);
      expect(read.paths).toEqual(['big.txt', 'empty.txt', 'logo.png', 'src/a file.ts']);
      expect([...read.files]).toEqual([
        ['src/a file.ts', 'legacyLog(1);\n'],
        ['empty.txt', ''],
      ]);
      expect(read.unbounded).toEqual(['big.txt']);

      const missing = await withBaseTree({ repo: 'r', url: work, baseBranch: 'release' }, undefined, () =>
        Promise.resolve(null),
      ).catch((e: unknown) => e);
      expect((missing as Error).message).toContain('cannot read branch "release" of r');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
