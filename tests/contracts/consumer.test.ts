/**
 * A consumer's declared usage against the provider's OpenAPI head, in each of the three forms:
 * a `uses` list, a Pact file, the consumer's own copy of the document.
 */
import { describe, expect, it } from 'vitest';
import { checkOpenApiConsumer, resolveOperation } from '../../core/contracts/consumer.ts';
import { OperationUse, OperationUses } from '../../core/contracts/types.ts';
import { at, brief, fixture } from './helpers.ts';

const FILES = { provider: 'openapi.yaml', consumer: 'storefront/pacts/storefront-petstore.json' };
const PET_GET = '/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema';
const petProps = (doc: unknown): Record<string, unknown> => at(doc, 'components', 'schemas', 'Pet', 'properties');

function uses(...entries: unknown[]): { form: 'uses'; uses: OperationUse[] } {
  return { form: 'uses', uses: OperationUses.parse(entries) };
}

describe('OperationUse', () => {
  it('defaults fields and refuses what is not "<METHOD> <path>"', () => {
    expect(OperationUse.parse({ operation: 'GET /products/{id}' })).toEqual({
      operation: 'GET /products/{id}',
      fields: [],
    });
    expect(OperationUse.safeParse({ operation: 'get /products' }).success).toBe(false);
    expect(OperationUse.safeParse({ operation: 'GET products' }).success).toBe(false);
    expect(OperationUse.safeParse({ operation: 'GET /p', fields: ['a..b'] }).success).toBe(false);
    expect(OperationUse.safeParse({ operation: 'GET /p', extra: 1 }).success).toBe(false);
    expect(OperationUses.safeParse([]).success).toBe(false);
  });
});

describe('checkOpenApiConsumer with a uses list', () => {
  it('passes when the operations and fields are there, whatever the path parameter is called', () => {
    const usage = uses(
      { operation: 'GET /pets/{id}', fields: ['name', 'tag'] },
      { operation: 'GET /pets', fields: ['id', 'name'] },
      { operation: 'POST /pets' },
    );
    expect(checkOpenApiConsumer(fixture('petstore.yaml'), usage, 'storefront', FILES)).toEqual([]);
  });

  it('response-field-missing: a field the consumer reads was removed', () => {
    const head = fixture('petstore.yaml');
    delete petProps(head).tag;
    const problems = checkOpenApiConsumer(
      head,
      uses({ operation: 'GET /pets/{petId}', fields: ['name', 'tag'] }),
      'storefront',
      FILES,
    );
    expect(problems).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-field-missing',
        file: 'openapi.yaml',
        location: `${PET_GET}/properties/tag`,
        message: 'consumer "storefront" uses GET /pets/{petId}: field "tag" is not in the 200 response',
        consumer: 'storefront',
      },
    ]);
  });

  it('walks arrays through items and names the first missing part of a nested field', () => {
    const problems = checkOpenApiConsumer(
      fixture('petstore.yaml'),
      uses({ operation: 'GET /pets', fields: ['name', 'owner.name'] }),
      'storefront',
      FILES,
    );
    expect(brief(problems)).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-field-missing',
        location: '/paths/~1pets/get/responses/200/content/application~1json/schema/items/properties/owner',
        message: 'consumer "storefront" uses GET /pets: field "owner.name" is not in the 200 response (no "owner")',
      },
    ]);
  });

  it('operation-missing: the operation is gone', () => {
    const head = fixture('petstore.yaml');
    delete at(head, 'paths')['/pets/{petId}'];
    expect(
      brief(
        checkOpenApiConsumer(head, uses({ operation: 'GET /pets/{petId}', fields: ['name'] }), 'storefront', FILES),
      ),
    ).toEqual([
      {
        kind: 'mismatch',
        rule: 'operation-missing',
        location: '/paths/~1pets~1{petId}/get',
        message: 'consumer "storefront" uses GET /pets/{petId}, which openapi.yaml does not define',
      },
    ]);
  });

  it('response-body-missing: fields of an operation that returns no body', () => {
    expect(
      brief(
        checkOpenApiConsumer(
          fixture('petstore.yaml'),
          uses({ operation: 'POST /pets', fields: ['id'] }),
          'storefront',
          FILES,
        ),
      ),
    ).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-body-missing',
        location: '/paths/~1pets/post/responses',
        message:
          'consumer "storefront" uses POST /pets fields "id", but the operation declares no 2xx JSON response body',
      },
    ]);
  });

  it('reads fields through allOf (petstore-expanded)', () => {
    const usage = uses({ operation: 'GET /pets/{id}', fields: ['id', 'name', 'tag', 'colour'] });
    expect(
      checkOpenApiConsumer(fixture('petstore-expanded.yaml'), usage, 'storefront', FILES).map((p) => p.message),
    ).toEqual(['consumer "storefront" uses GET /pets/{id}: field "colour" is not in the 200 response']);
  });
});

