/** Reading contract documents: JSON or YAML in, one `invalid` problem out for anything hostile. */
import { describe, expect, it } from 'vitest';
import { parseContractDocument } from '../../core/contracts/parse.ts';
import { fixtureText } from './helpers.ts';

function problemOf(
  text: string,
  limits?: Parameters<typeof parseContractDocument>[2],
): { rule: string; message: string } {
  const result = parseContractDocument(text, 'api/openapi.yaml', limits);
  if (result.ok) throw new Error('expected a problem');
  expect(result.problem.kind).toBe('invalid');
  expect(result.problem.file).toBe('api/openapi.yaml');
  return { rule: result.problem.rule, message: result.problem.message };
}

describe('parseContractDocument', () => {
  it('reads YAML and JSON to the same document', () => {
    const yaml = parseContractDocument(fixtureText('petstore.yaml'), 'petstore.yaml');
    expect(yaml.ok).toBe(true);
    if (!yaml.ok) return;
    const json = parseContractDocument(`\uFEFF${JSON.stringify(yaml.document, null, 2)}`, 'petstore.json');
    expect(json).toEqual({ ok: true, document: yaml.document });
    expect((yaml.document as { info: { title: string } }).info.title).toBe('Swagger Petstore');
  });

  it('document-unparsable: names the syntax error for YAML and JSON', () => {
    expect(problemOf('openapi: 3.0.0\n  paths: [').rule).toBe('document-unparsable');
    expect(problemOf('openapi: 3.0.0\n  paths: [').message).toMatch(/^api\/openapi\.yaml: not valid YAML: /);
    expect(problemOf('{"openapi": "3.0.0",}').message).toMatch(/^api\/openapi\.yaml: not valid JSON: /);
    expect(problemOf('a: 1\na: 2\n').rule).toBe('document-unparsable');
  });

  it('refuses a YAML alias bomb instead of expanding it', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(`${next}: &${next} [${Array.from({ length: 10 }, () => `*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    const p = problemOf(lines.join('\n'));
    expect(p.rule).toBe('document-unparsable');
    expect(p.message).toContain('alias');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('document-too-deep: flow nesting, block nesting and JSON nesting', () => {
    expect(problemOf(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toEqual({
      rule: 'document-too-deep',
      message: 'api/openapi.yaml: nested more than 128 levels deep',
    });
    expect(problemOf(`x: ${'['.repeat(200)}1${']'.repeat(200)}`).rule).toBe('document-too-deep');
    const block = Array.from({ length: 140 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1';
    expect(problemOf(block).rule).toBe('document-too-deep');
    // Brackets inside strings do not count.
    expect(parseContractDocument(`{"a": "${'['.repeat(500)}"}`, 'x.json').ok).toBe(true);
  });

  it('document-too-large, document-empty, document-not-an-object', () => {
    expect(problemOf('a: 1\n'.repeat(100), { maxChars: 100 })).toEqual({
      rule: 'document-too-large',
      message: 'api/openapi.yaml: 500 characters is more than the 100 a contract document may have',
    });
    expect(problemOf('  \n').rule).toBe('document-empty');
    expect(problemOf('- a\n- b\n').rule).toBe('document-not-an-object');
    expect(problemOf('just text').rule).toBe('document-not-an-object');
  });

  it('keeps "__proto__" a plain key, never a prototype', () => {
    for (const text of ['__proto__:\n  polluted: true\n', '{"__proto__": {"polluted": true}}']) {
      const result = parseContractDocument(text, 'x');
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(Object.getPrototypeOf(result.document)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  it('caps a long error message to one line', () => {
    const p = problemOf(`{"${'k'.repeat(5000)}`);
    expect(p.message.length).toBeLessThan(300);
    expect(p.message).not.toContain('\n');
  });
});
