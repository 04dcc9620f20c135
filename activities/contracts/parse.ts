/**
 * Reads a contract document (JSON or YAML) from text that a repository, and so possibly an
 * agent, wrote. It never throws: bad, huge, deeply nested or alias-bombed input becomes one
 * `invalid` problem naming the file.
 */
import { parse as parseYaml } from 'yaml';
import type { ContractProblem } from './types.ts';

export interface ParseLimits {
  /** Largest text accepted, in UTF-16 code units (default 5 MiB). */
  maxChars?: number;
  /** Deepest nesting of objects and arrays accepted (default 128). */
  maxDepth?: number;
  /** Most YAML alias expansions accepted; what stops "billion laughs" documents (default 100). */
  maxAliasCount?: number;
}

export type ParsedDocument = { ok: true; document: unknown } | { ok: false; problem: ContractProblem };

const DEFAULTS = { maxChars: 5 * 1024 * 1024, maxDepth: 128, maxAliasCount: 100 };

function invalid(file: string, rule: string, message: string): ParsedDocument {
  return { ok: false, problem: { kind: 'invalid', rule, file, location: '', message: `${file}: ${message}` } };
}

/** First line of an error message, capped, so a hostile document cannot flood the report. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Depth of the deepest container, walked without recursion so depth itself cannot overflow the stack. */
function tooDeep(value: unknown, maxDepth: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (node === null || typeof node !== 'object') continue;
    if (depth >= maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push({ node: child, depth: depth + 1 });
  }
  return false;
}

/**
 * A brace/bracket pre-scan: deep flow nesting is refused before a parser recurses into it.
 * Quoted strings are skipped (roughly: JSON and YAML flow quotes), so braces in text do not count.
 */
function nestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"') quote = c;
    else if (c === '{' || c === '[') {
      depth++;
      if (depth > maxDepth) return true;
    } else if (c === '}' || c === ']') depth = Math.max(0, depth - 1);
  }
  return false;
}

/** JSON when the text starts like JSON, YAML otherwise (YAML also reads JSON, but reports JSON errors worse). */
export function parseContractDocument(text: string, file: string, limits: ParseLimits = {}): ParsedDocument {
  const { maxChars, maxDepth, maxAliasCount } = { ...DEFAULTS, ...limits };
  if (typeof text !== 'string') return invalid(file, 'document-unreadable', 'not text');
  if (text.length > maxChars) {
    return invalid(file, 'document-too-large', `${text.length} characters is more than the ${maxChars} a contract document may have`);
  }
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return invalid(file, 'document-empty', 'the document is empty');
  if (nestingExceeds(body, maxDepth)) {
    return invalid(file, 'document-too-deep', `nested more than ${maxDepth} levels deep`);
  }
  let document: unknown;
  const looksJson = /^\s*[{[]/.test(body);
  try {
    document = looksJson
      ? JSON.parse(body)
      : parseYaml(body, { maxAliasCount, uniqueKeys: true, prettyErrors: false, strict: true, schema: 'core' });
  } catch (error) {
    return invalid(file, 'document-unparsable', `not valid ${looksJson ? 'JSON' : 'YAML'}: ${firstLine(error)}`);
  }
  if (tooDeep(document, maxDepth)) return invalid(file, 'document-too-deep', `nested more than ${maxDepth} levels deep`);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return invalid(file, 'document-not-an-object', 'the document must be a JSON or YAML object (a mapping) at the top level');
  }
  return { ok: true, document };
}
