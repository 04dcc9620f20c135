/**
 * Lockstep's OpenAPI diff measured against oasdiff's `breaking` on GitHub's real REST description,
 * across pairs of consecutive published versions of @octokit/openapi chosen for having breaking
 * changes. Both are installed by scripts/reference-specs.sh into .tools/reference/ (no network
 * here). Findings are matched by operation and category; every oasdiff ERR finding in a category
 * Lockstep implements must be found or explained below, and every Lockstep finding must be one
 * oasdiff reports (at any level) or explained below. The figures go to docs/contracts.md.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { diffOpenApi, pathShape } from '../../core/contracts/openapi.ts';
import { parseContractDocument } from '../../core/contracts/parse.ts';
import type { ContractProblem } from '../../core/contracts/types.ts';

const run = promisify(execFile);
const REFERENCE = join(import.meta.dirname, '..', '..', '.tools', 'reference');
const OASDIFF = join(REFERENCE, 'bin', 'oasdiff');
const SPECS = join(REFERENCE, 'octokit-openapi');
/** Neighbours among the published versions; each pair has breaking changes by oasdiff's count. */
const PAIRS: [string, string][] = [
  ['10.0.0', '12.0.0'],
  ['18.0.0', '18.2.0'],
  ['18.2.0', '19.0.0'],
  ['19.0.0', '19.1.0'],
  ['20.0.0', '21.0.0'],
  ['21.0.0', '22.0.0'],
];
const FILE = 'api.github.com.json';
/** GitHub's description is ~13 MB: above the gate's 4 MiB document limit, so read with a larger one here. */
const MAX_CHARS = 32 * 1024 * 1024;

/** The shared vocabulary: oasdiff's check ids and Lockstep's rules, by what a consumer suffers. */
const OASDIFF_CATEGORY: Record<string, string> = {
  'api-path-removed-without-deprecation': 'operation-removed',
  'api-removed-without-deprecation': 'operation-removed',
  'api-path-removed-before-sunset': 'operation-removed',
  'api-removed-before-sunset': 'operation-removed',
  'response-property-one-of-added': 'response-variant-added',
  'response-property-any-of-added': 'response-variant-added',
  'response-body-one-of-added': 'response-variant-added',
  'response-body-any-of-added': 'response-variant-added',
  'request-property-one-of-removed': 'request-variant-removed',
  'request-property-any-of-removed': 'request-variant-removed',
  'request-body-one-of-removed': 'request-variant-removed',
  'request-body-any-of-removed': 'request-variant-removed',
  'request-parameter-one-of-removed': 'request-variant-removed',
  'request-parameter-any-of-removed': 'request-variant-removed',
  'response-property-enum-value-added': 'response-enum-value-added',
  'response-mediatype-enum-value-added': 'response-enum-value-added',
  'response-property-became-optional': 'response-property-became-optional',
  'response-property-became-nullable': 'response-type',
  'response-body-became-nullable': 'response-type',
  'response-property-type-changed': 'response-type',
  'response-body-type-changed': 'response-type',
  'request-property-became-enum': 'request-enum-value-removed',
  'request-parameter-became-enum': 'request-enum-value-removed',
  'request-property-enum-value-removed': 'request-enum-value-removed',
  'request-parameter-enum-value-removed': 'request-enum-value-removed',
  'request-property-type-changed': 'request-type',
  'request-parameter-type-changed': 'request-type',
  'request-body-type-changed': 'request-type',
  'request-property-became-not-nullable': 'request-type',
  'request-body-became-not-nullable': 'request-type',
  'request-property-became-required': 'request-property-became-required',
  'new-required-request-property': 'request-property-became-required',
  'new-required-request-parameter': 'request-parameter-became-required',
  'request-parameter-became-required': 'request-parameter-became-required',
  'request-body-became-required': 'request-body-became-required',
  'response-media-type-removed': 'response-media-type-removed',
  'request-body-media-type-removed': 'request-media-type-removed',
  'response-success-status-removed': 'response-status-removed',
  'response-property-removed': 'response-property-removed',
  'response-required-property-removed': 'response-property-removed',
  'response-optional-property-removed': 'response-property-removed',
  'request-property-removed': 'request-property-removed',
  'api-security-added': 'security-requirement-added',
  'api-global-security-added': 'security-requirement-added',
};
const LOCKSTEP_CATEGORY: Record<string, string> = {
  'path-removed': 'operation-removed',
  'operation-removed': 'operation-removed',
  'response-type-widened': 'response-type',
  'response-type-changed': 'response-type',
  'request-type-narrowed': 'request-type',
  'request-type-changed': 'request-type',
};

