/**
 * Fuzzing the tool-call parser: whatever name and arguments string a model sends (arbitrary
 * names, arbitrary or truncated JSON, wrong types, extra keys, deep nesting, huge numbers),
 * executeTool answers with an outcome for the model and never throws; an outcome is ok only for
 * a call that fits the tool's published schema; and nothing leaves the workspace or starts a
 * process on the host on the way.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL_OUTPUT_CHARS,
  TOOL_NAMES,
  executeTool,
  toolDefinitions,
  type ToolContext,
  type ToolOutcome,
} from '../../activities/agent/tools/index.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';
import { RecordingDocker } from './recording-docker.ts';
import { FUZZ_RUNS, fuzzParameters, noFigures, recordFigures, settle, type FuzzFigures } from './settings.ts';
import { changedEntries, createFuzzWorkspace, type FuzzWorkspace } from './workspace.ts';

const figures: Record<string, FuzzFigures> = {};
let ws: FuzzWorkspace;
let recorder: RecordingDocker;
let ctx: ToolContext;

beforeAll(async () => {
  ws = await createFuzzWorkspace();
  recorder = new RecordingDocker();
  let index = 0;
  ctx = {
    workspace: ws.workspace,
    sandbox: {
      docker: recorder.asDocker(),
      user: `${SANDBOX_UID}:${SANDBOX_UID}`,
      owner: `fuzz:${process.pid}`,
      workerEnv: {},
      logDir: join(ws.scratch, 'logs'),
    },
    ref: { changeId: `fuzz-calls-${process.pid}`, repo: 'calls' },
    testCommand: 'make test',
    commandTimeoutSeconds: 30,
    testTimeoutSeconds: 30,
    outputBytes: 65_536,
    nextIndex: () => index++,
    owner: null,
  };
});

afterAll(async () => {
  await recordFigures('tool-calls', figures);
  await ws?.cleanup();
});

/** The published schema of each tool, read from what the model is given. */
const schemas = new Map(
  toolDefinitions().flatMap((d) => {
    if (d.type !== 'function') return [];
    const parameters = d.function.parameters as { properties: Record<string, { type: string | string[] }> };
    return [[d.function.name, parameters.properties] as const];
  }),
);

function fitsSchema(name: string, value: unknown): boolean {
  const properties = schemas.get(name);
  if (!properties || typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const args = value as Record<string, unknown>;
  if (Object.keys(args).some((key) => !Object.hasOwn(properties, key))) return false;
  return Object.entries(properties).every(([key, p]) => {
    const types = Array.isArray(p.type) ? p.type : [p.type];
    const v = args[key];
    // Omitted optional arguments are accepted (not every endpoint enforces strict schemas).
    if (v === undefined || v === null) return types.includes('null');
    return types.some((t) => (t === 'string' ? typeof v === 'string' : t === 'integer' ? Number.isInteger(v) : false));
  });
}

// ---------------------------------------------------------------------------------------------
// Generators

const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOOL_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...TOOL_NAMES).map((n) => n.toUpperCase()) },
  { weight: 1, arbitrary: fc.constantFrom(...TOOL_NAMES).map((n) => ` ${n}\n`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...PROTO_KEYS,
      '',
      'functions.read_file',
      'read_file\0',
      'x'.repeat(10_000),
      '\u202eelif_daer',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);

const allParams = [...new Set([...schemas.values()].flatMap((p) => Object.keys(p)))];
const keyArb = fc.oneof(fc.constantFrom(...allParams), fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 10 }));
const valueArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    'README.md',
    'src/a.ts',
    '../outside',
    '.',
    '--version',
    'ls -la',
    'done',
    '',
    1,
    0,
    -1,
    1.5,
    2 ** 53,
    null,
    true,
    [],
    {},
  ),
);

/** A JSON object over the tools' own parameter names (and others), values of any type. */
const argsObjectArb = fc.dictionary(keyArb, valueArb, { maxKeys: 5 }).map((o) => JSON.stringify(o));

/** A valid-looking call cut anywhere: what a model sends when its output is truncated. */
const truncatedArb = fc
  .tuple(argsObjectArb, fc.nat())
  .filter(([text]) => text.length > 1)
  .map(([text, cut]) => text.slice(0, cut % text.length));

