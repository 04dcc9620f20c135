/**
 * The OpenAPI breaking-change diff, rule by rule, on the OpenAPI spec's own petstore examples:
 * each test mutates one document and checks the exact problems (and that the additive direction
 * of the same change yields none).
 */
import { describe, expect, it } from 'vitest';
import { diffOpenApi } from '../../core/contracts/openapi.ts';
import { at, brief, fixture } from './helpers.ts';

const FILE = 'openapi.yaml';
const PET_GET = '/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema';
const PETS_GET = '/paths/~1pets/get/responses/200/content/application~1json/schema';
const PETS_POST_BODY = '/paths/~1pets/post/requestBody/content/application~1json/schema';

const pet = (doc: unknown): Record<string, unknown> => at(doc, 'components', 'schemas', 'Pet');
const petProps = (doc: unknown): Record<string, unknown> => at(doc, 'components', 'schemas', 'Pet', 'properties');

describe('diffOpenApi on the petstore example', () => {
  it('finds nothing between a document and itself', () => {
    expect(diffOpenApi(fixture('petstore.yaml'), fixture('petstore.yaml'), FILE)).toEqual([]);
    expect(diffOpenApi(fixture('petstore-expanded.yaml'), fixture('petstore-expanded.yaml'), FILE)).toEqual([]);
  });

  it('path-removed: a path with its operations', () => {
    const head = fixture('petstore.yaml');
    delete at(head, 'paths')['/pets/{petId}'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'path-removed',
        location: '/paths/~1pets~1{petId}',
        message: 'path /pets/{petId} removed (with GET)',
      },
    ]);
    expect(diffOpenApi(head, fixture('petstore.yaml'), FILE)).toEqual([]);
  });

  it('treats a renamed path parameter as the same path', () => {
    const head = fixture('petstore.yaml');
    const paths = at(head, 'paths');
    paths['/pets/{id}'] = paths['/pets/{petId}'];
    delete paths['/pets/{petId}'];
    expect(diffOpenApi(fixture('petstore.yaml'), head, FILE)).toEqual([]);
  });

  it('path-removed: a renamed path is a removal', () => {
    const head = fixture('petstore.yaml');
    const paths = at(head, 'paths');
    paths['/animals/{petId}'] = paths['/pets/{petId}'];
    delete paths['/pets/{petId}'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE)).map((p) => p.rule)).toEqual(['path-removed']);
  });

  it('operation-removed: one method of a path that stays', () => {
    const head = fixture('petstore.yaml');
    delete at(head, 'paths', '/pets').post;
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      { kind: 'breaking', rule: 'operation-removed', location: '/paths/~1pets/post', message: 'POST /pets removed' },
    ]);
    expect(diffOpenApi(head, fixture('petstore.yaml'), FILE)).toEqual([]);
  });

  it('response-property-removed: in every response that returns it, through $ref and array items', () => {
    const head = fixture('petstore.yaml');
    delete petProps(head).tag;
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: `${PETS_GET}/items/properties/tag`,
        message: 'GET /pets 200 response: property "[].tag" removed',
      },
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: `${PET_GET}/properties/tag`,
        message: 'GET /pets/{petId} 200 response: property "tag" removed',
      },
    ]);
    // Adding an optional property back is additive.
    expect(diffOpenApi(head, fixture('petstore.yaml'), FILE)).toEqual([]);
  });

  it('a renamed property is a removal for readers and a new required property for writers', () => {
    const head = fixture('petstore.yaml');
    const props = petProps(head);
    props.petName = props.name;
    delete props.name;
    pet(head).required = ['id', 'petName'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: `${PETS_GET}/items/properties/name`,
        message: 'GET /pets 200 response: property "[].name" removed',
      },
      {
        kind: 'breaking',
        rule: 'request-property-became-required',
        location: `${PETS_POST_BODY}/properties/petName`,
        message: 'POST /pets request body: property "petName" added as required',
      },
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: `${PET_GET}/properties/name`,
        message: 'GET /pets/{petId} 200 response: property "name" removed',
      },
    ]);
  });

  it('response-type-widened: integer to number breaks readers, not writers', () => {
    const head = fixture('petstore.yaml');
    at(petProps(head), 'id').type = 'number';
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-type-widened',
        location: `${PETS_GET}/items/properties/id`,
        message: 'GET /pets 200 response: property "[].id" type widened from integer to number',
      },
      {
        kind: 'breaking',
        rule: 'response-type-widened',
        location: `${PET_GET}/properties/id`,
        message: 'GET /pets/{petId} 200 response: property "id" type widened from integer to number',
      },
    ]);
  });

  it('request-type-narrowed: number to integer breaks writers, not readers', () => {
    const base = fixture('petstore.yaml');
    at(petProps(base), 'id').type = 'number';
    expect(brief(diffOpenApi(base, fixture('petstore.yaml'), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-type-narrowed',
        location: `${PETS_POST_BODY}/properties/id`,
        message: 'POST /pets request body: property "id" type narrowed from number to integer',
      },
    ]);
  });

  it('response-type-changed and request-type-changed: unrelated types break both sides', () => {
    const head = fixture('petstore.yaml');
    at(petProps(head), 'tag').type = 'integer';
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-type-changed',
        location: `${PETS_GET}/items/properties/tag`,
        message: 'GET /pets 200 response: property "[].tag" type changed from string to integer',
      },
      {
        kind: 'breaking',
        rule: 'request-type-changed',
        location: `${PETS_POST_BODY}/properties/tag`,
        message: 'POST /pets request body: property "tag" type changed from string to integer',
      },
      {
        kind: 'breaking',
        rule: 'response-type-changed',
        location: `${PET_GET}/properties/tag`,
        message: 'GET /pets/{petId} 200 response: property "tag" type changed from string to integer',
      },
    ]);
  });

  it('response-type-widened: a property made nullable', () => {
    const head = fixture('petstore.yaml');
    at(petProps(head), 'name').nullable = true;
    const problems = diffOpenApi(fixture('petstore.yaml'), head, FILE);
    expect(problems.map((p) => p.rule)).toEqual(['response-type-widened', 'response-type-widened']);
    expect(problems[1]?.message).toBe(
      'GET /pets/{petId} 200 response: property "name" type widened from string to null|string',
    );
    // Nullable taken away again only narrows what readers get, and the request accepted null before.
    expect(diffOpenApi(head, fixture('petstore.yaml'), FILE).map((p) => p.rule)).toEqual(['request-type-narrowed']);
  });

  it('request-parameter-became-required: a new required query parameter, and an optional one made required', () => {
    const head = fixture('petstore.yaml');
    const params = at(head, 'paths', '/pets', 'get').parameters as Record<string, unknown>[];
    params.push({ name: 'owner', in: 'query', required: true, schema: { type: 'string' } });
    at(params, '0').required = true;
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-parameter-became-required',
        location: '/paths/~1pets/get/parameters/0',
        message: 'GET /pets query parameter "limit" became required',
      },
      {
        kind: 'breaking',
        rule: 'request-parameter-became-required',
        location: '/paths/~1pets/get/parameters/1',
        message: 'GET /pets query parameter "owner" added as required',
      },
    ]);
  });

  it('an optional parameter added, or a parameter removed, breaks nobody', () => {
    const head = fixture('petstore.yaml');
    const params = at(head, 'paths', '/pets', 'get').parameters as Record<string, unknown>[];
    params.push({ name: 'owner', in: 'query', required: false, schema: { type: 'string' } });
    expect(diffOpenApi(fixture('petstore.yaml'), head, FILE)).toEqual([]);
    delete at(head, 'paths', '/pets', 'get').parameters;
    expect(diffOpenApi(fixture('petstore.yaml'), head, FILE)).toEqual([]);
  });

  it('request-type-narrowed: a parameter schema', () => {
    const head = fixture('petstore.yaml');
    const params = at(head, 'paths', '/pets', 'get').parameters as Record<string, unknown>[];
    at(params, '0', 'schema').enum = [10, 50, 100];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-enum-value-removed',
        location: '/paths/~1pets/get/parameters/0/schema',
        message: 'GET /pets query parameter "limit": now restricted to the enum values 10, 50, 100',
      },
    ]);
  });

  it('request-property-became-required: an optional request property made required', () => {
    const head = fixture('petstore.yaml');
    pet(head).required = ['id', 'name', 'tag'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-property-became-required',
        location: `${PETS_POST_BODY}/properties/tag`,
        message: 'POST /pets request body: property "tag" became required',
      },
    ]);
  });

  it('response-property-became-optional: readers may rely on a required property', () => {
    const head = fixture('petstore.yaml');
    at(head, 'components', 'schemas', 'Error').required = ['code'];
    const problems = diffOpenApi(fixture('petstore.yaml'), head, FILE);
    expect(problems.map((p) => p.location)).toEqual([
      '/paths/~1pets/get/responses/default/content/application~1json/schema/properties/message',
      '/paths/~1pets/post/responses/default/content/application~1json/schema/properties/message',
      '/paths/~1pets~1{petId}/get/responses/default/content/application~1json/schema/properties/message',
    ]);
    expect(brief(problems)[0]).toEqual({
      kind: 'breaking',
      rule: 'response-property-became-optional',
      location: '/paths/~1pets/get/responses/default/content/application~1json/schema/properties/message',
      message:
        'GET /pets default response: property "message" is no longer required (consumers may rely on it being present)',
    });
    expect(diffOpenApi(head, fixture('petstore.yaml'), FILE)).toEqual([]);
  });

  it('response-status-removed: a success status, not an error one', () => {
    const head = fixture('petstore.yaml');
    const responses = at(head, 'paths', '/pets/{petId}', 'get', 'responses');
    responses['201'] = responses['200'];
    delete responses['200'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-status-removed',
        location: '/paths/~1pets~1{petId}/get/responses/200',
        message: 'GET /pets/{petId} 200 response removed',
      },
    ]);
    const noDefault = fixture('petstore.yaml');
    delete at(noDefault, 'paths', '/pets/{petId}', 'get', 'responses').default;
    expect(diffOpenApi(fixture('petstore.yaml'), noDefault, FILE)).toEqual([]);
  });

  it('response-enum-value-added breaks readers; request-enum-value-removed breaks writers', () => {
    const base = fixture('petstore.yaml');
    at(petProps(base), 'tag').enum = ['dog', 'cat'];
    const added = fixture('petstore.yaml');
    at(petProps(added), 'tag').enum = ['dog', 'cat', 'bird'];
    expect(brief(diffOpenApi(base, added, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-enum-value-added',
        location: `${PETS_GET}/items/properties/tag`,
        message: 'GET /pets 200 response: property "[].tag" enum value "bird" added',
      },
      {
        kind: 'breaking',
        rule: 'response-enum-value-added',
        location: `${PET_GET}/properties/tag`,
        message: 'GET /pets/{petId} 200 response: property "tag" enum value "bird" added',
      },
    ]);
    const removed = fixture('petstore.yaml');
    at(petProps(removed), 'tag').enum = ['dog'];
    expect(brief(diffOpenApi(base, removed, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-enum-value-removed',
        location: `${PETS_POST_BODY}/properties/tag`,
        message: 'POST /pets request body: property "tag" enum value "cat" removed',
      },
    ]);
  });

  it('request-body-became-required', () => {
    const base = fixture('petstore.yaml');
    at(base, 'paths', '/pets', 'post', 'requestBody').required = false;
    expect(brief(diffOpenApi(base, fixture('petstore.yaml'), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-body-became-required',
        location: '/paths/~1pets/post/requestBody/required',
        message: 'POST /pets request body became required',
      },
    ]);
    expect(diffOpenApi(fixture('petstore.yaml'), base, FILE)).toEqual([]);
  });

  it('request-additional-properties-closed, and request-property-removed only once unknown properties are refused', () => {
    const open = fixture('petstore.yaml');
    delete petProps(open).tag;
    expect(diffOpenApi(fixture('petstore.yaml'), open, FILE).filter((p) => p.rule.startsWith('request-'))).toEqual([]);
    const closed = fixture('petstore.yaml');
    delete petProps(closed).tag;
    pet(closed).additionalProperties = false;
    expect(
      brief(diffOpenApi(fixture('petstore.yaml'), closed, FILE).filter((p) => p.rule.startsWith('request-'))),
    ).toEqual([
      {
        kind: 'breaking',
        rule: 'request-property-removed',
        location: `${PETS_POST_BODY}/properties/tag`,
        message: 'POST /pets request body: property "tag" removed',
      },
      {
        kind: 'breaking',
        rule: 'request-additional-properties-closed',
        location: `${PETS_POST_BODY}/additionalProperties`,
        message: 'POST /pets request body: no longer accepts additional properties',
      },
    ]);
  });

  it('request-media-type-removed and response-media-type-removed', () => {
    const head = fixture('petstore.yaml');
    const body = at(head, 'paths', '/pets', 'post', 'requestBody', 'content');
    body['application/xml'] = body['application/json'];
    delete body['application/json'];
    const response = at(head, 'paths', '/pets/{petId}', 'get', 'responses', '200', 'content');
    response['application/xml'] = response['application/json'];
    delete response['application/json'];
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-media-type-removed',
        location: '/paths/~1pets/post/requestBody/content/application~1json',
        message: 'POST /pets request body no longer accepts application/json',
      },
      {
        kind: 'breaking',
        rule: 'response-media-type-removed',
        location: '/paths/~1pets~1{petId}/get/responses/200/content/application~1json',
        message: 'GET /pets/{petId} 200 response: no longer returns application/json',
      },
    ]);
  });

  it('additive changes pass: a new path, operation, optional property, response and enum on a request', () => {
    const head = fixture('petstore.yaml');
    at(head, 'paths')['/owners'] = { get: { responses: { '200': { description: 'owners' } } } };
    at(head, 'paths', '/pets/{petId}').delete = { responses: { '204': { description: 'gone' } } };
    petProps(head).birthday = { type: 'string', format: 'date' };
    at(head, 'paths', '/pets/{petId}', 'get', 'responses')['404'] = { description: 'no such pet' };
    expect(diffOpenApi(fixture('petstore.yaml'), head, FILE)).toEqual([]);
  });
});