interface OasdiffFinding {
  id: string;
  level: number;
  text: string;
  operation: string;
  path: string;
}

interface Finding {
  pair: string;
  operation: string;
  category: string;
  text: string;
}

/**
 * Where we differ from oasdiff, each on purpose (docs/contracts.md, "Measured against oasdiff").
 * A difference no entry explains fails the test: a bug of ours to fix, or a rule to document here.
 */
interface Difference {
  id: string;
  side: 'oasdiff-only' | 'lockstep-only';
  why: string;
  applies: (f: Finding, base: unknown) => boolean;
}
const DIFFERENCES: Difference[] = [
  {
    id: 'constraints',
    side: 'oasdiff-only',
    why: 'Lockstep does not compare validation constraints (maxLength, maxItems, format, pattern, minimum): they change what a value may be, not its shape, and generated clients rarely enforce them',
    applies: (f) =>
      f.category.startsWith('other:')
        ? /max|min|pattern|format/.test(f.category)
        : /`format` changed|max(Items|Length)|min(Items|Length)|pattern/.test(f.text),
  },
  {
    id: 'path-parameter-declared',
    side: 'oasdiff-only',
    why: 'a path parameter newly declared on a path whose template already had it is not a wire change: callers already send it in the URL; Lockstep matches paths by template shape',
    applies: (f) => f.category === 'other:new-request-path-parameter',
  },
  {
    id: 'constraint-branches',
    side: 'oasdiff-only',
    why: 'anyOf/oneOf branches that only list required properties ("send description or files") constrain the object; removing them relaxes a request, which breaks no writer (oasdiff reports it as a removed subschema)',
    applies: (f, base) => f.category === 'request-variant-removed' && requestBranchesAreConstraints(base, f.operation),
  },
  {
    id: 'variants-by-content',
    side: 'oasdiff-only',
    why: 'oasdiff matches inline oneOf/anyOf branches by their content, so a branch whose inside changed counts as removed and added; Lockstep pairs it with its old self (by name, tag, unique type or position) and compares the inside with the usual rules, which here found nothing breaking',
    applies: (f) =>
      /subschema #1, subschema #2/.test(f.text) &&
      ((f.operation === 'POST /user/codespaces' && f.category === 'request-variant-removed') ||
        (f.operation === 'GET /users/{}/starred' && f.category === 'response-variant-added')),
  },
  {
    id: 'deprecated-removed',
    side: 'lockstep-only',
    why: 'oasdiff lets an operation marked deprecated be removed; Lockstep blocks it like any removal: deprecation does not stop a consumer from calling it, and the gate knows whether consumers are in the change',
    applies: (f, base) => f.category === 'operation-removed' && operationDeprecated(base, f.operation),
  },
  {
    id: 'optional-response-property-removed',
    side: 'lockstep-only',
    why: 'oasdiff does not report an optional response property removed; Lockstep does: a consumer that reads the field when present loses it',
    applies: (f) => f.category === 'response-property-removed',
  },
];

