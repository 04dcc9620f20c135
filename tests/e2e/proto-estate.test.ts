/**
 * The contract gate on the most common protobuf estate: shop's one demo.proto of a dozen gRPC
 * services, copied by three consumers for their code generation, none with shop's go_package
 * (checkout's without comments, frontend's with Money split into a file beside it and a
 * java_package of its own, recommendation's asking for a field shop never had). checkout also
 * reads shop's HTTP catalog (naming a field that is not there) and keeps a copy of its event
 * schema (promising a property shop never sends): drift that predates every change below.
 * Real Temporal, Docker sandboxes, git and buf; each verdict exact.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { ContractProblem } from '../../core/gate.ts';
import { fixtureFleet } from '../helpers/fleet.ts';
import { containing, contractStatuses, editStep, stepsChange, verdictOf, type Steps } from '../helpers/gate.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const fixture = fixtureFleet('proto-estate');

beforeAll(async () => {
  h = await startHarness('proto-estate', { fleet: fixture });
});
afterAll(async () => h?.close());

const change = (id: string, steps: Steps): Promise<ChangeResult> => stepsChange(h, id, 'Estate', steps);
const verdict = verdictOf;
const statuses = contractStatuses;
/** What a test pins of each problem: rule, repo, file, location. */
const places = (ps: readonly ContractProblem[] | undefined) =>
  (ps ?? []).map((p) => [p.rule, p.repo, p.file, p.location]);

const edit = editStep;
const addBrand = (file: string) =>
  edit(
    file,
    `text.replace("  repeated string categories = 6;\\n", "  repeated string categories = 6;\\n  optional string brand = 7;\\n", 1)`,
  );

/** 1-based line of the first line of a fixture file that is `text` once trimmed. */
async function lineOf(repo: string, file: string, text: string, after = ''): Promise<number> {
  const lines = (await readFile(join(fixture, repo, file), 'utf8')).split('\n');
  const from = after ? lines.findIndex((l) => l.trim() === after) : 0;
  const i = lines.findIndex((l, n) => n >= from && l.trim() === text);
  if (i < 0) throw new Error(`${repo}/${file} has no line "${text}"`);
  return i + 1;
}

// recommendation's copy asks for max_results (3) in ListRecommendationsRequest; shop never had it.
const recommendationDrift = async () => {
  const at = `L${await lineOf('recommendation', 'protos/demo.proto', 'int32 max_results = 3;')}`;
  return [
    ['FIELD_NO_DELETE_UNLESS_NAME_RESERVED', 'recommendation', 'protos/demo.proto', at],
    ['FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED', 'recommendation', 'protos/demo.proto', at],
  ];
};
const catalogDrift = [
  'response-field-missing',
  'checkout',
  'catalog.uses.json',
  'openapi.yaml#/paths/~1products~1{id}/get/responses/200/content/application~1json/schema/properties/legacy_sku',
];

