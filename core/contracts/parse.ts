/**
 * Reads a contract document (JSON or YAML) from text that a repository, and so possibly an
 * agent, wrote. It never throws: bad, huge, deeply nested or alias-bombed input becomes one
 * `invalid` problem naming the file.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parse as parseYaml, parseDocument, type Document } from 'yaml';
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
    return invalid(
      file,
      'document-too-large',
      `${text.length} characters is more than the ${maxChars} a contract document may have`,
    );
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
  if (tooDeep(document, maxDepth))
    return invalid(file, 'document-too-deep', `nested more than ${maxDepth} levels deep`);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return invalid(
      file,
      'document-not-an-object',
      'the document must be a JSON or YAML object (a mapping) at the top level',
    );
  }
  return { ok: true, document };
}

const MAX_LINE_HOPS = 64;

/**
 * The line (1-based) of the place a JSON pointer of a problem names in a document's text, found
 * the way the problem's location was built: through local `$ref`s and `allOf` branches as if
 * written inline. A `$ref` into another file ends the walk at the line of that `$ref`. When the
 * pointer leads further than the text does, the line of the deepest part found is returned
 * (with `exact`, null); null when not even the first step is there, or the text cannot be read.
 */
export function lineOfPointer(text: string, location: string, options: { exact?: boolean } = {}): number | null {
  return lineFinder(text)(location, options);
}

export type LineFinder = (location: string, options?: { exact?: boolean }) => number | null;

/** `lineOfPointer` for many pointers into one text: the text is parsed once. */
export function lineFinder(text: string): LineFinder {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, uniqueKeys: false, prettyErrors: false });
  } catch {
    return () => null;
  }
  if (doc.errors.length > 0) return () => null;
  return (location, options = {}) => findLine(doc, lineCounter, location, options.exact === true);
}

function findLine(doc: Document.Parsed, lineCounter: LineCounter, location: string, exact: boolean): number | null {
  if (!location.startsWith('/')) return null;
  const segments = location
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number | null =>
    node?.range ? lineCounter.linePos(node.range[0]).line : null;
  let best: { depth: number; line: number } | null = null;
  let hops = 0;
  const note = (depth: number, line: number | null): void => {
    if (line !== null && (best === null || depth > best.depth)) best = { depth, line };
  };
  const byPointer = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    return doc.getIn(
      ref
        .slice(2)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')),
      true,
    );
  };
  const walk = (node: unknown, i: number): boolean => {
    if (++hops > MAX_LINE_HOPS * segments.length + MAX_LINE_HOPS) return false;
    if (i === segments.length) return true;
    const segment = segments[i] ?? '';
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment);
      if (pair !== undefined) {
        note(i + 1, lineOf(isScalar(pair.key) ? pair.key : null));
        return walk(pair.value, i + 1);
      }
      const ref = node.items.find((p) => isScalar(p.key) && p.key.value === '$ref');
      if (ref !== undefined && isScalar(ref.value) && typeof ref.value.value === 'string') {
        const target = byPointer(ref.value.value);
        if (target === undefined) {
          note(i + 0.5, lineOf(isScalar(ref.key) ? ref.key : null));
          return false;
        }
        return walk(target, i);
      }
      const allOf = node.items.find((p) => isScalar(p.key) && p.key.value === 'allOf');
      if (allOf !== undefined && isSeq(allOf.value)) return allOf.value.items.some((branch) => walk(branch, i));
      return false;
    }
    if (isSeq(node) && /^(0|[1-9]\d*)$/.test(segment)) {
      const item = node.items[Number(segment)];
      if (item === undefined) return false;
      note(i + 1, lineOf(item));
      return walk(item, i + 1);
    }
    if (isAlias(node)) return walk(node.resolve(doc), i);
    return false;
  };
  const complete = walk(doc.contents, 0);
  if (exact && !complete) return null;
  return (best as { depth: number; line: number } | null)?.line ?? null;
}
