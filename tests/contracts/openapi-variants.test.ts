/**
 * The OpenAPI diff beyond plain objects: oneOf/anyOf/discriminator variants, security
 * requirements, 3.1 type arrays, and `$ref`s into other files of the repository (bundled the way
 * the gate reads them, from one revision). Each case pins the exact problems and checks that the
 * harmless direction of the same change yields none.
 */
import { describe, expect, it } from 'vitest';
import { diffOpenApi } from '../../core/contracts/openapi.ts';
import { parseContractDocument } from '../../core/contracts/parse.ts';
import { bundleExternalRefs, type LoadedDocument } from '../../core/contracts/pointer.ts';
import { at, brief } from './helpers.ts';

const FILE = 'openapi.yaml';

function yaml(text: string): unknown {
  const parsed = parseContractDocument(text, FILE);
  if (!parsed.ok) throw new Error(parsed.problem.message);
  return parsed.document;
}

/** A pets API whose GET returns `responseSchema` and whose POST accepts `requestSchema`. */
function api(responseSchema: string, requestSchema: string, extra = ''): unknown {
  return yaml(`openapi: 3.1.0
info: { title: pets, version: '1' }
paths:
  /pets/{id}:
    get:
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      responses:
        '200':
          description: a pet
          content: { application/json: { schema: ${responseSchema} } }
  /pets:
    post:
      requestBody:
        content: { application/json: { schema: ${requestSchema} } }
      responses: { '201': { description: created } }
${extra}components:
  schemas:
    Cat: { type: object, required: [kind, lives], properties: { kind: { const: cat }, lives: { type: integer } } }
    Dog: { type: object, required: [kind], properties: { kind: { const: dog }, bark: { type: string } } }
    Fish: { type: object, required: [kind], properties: { kind: { const: fish } } }
`);
}

const PET2 =
  "{ oneOf: [{ $ref: '#/components/schemas/Cat' }, { $ref: '#/components/schemas/Dog' }], discriminator: { propertyName: kind } }";
const PET3 =
  "{ oneOf: [{ $ref: '#/components/schemas/Cat' }, { $ref: '#/components/schemas/Dog' }, { $ref: '#/components/schemas/Fish' }], discriminator: { propertyName: kind } }";
const GET = '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema';
const POST = '/paths/~1pets/post/requestBody/content/application~1json/schema';

