/** A consumer's copy of a proto or schema against the provider's. */
import { describe, expect, it } from 'vitest';
import { compareContractCopies } from '../../activities/contracts/copies.ts';
import { brief } from './helpers.ts';

const PROVIDER = [
  'syntax = "proto3";',
  '',
  '// Prices are integer cents.',
  'package catalog.v1;',
  '',
  'message Product {',
  '  string id = 1; // stable id',
  '  /* the display name',
  '     shown to buyers */',
  '  string name = 2;',
  '  int64 price_cents = 3;',
  '  string url = 4 [(note) = "http://example.test/a//b"];',
  '}',
  '',
].join('\n');

describe('compareContractCopies', () => {
  it('proto: comments, blank lines, indentation and CRLF are not drift', () => {
    const copy = PROVIDER.replace(/ \/\/ stable id/, '').replace(/\n/g, '\r\n').replace('  string name', 'string name').replace('// Prices are integer cents.', '// copied from catalog   ');
    expect(compareContractCopies(PROVIDER, copy, 'proto/catalog.proto', 'vendor/catalog.proto', 'proto')).toEqual([]);
  });

  it('proto: names the first differing line with both texts', () => {
    const copy = PROVIDER.replace('int64 price_cents = 3;', 'double price = 3;');
    expect(brief(compareContractCopies(PROVIDER, copy, 'proto/catalog.proto', 'vendor/catalog.proto', 'proto'))).toEqual([
      {
        kind: 'mismatch',
        rule: 'copy-drift',
        location: 'L11',
        message: 'vendor/catalog.proto line 11 differs from proto/catalog.proto line 11: expected "int64 price_cents = 3;", found "double price = 3;"',
      },
    ]);
  });

  it('proto: "//" inside a string is not a comment', () => {
    const copy = PROVIDER.replace('a//b', 'a//c');
    expect(compareContractCopies(PROVIDER, copy, 'p.proto', 'c.proto', 'proto').map((p) => p.location)).toEqual(['L12']);
  });

  it('a copy that is shorter or longer than the provider', () => {
    const shorter = PROVIDER.split('\n').slice(0, 10).join('\n');
    expect(brief(compareContractCopies(PROVIDER, shorter, 'p.proto', 'c.proto', 'proto'))).toEqual([
      { kind: 'mismatch', rule: 'copy-drift', location: 'L11', message: 'c.proto ends where p.proto line 11 has "int64 price_cents = 3;"' },
    ]);
    const longer = `${PROVIDER}message Extra {}\n`;
    expect(brief(compareContractCopies(PROVIDER, longer, 'p.proto', 'c.proto', 'proto'))).toEqual([
      { kind: 'mismatch', rule: 'copy-drift', location: 'L14', message: 'c.proto line 14 "message Extra {}" is not in p.proto (the copy has more than the provider\'s)' },
    ]);
  });

  it('text: line endings and trailing whitespace are ignored, indentation and comments are not', () => {
    const schema = '{\n  "type": "object"\n}\n';
    expect(compareContractCopies(schema, '{  \r\n  "type": "object"\r\n}\r\n\r\n', 'a.json', 'b.json', 'text')).toEqual([]);
    expect(compareContractCopies(schema, '{\n    "type": "object"\n}\n', 'a.json', 'b.json', 'text').map((p) => p.location)).toEqual(['L2']);
  });
});
