/**
 * The schema comparison shared by the OpenAPI diff and the JSON Schema diff. Which change breaks
 * depends on the direction the data flows:
 * - `response`: the provider writes, consumers read. Breaking when a consumer could now receive
 *   something it was not promised: a property gone or no longer required, a type widened or
 *   changed, a new enum value.
 * - `request`: consumers write, the provider reads. Breaking when something a consumer sends today
 *   could be refused: a property newly required, a type narrowed or changed, an enum value
 *   removed, additional properties closed.
 * - `event`: an event payload, kept by brokers and read by consumers long after it was written.
 *   Breaking when a payload valid before is no longer valid (the `request` rules) or a property
 *   readers use is gone.
 */
import { deref, isObject, own } from './pointer.ts';

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';
const JSON_TYPES: ReadonlySet<string> = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

export type Side = 'response' | 'request' | 'event';

/** The branches of a oneOf/anyOf, with the names a discriminator gives them. */
export interface Variants {
  keyword: 'oneOf' | 'anyOf';
  branches: unknown[];
  /** `$ref` → discriminator value, from `discriminator.mapping`. */
  mapping: Map<string, string>;
  /** The discriminator's property name, when there is one. */
  propertyName: string | null;
}

/** What the comparison needs to know of one schema node, with `$ref` and `allOf` flattened. */
export interface SchemaView {
  /** null: any type. */
  types: Set<JsonType> | null;
  /** null: no enum (or const). */
  enumValues: unknown[] | null;
  properties: Map<string, unknown>;
  required: Set<string>;
  items: unknown;
  additional: { kind: 'open' } | { kind: 'closed' } | { kind: 'schema'; schema: unknown };
  /** oneOf/anyOf/not, which a field-by-field reading cannot analyse: such nodes are not walked as one shape. */
  opaque: boolean;
  /**
   * The alternatives of a oneOf/anyOf (not the nullable spelling `anyOf: [X, {type: null}]`), so
   * the comparison can match them variant by variant; null when the node has none.
   */
  variants: Variants | null;
  /** `not`, an unfollowable reference or too deep a nesting: nothing about the node can be compared. */
  unknowable: boolean;
  /** The `$ref` this node itself pointed at (null when inline): the key for cycle detection. */
  ref: string | null;
  /** References that could not be followed. */
  unresolved: { ref: string; reason: string }[];
}

function anyView(): SchemaView {
  return {
    types: null,
    enumValues: null,
    properties: new Map(),
    required: new Set(),
    items: undefined,
    additional: { kind: 'open' },
    opaque: false,
    variants: null,
    unknowable: false,
    ref: null,
    unresolved: [],
  };
}

function readTypes(schema: Record<string, unknown>): Set<JsonType> | null {
  const raw = own(schema, 'type');
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
  if (list === null) return null;
  const types = new Set<JsonType>();
  for (const t of list) if (typeof t === 'string' && JSON_TYPES.has(t)) types.add(t as JsonType);
  if (types.size === 0) return null;
  if (own(schema, 'nullable') === true) types.add('null');
  return types;
}

const CONSTRAINT_KEYS: ReadonlySet<string> = new Set([
  'required',
  'minProperties',
  'maxProperties',
  'type',
  'title',
  'description',
]);

/** A branch that only constrains its parent object (which properties must be there), never reshapes it. */
function isConstraintOnly(branch: unknown, parent: Record<string, unknown>): boolean {
  if (!isObject(branch)) return false;
  for (const key of Object.keys(branch)) if (!CONSTRAINT_KEYS.has(key)) return false;
  return !Object.hasOwn(branch, 'type') || branch.type === own(parent, 'type');
}

const isNullOnly = (branch: unknown, root: unknown): boolean => {
  const d = deref(root, branch);
  if (!d.ok || !isObject(d.value)) return false;
  const t = own(d.value, 'type');
  return t === 'null' || (Array.isArray(t) && t.length === 1 && t[0] === 'null');
};

/** The values both type sets allow (allOf); integer is the part of number they share. */
function intersectTypes(a: Set<JsonType>, b: Set<JsonType>): Set<JsonType> {
  const both = new Set<JsonType>();
  for (const t of a) {
    if (b.has(t)) both.add(t);
    else if ((t === 'integer' && b.has('number')) || (t === 'number' && b.has('integer'))) both.add('integer');
  }
  return both;
}