describe('oneOf / anyOf / discriminator', () => {
  it('a variant added to a response breaks readers; to a request, nobody', () => {
    expect(brief(diffOpenApi(api(PET2, PET2), api(PET3, PET3), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-variant-added',
        location: `${GET}/oneOf/2`,
        message:
          'GET /pets/{id} 200 response: oneOf variant "Fish" added (readers may receive a shape they do not know)',
      },
    ]);
  });

  it('a variant removed from a request breaks writers; from a response, nobody', () => {
    expect(brief(diffOpenApi(api(PET3, PET3), api(PET2, PET2), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-variant-removed',
        location: `${POST}/oneOf`,
        message: 'POST /pets request body: oneOf variant "Fish" removed (values of that shape are refused)',
      },
    ]);
  });

  it('a narrowed variant is compared like any schema, and matched by name not position', () => {
    const base = api(PET2, PET2);
    const swapped =
      "{ oneOf: [{ $ref: '#/components/schemas/Dog' }, { $ref: '#/components/schemas/Cat' }], discriminator: { propertyName: kind } }";
    const head = api(swapped, swapped);
    const dog = at(head, 'components', 'schemas', 'Dog') as { required: string[]; properties: Record<string, unknown> };
    dog.required.push('bark');
    delete dog.properties.bark;
    dog.properties.bark = { type: 'integer' };
    expect(brief(diffOpenApi(base, head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-type-changed',
        location: `${GET}/oneOf/0/properties/bark`,
        message: 'GET /pets/{id} 200 response: property "bark" type changed from string to integer',
      },
      {
        kind: 'breaking',
        rule: 'request-type-changed',
        location: `${POST}/oneOf/0/properties/bark`,
        message: 'POST /pets request body: property "bark" type changed from string to integer',
      },
      {
        kind: 'breaking',
        rule: 'request-property-became-required',
        location: `${POST}/oneOf/0/properties/bark`,
        message: 'POST /pets request body: property "bark" became required',
      },
    ]);
  });

  it('a plain schema that becomes a oneOf of itself and more: readers break, writers do not', () => {
    const cat = "{ $ref: '#/components/schemas/Cat' }";
    expect(brief(diffOpenApi(api(cat, cat), api(PET2, PET2), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'response-variant-added',
        location: `${GET}/oneOf/1`,
        message:
          'GET /pets/{id} 200 response: oneOf variant "Dog" added (readers may receive a shape they do not know)',
      },
    ]);
    expect(brief(diffOpenApi(api(PET2, PET2), api(cat, cat), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-variant-removed',
        location: `${POST}/oneOf`,
        message: 'POST /pets request body: oneOf variant "Dog" removed (values of that shape are refused)',
      },
    ]);
  });

  it('inline anyOf variants tagged by the discriminator property are matched by their tag', () => {
    const two =
      '{ anyOf: [{ type: object, properties: { kind: { const: a } } }, { type: object, properties: { kind: { const: b } } }], discriminator: { propertyName: kind } }';
    const one =
      '{ anyOf: [{ type: object, properties: { kind: { const: b } } }], discriminator: { propertyName: kind } }';
    expect(brief(diffOpenApi(api(two, two), api(one, one), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'request-variant-removed',
        location: `${POST}/anyOf`,
        message: 'POST /pets request body: anyOf variant "a" removed (values of that shape are refused)',
      },
    ]);
    expect(diffOpenApi(api(two, two), api(two, two), FILE)).toEqual([]);
  });

  it('3.1 type arrays: a response gaining null is widened, a request losing it is narrowed', () => {
    const nullable = "{ type: [string, 'null'] }";
    const plain = '{ type: string }';
    expect(
      brief(diffOpenApi(api(plain, nullable), api(nullable, plain), FILE)).map((p) => [p.rule, p.message]),
    ).toEqual([
      ['response-type-widened', 'GET /pets/{id} 200 response: type widened from string to null|string'],
      ['request-type-narrowed', 'POST /pets request body: type narrowed from null|string to string'],
    ]);
  });
});

describe('security requirements', () => {
  const open = api('{ type: string }', '{ type: string }', '');
  const withSecurity = (security: string): unknown => {
    const doc = api('{ type: string }', '{ type: string }');
    at(doc, 'paths', '/pets', 'post').security = (yaml(`list: ${security}`) as { list: unknown }).list;
    return doc;
  };

  it('security-requirement-added: an operation that let anyone in now needs a scheme', () => {
    expect(brief(diffOpenApi(open, withSecurity('[{ token: [] }]'), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'security-requirement-added',
        location: '/paths/~1pets/post/security',
        message: 'POST /pets now requires token; callers that send no credentials are refused',
      },
    ]);
    expect(diffOpenApi(withSecurity('[{ token: [] }]'), open, FILE)).toEqual([]);
  });

  it('a new alternative, or keeping anonymous access, breaks nobody; a new scope does', () => {
    expect(
      diffOpenApi(withSecurity('[{ token: [] }]'), withSecurity('[{ token: [] }, { oauth: [write] }]'), FILE),
    ).toEqual([]);
    expect(diffOpenApi(open, withSecurity('[{ token: [] }, {}]'), FILE)).toEqual([]);
    expect(
      brief(diffOpenApi(withSecurity('[{ oauth: [read] }]'), withSecurity('[{ oauth: [read, write] }]'), FILE)).map(
        (p) => p.message,
      ),
    ).toEqual(['POST /pets now requires oauth (read, write); callers that send oauth (read) are refused']);
  });

  it('a document-wide requirement applies to every operation without its own', () => {
    const head = yaml(JSON.stringify({ ...(open as object), security: [{ key: [] }] }));
    expect(brief(diffOpenApi(open, head, FILE)).map((p) => [p.rule, p.location])).toEqual([
      ['security-requirement-added', '/security'],
      ['security-requirement-added', '/security'],
    ]);
  });
});

