/**
 * JSON pointers and local `$ref` resolution over untrusted documents. Lookups use own
 * properties only, so keys like "constructor" or "__proto__" in a document never reach
 * the prototype chain.
 */

export type Json = unknown;
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An own property of an object, or undefined. */
export function own(value: unknown, key: string): unknown {
  return isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

export function ownObject(value: unknown, key: string): JsonObject | undefined {
  const child = own(value, key);
  return isObject(child) ? child : undefined;
}

export function escapeSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointer(segments: readonly string[]): string {
  return segments.map((s) => `/${escapeSegment(s)}`).join('');
}

function unescapeSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The value a local pointer like '#/components/schemas/Pet' names, or undefined. */
export function resolvePointer(root: unknown, ref: string): { found: true; value: unknown } | { found: false } {
  if (ref === '#') return { found: true, value: root };
  if (!ref.startsWith('#/')) return { found: false };
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let segment: string;
    try {
      segment = unescapeSegment(decodeURIComponent(raw));
    } catch {
      return { found: false };
    }
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return { found: false };
      node = node[Number(segment)];
    } else if (isObject(node) && Object.hasOwn(node, segment)) {
      node = node[segment];
    } else {
      return { found: false };
    }
    if (node === undefined) return { found: false };
  }
  return { found: true, value: node };
}

const MAX_REF_HOPS = 32;

export type Deref = { ok: true; value: unknown; ref: string | null } | { ok: false; ref: string; reason: string };

/**
 * Follows a chain of local `$ref`s (a ref to a ref ...) to the node it names. `ref` is the
 * last pointer followed (null when the node was inline), which callers use to detect cycles.
 */
export function deref(root: unknown, node: unknown): Deref {
  let current = node;
  let last: string | null = null;
  for (let hop = 0; hop <= MAX_REF_HOPS; hop++) {
    const ref = own(current, '$ref');
    if (typeof ref !== 'string') return { ok: true, value: current, ref: last };
    if (!ref.startsWith('#')) return { ok: false, ref, reason: 'only local references ("#/...") are followed' };
    const target = resolvePointer(root, ref);
    if (!target.found) return { ok: false, ref, reason: 'nothing at that pointer' };
    last = ref;
    current = target.value;
  }
  return { ok: false, ref: last ?? '', reason: `more than ${MAX_REF_HOPS} references in a chain (a cycle?)` };
}
