/**
 * Fuzzing the config and change-file parsers with malformed files: garbage bytes, arbitrary
 * JSON and YAML, valid files with one field replaced by something of the wrong type, huge
 * numbers, deep nesting, YAML tags, anchors and alias bombs, prototype keys. Every outcome is a
 * loaded value or the project's InputError (each issue with a file, a path, a message and a
 * fix); anything else thrown is a crash.
 */
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InputError, loadChange, loadReposConfig, type LoadedConfig } from '../../config/load.ts';
import { FUZZ_RUNS, fuzzParameters, noFigures, recordFigures, settle, type FuzzFigures } from './settings.ts';

const figures: Record<string, FuzzFigures> = {};
let dir = '';
let fleet: LoadedConfig;
let counter = 0;

const VALID_CONFIG = {
  concurrency: 2,
  defaults: {
    sandbox: { image: 'lockstep-sandbox:latest', timeouts: { stepSeconds: 120 }, limits: { memoryMb: 1024 } },
  },
  repos: [
    {
      name: 'api',
      url: 'remotes/api',
      sandbox: { test: 'make test', env: { MODE: 'ci' } },
      provides: [{ name: 'api-v1', kind: 'openapi', path: 'openapi.json' }],
    },
    {
      name: 'web',
      url: 'remotes/web',
      baseBranch: 'main',
      sandbox: { test: 'npm test', passEnv: ['LANG'] },
      consumes: [{ name: 'api-v1', path: 'api.uses.json' }],
    },
  ],
  gate: { rounds: 1, waive: [{ rule: 'x', repo: 'web', reason: 'fixture' }] },
};

const VALID_CHANGE = {
  id: 'fuzz-change',
  title: 'A fuzzed change',
  description: 'text',
  repos: [
    { name: 'api', steps: [{ name: 'edit', run: 'echo hi >> NOTES.md', timeoutSeconds: 60 }] },
    { name: 'web', instructions: 'Read the new field.' },
  ],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-fuzz-parsers-'));
  for (const repo of ['api', 'web']) await mkdir(join(dir, 'remotes', repo), { recursive: true });
  const file = join(dir, 'fleet.json');
  await writeFile(file, JSON.stringify(VALID_CONFIG));
  fleet = await loadReposConfig(file);
});

afterAll(async () => {
  await recordFigures('parsers', figures);
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Generators

/** Values that break parsers: wrong types, huge and odd numbers, prototype keys, long text. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER,
    '',
    ' ',
    'x'.repeat(100_000),
    '../../etc',
    '\0',
    '\u202e',
    [],
    {},
    [[[]]],
    { __proto__: { test: 'x' } },
    JSON.parse('{"__proto__": {"test": "x"}}') as unknown,
    { constructor: 1, toString: 'x' },
  ),
);

/** Every path (as keys) into a JSON value, so one field anywhere can be replaced. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, k]));
  return out;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value))
    return (value as unknown[]).map((v, i) => (i === head ? replaceAt(v, rest, replacement) : v));
  // Defined, not assigned, so a "__proto__" key stays a key, as JSON.parse would leave it.
  const copy: Record<string, unknown> = {};
  const define = (k: string, v: unknown) =>
    Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) define(k, k === head ? replaceAt(v, rest, replacement) : v);
  if (!entries.some(([k]) => k === head)) define(String(head), replaceAt(undefined, rest, replacement));
  return copy;
}

/** A valid document with one field (or the whole) replaced, or one key added to an object in it. */
const mutated = (valid: object): fc.Arbitrary<unknown> => {
  const all = paths(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...all), hostileValue).map(([path, v]) => replaceAt(valid, path, v)),
    fc
      .tuple(
        fc.constantFrom(...all),
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor')),
        hostileValue,
      )
      .map(([path, key, v]) => {
        const parent = path.reduce<unknown>((node, k) => (node as Record<string | number, unknown>)[k], valid);
        if (typeof parent !== 'object' || parent === null || Array.isArray(parent)) return replaceAt(valid, path, v);
        return replaceAt(valid, path, replaceAt(parent, [key], v));
      }),
  );
};

