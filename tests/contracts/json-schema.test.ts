/** Event payload schemas: each breaking rule with its exact problem, and the additive direction. */
import { describe, expect, it } from 'vitest';
import { diffJsonSchema } from '../../core/contracts/json-schema.ts';
import { at, brief } from './helpers.ts';

const FILE = 'events/order-placed.schema.json';

function order(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    required: ['id', 'total'],
    properties: {
      id: { type: 'string' },
      total: { type: 'number' },
      note: { type: ['string', 'null'] },
      status: { enum: ['placed', 'paid'] },
      customer: { $ref: '#/$defs/Customer' },
      lines: { type: 'array', items: { $ref: '#/$defs/Line' } },
    },
    $defs: {
      Customer: { type: 'object', properties: { id: { type: 'string' }, email: { type: 'string' } } },
      Line: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer' } } },
    },
  };
}

describe('diffJsonSchema', () => {
  it('finds nothing between a schema and itself', () => {
    expect(diffJsonSchema(order(), order(), FILE)).toEqual([]);
  });

  it('property-removed: a nested property behind a $ref', () => {
    const head = order();
    delete at(head, '$defs', 'Customer', 'properties').email;
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'property-removed',
        location: '/properties/customer/properties/email',
        message: `${FILE}: property "customer.email" removed`,
      },
    ]);
  });

  it('type-narrowed: number to integer, and a nullable type made non-null', () => {
    const head = order();
    at(head, 'properties', 'total').type = 'integer';
    at(head, 'properties', 'note').type = 'string';
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'type-narrowed',
        location: '/properties/total',
        message: `${FILE}: property "total" type narrowed from number to integer`,
      },
      {
        kind: 'breaking',
        rule: 'type-narrowed',
        location: '/properties/note',
        message: `${FILE}: property "note" type narrowed from null|string to string`,
      },
    ]);
  });

  it('type-changed: inside array items', () => {
    const head = order();
    at(head, '$defs', 'Line', 'properties', 'qty').type = 'string';
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'type-changed',
        location: '/properties/lines/items/properties/qty',
        message: `${FILE}: property "lines[].qty" type changed from integer to string`,
      },
    ]);
  });

  it('enum-value-removed', () => {
    const head = order();
    at(head, 'properties', 'status').enum = ['placed'];
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'enum-value-removed',
        location: '/properties/status',
        message: `${FILE}: property "status" enum value "paid" removed`,
      },
    ]);
  });

  it('property-became-required: an optional property, and a new one', () => {
    const head = order();
    head.required = ['id', 'total', 'note', 'currency'];
    at(head, 'properties').currency = { type: 'string' };
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'property-became-required',
        location: '/properties/note',
        message: `${FILE}: property "note" became required`,
      },
      {
        kind: 'breaking',
        rule: 'property-became-required',
        location: '/properties/currency',
        message: `${FILE}: property "currency" added as required`,
      },
    ]);
  });

  it('additional-properties-closed: on array items and at the root', () => {
    const head = order();
    at(head, '$defs', 'Line').additionalProperties = false;
    head.additionalProperties = false;
    expect(brief(diffJsonSchema(order(), head, FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'additional-properties-closed',
        location: '/properties/lines/items/additionalProperties',
        message: `${FILE}: property "lines[]" no longer accepts additional properties`,
      },
      {
        kind: 'breaking',
        rule: 'additional-properties-closed',
        location: '/additionalProperties',
        message: `${FILE}: no longer accepts additional properties`,
      },
    ]);
  });

  it('additive changes pass: a new optional property, a widened type, a new enum value, a required property made optional', () => {
    const head = order();
    at(head, 'properties').coupon = { type: 'string' };
    at(head, '$defs', 'Line', 'properties', 'qty').type = 'number';
    at(head, 'properties', 'status').enum = ['placed', 'paid', 'refunded'];
    head.required = ['id'];
    expect(diffJsonSchema(order(), head, FILE)).toEqual([]);
  });

  it('terminates on recursive schemas and reports inside them once', () => {
    const tree = (leaf: string): Record<string, unknown> => ({
      $ref: '#/$defs/Node',
      $defs: {
        Node: {
          type: 'object',
          properties: { name: { type: leaf }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } },
        },
      },
    });
    expect(brief(diffJsonSchema(tree('number'), tree('integer'), FILE))).toEqual([
      {
        kind: 'breaking',
        rule: 'type-narrowed',
        location: '/properties/name',
        message: `${FILE}: property "name" type narrowed from number to integer`,
      },
    ]);
  });

  it('not-json-schema: a schema must be an object or a boolean', () => {
    expect(brief(diffJsonSchema([], order(), FILE))).toEqual([
      {
        kind: 'invalid',
        rule: 'not-json-schema',
        location: '',
        message: `${FILE} (base): a JSON Schema must be an object or a boolean`,
      },
    ]);
  });
});

describe('the worked example of docs/contracts.md', () => {
  it('total to integer and qty to string', () => {
    const schema = (total: string, qty: string): Record<string, unknown> => ({
      type: 'object',
      required: ['id', 'total'],
      properties: {
        id: { type: 'string' },
        total: { type: total },
        lines: { type: 'array', items: { $ref: '#/$defs/Line' } },
      },
      $defs: { Line: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: qty } } } },
    });
    expect(diffJsonSchema(schema('number', 'integer'), schema('integer', 'string'), FILE)).toEqual([
      {
        kind: 'breaking',
        rule: 'type-narrowed',
        file: FILE,
        location: '/properties/total',
        message: `${FILE}: property "total" type narrowed from number to integer`,
        handle: { operation: '', side: 'response', field: 'total', before: 'number', after: 'integer' },
      },
      {
        kind: 'breaking',
        rule: 'type-changed',
        file: FILE,
        location: '/properties/lines/items/properties/qty',
        message: `${FILE}: property "lines[].qty" type changed from integer to string`,
        // The handle names the field as a consumer's `uses` does: arrays walked through.
        handle: { operation: '', side: 'response', field: 'lines.qty', before: 'integer', after: 'string' },
      },
    ]);
  });
});

describe('diffJsonSchema on hostile schemas', () => {
  it('schema-too-large: a reference fan-out that would take 10^7 steps stops at the budget', () => {
    const defs: Record<string, unknown> = { L7: { type: 'string' } };
    for (let level = 6; level >= 0; level--) {
      const properties: Record<string, unknown> = {};
      for (let i = 0; i < 10; i++) properties[`p${i}`] = { $ref: `#/$defs/L${level + 1}` };
      defs[`L${level}`] = { type: 'object', properties };
    }
    const schema = { $ref: '#/$defs/L0', $defs: defs };
    const started = Date.now();
    const problems = diffJsonSchema(schema, structuredClone(schema), FILE);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(problems.map((p) => [p.kind, p.rule])).toEqual([['invalid', 'schema-too-large']]);
  });

  it('ignores prototype-looking keys in properties and required', () => {
    const base = JSON.parse(
      '{"type":"object","properties":{"__proto__":{"type":"string"}},"required":["constructor"]}',
    ) as unknown;
    const head = JSON.parse(
      '{"type":"object","properties":{"__proto__":{"type":"string"}},"required":["constructor"]}',
    ) as unknown;
    expect(diffJsonSchema(base, head, FILE)).toEqual([]);
    expect(diffJsonSchema(base, { type: 'object' }, FILE).map((p) => p.message)).toEqual([
      `${FILE}: property "__proto__" removed`,
    ]);
  });
});
