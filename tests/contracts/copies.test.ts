/** A consumer's copy of a .proto: its imports, its layout for buf, and findings placed in the copy. */
import { describe, expect, it } from 'vitest';
import { copyLayout, copyProblem, locateInProto, protoImports } from '../../core/contracts/copies.ts';

const COPY = [
  'syntax = "proto3";',
  '',
  '// import "commented/out.proto";',
  'package shop.v1;',
  'import "google/protobuf/timestamp.proto";',
  'import public "money.proto";',
  '',
  'message Product {',
  '  string id = 1; // stable id',
  '  message Variant {',
  '    string sku = 3;',
  '  }',
  '  /* the display name',
  '     shown to buyers */',
  '  string name = 2;',
  '  oneof price {',
  '    int64 price_cents = 3;',
  '  }',
  '}',
  '',
  'enum Status {',
  '  STATUS_UNSPECIFIED = 0;',
  '  STATUS_ACTIVE = 1;',
  '}',
  '',
].join('\n');

describe('protoImports', () => {
  it('lists what a copy imports, without well-known types or commented-out imports', () => {
    expect(protoImports(COPY)).toEqual(['money.proto']);
  });
});

describe('locateInProto', () => {
  it('finds the field by its number inside its own message (its oneofs included), not in a nested one', () => {
    expect(
      locateInProto(COPY, 'Previously present field "3" with name "price_cents" on message "Product" was deleted.'),
    ).toBe(17);
    expect(
      locateInProto(
        COPY,
        'Field "3" with name "sku" on message "Product.Variant" changed type from "string" to "bytes".',
      ),
    ).toBe(11);
  });

  it('finds an enum value, a message, and nothing when the copy does not declare it', () => {
    expect(locateInProto(COPY, 'Previously present enum value "1" on enum "Status" was deleted.')).toBe(23);
    expect(locateInProto(COPY, 'Previously present message "Product" was deleted from file.')).toBe(8);
    expect(locateInProto(COPY, 'Previously present message "Order" was deleted from file.')).toBeNull();
  });
});

describe('copyProblem', () => {
  it('finds a message the copy keeps in a file it imports', () => {
    const files = new Map([
      [
        'protos/demo.proto',
        {
          text: 'syntax = "proto3";\nimport "money.proto";\nmessage Product {\n  Money price = 1;\n}\n',
          from: 'pb/demo.proto',
        },
      ],
      [
        'money.proto',
        {
          text: 'syntax = "proto3";\n\nmessage Money {\n  string currency_code = 1;\n  int64 units = 2;\n}\n',
          from: 'pb/money.proto',
        },
      ],
    ]);
    const problem = copyProblem(
      {
        rule: 'FIELD_NO_DELETE',
        location: 'protos/demo.proto:4:1',
        message: 'Previously present field "2" with name "units" on message "Money" was deleted.',
      },
      files,
      { provider: 'shop', consumer: 'frontend', copy: 'pb/demo.proto' },
    );
    expect([problem.file, problem.location, problem.message.slice(0, 74)]).toEqual([
      'pb/money.proto',
      'L5',
      "frontend's copy pb/money.proto:5 no longer fits shop's protos/demo.proto:4",
    ]);
  });

  it('names the declaration in both files and what to do', () => {
    const problem = copyProblem(
      {
        rule: 'FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED',
        location: 'proto/shop.proto:8:1',
        message:
          'Previously present field "2" with name "name" on message "Product" was deleted without reserving the number "2".',
      },
      new Map([['proto/shop.proto', { text: COPY, from: 'vendor/shop.proto' }]]),
      { provider: 'catalog', consumer: 'checkout', copy: 'vendor/shop.proto' },
    );
    expect(problem).toEqual({
      kind: 'mismatch',
      rule: 'FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED',
      file: 'vendor/shop.proto',
      location: 'L15',
      message:
        'checkout\'s copy vendor/shop.proto:15 no longer fits catalog\'s proto/shop.proto:8:1: Previously present field "2" with name "name" on message "Product" was deleted without reserving the number "2". ' +
        'To fix: keep what the copy declares in catalog (a removed field keeps its number and name reserved), or change the copy in checkout (and the code that reads it) in this change.',
    });
  });
});

describe('copyLayout', () => {
  const reader = (files: Record<string, string>) => (path: string) => Promise.resolve(files[path] ?? null);

  it("lays the copy out at the provider's path, with imports from beside it, the consumer's root, or the provider", async () => {
    const consumer = reader({
      'vendor/shop.proto': COPY,
      'vendor/money.proto': 'syntax = "proto3";\nimport "common/ids.proto";\n',
      'common/ids.proto': 'syntax = "proto3";\nimport "units.proto";\n',
    });
    const provider = reader({ 'units.proto': 'syntax = "proto3";\n' });
    const layout = await copyLayout(
      { text: COPY, path: 'vendor/shop.proto' },
      'proto/shop.proto',
      { consumer, provider },
      'catalog',
    );
    expect(layout.ok && [...layout.files].map(([path, f]) => [path, f.from])).toEqual([
      ['proto/shop.proto', 'vendor/shop.proto'],
      ['money.proto', 'vendor/money.proto'],
      ['common/ids.proto', 'common/ids.proto'],
      ['units.proto', 'catalog:units.proto'],
    ]);
  });

  it('names an import found nowhere, and refuses one that leaves the module', async () => {
    const none = reader({});
    expect(
      await copyLayout({ text: COPY, path: 'vendor/shop.proto' }, 'shop.proto', { consumer: none, provider: none }),
    ).toEqual({ ok: false, from: 'vendor/shop.proto', imported: 'money.proto', beside: 'vendor/money.proto' });
    const escaping = 'syntax = "proto3";\nimport "../../etc/passwd.proto";\n';
    expect(
      await copyLayout({ text: escaping, path: 'a.proto' }, 'a.proto', { consumer: none, provider: none }),
    ).toEqual({ ok: false, from: 'a.proto', imported: '../../etc/passwd.proto', beside: '' });
  });
});