function merge(into: SchemaView, other: SchemaView): void {
  if (other.types !== null) {
    into.types = into.types === null ? new Set(other.types) : intersectTypes(into.types, other.types);
  }
  if (other.enumValues !== null) {
    const keys = new Set(other.enumValues.map(valueKey));
    into.enumValues =
      into.enumValues === null ? [...other.enumValues] : into.enumValues.filter((v) => keys.has(valueKey(v)));
  }
  for (const [name, schema] of other.properties) if (!into.properties.has(name)) into.properties.set(name, schema);
  for (const name of other.required) into.required.add(name);
  if (into.items === undefined) into.items = other.items;
  if (other.additional.kind === 'closed' || into.additional.kind === 'open') into.additional = other.additional;
  into.opaque ||= other.opaque;
  into.unknowable ||= other.unknowable;
  // allOf of a oneOf: the variants stay comparable only when a single branch brings them.
  if (other.variants !== null) {
    if (into.variants === null) into.variants = other.variants;
    else into.unknowable = true;
  }
  into.unresolved.push(...other.unresolved);
}

const MAX_ALLOF_DEPTH = 16;

function discriminatorOf(schema: Record<string, unknown>): Pick<Variants, 'mapping' | 'propertyName'> {
  const discriminator = own(schema, 'discriminator');
  const propertyName = own(discriminator, 'propertyName');
  const mapping = new Map<string, string>();
  const raw = own(discriminator, 'mapping');
  if (isObject(raw))
    for (const [value, ref] of Object.entries(raw)) if (typeof ref === 'string') mapping.set(ref, value);
  return { mapping, propertyName: typeof propertyName === 'string' ? propertyName : null };
}

/** Reads a schema node of the document `root` into a view; never throws, whatever the node is. */
export function viewOf(root: unknown, node: unknown, seen: ReadonlySet<string> = new Set(), depth = 0): SchemaView {
  const view = anyView();
  const d = deref(root, node);
  if (!d.ok) {
    view.unresolved.push({ ref: d.ref, reason: d.reason });
    view.opaque = true;
    view.unknowable = true;
    return view;
  }
  view.ref = d.ref;
  if (d.ref !== null) {
    // A schema that includes itself through allOf says nothing more the second time round.
    if (seen.has(d.ref)) return view;
    seen = new Set([...seen, d.ref]);
  }
  const schema = d.value;
  if (schema === false) {
    view.types = new Set();
    return view;
  }
  if (!isObject(schema)) return view;

  view.types = readTypes(schema);
  const enumRaw = own(schema, 'enum');
  if (Array.isArray(enumRaw)) view.enumValues = (enumRaw as unknown[]).slice();
  if (Object.hasOwn(schema, 'const')) view.enumValues = [schema.const];
  const properties = own(schema, 'properties');
  if (isObject(properties)) for (const name of Object.keys(properties)) view.properties.set(name, properties[name]);
  const required = own(schema, 'required');
  if (Array.isArray(required)) for (const name of required) if (typeof name === 'string') view.required.add(name);
  view.items = own(schema, 'items');
  const additional = own(schema, 'additionalProperties');
  if (additional === false) view.additional = { kind: 'closed' };
  else if (isObject(additional)) view.additional = { kind: 'schema', schema: additional };

  const allOf = own(schema, 'allOf');
  if (Array.isArray(allOf)) {
    if (depth >= MAX_ALLOF_DEPTH) {
      view.opaque = true;
      view.unknowable = true;
    } else for (const branch of allOf) merge(view, viewOf(root, branch, seen, depth + 1));
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const branches = own(schema, key);
    if (!Array.isArray(branches)) continue;
    // `anyOf: [{required: [a]}, {required: [b]}]` asks for one of some properties of this very
    // object: a constraint, not a union of shapes. Its own properties are compared as usual.
    if (branches.length > 0 && branches.every((b) => isConstraintOnly(b, schema))) continue;
    // The common 3.1 spelling of a nullable reference: anyOf [X, {type: null}] reads as X or null.
    const nonNull = branches.filter((b) => !isNullOnly(b, root));
    if (nonNull.length === 1 && branches.length === 2 && depth < MAX_ALLOF_DEPTH) {
      merge(view, viewOf(root, nonNull[0], seen, depth + 1));
      if (view.types !== null) view.types.add('null');
    } else {
      view.opaque = true;
      if (view.variants !== null) view.unknowable = true;
      else view.variants = { keyword: key, branches: branches.slice(), ...discriminatorOf(schema) };
    }
  }
  if (Object.hasOwn(schema, 'not')) {
    view.opaque = true;
    view.unknowable = true;
  }
  return view;
}

