/**
 * JSON pointers and local `$ref` resolution over untrusted documents. Lookups use own
 * properties only, so keys like "constructor" or "__proto__" in a document never reach
 * the prototype chain.
 */
import { posix } from 'node:path';
import type { ContractProblem } from './types.ts';

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
    if (!ref.startsWith('#'))
      return {
        ok: false,
        ref,
        reason:
          'a reference to another file is followed only when the gate reads the document from its repository, and only inside it',
      };
    const target = resolvePointer(root, ref);
    if (!target.found) return { ok: false, ref, reason: 'nothing at that pointer' };
    last = ref;
    current = target.value;
  }
  return { ok: false, ref: last ?? '', reason: `more than ${MAX_REF_HOPS} references in a chain (a cycle?)` };
}

/** Where the documents a `$ref` names in another file are kept, inside the bundled document. */
export const BUNDLE_KEY = 'x-lockstep-files';
const MAX_BUNDLED_FILES = 64;

export type LoadedDocument = { ok: true; document: unknown } | { ok: false; problem: ContractProblem };

/**
 * Makes one document of a contract whose `$ref`s reach into other files of the repository
 * (`./schemas/pet.yaml#/Pet`): each file is read through `load` (the caller reads it from git at
 * the same revision) and kept under `/x-lockstep-files/<path>`, and every reference is rewritten
 * into a local one, so the comparisons follow it like any other. References leaving the
 * repository (`../`, absolute paths, URLs) are refused with an `invalid` problem, never read.
 */
export async function bundleExternalRefs(
  document: unknown,
  file: string,
  load: (path: string) => Promise<LoadedDocument | null>,
): Promise<{ document: unknown; problems: ContractProblem[] }> {
  const problems: ContractProblem[] = [];
  const files = new Map<string, unknown>();
  const pending: string[] = [];
  const refuse = (rule: string, at: string, segments: string[], message: string): void => {
    problems.push({
      kind: 'invalid',
      rule,
      file: at,
      location: pointer(segments),
      message: `${at}: $ref at ${pointer(segments)} ${message}`,
    });
  };
  const rewriteRef = (ref: string, current: string, segments: string[]): string => {
    const hash = ref.indexOf('#');
    const target = hash < 0 ? ref : ref.slice(0, hash);
    const fragment = hash < 0 ? '' : ref.slice(hash + 1);
    if (target === '')
      return current === file ? ref : `#/${escapeSegment(BUNDLE_KEY)}/${escapeSegment(current)}${fragment}`;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/') || target.startsWith('\\')) {
      refuse(
        'ref-outside-repo',
        current,
        segments,
        `("${ref.slice(0, 200)}") leaves the repository: only files inside it are read, at the same revision. Copy what it names into the repository and refer to it by a relative path`,
      );
      return ref;
    }
    if (fragment !== '' && !fragment.startsWith('/')) {
      refuse(
        'ref-unresolved',
        current,
        segments,
        `("${ref.slice(0, 200)}") uses a plain-name fragment; write it as a JSON pointer, e.g. "${target}#/components/schemas/Name"`,
      );
      return ref;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(target);
    } catch {
      decoded = target;
    }
    const resolved = posix.normalize(posix.join(posix.dirname(current), decoded));
    if (resolved === '..' || resolved.startsWith('../')) {
      refuse(
        'ref-outside-repo',
        current,
        segments,
        `("${ref.slice(0, 200)}") leaves the repository: only files inside it are read. Move ${decoded} into the repository and refer to it by a path that stays inside`,
      );
      return ref;
    }
    if (resolved === file) return `#${fragment}`;
    if (!files.has(resolved) && !pending.includes(resolved)) pending.push(resolved);
    return `#/${escapeSegment(BUNDLE_KEY)}/${escapeSegment(resolved)}${fragment}`;
  };
  const rewrite = (node: unknown, current: string, segments: string[]): unknown => {
    if (Array.isArray(node)) return node.map((child, i) => rewrite(child, current, [...segments, String(i)]));
    if (!isObject(node)) return node;
    const copy: JsonObject = {};
    for (const key of Object.keys(node)) {
      const value = node[key];
      // Object.defineProperty: a key named "__proto__" stays a plain key of the copy.
      const next =
        key === '$ref' && typeof value === 'string'
          ? rewriteRef(value, current, [...segments, key])
          : rewrite(value, current, [...segments, key]);
      Object.defineProperty(copy, key, { value: next, enumerable: true, writable: true, configurable: true });
    }
    return copy;
  };

  const root = rewrite(document, file, []);
  const referrers = new Map<string, string>();
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (files.size >= MAX_BUNDLED_FILES) {
      refuse(
        'ref-unresolved',
        file,
        [],
        `chain reaches more than ${MAX_BUNDLED_FILES} files; ${next} and what follows are not read`,
      );
      break;
    }
    const loaded = await load(next);
    if (loaded === null) {
      problems.push({
        kind: 'invalid',
        rule: 'ref-unresolved',
        file: next,
        location: '',
        message: `${next}, which a $ref of ${referrers.get(next) ?? file} names, does not exist at this revision of the repository`,
      });
      files.set(next, {});
      continue;
    }
    if (!loaded.ok) {
      problems.push(loaded.problem);
      files.set(next, {});
      continue;
    }
    const before = new Set(pending);
    files.set(next, null); // a file referring to itself is not queued again
    files.set(next, rewrite(loaded.document, next, []));
    for (const added of pending) if (!before.has(added)) referrers.set(added, next);
  }
  if (files.size === 0 || !isObject(root)) return { document: root, problems };
  const bundled: JsonObject = {};
  for (const [path, doc] of files)
    Object.defineProperty(bundled, path, { value: doc, enumerable: true, writable: true, configurable: true });
  return { document: { ...root, [BUNDLE_KEY]: bundled }, problems };
}
