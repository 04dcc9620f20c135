/** Loads the OpenAPI spec's example documents (see fixtures/README.md) as fresh objects to mutate. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseContractDocument } from '../../core/contracts/parse.ts';

export type Node = Record<string, unknown>;

export function fixtureText(name: string): string {
  return readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)), 'utf8');
}

export function fixture(name: 'petstore.yaml' | 'petstore-expanded.yaml'): Node {
  const parsed = parseContractDocument(fixtureText(name), name);
  if (!parsed.ok) throw new Error(parsed.problem.message);
  return parsed.document as Node;
}

/** The object at a '/'-separated path of keys (no escaping: keys here never hold '/' except paths, given whole). */
export function at(doc: unknown, ...keys: string[]): Node {
  let current: unknown = doc;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') throw new Error(`no object at ${keys.join(' > ')}`);
    current = (current as Node)[key];
  }
  if (current === null || typeof current !== 'object') throw new Error(`no object at ${keys.join(' > ')}`);
  return current as Node;
}

/** The parts of problems a test pins: kind, rule, location, message. */
export function brief(
  problems: readonly { kind: string; rule: string; location: string; message: string }[],
): { kind: string; rule: string; location: string; message: string }[] {
  return problems.map(({ kind, rule, location, message }) => ({ kind, rule, location, message }));
}