const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const aliasBomb = (levels: number, width: number) => {
  const lines = [`l0: &l0 [${Array(width).fill('x').join(', ')}]`];
  for (let i = 1; i <= levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(width)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\nrepos: *l${levels}\n`;
};

/** Raw texts no serializer would write: syntax errors, YAML features, deep nesting, bombs. */
const rawText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    '\n',
    '\uFEFF',
    '{',
    '}',
    '[',
    '{"repos": [}',
    '{"repos": 1e999}',
    '{"repos": [{"name": "api", "url": 123456789012345678901234567890}]}',
    'repos: !!binary aGVsbG8=',
    'repos: !!set {a, b}',
    'repos: !!js/function "x"',
    'repos: !!timestamp 2001-12-14',
    'repos: !<tag:yaml.org,2002:omap> [a: 1]',
    'a: &a [*a]\nrepos: *a',
    'x: &x {name: api}\nrepos:\n  - <<: *x\n    url: remotes/api',
    '? [a, b]\n: 1\nrepos: []',
    'repos: .inf',
    'repos: .nan',
    'repos: 0x1F',
    'repos: 0o17',
    '%YAML 1.1\n---\nrepos: []',
    '---\nrepos: []\n---\nrepos: []',
    'repos: "\\0"',
    'repos:\n\t- x',
    `repos: ${'-'.repeat(1000)}`,
    '{"__proto__": {"repos": []}}',
    '{"repos": [], "repos": [1]}',
  ),
  fc.integer({ min: 10, max: 20_000 }).map(deepArray),
  fc.integer({ min: 10, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.integer({ min: 10, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}a:`).join('\n')),
  fc
    .tuple(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 2, max: 12 }))
    .map(([levels, width]) => aliasBomb(levels, width)),
);

/** A file: a structured document as JSON or YAML, raw text, or garbage bytes, under some extension. */
function fileArb(valid: object): fc.Arbitrary<{ ext: string; data: string | Uint8Array }> {
  const extension = fc.constantFrom('.json', '.yaml', '.yml', '.JSON', '');
  const doc = fc.oneof(
    { weight: 4, arbitrary: mutated(valid) },
    { weight: 1, arbitrary: hostileValue },
    { weight: 1, arbitrary: fc.constant(valid) },
  );
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(extension, doc).map(([ext, value]) => ({
        ext,
        data: /json/i.test(ext) ? (JSON.stringify(value) ?? 'undefined') : stringify(value),
      })),
    },
    { weight: 3, arbitrary: fc.tuple(extension, rawText).map(([ext, data]) => ({ ext, data })) },
    {
      weight: 1,
      arbitrary: fc.tuple(extension, fc.uint8Array({ maxLength: 300 })).map(([ext, data]) => ({ ext, data })),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The oracle

/** A value, or an InputError whose every issue is complete; anything else fails the run. */
async function outcomeOf(f: FuzzFigures, load: () => Promise<unknown>): Promise<void> {
  try {
    await load();
    f.accepted++;
  } catch (err) {
    if (!(err instanceof InputError)) {
      f.crashes++;
      throw new Error(`not an InputError: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    expect(err.issues.length).toBeGreaterThan(0);
    for (const issue of err.issues) {
      expect(typeof issue.file).toBe('string');
      expect(typeof issue.path).toBe('string');
      expect(issue.message).not.toBe('');
      expect(issue.fix).not.toBe('');
    }
    expect(err.message).not.toBe('');
  }
}

async function writeCase(file: { ext: string; data: string | Uint8Array }): Promise<string> {
  const path = join(dir, `case-${counter++}${file.ext}`);
  await writeFile(path, file.data);
  return path;
}

describe('fuzzing the input parsers', () => {
  it('loadReposConfig: every malformed config is a value or an InputError, never a crash or a hang', async () => {
    const f = (figures.loadReposConfig = noFigures());
    const details = await fc.check(
      fc.asyncProperty(fileArb(VALID_CONFIG), async (file) => {
        f.runs++;
        const path = await writeCase(file);
        await outcomeOf(f, () => loadReposConfig(path));
        await rm(path);
      }),
      fuzzParameters(FUZZ_RUNS),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ crashes: 0, hangs: 0 });
  });

  it('loadChange: every malformed change file is a value or an InputError, never a crash or a hang', async () => {
    const f = (figures.loadChange = noFigures());
    const details = await fc.check(
      fc.asyncProperty(fileArb(VALID_CHANGE), async (file) => {
        f.runs++;
        const path = await writeCase(file);
        await outcomeOf(f, () => loadChange(path, fleet));
        await rm(path);
      }),
      fuzzParameters(FUZZ_RUNS),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ crashes: 0, hangs: 0 });
  });
});
