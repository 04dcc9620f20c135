/**
 * The contract gate on real parts: a fixture fleet (orders provides an OpenAPI document, a
 * proto, an event schema, a pact verifier and a smoke check; shipping consumes them all) changed
 * through Temporal, Docker sandboxes and git, with real buf, gitleaks and semgrep. Each change
 * must end exactly as its contract says, and every blocked verdict names the breaking change.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { ModelsConfig } from '../../config/repos.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { ChatRequest, ScriptedTurn } from '../fakes/openai-server.ts';
import { fixtureFleet } from '../helpers/fleet.ts';
import { containing, contractStatuses, editStep, stepsChange, verdictOf, type Steps } from '../helpers/gate.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('gate', { fleet: fixtureFleet('gate-fleet'), fakeModel: true });
});
afterAll(async () => h?.close());

const change = (id: string, steps: Steps): Promise<ChangeResult> => stepsChange(h, id, 'Gate', steps);
const verdict = verdictOf;
const statuses = contractStatuses;
const edit = editStep;

const renameTotal = (file: string) => edit(file, `text.replace("total_cents", "amount_cents")`);

describe('the contract gate on a real fleet', () => {
  it('lets an additive change through: every contract passes and the PR bodies carry the table', async () => {
    const result = await change('gate-additive', {
      orders: [
        edit(
          'openapi.yaml',
          `text.replace("        total_cents:\\n          type: integer\\n", "        total_cents:\\n          type: integer\\n        currency:\\n          type: string\\n")`,
        ),
        edit(
          'proto/orders.proto',
          `text.replace("  int64 total_cents = 3;\\n", "  int64 total_cents = 3;\\n  string currency = 4;\\n")`,
        ),
        edit('service.py', `text.replace('"total_cents": 1250}', '"total_cents": 1250, "currency": "EUR"}')`),
        // Waived in the fixture's config for orders, with a reason the PR body must show.
        `printf '%s\\n' 'import requests' '' '' 'def fetch_stub(url):' '    return requests.get(url, verify=False, timeout=5)' > stub_client.py`,
      ],
      shipping: [
        edit(
          'proto/orders.proto',
          `text.replace("  int64 total_cents = 3;\\n", "  int64 total_cents = 3;\\n  string currency = 4;\\n")`,
        ),
      ],
    });
    expect(result.status, result.summary).toBe('succeeded');
    expect(statuses(result)).toEqual({
      'orders-api': 'passed',
      'orders-proto': 'passed',
      'order-events': 'passed',
      'orders-pact': 'passed',
      'order-messages': 'passed',
      'orders-smoke': 'passed',
    });
    expect(result.gate?.findings).toEqual([
      expect.objectContaining({
        repo: 'orders',
        file: 'stub_client.py',
        line: 5,
        rule: 'lockstep.tls.python-verify-false',
        waived: 'the orders test double talks to a self-signed local stub',
      }),
    ]);
    const prs = await new LocalForge(join(h.fleet.stateDir, 'forge', 'local')).listPullRequests('orders');
    const body = prs.find((p) => p.head === 'lockstep/gate-additive')?.body ?? '';
    expect(body).toContain('#### Contract gate');
    expect(body).toMatch(/\| orders-api \| openapi \| orders \| shipping \| passed \|/);
    expect(body).toContain('the orders test double talks to a self-signed local stub');
  });

  it('blocks a field rename whose consumer is not part of the change, naming the field and the consumer', async () => {
    const result = await change('gate-rename-alone', { orders: [renameTotal('openapi.yaml')] });
    expect(result.status).toBe('blocked');
    expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);
    const api = verdict(result, 'orders-api');
    expect(api.status).toBe('breaking');
    expect(api.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'breaking',
          repo: 'orders',
          file: 'openapi.yaml',
          message: containing('total_cents'),
        }),
        expect.objectContaining({ rule: 'consumer-not-in-change', consumer: 'shipping' }),
      ]),
    );
    // The pointer goes to where the field was, in the operation that returns it.
    expect(api.problems.find((p) => p.kind === 'breaking' && p.rule !== 'consumer-not-in-change')?.location).toMatch(
      /^\/paths\/~1orders~1\{id\}\/get\/responses\/200\/.*total_cents$/,
    );
    expect(result.summary).toContain('orders-api breaking');
  });

  it('blocks the rename when the consumer changed but still reads the old field; passes once it reads the new one', async () => {
    const stale = await change('gate-rename-stale', {
      orders: [renameTotal('openapi.yaml')],
      shipping: [edit('client.py', `text.replace("# The fields", "# Still the fields")`)],
    });
    expect(stale.status).toBe('blocked');
    const api = verdict(stale, 'orders-api');
    expect(api.status).toBe('mismatch');
    expect(api.problems.filter((p) => p.kind === 'mismatch')).toEqual([
      expect.objectContaining({ consumer: 'shipping', file: 'orders.uses.json', message: containing('total_cents') }),
    ]);
    // The provider's rename stays in the report; the consumer is the one to follow it.
    // Gone at the head, so located where it was: the line of total_cents in the base's openapi.yaml.
    expect(api.problems.filter((p) => p.kind === 'breaking')).toEqual([
      expect.objectContaining({
        repo: 'orders',
        line: 32,
        message: containing('total_cents" removed (openapi.yaml line 32 at the base)'),
      }),
    ]);
    expect(api.blame).toEqual(['shipping']);

    const updated = await change('gate-rename-updated', {
      orders: [renameTotal('openapi.yaml')],
      shipping: [renameTotal('orders.uses.json')],
    });
    expect(updated.status, updated.summary).toBe('succeeded');
    const passed = verdict(updated, 'orders-api');
    expect(passed.status).toBe('passed');
    expect(passed.accepted).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'breaking', message: containing('total_cents') })]),
    );
  });

  it('blocks a protobuf field deleted without reserved while a consumer is left out, with buf rule, file and line', async () => {
    const result = await change('gate-proto-delete', {
      orders: [edit('proto/orders.proto', `text.replace("  string status = 2;\\n", "")`)],
    });
    expect(result.status).toBe('blocked');
    const proto = verdict(result, 'orders-proto');
    expect(proto.status).toBe('breaking');
    expect(proto.blame).toEqual(['orders']);
    const buf = proto.problems.filter((p) => p.rule === 'FIELD_NO_DELETE');
    expect(buf).toEqual([
      expect.objectContaining({
        kind: 'breaking',
        repo: 'orders',
        file: 'proto/orders.proto',
        message: containing('"status"'),
      }),
    ]);
    expect(buf[0]?.location).toMatch(/^\d+:\d+$/);
    expect(proto.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ rule: 'consumer-not-in-change', consumer: 'shipping' })]),
    );
  });

  it('catches a consumer copy of the proto that no longer fits the provider on the wire or in JSON', async () => {
    const result = await change('gate-proto-drift', {
      shipping: [edit('proto/orders.proto', `text.replace("int64 total_cents = 3;", "int32 total_cents = 3;")`)],
    });
    expect(result.status).toBe('blocked');
    const proto = verdict(result, 'orders-proto');
    expect(proto.status).toBe('mismatch');
    // int64 is a string in JSON, int32 a number: same wire type, different JSON.
    expect(proto.problems).toEqual([
      {
        kind: 'mismatch',
        rule: 'FIELD_WIRE_JSON_COMPATIBLE_TYPE',
        repo: 'shipping',
        consumer: 'shipping',
        file: 'proto/orders.proto',
        location: 'L9',
        message: containing(
          `shipping's copy proto/orders.proto:9 no longer fits orders's proto/orders.proto:9:3: Field "3" with name "total_cents" on message "Order" changed type from "int32" to "int64".`,
        ),
      },
    ]);
  });

  it("blocks a provider that no longer returns a field its consumer's pact expects", async () => {
    const result = await change('gate-pact', {
      orders: [edit('service.py', `text.replace(', "total_cents": 1250}', '}')`)],
    });
    expect(result.status).toBe('blocked');
    const pact = verdict(result, 'orders-pact');
    expect(pact.status).toBe('breaking');
    expect(pact.problems).toEqual([
      expect.objectContaining({
        rule: 'pact-verification-failed',
        consumer: 'shipping',
        message: containing("response has no field 'total_cents'"),
      }),
    ]);
    expect(statuses(result)['orders-api']).toBe('passed');
  });

  it('message pact: an event gaining a field passes; an event losing one its consumer reads is blocked, naming the message', async () => {
    const added = await change('gate-message-added', {
      orders: [edit('events.py', `text.replace('"qty": 1}]}', '"qty": 1}], "currency": "EUR"}')`)],
    });
    expect(verdict(added, 'order-messages')).toEqual(expect.objectContaining({ status: 'passed', problems: [] }));
    expect(added.status, added.summary).toBe('succeeded');

    const renamed = await change('gate-message-renamed', {
      orders: [edit('events.py', `text.replace('"total_cents": 1250, "lines"', '"amount_cents": 1250, "lines"')`)],
    });
    expect(renamed.status).toBe('blocked');
    const messages = verdict(renamed, 'order-messages');
    expect(messages.status).toBe('breaking');
    expect(messages.problems).toEqual([
      expect.objectContaining({
        kind: 'breaking',
        rule: 'pact-verification-failed',
        repo: 'orders',
        consumer: 'shipping',
        file: 'pacts/shipping-order-events.json',
        message: containing(
          `orders does not honour shipping's pact (message "an order created event" given "an order was paid")`,
        ),
      }),
    ]);
    expect(messages.problems[0]?.message).toContain('$.total_cents: missing from the message');
    expect(verdict(renamed, 'orders-pact').status).toBe('passed');
  });

  it('blocks when a custom contract command fails, with its output', async () => {
    const result = await change('gate-command', {
      orders: [edit('service.py', `text.replace('"status": "paid"', '"status": "PAID"')`)],
    });
    expect(result.status).toBe('blocked');
    const smoke = verdict(result, 'orders-smoke');
    expect(smoke.status).toBe('failed');
    expect(smoke.problems).toEqual([
      expect.objectContaining({
        rule: 'command-failed',
        repo: 'orders',
        location: 'python3 smoke.py',
        message: containing("unknown status 'PAID'"),
      }),
    ]);
  });

  it('blocks a planted secret and an SQL query built by concatenation, with file, line and rule', async () => {
    const result = await change('gate-guardrails', {
      shipping: [
        `printf '%s\\n' '"""Settings."""' 'REGION = "eu-west-1"' 'AWS_ACCESS_KEY_ID = "AKIAQYLPMN5HHHFPZAM2"' > settings.py`,
        `printf '%s\\n' 'def find_parcel(db, parcel_id):' '    return db.execute("SELECT * FROM parcels WHERE id = " + parcel_id)' > store.py`,
      ],
    });
    expect(result.status).toBe('blocked');
    // orders is not changed and its smoke check involves no one else: only shipping's contracts run.
    expect(statuses(result)).toEqual({
      'orders-api': 'passed',
      'orders-proto': 'passed',
      'order-events': 'passed',
      'orders-pact': 'passed',
      'order-messages': 'passed',
    });
    const findings = result.gate?.findings ?? [];
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ repo: 'shipping', tool: 'gitleaks', file: 'settings.py', line: 3, waived: null }),
        expect.objectContaining({ repo: 'shipping', tool: 'semgrep', file: 'store.py', line: 2, waived: null }),
      ]),
    );
    expect(JSON.stringify(result)).not.toContain('AKIAQYLPMN5HHHFPZAM2');
  });

  it('agent mode: sends the report back to the repo it blames, which fixes its part in a second round', async () => {
    const fake = h.fake;
    if (!fake) throw new Error('no model endpoint');
    const call = (name: string, args: object, expect?: (r: ChatRequest) => void): ScriptedTurn => ({
      reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
      usage: { prompt_tokens: 100, completion_tokens: 10 },
      ...(expect ? { expect } : {}),
    });
    const firstUser = (r: ChatRequest) => JSON.stringify(r.messages.find((m) => m.role === 'user')?.content ?? '');
    fake.script('gate-agent', [
      // orders (the provider runs first): the rename.
      call('run_command', { command: "sed -i 's/total_cents/amount_cents/' openapi.yaml" }),
      call('run_tests', {}),
      call('finish', { summary: 'renamed total_cents' }),
      // shipping: touches its client but forgets what it declares it reads.
      call('run_command', { command: "sed -i 's/# The fields/# All the fields/' client.py" }),
      call('run_tests', {}),
      call('finish', { summary: 'nothing else to do' }),
      // shipping again, fix round 1: the report names the stale field.
      call('run_command', { command: "sed -i 's/total_cents/amount_cents/' orders.uses.json" }, (r) => {
        const task = firstUser(r);
        if (!task.includes('fix round 1') || !task.includes('orders.uses.json') || !task.includes('total_cents'))
          throw new Error(`the fix round's task lacks the report: ${task.slice(0, 400)}`);
      }),
      call('run_tests', {}),
      call('finish', { summary: 'reads amount_cents' }),
    ]);
    const file = join(h.fleet.root, 'gate-agent.yaml');
    await writeFile(
      file,
      stringify({
        id: 'gate-agent',
        title: 'Rename the order total',
        description: 'total_cents becomes amount_cents',
        repos: [
          { name: 'orders', instructions: 'Rename total_cents to amount_cents in openapi.yaml.' },
          { name: 'shipping', instructions: 'Follow the rename of total_cents to amount_cents.' },
        ],
      }),
    );
    const input = {
      ...(await h.changeInput(file, { concurrency: 1 })),
      models: ModelsConfig.parse({ agent: 'gate-agent', coordinator: 'gate-coordinator' }),
    };
    const result = await h.run(input);
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('gate-agent')).toBe(0);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.gate?.round).toBe(1);
    expect(verdict(result, 'orders-api')).toMatchObject({
      status: 'passed',
      accepted: [expect.objectContaining({ message: containing('total_cents') })],
    });
    const shipping = result.repos.find((r) => r.repo === 'shipping');
    expect(shipping?.agent?.summary).toBe('reads amount_cents');
    expect(shipping?.pullRequest).not.toBeNull();
  });
});