const deep = (n: number, open: string, close: string) => `${open.repeat(n)}${close.repeat(n)}`;
const rawArb = fc.oneof(
  { weight: 4, arbitrary: argsObjectArb },
  { weight: 2, arbitrary: truncatedArb },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '   ',
      'null',
      '[]',
      '{}',
      '"text"',
      '1e999',
      '-0',
      'true',
      '{"path": 1e999}',
      '{"start_line": 1e400, "path": "README.md"}',
      '{"start_line": 9007199254740993, "path": "README.md"}',
      '{"path":"README.md","path":"../outside/sentinel.txt"}',
      '{"__proto__": {"path": "README.md"}}',
      '\uFEFF{}',
      '{"path": "\\ud800"}',
      '{"path": "README.md"} trailing',
      "{'path': 'README.md'}",
      '{"path": "README.md",}',
      '{"command": "echo \\u0000"}',
      deep(100_000, '[', ']'),
      deep(20_000, '{"a":', '}').replace(/}$/, '1}'),
      `{"content": "${'x'.repeat(600_000)}", "path": "big.txt"}`,
    ),
  },
);

/** A call that fits the tool's schema (values may still be refused by the tool itself), or nearly. */
const validCallArb: fc.Arbitrary<[string, string]> = fc.constantFrom(...TOOL_NAMES).chain((name) => {
  const properties = schemas.get(name) ?? {};
  const fields = Object.fromEntries(
    Object.entries(properties).map(([key, p]) => {
      const types = Array.isArray(p.type) ? p.type : [p.type];
      const value: fc.Arbitrary<unknown> = types.includes('integer')
        ? fc.integer({ min: -2, max: 40 })
        : fc.oneof(
            fc.constantFrom(
              'README.md',
              'src/a.ts',
              'docs',
              '.',
              'new/file.txt',
              'hello',
              'export const a = 1;',
              'ls -la',
              '--version',
              'done',
            ),
            fc.string({ maxLength: 20 }),
          );
      return [key, types.includes('null') ? fc.option(value, { nil: null }) : value];
    }),
  );
  // Sometimes one extra key: almost-valid calls are where a lenient parser lets things through.
  return fc
    .tuple(fc.record(fields), fc.option(fc.tuple(keyArb, valueArb), { freq: 3 }))
    .map(([args, extra]): [string, string] => [name, JSON.stringify(extra ? { ...args, [extra[0]]: extra[1] } : args)]);
});

const callArb: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(nameArb, rawArb) },
  { weight: 1, arbitrary: validCallArb },
);

describe('fuzzing the tool-call parser', () => {
  it('answers every call with an outcome for the model, ok only for calls that fit the schema, and never throws', async () => {
    const f = (figures['tool-call-parser'] = noFigures());
    const before = await ws.snapshot();
    const details = await fc.check(
      fc.asyncProperty(callArb, async ([name, raw]) => {
        f.runs++;
        recorder.execs.length = 0;
        let outcome: ToolOutcome;
        try {
          outcome = await executeTool(ctx, name, raw);
        } catch (err) {
          f.crashes++;
          throw new Error(
            `executeTool(${JSON.stringify(name.slice(0, 40))}, ${JSON.stringify(raw.slice(0, 80))}) threw: ${String(err)}`,
          );
        }
        expect(typeof outcome.ok).toBe('boolean');
        expect(outcome.content.length).toBeLessThanOrEqual(MODEL_OUTPUT_CHARS);
        expect(outcome.summary.length).toBeLessThanOrEqual(200);
        // eslint-disable-next-line no-control-regex
        expect(outcome.summary).not.toMatch(/[\u0000-\u001f\u007f]/);

        const known = (TOOL_NAMES as readonly string[]).includes(name);
        let parsed: { value: unknown } | null = null;
        try {
          parsed = { value: raw.trim() === '' ? {} : JSON.parse(raw) };
        } catch {
          parsed = null;
        }
        if (!known) expect(outcome.content).toMatch(/^Error: unknown tool /);
        else if (parsed === null) expect(outcome.content).toMatch(/^Error: the arguments of \S+ are not valid JSON/);
        else if (!fitsSchema(name, parsed.value)) expect(outcome.ok).toBe(false);
        if (outcome.ok) {
          f.accepted++;
          expect(known && parsed !== null && fitsSchema(name, parsed.value)).toBe(true);
        }
        for (const exec of recorder.execs) expect(exec.container).toBe(`lockstep-${ctx.ref.changeId}-${ctx.ref.repo}`);
        const changed = changedEntries(before, await ws.snapshot());
        if (changed.length > 0) {
          f.escapes++;
          throw new Error(`changed outside the workspace: ${changed.join('; ')}`);
        }
      }),
      fuzzParameters(FUZZ_RUNS),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ crashes: 0, hangs: 0, escapes: 0 });
  });
});
