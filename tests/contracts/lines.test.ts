/** From a problem's JSON pointer to the line a reader opens, in YAML and JSON, through $ref and allOf. */
import { describe, expect, it } from 'vitest';
import { lineOfPointer } from '../../core/contracts/parse.ts';
import { fixtureText } from './helpers.ts';

const yamlText = `openapi: 3.0.3
paths:
  /pets/{id}:
    get:
      responses:
        '200':
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pet'
components:
  schemas:
    Pet:
      allOf:
        - $ref: '#/components/schemas/Named'
        - type: object
          properties:
            tag:
              type: string
    Named:
      properties:
        name: { type: string }
        owner: { $ref: './owner.yaml#/Owner' }
`;

describe('lineOfPointer', () => {
  it('follows $ref and allOf to the line of the property', () => {
    const schema = '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema';
    expect(lineOfPointer(yamlText, `${schema}/properties/tag`)).toBe(18);
    expect(lineOfPointer(yamlText, `${schema}/properties/name`)).toBe(22);
    expect(lineOfPointer(yamlText, '/paths/~1pets~1{id}/get')).toBe(4);
  });

  it('stops at a $ref into another file, and at the deepest part that exists', () => {
    const schema = '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema';
    expect(lineOfPointer(yamlText, `${schema}/properties/owner/properties/name`)).toBe(23);
    expect(lineOfPointer(yamlText, '/paths/~1pets~1{id}/post')).toBe(3);
    expect(lineOfPointer(yamlText, '/paths/~1pets~1{id}/post', { exact: true })).toBeNull();
    expect(lineOfPointer(yamlText, '/paths/~1pets~1{id}/get', { exact: true })).toBe(4);
    expect(lineOfPointer(yamlText, '/nothing')).toBeNull();
    expect(lineOfPointer('a: [unclosed', '/a')).toBeNull();
  });

  it('reads JSON text the same way, and the petstore example', () => {
    const json = JSON.stringify(
      { interactions: [{ request: { path: '/' } }, { response: { body: { content: { tag: 'x' } } } }] },
      null,
      2,
    );
    expect(lineOfPointer(json, '/interactions/1/response/body/content/tag')).toBe(12);
    const petstore = fixtureText('petstore.yaml');
    const line = lineOfPointer(
      petstore,
      '/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema/properties/tag',
    );
    expect(petstore.split('\n')[(line ?? 0) - 1]?.trim()).toBe('tag:');
  });
});