function pact(): Record<string, unknown> {
  return {
    consumer: { name: 'storefront' },
    provider: { name: 'petstore' },
    interactions: [
      {
        description: 'a request for pet 7',
        request: { method: 'GET', path: '/v1/pets/7' },
        response: {
          status: 200,
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
          body: { id: 7, name: 'Rex', tag: 'dog' },
        },
      },
      {
        description: 'a list of pets',
        request: { method: 'get', path: '/pets', query: 'limit=2' },
        response: {
          status: 200,
          body: [
            { id: 1, name: 'A' },
            { id: 2, name: 'B', tag: 'cat' },
          ],
        },
      },
      {
        description: 'a pet created',
        request: { method: 'POST', path: '/pets', body: { id: 3, name: 'C' } },
        response: { status: 201 },
      },
    ],
    metadata: { pactSpecification: { version: '2.0.0' } },
  };
}

describe('checkOpenApiConsumer with a Pact file', () => {
  it('passes against the provider it was written for (server base path and templates matched)', () => {
    expect(checkOpenApiConsumer(fixture('petstore.yaml'), { form: 'pact', pact: pact() }, 'storefront', FILES)).toEqual(
      [],
    );
  });

  it('response-field-missing: the provider no longer returns a field the pact expects', () => {
    const head = fixture('petstore.yaml');
    delete petProps(head).tag;
    expect(checkOpenApiConsumer(head, { form: 'pact', pact: pact() }, 'storefront', FILES)).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-field-missing',
        file: FILES.consumer,
        location: '/interactions/0/response/body/tag',
        message:
          'consumer "storefront": interaction "a request for pet 7" (GET /v1/pets/7) expects field "tag" in GET /pets/{petId} 200 response, which is not in the provider\'s schema',
        consumer: 'storefront',
      },
      {
        kind: 'mismatch',
        rule: 'response-field-missing',
        file: FILES.consumer,
        location: '/interactions/1/response/body/1/tag',
        message:
          'consumer "storefront": interaction "a list of pets" (GET /pets) expects field "[].tag" in GET /pets 200 response, which is not in the provider\'s schema',
        consumer: 'storefront',
      },
    ]);
  });

  it('response-field-type-mismatch: reported once per field, not per array element', () => {
    const head = fixture('petstore.yaml');
    at(petProps(head), 'id').type = 'string';
    expect(brief(checkOpenApiConsumer(head, { form: 'pact', pact: pact() }, 'storefront', FILES))).toEqual([
      {
        kind: 'mismatch',
        rule: 'response-field-type-mismatch',
        location: '/interactions/0/response/body/id',
        message:
          'consumer "storefront": interaction "a request for pet 7" (GET /v1/pets/7) expects field "id" of GET /pets/{petId} 200 response to be integer, but the provider\'s schema says string',
      },
      {
        kind: 'mismatch',
        rule: 'response-field-type-mismatch',
        location: '/interactions/1/response/body/0/id',
        message:
          'consumer "storefront": interaction "a list of pets" (GET /pets) expects field "[].id" of GET /pets 200 response to be integer, but the provider\'s schema says string',
      },
    ]);
  });

  it('operation-missing and response-status-missing', () => {
    const head = fixture('petstore.yaml');
    delete at(head, 'paths', '/pets/{petId}').get;
    const responses = at(head, 'paths', '/pets', 'post', 'responses');
    delete responses['201'];
    delete responses.default;
    responses['200'] = { description: 'created' };
    expect(brief(checkOpenApiConsumer(head, { form: 'pact', pact: pact() }, 'storefront', FILES))).toEqual([
      {
        kind: 'mismatch',
        rule: 'operation-missing',
        location: '/interactions/0/request',
        message:
          'consumer "storefront": interaction "a request for pet 7" (GET /v1/pets/7) matches no operation of openapi.yaml',
      },
      {
        kind: 'mismatch',
        rule: 'response-status-missing',
        location: '/interactions/2/response/status',
        message:
          'consumer "storefront": interaction "a pet created" (POST /pets) expects status 201, which POST /pets does not declare',
      },
    ]);
  });

  it('reads Pact v4 bodies and skips message interactions', () => {
    const head = fixture('petstore.yaml');
    delete petProps(head).tag;
    const v4 = {
      interactions: [
        { type: 'Asynchronous/Messages', description: 'an event', contents: { content: { tag: 'x' } } },
        {
          type: 'Synchronous/HTTP',
          description: 'pet 7',
          request: { method: 'GET', path: '/pets/7' },
          response: {
            status: 200,
            body: { content: { id: 7, name: 'Rex', tag: 'dog' }, contentType: 'application/json', encoded: false },
          },
        },
      ],
      metadata: { pactSpecification: { version: '4.0' } },
    };
    expect(checkOpenApiConsumer(head, { form: 'pact', pact: v4 }, 'storefront', FILES).map((p) => p.location)).toEqual([
      '/interactions/1/response/body/content/tag',
    ]);
  });

  it('pact-unreadable: not a pact, or an interaction without a request', () => {
    expect(
      brief(checkOpenApiConsumer(fixture('petstore.yaml'), { form: 'pact', pact: { pacts: [] } }, 'storefront', FILES)),
    ).toEqual([
      {
        kind: 'invalid',
        rule: 'pact-unreadable',
        location: '/interactions',
        message: `${FILES.consumer}: not a Pact file: it needs an "interactions" list`,
      },
    ]);
    const broken = checkOpenApiConsumer(
      fixture('petstore.yaml'),
      { form: 'pact', pact: { interactions: [{ response: { status: 200 } }] } },
      'storefront',
      FILES,
    );
    expect(broken.map((p) => [p.rule, p.location])).toEqual([['pact-unreadable', '/interactions/0/request']]);
  });
});

