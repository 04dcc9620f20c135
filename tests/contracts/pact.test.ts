/**
 * Pact files of every specification version as consumers' tests write them: v2/v3 HTTP, v3
 * message pacts, v4 HTTP and message interactions, integration-JSON matchers and provider states.
 */
import { describe, expect, it } from 'vitest';
import { checkOpenApiConsumer } from '../../core/contracts/consumer.ts';
import { describeEntry, readPact, unwrapMatchers } from '../../core/contracts/pact.ts';
import { at, brief, fixture } from './helpers.ts';

const FILE = 'pacts/shipping-orders.json';

const v3Messages = {
  consumer: { name: 'shipping' },
  provider: { name: 'orders' },
  messages: [
    {
      description: 'an order created event',
      providerStates: [{ name: 'an order was paid', params: { id: 'o-1' } }],
      contents: { id: 'o-1', total_cents: 1250, lines: [{ sku: 'A-1', qty: 1 }] },
      matchingRules: {
        body: {
          '$.id': { matchers: [{ match: 'regex', regex: '^o-\\d+$' }] },
          '$.lines': { matchers: [{ match: 'type', min: 1 }] },
        },
      },
      metaData: { topic: 'orders.created' },
    },
  ],
  metadata: { pactSpecification: { version: '3.0.0' } },
};

const v4 = {
  consumer: { name: 'shipping' },
  provider: { name: 'orders' },
  interactions: [
    {
      type: 'Asynchronous/Messages',
      description: 'an order created event',
      providerStates: [{ name: 'an order was paid' }],
      contents: { content: { id: 'o-1', total_cents: 1250 }, contentType: 'application/json', encoded: false },
      matchingRules: { content: { '$.total_cents': { combine: 'AND', matchers: [{ match: 'integer' }] } } },
      metadata: { topic: 'orders.created' },
    },
    {
      type: 'Synchronous/HTTP',
      description: 'a paid order',
      providerStates: [{ name: 'order 1 is paid' }],
      request: { method: 'GET', path: '/pets/1' },
      response: {
        status: 200,
        body: {
          content: {
            id: { 'pact:matcher:type': 'integer', value: 1 },
            name: { 'pact:matcher:type': 'regex', regex: '^[A-Z]', value: 'Rex' },
          },
          contentType: 'application/json',
        },
        matchingRules: { body: { '$.id': { matchers: [{ match: 'integer' }] } } },
      },
    },
  ],
  metadata: { pactSpecification: { version: '4.0' } },
};

describe('readPact', () => {
  it('reads a v3 message pact: description, provider states, contents', () => {
    const read = readPact(v3Messages, FILE);
    expect(read.problems).toEqual([]);
    expect(read.version).toBe('3');
    expect(read.entries).toEqual([
      {
        kind: 'message',
        description: 'an order created event',
        states: ['an order was paid'],
        segments: ['messages', '0'],
        body: v3Messages.messages[0]?.contents,
        bodySegments: ['messages', '0', 'contents'],
      },
    ]);
    expect(describeEntry(read.entries[0] ?? ({} as never))).toBe(
      'message "an order created event" given "an order was paid"',
    );
  });

  it('reads v4 asynchronous messages and HTTP interactions, unwrapping integration-JSON matchers', () => {
    const read = readPact(v4, FILE);
    expect(read.problems).toEqual([]);
    expect(read.entries.map((e) => [e.kind, e.description, e.states, e.body, e.bodySegments])).toEqual([
      [
        'message',
        'an order created event',
        ['an order was paid'],
        { id: 'o-1', total_cents: 1250 },
        ['interactions', '0', 'contents', 'content'],
      ],
      [
        'http',
        'a paid order',
        ['order 1 is paid'],
        { id: 1, name: 'Rex' },
        ['interactions', '1', 'response', 'body', 'content'],
      ],
    ]);
  });

  it('unwraps eachLike with min and nested matchers to their example', () => {
    const eachLike = {
      'pact:matcher:type': 'type',
      min: 2,
      value: [{ sku: { 'pact:matcher:type': 'type', value: 'A-1' } }],
    };
    expect(
      unwrapMatchers({
        lines: eachLike,
        n: { 'pact:generator:type': 'RandomInt', 'pact:matcher:type': 'integer', value: 3 },
      }),
    ).toEqual({ lines: [{ sku: 'A-1' }], n: 3 });
  });

  it('pact-unreadable: names the place and the fix', () => {
    expect(brief(readPact({ pacts: [] }, FILE).problems)).toEqual([
      {
        kind: 'invalid',
        rule: 'pact-unreadable',
        location: '/interactions',
        message: `${FILE}: not a Pact file: it needs an "interactions" list (or, for a v3 message pact, "messages")`,
      },
    ]);
    expect(brief(readPact({ messages: [{ description: 'x' }] }, FILE).problems)).toEqual([
      {
        kind: 'invalid',
        rule: 'pact-unreadable',
        location: '/messages/0/contents',
        message: `${FILE}: message /messages/0 has no "contents": write the message the consumer expects there`,
      },
    ]);
    expect(
      readPact({ interactions: [{ type: 'Asynchronous/Carrier-Pigeon' }] }, FILE).problems.map((p) => p.location),
    ).toEqual(['/interactions/0/type']);
    expect(
      readPact({ interactions: [{ request: { method: 'GET', path: '/' }, response: {} }] }, FILE).problems.map(
        (p) => p.location,
      ),
    ).toEqual(['/interactions/0/response/status']);
  });
});

describe("a v4 pact against the provider's OpenAPI document", () => {
  it('checks HTTP interactions with matchers by their examples, names provider states, and leaves messages to the verifier', () => {
    const head = fixture('petstore.yaml');
    expect(
      checkOpenApiConsumer(head, { form: 'pact', pact: v4 }, 'shipping', { provider: 'openapi.yaml', consumer: FILE }),
    ).toEqual([]);
    at(head, 'components', 'schemas', 'Pet', 'properties').name = { type: 'integer' };
    expect(
      brief(
        checkOpenApiConsumer(head, { form: 'pact', pact: v4 }, 'shipping', {
          provider: 'openapi.yaml',
          consumer: FILE,
        }),
      ),
    ).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-field-type-mismatch',
        location: '/interactions/1/response/body/content/name',
        message:
          'consumer "shipping": interaction "a paid order" given "order 1 is paid" (GET /pets/1) expects field "name" of GET /pets/{petId} 200 response to be string, but the provider\'s schema says integer',
      },
    ]);
    expect(
      checkOpenApiConsumer(head, { form: 'pact', pact: v3Messages }, 'shipping', {
        provider: 'openapi.yaml',
        consumer: FILE,
      }),
    ).toEqual([]);
  });
});