function escapeless(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** 'GET /pets/{}' for a Lockstep problem; a removed path yields one per method it had. */
function lockstepFindings(pair: string, problems: ContractProblem[]): Finding[] {
  return problems.flatMap((p) => {
    const segments = p.location.split('/').slice(1).map(escapeless);
    const category = LOCKSTEP_CATEGORY[p.rule] ?? p.rule;
    const shape = pathShape(segments[1] ?? '');
    if (p.rule === 'path-removed') {
      const methods = /\(with ([A-Z, ]+)\)$/.exec(p.message)?.[1]?.split(', ') ?? [];
      return methods.map((m) => ({ pair, operation: `${m} ${shape}`, category, text: p.message }));
    }
    if (p.rule === 'security-requirement-added' && segments[0] === 'security')
      return [{ pair, operation: '*', category, text: p.message }];
    return [{ pair, operation: `${(segments[2] ?? '').toUpperCase()} ${shape}`, category, text: p.message }];
  });
}

function resolve(root: unknown, node: unknown): unknown {
  let current = node;
  for (let hops = 0; hops < 16 && typeof current === 'object' && current !== null && '$ref' in current; hops++) {
    const ref = (current as { $ref: string }).$ref;
    current = ref
      .slice(2)
      .split('/')
      .map(escapeless)
      .reduce<unknown>(
        (n, k) => (typeof n === 'object' && n !== null ? (n as Record<string, unknown>)[k] : undefined),
        root,
      );
  }
  return current;
}

function operationAt(base: unknown, operation: string): Record<string, unknown> | undefined {
  const [method = '', shape = ''] = operation.split(' ');
  const paths = (base as { paths: Record<string, Record<string, unknown>> }).paths;
  const template = Object.keys(paths).find((t) => pathShape(t) === shape);
  const op =
    template === undefined ? undefined : resolve(base, paths[template])?.[method.toLowerCase() as keyof object];
  return typeof op === 'object' && op !== null ? op : undefined;
}

function operationDeprecated(base: unknown, operation: string): boolean {
  return operationAt(base, operation)?.deprecated === true;
}

function requestBranchesAreConstraints(base: unknown, operation: string): boolean {
  const body = resolve(base, operationAt(base, operation)?.requestBody) as
    { content?: Record<string, { schema?: unknown }> } | undefined;
  const schema = resolve(base, body?.content?.['application/json']?.schema) as Record<string, unknown> | undefined;
  const branches = schema?.anyOf ?? schema?.oneOf;
  return (
    Array.isArray(branches) &&
    (branches as unknown[]).some(
      (b) =>
        typeof b === 'object' &&
        b !== null &&
        Object.keys(b).every((k) => k === 'required' || k === 'type' || k === 'maxProperties'),
    )
  );
}

function specText(version: string): string {
  const file = join(SPECS, `${version}.json.gz`);
  if (!existsSync(file))
    throw new Error(
      `${file} is missing: run scripts/reference-specs.sh (npm test does, through scripts/bootstrap.sh --tests) to install the reference specs`,
    );
  return gunzipSync(readFileSync(file)).toString('utf8');
}

/** oasdiff's verdict on a pair, cached beside the specs under a key of its version and both inputs. */
async function oasdiffBreaking(
  base: string,
  head: string,
  baseText: string,
  headText: string,
): Promise<OasdiffFinding[]> {
  if (!existsSync(OASDIFF)) throw new Error(`${OASDIFF} is missing: run scripts/reference-specs.sh to build it`);
  const { stdout: version } = await run(OASDIFF, ['--version']);
  const key = createHash('sha256').update(version).update(baseText).update(headText).digest('hex').slice(0, 16);
  const cacheDir = join(REFERENCE, 'oasdiff-results');
  const cached = join(cacheDir, `${base}-${head}-${key}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as OasdiffFinding[];
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-oasdiff-'));
  try {
    writeFileSync(join(dir, 'base.json'), baseText);
    writeFileSync(join(dir, 'head.json'), headText);
    const { stdout } = await run(
      OASDIFF,
      ['breaking', '--allow-external-refs=false', '--format', 'json', join(dir, 'base.json'), join(dir, 'head.json')],
      { maxBuffer: 64 * 1024 * 1024, timeout: 180_000 },
    );
    const findings = (JSON.parse(stdout || '[]') ?? []) as OasdiffFinding[];
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(cached, JSON.stringify(findings));
    return findings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("diffOpenApi against oasdiff on GitHub's description (@octokit/openapi)", () => {
  it(
    'agrees on every finding both implement, and each difference is a documented one',
    { timeout: 900_000 },
    async () => {
      const unexplained: string[] = [];
      const explainedBy = new Map<string, number>();
      const totals = { oasdiffErr: 0, oasdiffInScope: 0, oasdiffMatched: 0, lockstep: 0, lockstepMatched: 0 };
      const rows: string[] = [];
      for (const [a, b] of PAIRS) {
        const pair = `${a} → ${b}`;
        const [baseText, headText] = [specText(a), specText(b)];
        const [base, head] = [
          parseContractDocument(baseText, FILE, { maxChars: MAX_CHARS }),
          parseContractDocument(headText, FILE, { maxChars: MAX_CHARS }),
        ];
        if (!base.ok || !head.ok)
          throw new Error(`${pair}: ${!base.ok ? base.problem.message : !head.ok ? head.problem.message : ''}`);
        const ours = lockstepFindings(pair, diffOpenApi(base.document, head.document, FILE));
        expect(
          ours.every((f) => !f.text.includes('cannot be followed')),
          `${pair}: every reference of GitHub's description resolves`,
        ).toBe(true);
        const theirs = (await oasdiffBreaking(a, b, baseText, headText)).map((x) => ({
          level: x.level,
          finding: {
            pair,
            operation: `${x.operation} ${pathShape(x.path)}`,
            category: OASDIFF_CATEGORY[x.id] ?? `other:${x.id}`,
            text: x.text,
          },
        }));
        const ourKeys = new Set(ours.map((f) => `${f.operation}\u0000${f.category}`));
        const theirKeys = new Set(theirs.map((t) => `${t.finding.operation}\u0000${t.finding.category}`));
        const explain = (f: Finding, side: Difference['side']): boolean => {
          const d = DIFFERENCES.find((x) => x.side === side && x.applies(f, base.document));
          if (d !== undefined) explainedBy.set(d.id, (explainedBy.get(d.id) ?? 0) + 1);
          return d !== undefined;
        };
        const errs = theirs.filter((t) => t.level >= 3).map((t) => t.finding);
        let matched = 0;
        for (const f of errs) {
          if (
            ourKeys.has(`${f.operation}\u0000${f.category}`) ||
            (f.category === 'security-requirement-added' && ourKeys.has(`*\u0000${f.category}`))
          )
            matched++;
          else if (!explain(f, 'oasdiff-only'))
            unexplained.push(`oasdiff only, ${pair}: ${f.operation} ${f.category}: ${f.text}`);
        }
        let oursMatched = 0;
        for (const f of ours) {
          if (theirKeys.has(`${f.operation}\u0000${f.category}`)) oursMatched++;
          else if (!explain(f, 'lockstep-only'))
            unexplained.push(`Lockstep only, ${pair}: ${f.operation} ${f.category}: ${f.text}`);
        }
        const inScope = errs.filter((f) => !f.category.startsWith('other:')).length;
        totals.oasdiffErr += errs.length;
        totals.oasdiffInScope += inScope;
        totals.oasdiffMatched += matched;
        totals.lockstep += ours.length;
        totals.lockstepMatched += oursMatched;
        rows.push(`| ${pair} | ${errs.length} | ${inScope} | ${matched} | ${ours.length} | ${oursMatched} |`);
      }
      console.log(
        [
          "| pair | oasdiff ERR | in our categories | found by Lockstep | Lockstep findings | also oasdiff's |",
          '|---|---|---|---|---|---|',
          ...rows,
          `| total | ${totals.oasdiffErr} | ${totals.oasdiffInScope} | ${totals.oasdiffMatched} | ${totals.lockstep} | ${totals.lockstepMatched} |`,
          `explained differences: ${[...explainedBy].map(([id, n]) => `${id} ${n}`).join(', ')}`,
        ].join('\n'),
      );
      expect(unexplained).toEqual([]);
      // The comparison is not vacuous: most of oasdiff's verdicts are ours too.
      expect(totals.oasdiffMatched).toBeGreaterThan(totals.oasdiffErr * 0.8);
      expect(totals.lockstepMatched).toBeGreaterThan(0);
    },
  );
});