describe('diffOpenApi on the petstore-expanded example (allOf, inline arrays)', () => {
  const PET_BY_ID = '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema';

  it('reads properties merged through allOf', () => {
    const head = fixture('petstore-expanded.yaml');
    const branches = at(head, 'components', 'schemas', 'Pet').allOf as unknown[];
    delete at(branches, '1', 'properties').id;
    expect(brief(diffOpenApi(fixture('petstore-expanded.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: '/paths/~1pets/get/responses/200/content/application~1json/schema/items/properties/id',
        message: 'GET /pets 200 response: property "[].id" removed',
      },
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: '/paths/~1pets/post/responses/200/content/application~1json/schema/properties/id',
        message: 'POST /pets 200 response: property "id" removed',
      },
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        location: `${PET_BY_ID}/properties/id`,
        message: 'GET /pets/{id} 200 response: property "id" removed',
      },
    ]);
  });

  it('a path parameter type changed from integer to string', () => {
    const head = fixture('petstore-expanded.yaml');
    const params = at(head, 'paths', '/pets/{id}', 'get').parameters as unknown[];
    at(params, '0', 'schema').type = 'string';
    expect(brief(diffOpenApi(fixture('petstore-expanded.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-type-changed',
        location: '/paths/~1pets~1{id}/get/parameters/0/schema',
        message: 'GET /pets/{id} path parameter "id": type changed from integer to string',
      },
    ]);
  });

  it('operation-removed: DELETE /pets/{id}', () => {
    const head = fixture('petstore-expanded.yaml');
    delete at(head, 'paths', '/pets/{id}').delete;
    expect(brief(diffOpenApi(fixture('petstore-expanded.yaml'), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'operation-removed',
        location: '/paths/~1pets~1{id}/delete',
        message: 'DELETE /pets/{id} removed',
      },
    ]);
  });
});