/** A stable key for comparing enum values of any JSON type. */
export function valueKey(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    return String(value);
  }
}

/** Every value of type set `a` is also a value of type set `b` (null: any type). */
export function typesWithin(a: Set<JsonType> | null, b: Set<JsonType> | null): boolean {
  if (b === null) return true;
  if (a === null) return false;
  for (const t of a) if (!b.has(t) && !(t === 'integer' && b.has('number'))) return false;
  return true;
}

export function describeTypes(types: Set<JsonType> | null): string {
  if (types === null) return 'any';
  if (types.size === 0) return 'nothing';
  return [...types].sort().join('|');
}

function mayBe(view: SchemaView, type: JsonType): boolean {
  return view.types === null || view.types.has(type);
}

/** A view that constrains nothing: any JSON value fits. */
function isAny(view: SchemaView): boolean {
  return (
    view.types === null &&
    view.enumValues === null &&
    view.properties.size === 0 &&
    view.items === undefined &&
    view.variants === null
  );
}

interface Variant {
  /** The schema's name ($ref), its title, or its discriminator value: null when it has none. */
  name: string | null;
  /** `property=value` for each property pinned to one value (const, or an enum of one): how a union tags its shapes. */
  tags: Set<string>;
  /** Its type set, described; null when inline and typeless. */
  type: string | null;
  label: string;
  node: unknown;
  index: number;
}