describe('a protobuf estate whose copies differ from the provider in file options only', () => {
  it('passes a field added to the provider only, and reports the drift every kind already had as pre-existing', async () => {
    // A hostile provider also commits the gate's scratch folder as a link to a folder of the host.
    const outside = await mkdtemp(join(tmpdir(), 'lockstep-estate-outside-'));
    const result = await change('estate-provider-adds', {
      shop: [addBrand('protos/demo.proto'), `ln -s ${outside} .lockstep-gate`],
    });
    expect(await readdir(outside)).toEqual([]);
    await rm(outside, { recursive: true, force: true });
    expect(result.status, result.summary).toBe('succeeded');
    expect(statuses(result)).toEqual({ 'demo-proto': 'passed', 'catalog-api': 'passed', 'order-events': 'passed' });
    expect(places(verdict(result, 'demo-proto').preExisting)).toEqual(await recommendationDrift());
    expect(verdict(result, 'demo-proto').preExisting?.[1]?.message).toMatch(
      /^recommendation's copy protos\/demo\.proto:\d+ no longer fits shop's protos\/demo\.proto:\d+:1: Previously present field "3" with name "max_results" on message "ListRecommendationsRequest" was deleted without reserving the number "3"\. To fix: /,
    );
    expect(verdict(result, 'catalog-api').preExisting).toEqual([
      expect.objectContaining({ repo: 'checkout', file: 'catalog.uses.json', message: containing('legacy_sku') }),
    ]);
    expect(verdict(result, 'order-events').preExisting).toEqual([
      expect.objectContaining({
        repo: 'checkout',
        file: 'schemas/order-placed.json',
        message: containing('gift_wrap'),
      }),
    ]);
    const body =
      (await new LocalForge(join(h.fleet.stateDir, 'forge', 'local')).listPullRequests('shop')).find(
        (p) => p.head === 'lockstep/estate-provider-adds',
      )?.body ?? '';
    expect(body).toMatch(
      /\| demo-proto \| protobuf \| shop \| checkout, recommendation, frontend \| passed \(2 pre-existing, below\) \|/,
    );
    expect(body).toContain('Pre-existing drift (already there at the base commits; not caused by this change)');
  });

  it("passes the field added in the provider and in every copy, frontend's split copy included", async () => {
    const result = await change('estate-everywhere', {
      shop: [addBrand('protos/demo.proto')],
      checkout: [addBrand('proto/demo.proto')],
      recommendation: [addBrand('protos/demo.proto')],
      frontend: [addBrand('pb/demo.proto')],
    });
    expect(result.status, result.summary).toBe('succeeded');
    expect(statuses(result)).toEqual({ 'demo-proto': 'passed', 'catalog-api': 'passed', 'order-events': 'passed' });
    expect(verdict(result, 'demo-proto')).toMatchObject({ problems: [], accepted: [] });
    expect(places(verdict(result, 'demo-proto').preExisting)).toEqual(await recommendationDrift());
  });

  it('blocks a field deleted without reserved, naming it in the provider (line:column) and in every copy; new drift of each kind blocks, the old stays a note', async () => {
    const result = await change('estate-delete', {
      shop: [
        edit('protos/demo.proto', `text.replace("  string picture = 4;\\n", "")`),
        edit('openapi.yaml', `text.replace("        description:\\n          type: string\\n", "")`),
        edit(
          'schemas/order-placed.json',
          `text.replace(',\\n    "placed_at": { "type": "string", "format": "date-time" }', '')`,
        ),
      ],
    });
    expect(result.status).toBe('blocked');
    expect(statuses(result)).toEqual({
      'demo-proto': 'breaking',
      'catalog-api': 'breaking',
      'order-events': 'breaking',
    });
    const proto = verdict(result, 'demo-proto');
    const product = await lineOf('shop', 'protos/demo.proto', 'message Product {');
    const copyLine = async (repo: string, file: string) => `L${await lineOf(repo, file, 'string picture = 4;')}`;
    expect(places(proto.problems)).toEqual([
      ['FIELD_NO_DELETE', 'shop', 'protos/demo.proto', `${product}:1`],
      ['consumer-not-in-change', 'shop', 'protos/demo.proto', ''],
      ['consumer-not-in-change', 'shop', 'protos/demo.proto', ''],
      ['consumer-not-in-change', 'shop', 'protos/demo.proto', ''],
      ...(await Promise.all(
        [
          ['checkout', 'proto/demo.proto'],
          ['recommendation', 'protos/demo.proto'],
          ['frontend', 'pb/demo.proto'],
        ].flatMap(([repo = '', file = '']) =>
          ['NAME', 'NUMBER'].map(async (what) => [
            `FIELD_NO_DELETE_UNLESS_${what}_RESERVED`,
            repo,
            file,
            await copyLine(repo, file),
          ]),
        ),
      )),
    ]);
    expect(proto.problems[0]?.message).toBe(
      'Previously present field "4" with name "picture" on message "Product" was deleted.',
    );
    expect(proto.problems.at(-1)?.message).toContain(
      `frontend's copy pb/demo.proto:${(await copyLine('frontend', 'pb/demo.proto')).slice(1)} no longer fits shop's protos/demo.proto:${product}:1`,
    );
    expect(places(proto.preExisting)).toEqual(await recommendationDrift());

    const api = verdict(result, 'catalog-api');
    expect(api.problems.filter((p) => p.kind === 'mismatch')).toEqual([
      expect.objectContaining({ repo: 'checkout', message: containing('description') }),
    ]);
    expect(places(api.preExisting)).toEqual([catalogDrift]);
    const events = verdict(result, 'order-events');
    expect(events.problems.filter((p) => p.kind === 'mismatch')).toEqual([
      expect.objectContaining({ repo: 'checkout', message: containing('placed_at') }),
    ]);
    expect(events.preExisting).toEqual([
      expect.objectContaining({ repo: 'checkout', message: containing('gift_wrap') }),
    ]);
  });

  it('blocks a renamed field: its JSON name changes for shop and for every copy', async () => {
    const result = await change('estate-rename', {
      shop: [edit('protos/demo.proto', `text.replace("  string name = 2;\\n", "  string title = 2;\\n")`)],
    });
    expect(result.status).toBe('blocked');
    const proto = verdict(result, 'demo-proto');
    expect(proto.status).toBe('breaking');
    const field = await lineOf('shop', 'protos/demo.proto', 'string name = 2;', 'message Product {');
    const copyField = async (repo: string, file: string) =>
      `L${await lineOf(repo, file, 'string name = 2;', 'message Product {')}`;
    // WIRE_JSON holds the field's name too, for JSON readers: each copy gets both findings.
    expect(places(proto.problems.filter((p) => p.rule !== 'consumer-not-in-change'))).toEqual([
      ['FIELD_SAME_JSON_NAME', 'shop', 'protos/demo.proto', `${field}:3`],
      ['FIELD_SAME_NAME', 'shop', 'protos/demo.proto', `${field}:10`],
      ...(await Promise.all(
        [
          ['checkout', 'proto/demo.proto'],
          ['recommendation', 'protos/demo.proto'],
          ['frontend', 'pb/demo.proto'],
        ].flatMap(([repo = '', file = '']) =>
          ['FIELD_SAME_JSON_NAME', 'FIELD_SAME_NAME'].map(async (rule) => [
            rule,
            repo,
            file,
            await copyField(repo, file),
          ]),
        ),
      )),
    ]);
    expect(proto.problems.find((p) => p.repo === 'checkout' && p.rule === 'FIELD_SAME_JSON_NAME')?.message).toContain(
      'Field "2" with name "title" on message "Product" changed option "json_name" from "name" to "title".',
    );
  });

  it('gate.strict: the drift that predates the change blocks too', async () => {
    const config = JSON.parse(await readFile(h.fleet.configFile, 'utf8')) as { gate: Record<string, unknown> };
    await writeFile(h.fleet.configFile, JSON.stringify({ ...config, gate: { ...config.gate, strict: true } }, null, 2));
    const result = await change('estate-strict', { shop: [addBrand('protos/demo.proto')] });
    expect(result.status).toBe('blocked');
    expect(statuses(result)).toEqual({
      'demo-proto': 'mismatch',
      'catalog-api': 'mismatch',
      'order-events': 'mismatch',
    });
    expect(places(verdict(result, 'demo-proto').problems)).toEqual(await recommendationDrift());
    expect(places(verdict(result, 'catalog-api').problems)).toEqual([catalogDrift]);
    expect(verdict(result, 'order-events').problems).toEqual([
      expect.objectContaining({ repo: 'checkout', message: containing('gift_wrap') }),
    ]);
    expect(result.gate?.contracts.every((c) => c.preExisting === undefined)).toBe(true);
  });
});