describe('diffOpenApi on hostile or broken documents', () => {
  it('terminates on cyclic $refs and still reports the change', () => {
    const base = fixture('petstore.yaml');
    petProps(base).parent = { $ref: '#/components/schemas/Pet' };
    const head = fixture('petstore.yaml');
    petProps(head).parent = { $ref: '#/components/schemas/Pet' };
    delete petProps(head).tag;
    const problems = diffOpenApi(base, head, FILE);
    expect(problems.map((p) => p.location)).toEqual([`${PETS_GET}/items/properties/tag`, `${PET_GET}/properties/tag`]);
  });

  it('terminates on a $ref that points at itself', () => {
    const head = fixture('petstore.yaml');
    at(head, 'components', 'schemas').Pet = { $ref: '#/components/schemas/Pet' };
    const problems = diffOpenApi(fixture('petstore.yaml'), head, FILE);
    expect(problems.every((p) => p.kind === 'invalid' && p.rule === 'ref-unresolved')).toBe(true);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.message).toContain('a cycle?');
  });

  it('ref-unresolved: a reference to nothing is reported, not thrown', () => {
    const head = fixture('petstore.yaml');
    at(head, 'paths', '/pets/{petId}', 'get', 'responses', '200', 'content', 'application/json').schema = {
      $ref: '#/components/schemas/Missing',
    };
    expect(brief(diffOpenApi(fixture('petstore.yaml'), head, FILE))).toEqual([
      {
        kind: 'invalid',
        rule: 'ref-unresolved',
        location: PET_GET,
        message:
          'GET /pets/{petId} 200 response: $ref "#/components/schemas/Missing" cannot be followed: nothing at that pointer',
      },
    ]);
  });

  it('not-openapi: Swagger 2 and non-objects are refused with a clear problem', () => {
    expect(brief(diffOpenApi({ swagger: '2.0', paths: {} }, fixture('petstore.yaml'), FILE))).toEqual([
      {
        kind: 'invalid',
        rule: 'not-openapi',
        location: '/openapi',
        message:
          'openapi.yaml (base): not an OpenAPI 3.x document: no "openapi" version field (it is Swagger 2.0; convert it to OpenAPI 3)',
      },
    ]);
    expect(diffOpenApi(fixture('petstore.yaml'), 'text', FILE).map((p) => p.rule)).toEqual(['not-openapi']);
    expect(diffOpenApi(fixture('petstore.yaml'), { openapi: '3.0.0', paths: [] }, FILE).map((p) => p.message)).toEqual([
      'openapi.yaml (head): "paths" must be an object',
    ]);
  });

  it('ignores keys that look like prototype properties', () => {
    const base = JSON.parse(
      '{"openapi":"3.0.0","paths":{"/constructor":{"__proto__":{"get":{}},"toString":{}}}}',
    ) as unknown;
    const head = { openapi: '3.0.0', paths: {} };
    expect(diffOpenApi(base, head, FILE)).toEqual([]);
  });
});