describe('$ref into other files of the repository', () => {
  const files: Record<string, string> = {
    'api/openapi.yaml': `openapi: 3.0.3
info: { title: pets, version: '1' }
paths:
  /pets/{id}:
    get:
      responses:
        '200':
          description: a pet
          content: { application/json: { schema: { $ref: './schemas/pet.yaml#/Pet' } } }
`,
    'api/schemas/pet.yaml': `Pet:
  type: object
  required: [id]
  properties:
    id: { type: string }
    owner: { $ref: '../../common/owner.json#/Owner' }
    tag: { $ref: '#/Tag' }
Tag: { type: string }
`,
    'common/owner.json': '{ "Owner": { "type": "object", "properties": { "name": { "type": "string" } } } }',
  };
  const loader =
    (tree: Record<string, string>) =>
    (path: string): Promise<LoadedDocument | null> => {
      const text = tree[path];
      return Promise.resolve(text === undefined ? null : parseContractDocument(text, path));
    };
  const bundle = async (tree: Record<string, string>) => {
    const root = parseContractDocument(tree['api/openapi.yaml'] ?? '', 'api/openapi.yaml');
    if (!root.ok) throw new Error(root.problem.message);
    return bundleExternalRefs(root.document, 'api/openapi.yaml', loader(tree));
  };

  it('follows refs across YAML and JSON files, relative to the file that holds them', async () => {
    const base = await bundle(files);
    const head = await bundle({
      ...files,
      'common/owner.json': '{ "Owner": { "type": "object", "properties": { "fullName": { "type": "string" } } } }',
      'api/schemas/pet.yaml': (files['api/schemas/pet.yaml'] ?? '').replace(
        'Tag: { type: string }',
        'Tag: { type: integer }',
      ),
    });
    expect(base.problems).toEqual([]);
    expect(head.problems).toEqual([]);
    expect(
      brief(diffOpenApi(base.document, head.document, 'api/openapi.yaml')).map((p) => [p.rule, p.location, p.message]),
    ).toEqual([
      [
        'response-property-removed',
        '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/properties/owner/properties/name',
        'GET /pets/{id} 200 response: property "owner.name" removed',
      ],
      [
        'response-type-changed',
        '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/properties/tag',
        'GET /pets/{id} 200 response: property "tag" type changed from string to integer',
      ],
    ]);
  });

  it('refuses a ref that leaves the repository, and names a missing file', async () => {
    const outside = await bundle({
      ...files,
      'api/schemas/pet.yaml': (files['api/schemas/pet.yaml'] ?? '').replace(
        '../../common/owner.json',
        '../../../etc/owner.json',
      ),
    });
    expect(brief(outside.problems)).toEqual([
      {
        kind: 'invalid',
        rule: 'ref-outside-repo',
        location: '/Pet/properties/owner/$ref',
        message:
          'api/schemas/pet.yaml: $ref at /Pet/properties/owner/$ref ("../../../etc/owner.json#/Owner") leaves the repository: only files inside it are read. Move ../../../etc/owner.json into the repository and refer to it by a path that stays inside',
      },
    ]);
    const url = await bundle({
      ...files,
      'api/schemas/pet.yaml': (files['api/schemas/pet.yaml'] ?? '').replace(
        '../../common/owner.json',
        'https://example.com/owner.json',
      ),
    });
    expect(url.problems.map((p) => [p.rule, p.file])).toEqual([['ref-outside-repo', 'api/schemas/pet.yaml']]);
    const { 'common/owner.json': _gone, ...without } = files;
    const missing = await bundle(without);
    expect(brief(missing.problems)).toEqual([
      {
        kind: 'invalid',
        rule: 'ref-unresolved',
        location: '',
        message:
          'common/owner.json, which a $ref of api/schemas/pet.yaml names, does not exist at this revision of the repository',
      },
    ]);
  });
});