describe("checkOpenApiConsumer with the consumer's copy of the document", () => {
  const COPY = { provider: 'openapi.yaml', consumer: 'storefront/vendor/petstore.yaml' };

  it('reports what the copy relies on, as mismatches naming the consumer', () => {
    const head = fixture('petstore.yaml');
    delete petProps(head).tag;
    const problems = checkOpenApiConsumer(
      head,
      { form: 'copy', document: fixture('petstore.yaml') },
      'storefront',
      COPY,
    );
    expect(problems[0]).toEqual({
      kind: 'mismatch',
      rule: 'response-property-removed',
      file: 'openapi.yaml',
      location: '/paths/~1pets/get/responses/200/content/application~1json/schema/items/properties/tag',
      message:
        'consumer "storefront" (its copy storefront/vendor/petstore.yaml): GET /pets 200 response: property "[].tag" removed',
      consumer: 'storefront',
      handle: { operation: 'GET /pets', side: 'response', field: 'tag', before: 'string', after: 'removed' },
    });
    expect(problems.map((p) => p.kind)).toEqual(['mismatch', 'mismatch']);
  });

  it('ignores what the copy leaves out', () => {
    const copy = fixture('petstore.yaml');
    delete at(copy, 'paths')['/pets'];
    const head = fixture('petstore.yaml');
    delete at(head, 'paths', '/pets').post;
    expect(checkOpenApiConsumer(head, { form: 'copy', document: copy }, 'storefront', COPY)).toEqual([]);
  });

  it('not-openapi: names the copy when the copy is not a document', () => {
    expect(
      brief(
        checkOpenApiConsumer(fixture('petstore.yaml'), { form: 'copy', document: { info: {} } }, 'storefront', COPY),
      ),
    ).toEqual([
      {
        kind: 'invalid',
        rule: 'not-openapi',
        location: '/openapi',
        message:
          'storefront/vendor/petstore.yaml (storefront\'s copy): not an OpenAPI 3.x document: no "openapi" version field',
      },
    ]);
  });
});

describe('resolveOperation', () => {
  it('prefers literal segments over templates, and matches templates against concrete paths', () => {
    const doc = {
      openapi: '3.0.0',
      servers: [{ url: 'https://api.example.test/{version}' }],
      paths: {
        '/pets/{id}': { get: { responses: {} } },
        '/pets/mine': { get: { responses: {} } },
        '/pets/{id}.json': { get: { responses: {} } },
      },
    };
    expect(resolveOperation(doc, 'GET', '/pets/mine')?.template).toBe('/pets/mine');
    expect(resolveOperation(doc, 'get', '/pets/7?x=1')?.template).toBe('/pets/{id}');
    expect(resolveOperation(doc, 'GET', '/pets/7.json')?.template).toBe('/pets/{id}.json');
    expect(resolveOperation(doc, 'GET', '/v2/pets/7')?.template).toBe('/pets/{id}');
    expect(resolveOperation(doc, 'POST', '/pets/7')).toBeNull();
    expect(resolveOperation(doc, 'GET', '/pets/7/toys')).toBeNull();
    expect(resolveOperation(doc, 'CONNECT', '/pets/7')).toBeNull();
  });
});