describe('the worked example of docs/contracts.md', () => {
  const doc = (properties: Record<string, unknown>, required: string[]): Record<string, unknown> => ({
    openapi: '3.0.3',
    info: { title: 'catalog', version: '1' },
    paths: {
      '/products/{id}': {
        get: {
          responses: {
            '200': {
              description: 'a product',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Product' } } },
            },
          },
        },
      },
    },
    components: { schemas: { Product: { type: 'object', required, properties } } },
  });

  it('price to price_cents is one removed response property', () => {
    const base = doc({ id: { type: 'string' }, name: { type: 'string' }, price: { type: 'number' } }, [
      'id',
      'name',
      'price',
    ]);
    const head = doc({ id: { type: 'string' }, name: { type: 'string' }, price_cents: { type: 'integer' } }, [
      'id',
      'name',
      'price_cents',
    ]);
    expect(diffOpenApi(base, head, 'openapi.yaml')).toEqual([
      {
        kind: 'breaking',
        rule: 'response-property-removed',
        file: 'openapi.yaml',
        location: '/paths/~1products~1{id}/get/responses/200/content/application~1json/schema/properties/price',
        message: 'GET /products/{id} 200 response: property "price" removed',
        handle: {
          operation: 'GET /products/{id}',
          side: 'response',
          field: 'price',
          before: 'number',
          after: 'removed',
        },
      },
    ]);
  });
});