/** The last segment of a reference, unescaped: '#/components/schemas/Dog' → 'Dog'. */
function refName(ref: string): string {
  const last = ref.split('/').pop() ?? ref;
  return last.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The variants of a node; a plain node is a list of one. */
function variantList(root: unknown, node: unknown, variants: Variants | null): Variant[] {
  const branches = variants?.branches ?? [node];
  return branches.map((branch, index) => {
    const d = deref(root, branch);
    const target = d.ok && isObject(d.value) ? d.value : undefined;
    const tags = new Set<string>();
    const properties = own(target, 'properties');
    if (isObject(properties)) {
      for (const [prop, schema] of Object.entries(properties)) {
        const value = own(schema, 'const') ?? onlyEnum(own(schema, 'enum'));
        if (typeof value === 'string' || typeof value === 'number') tags.add(`${prop}=${value}`);
      }
    }
    const types = target === undefined ? null : describeTypes(readTypes(target));
    const type = types === 'any' ? null : types;
    const ref = own(branch, '$ref');
    const title = own(target, 'title');
    const tag = variants?.propertyName
      ? [...tags].find((t) => t.startsWith(`${variants.propertyName}=`))?.slice(variants.propertyName.length + 1)
      : undefined;
    // Keyed by the schema's name, so a plain reference and the same schema inside a oneOf match.
    const name = typeof ref === 'string' ? refName(ref) : typeof title === 'string' ? title : (tag ?? null);
    const mapped = typeof ref === 'string' ? variants?.mapping.get(ref) : undefined;
    const label =
      name !== null
        ? mapped === undefined || mapped === name
          ? `variant "${name}"`
          : `variant "${name}" ("${mapped}")`
        : tags.size > 0
          ? `variant ${[...tags].join(', ')}`
          : type !== null
            ? `${type} variant`
            : `variant ${index + 1} (inline)`;
    return { name, tags, type, label, node: branch, index };
  });
}

/**
 * Pairs the variants of two versions, surest clue first: the same name; the same tag (a
 * `type: {enum: [x]}` property, which survives an inline variant being moved to a named schema);
 * a type no other remaining variant has; then position, when as many remain on each side.
 */
function matchVariants(
  base: Variant[],
  head: Variant[],
): { pairs: [Variant, Variant][]; removed: Variant[]; added: Variant[] } {
  const pairs: [Variant, Variant][] = [];
  let restBase = base.slice();
  let restHead = head.slice();
  const pass = (same: (b: Variant, h: Variant) => boolean): void => {
    for (const b of restBase.slice()) {
      const candidates = restHead.filter((h) => same(b, h));
      if (candidates.length !== 1 || restBase.filter((other) => same(other, candidates[0] as Variant)).length !== 1)
        continue;
      const h = candidates[0] as Variant;
      pairs.push([b, h]);
      restBase = restBase.filter((x) => x !== b);
      restHead = restHead.filter((x) => x !== h);
    }
  };
  pass((b, h) => b.name !== null && b.name === h.name);
  pass((b, h) => [...b.tags].some((t) => h.tags.has(t)));
  pass((b, h) => b.type !== null && b.type === h.type);
  if (restBase.length === restHead.length) {
    restBase.forEach((b, i) => pairs.push([b, restHead[i] as Variant]));
    restBase = [];
    restHead = [];
  }
  return { pairs, removed: restBase, added: restHead };
}

function onlyEnum(value: unknown): unknown {
  return Array.isArray(value) && value.length === 1 ? value[0] : undefined;
}

/** One finding of a comparison, with the pointer segments below the compared root. */
export interface SchemaFinding {
  kind: 'breaking' | 'invalid';
  rule: string;
  segments: string[];
  message: string;
  /** The property as a consumer names it (see `usageField`), and its shape before and after. */
  field?: string;
  before?: string;
  after?: string;
  added?: string[];
}

/** 'lines[].qty' → 'lines.qty', '[].id' → 'id', '*' stays: the spelling of a field in `uses`. */
export function usageField(field: string): string {
  return field
    .replace(/\[\]/g, '')
    .split('.')
    .filter((part) => part !== '')
    .join('.');
}

function enumShape(keys: ReadonlySet<string> | null): string {
  if (keys === null) return 'any value';
  const list = [...keys];
  const shown = list.slice(0, 8).join(', ');
  return `enum ${shown}${list.length > 8 ? `, … (${list.length})` : ''}`;
}

export interface CompareInput {
  side: Side;
  baseRoot: unknown;
  headRoot: unknown;
  /** Start of every message, e.g. 'GET /pets 200 response'. */
  prefix: string;
}

const RULES = {
  response: {
    removed: 'response-property-removed',
    optional: 'response-property-became-optional',
    widened: 'response-type-widened',
    changed: 'response-type-changed',
    enumAdded: 'response-enum-value-added',
    variantAdded: 'response-variant-added',
  },
  request: {
    removed: 'request-property-removed',
    required: 'request-property-became-required',
    narrowed: 'request-type-narrowed',
    changed: 'request-type-changed',
    enumRemoved: 'request-enum-value-removed',
    closed: 'request-additional-properties-closed',
    variantRemoved: 'request-variant-removed',
  },
  event: {
    removed: 'property-removed',
    required: 'property-became-required',
    narrowed: 'type-narrowed',
    changed: 'type-changed',
    enumRemoved: 'enum-value-removed',
    closed: 'additional-properties-closed',
    variantRemoved: 'variant-removed',
  },
} as const;

const MAX_DEPTH = 48;
const MAX_NODES = 20_000;

/**
 * Compares two schema nodes and returns every breaking difference for the given side.
 * Cycle-safe (a pair of references already being compared higher up is not entered again) and
 * bounded (depth and number of nodes), so no document can make it run away.
 */
export function compareSchemas(input: CompareInput, base: unknown, head: unknown): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const active = new Set<string>();
  let nodes = 0;
  let exhausted = false;
  const subject = (field: string): string => (field === '' ? '' : `property "${field}" `);
  const say = (field: string, what: string): string => `${input.prefix}: ${subject(field)}${what}`;
  const add = (
    kind: SchemaFinding['kind'],
    rule: string,
    segments: string[],
    message: string,
    shape?: { field: string; before: string; after: string; added?: string[] },
  ): void => {
    if (shape === undefined) {
      findings.push({ kind, rule, segments, message });
      return;
    }
    findings.push({
      kind,
      rule,
      segments,
      message,
      field: usageField(shape.field),
      before: shape.before,
      after: shape.after,
      ...(shape.added ? { added: shape.added.slice(0, 8) } : {}),
    });
  };

  const walk = (b: unknown, h: unknown, segments: string[], field: string, depth: number): void => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      if (!exhausted)
        add(
          'invalid',
          'schema-too-large',
          segments,
          say(field, `schema too large or deep to compare (more than ${MAX_NODES} nodes or ${MAX_DEPTH} levels)`),
        );
      exhausted = true;
      return;
    }
    const bv = viewOf(input.baseRoot, b);
    const hv = viewOf(input.headRoot, h);
    for (const u of [...bv.unresolved, ...hv.unresolved]) {
      add('invalid', 'ref-unresolved', segments, say(field, `$ref "${u.ref}" cannot be followed: ${u.reason}`));
    }
    if (bv.unknowable || hv.unknowable) return;
    const variants = bv.variants !== null || hv.variants !== null;
    if (!variants && (bv.opaque || hv.opaque)) return;
    const key = bv.ref !== null && hv.ref !== null ? `${bv.ref}\u0000${hv.ref}` : null;
    if (key !== null) {
      if (active.has(key)) return;
      active.add(key);
    }
    try {
      // A plain schema against a oneOf is compared as a oneOf of one variant: its own type and
      // properties say nothing about the other side's variants.
      if (!variants || (bv.variants !== null && hv.variants !== null)) compareNode(bv, hv, segments, field, depth);
      if (variants) compareVariants(b, h, bv, hv, segments, field, depth);
    } finally {
      if (key !== null) active.delete(key);
    }
  };

  const compareNode = (bv: SchemaView, hv: SchemaView, segments: string[], field: string, depth: number): void => {
    const side = input.side;
    // Types: which side's values must fit into the other's depends on who writes the data.
    const from = describeTypes(bv.types);
    const to = describeTypes(hv.types);
    if (side === 'response') {
      if (!typesWithin(hv.types, bv.types)) {
        const widened = typesWithin(bv.types, hv.types);
        const rule = widened ? RULES.response.widened : RULES.response.changed;
        add('breaking', rule, segments, say(field, `type ${widened ? 'widened' : 'changed'} from ${from} to ${to}`), {
          field,
          before: from,
          after: to,
        });
      }
    } else if (!typesWithin(bv.types, hv.types)) {
      const narrowed = typesWithin(hv.types, bv.types);
      const rule = narrowed ? RULES[side].narrowed : RULES[side].changed;
      add('breaking', rule, segments, say(field, `type ${narrowed ? 'narrowed' : 'changed'} from ${from} to ${to}`), {
        field,
        before: from,
        after: to,
      });
    }

    // Enums: a reader breaks on a value it does not know; a writer breaks when its value is refused.
    const baseKeys = bv.enumValues === null ? null : new Set(bv.enumValues.map(valueKey));
    const headKeys = hv.enumValues === null ? null : new Set(hv.enumValues.map(valueKey));
    if (side === 'response' && baseKeys !== null) {
      if (headKeys === null)
        add(
          'breaking',
          RULES.response.enumAdded,
          segments,
          say(field, `no longer restricted to the enum values ${[...baseKeys].join(', ')}`),
          { field, before: enumShape(baseKeys), after: enumShape(null) },
        );
      else {
        const added = [...headKeys].filter((k) => !baseKeys.has(k));
        if (added.length > 0)
          add(
            'breaking',
            RULES.response.enumAdded,
            segments,
            say(field, `enum value${added.length > 1 ? 's' : ''} ${added.join(', ')} added`),
            { field, before: enumShape(baseKeys), after: enumShape(headKeys), added },
          );
      }
    }
    if (side !== 'response' && headKeys !== null) {
      if (baseKeys === null)
        add(
          'breaking',
          RULES[side].enumRemoved,
          segments,
          say(field, `now restricted to the enum values ${[...headKeys].join(', ')}`),
          { field, before: enumShape(null), after: enumShape(headKeys) },
        );
      else {
        const removed = [...baseKeys].filter((k) => !headKeys.has(k));
        if (removed.length > 0)
          add(
            'breaking',
            RULES[side].enumRemoved,
            segments,
            say(field, `enum value${removed.length > 1 ? 's' : ''} ${removed.join(', ')} removed`),
            { field, before: enumShape(baseKeys), after: enumShape(headKeys) },
          );
      }
    }

    if (mayBe(bv, 'object') && mayBe(hv, 'object')) compareObject(bv, hv, segments, field, depth);
    if (mayBe(bv, 'array') && mayBe(hv, 'array') && bv.items !== undefined && hv.items !== undefined) {
      walk(bv.items, hv.items, [...segments, 'items'], `${field}[]`, depth + 1);
    }
  };

  /**
   * oneOf/anyOf variant by variant, matched by discriminator value or schema name (inline ones by
   * title, else by position). A reader breaks on a shape it has never seen; a writer breaks when
   * a shape it sends is no longer accepted. Matched variants are compared as any other schema.
   */
  const compareVariants = (
    b: unknown,
    h: unknown,
    bv: SchemaView,
    hv: SchemaView,
    segments: string[],
    field: string,
    depth: number,
  ): void => {
    // A schema that allowed anything is narrowed, not widened, by becoming a oneOf.
    if (bv.variants === null && isAny(bv)) return;
    if (hv.variants === null && isAny(hv) && input.side === 'response') return;
    const side = input.side;
    const baseList = variantList(input.baseRoot, b, bv.variants);
    const headList = variantList(input.headRoot, h, hv.variants);
    const keyword = hv.variants?.keyword ?? bv.variants?.keyword ?? 'oneOf';
    const at = (v: Variant): string[] => (hv.variants === null ? segments : [...segments, keyword, String(v.index)]);
    const { pairs, removed, added } = matchVariants(baseList, headList);
    if (side !== 'response') {
      for (const before of removed)
        add(
          'breaking',
          RULES[side].variantRemoved,
          [...segments, keyword],
          say(field, `${keyword} ${before.label} removed (values of that shape are refused)`),
          {
            field,
            before: `${keyword} ${before.label}`,
            after: 'removed',
          },
        );
    }
    for (const [before, after] of pairs) walk(before.node, after.node, at(after), field, depth + 1);
    if (side === 'response') {
      for (const after of added)
        add(
          'breaking',
          RULES.response.variantAdded,
          at(after),
          say(field, `${keyword} ${after.label} added (readers may receive a shape they do not know)`),
          {
            field,
            before: `${keyword} without ${after.label}`,
            after: `${keyword} ${after.label}`,
          },
        );
    }
  };

  const compareObject = (bv: SchemaView, hv: SchemaView, segments: string[], field: string, depth: number): void => {
    const side = input.side;
    const child = (name: string): string => (field === '' ? name : `${field}.${name}`);
    for (const [name, baseSchema] of bv.properties) {
      const at = [...segments, 'properties', name];
      if (!hv.properties.has(name)) {
        // A reader loses the property; a writer only notices when the head refuses unknown properties.
        if (side !== 'request' || hv.additional.kind === 'closed') {
          add('breaking', RULES[side].removed, at, say(child(name), 'removed'), {
            field: child(name),
            before: describeTypes(viewOf(input.baseRoot, baseSchema).types),
            after: 'removed',
          });
        }
        continue;
      }
      if (side === 'response' && bv.required.has(name) && !hv.required.has(name)) {
        add(
          'breaking',
          RULES.response.optional,
          at,
          say(child(name), 'is no longer required (consumers may rely on it being present)'),
          { field: child(name), before: 'required', after: 'optional' },
        );
      }
      walk(baseSchema, hv.properties.get(name), at, child(name), depth + 1);
    }
    if (side !== 'response') {
      for (const name of hv.required) {
        if (bv.required.has(name)) continue;
        const what = bv.properties.has(name) ? 'became required' : 'added as required';
        add('breaking', RULES[side].required, [...segments, 'properties', name], say(child(name), what), {
          field: child(name),
          before: bv.properties.has(name) ? 'optional' : 'absent',
          after: 'required',
        });
      }
      if (bv.additional.kind !== 'closed' && hv.additional.kind === 'closed') {
        add(
          'breaking',
          RULES[side].closed,
          [...segments, 'additionalProperties'],
          say(field, 'no longer accepts additional properties'),
          { field, before: 'open', after: 'closed' },
        );
      }
    }
    if (bv.additional.kind === 'schema' && hv.additional.kind === 'schema') {
      walk(bv.additional.schema, hv.additional.schema, [...segments, 'additionalProperties'], child('*'), depth + 1);
    }
  };

  walk(base, head, [], '', 0);
  return findings;
}
