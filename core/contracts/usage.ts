/**
 * Which consumers a breaking finding really hits. Each consumer's declaration (its `uses`, its
 * Pact file, its copy of the document) is reduced to what it reads and sends; a provider's
 * finding carries a handle (operation, side, field); a consumer is affected only when the two
 * meet. A consumer that declares nothing we can read is affected by everything: the gate cannot
 * prove otherwise. Pure: documents are read by the caller.
 */
import { resolveOperation } from './consumer.ts';
import { stripProtoComments } from './copies.ts';
import { OPERATION_METHODS, pathShape } from './openapi.ts';
import { isObject, own } from './pointer.ts';
import type { ContractProblem, OperationUse, ProblemHandle } from './types.ts';

/** The parts of a finding (of any kind) that attribution reads. */
export type Finding = Pick<ContractProblem, 'rule' | 'file' | 'message' | 'handle' | 'location'>;

/** One operation a consumer calls: what it reads of the response and what it sends. */
export interface UsedOperation {
  method: string;
  /** The path shape ('/products/{}'): parameter names do not travel on the wire. */
  shape: string;
  /** Response fields read ('all': the whole body, as a copy promises). */
  reads: readonly string[] | 'all';
  /** Success statuses it expects (null: any). */
  statuses: readonly string[] | null;
  /** Request fields and parameters ('query:q') it sends (null: unknown, so every request change counts). */
  sends: readonly string[] | null;
  /** Regex matchers of a pact, by response field: the values it accepts there. */
  allows?: ReadonlyMap<string, readonly string[]>;
}

export type DeclaredUsage =
  /** Nothing the gate can read (no `uses`, no file): every finding may hit it. */
  | { form: 'unknown' }
  /** `uses` or a Pact file: the operations it calls and the fields it reads and sends. */
  | { form: 'operations'; operations: UsedOperation[] }
  /** A copy of the document: it is hit by exactly what its own copy promises and the head breaks. */
  | { form: 'copy'; findings: { rule: string; handle: ProblemHandle }[] }
  /** A copy of a .proto: the messages, enums and services it declares (full and short names). */
  | { form: 'names'; names: ReadonlySet<string> }
  /** Several declarations of one consumer (config and a file): hit when any of them is. */
  | { form: 'any-of'; of: DeclaredUsage[] };

function operationKey(method: string, path: string, base: unknown, head: unknown): { method: string; shape: string } {
  // The provider's base is what the consumer was written against; a newly added operation is only in the head.
  const op = resolveOperation(base, method, path) ?? resolveOperation(head, method, path);
  return { method: method.toUpperCase(), shape: pathShape(op?.template ?? path) };
}

/** `uses` from config or a usage file; `sends`, when given, lists the request fields a consumer writes. */
export function usageOfUses(uses: readonly OperationUse[], base: unknown, head: unknown): DeclaredUsage {
  return {
    form: 'operations',
    operations: uses.map((use) => {
      const [method = '', path = ''] = use.operation.split(' ');
      return { ...operationKey(method, path, base, head), reads: use.fields, statuses: null, sends: use.sends ?? null };
    }),
  };
}

const MAX_FIELDS = 2_000;

/** Dotted paths of every property in a JSON example value, arrays walked through. */
function fieldsOf(value: unknown, into: Set<string>, prefix = ''): void {
  if (into.size >= MAX_FIELDS) return;
  if (Array.isArray(value)) {
    for (const element of value.slice(0, 20)) fieldsOf(element, into, prefix);
    return;
  }
  if (!isObject(value)) return;
  for (const key of Object.keys(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    into.add(path);
    fieldsOf(value[key], into, path);
  }
}

/** '$.body.items[*].price' (v2), '$.items[*].price' (v3/v4 body rules) → 'items.price'. */
function matcherField(path: string): string {
  return path
    .replace(/^\$(\.body)?/, '')
    .replace(/\[[^\]]*\]/g, '')
    .split('.')
    .filter((p) => p !== '')
    .join('.');
}

/** The body fields a pact's matchers name, and the regexes among them (v2 `{match, regex}`, v3/v4 `{matchers: [...]}`). */
function matcherFields(rules: unknown, into: Set<string>, allows: Map<string, string[]>, v2Prefix: string): void {
  if (!isObject(rules)) return;
  const body = own(rules, 'body');
  const entries = isObject(body) ? Object.entries(body) : Object.entries(rules).filter(([k]) => k.startsWith(v2Prefix));
  for (const [path, rule] of entries) {
    const field = matcherField(path);
    if (field === '') continue;
    into.add(field);
    const matchers = own(rule, 'matchers');
    for (const m of Array.isArray(matchers) ? matchers : [rule]) {
      const regex = own(m, 'regex');
      if (own(m, 'match') === 'regex' && typeof regex === 'string')
        allows.set(field, [...(allows.get(field) ?? []), regex]);
    }
  }
}

/** A Pact file: every HTTP interaction's operation, the fields its example body and matchers name, its status, what it sends. */
export function usageOfPact(pact: unknown, base: unknown, head: unknown): DeclaredUsage {
  const interactions = own(pact, 'interactions');
  const operations: UsedOperation[] = [];
  if (!Array.isArray(interactions)) return { form: 'unknown' };
  for (const interaction of interactions) {
    const type = own(interaction, 'type');
    if (typeof type === 'string' && !/http/i.test(type)) continue;
    const request = own(interaction, 'request');
    const response = own(interaction, 'response');
    const method = own(request, 'method');
    const path = own(request, 'path');
    if (typeof method !== 'string' || typeof path !== 'string') continue;
    const reads = new Set<string>();
    const body = own(response, 'body');
    fieldsOf(isObject(body) && Object.hasOwn(body, 'content') ? body.content : body, reads);
    const allows = new Map<string, string[]>();
    matcherFields(own(response, 'matchingRules'), reads, allows, '$.body');
    const sends = new Set<string>();
    const requestBody = own(request, 'body');
    fieldsOf(isObject(requestBody) && Object.hasOwn(requestBody, 'content') ? requestBody.content : requestBody, sends);
    const query = own(request, 'query');
    if (isObject(query)) for (const name of Object.keys(query)) sends.add(`query:${name}`);
    else if (typeof query === 'string')
      for (const pair of query.split('&')) sends.add(`query:${decodeURIComponent(pair.split('=', 1)[0] ?? '')}`);
    const headers = own(request, 'headers');
    if (isObject(headers)) for (const name of Object.keys(headers)) sends.add(`header:${name.toLowerCase()}`);
    const status = own(response, 'status');
    operations.push({
      ...operationKey(method, path, base, head),
      reads: [...reads],
      statuses: typeof status === 'number' ? [String(status)] : null,
      sends: [...sends],
      allows,
    });
  }
  return { form: 'operations', operations };
}

/** A copy of the provider's document, judged by the breaking findings of its own comparison with the head. */
export function usageOfCopy(ownFindings: readonly ContractProblem[]): DeclaredUsage {
  return { form: 'copy', findings: ownFindings.flatMap((p) => (p.handle ? [{ rule: p.rule, handle: p.handle }] : [])) };
}

/** The messages, enums and services a .proto copy declares, by nested name and with its package. */
export function usageOfProtoCopy(text: string): DeclaredUsage {
  const source = stripProtoComments(text);
  const names = new Set<string>();
  const pkg = /\bpackage\s+([\w.]+)\s*;/.exec(source)?.[1];
  const stack: (string | null)[] = [];
  const token = /\b(message|enum|service)\s+(\w+)\s*\{|\{|\}/g;
  for (let m = token.exec(source); m !== null; m = token.exec(source)) {
    if (m[0] === '}') {
      stack.pop();
      continue;
    }
    if (m[0] === '{') {
      stack.push(null);
      continue;
    }
    const outer = stack.filter((s): s is string => s !== null);
    const name = [...outer, m[2] ?? ''].join('.');
    names.add(name);
    if (pkg) names.add(`${pkg}.${name}`);
    stack.push(m[2] ?? null);
  }
  return { form: 'names', names };
}

/**
 * A handle for a buf finding, read from its message ('… on message "Order" …'): the innermost
 * named message, enum or service it is about. Null when the message names none.
 */
export function protoHandle(problem: Pick<ContractProblem, 'message'>): ProblemHandle | null {
  const named = [...problem.message.matchAll(/\b(?:message|enum|service) "([\w.]+)"/g)].map((m) => m[1] ?? '');
  const subject = named[0];
  if (subject === undefined || subject === '') return null;
  const field =
    /\bfield "\d+" with name "(\w+)"/.exec(problem.message)?.[1] ?? /\bname "(\w+)"/.exec(problem.message)?.[1] ?? '';
  const changed = /from "([^"]+)" to "([^"]+)"/.exec(problem.message);
  return {
    operation: subject,
    side: 'response',
    field,
    ...(changed
      ? { before: changed[1] ?? '', after: changed[2] ?? '' }
      : /deleted/.test(problem.message)
        ? { after: 'removed' }
        : {}),
  };
}

function parseOperation(operation: string): { methods: string[]; shape: string } {
  const space = operation.indexOf(' ');
  if (space < 0) return { methods: [], shape: operation };
  return { methods: operation.slice(0, space).toUpperCase().split('|'), shape: pathShape(operation.slice(space + 1)) };
}

function sameOperation(a: string, b: string): boolean {
  const x = parseOperation(a);
  const y = parseOperation(b);
  return x.shape === y.shape && x.methods.some((m) => y.methods.includes(m));
}

/** Field paths that touch: one is the other, or inside it ('*' stands for any map key). */
export function fieldsTouch(a: string, b: string): boolean {
  if (a === '' || b === '') return true;
  const x = a.split('.');
  const y = b.split('.');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i] && x[i] !== '*' && y[i] !== '*') return false;
  return true;
}

/** Request changes hit a sender of the field unless the change is one it already satisfies. */
function requestHits(rule: string, field: string, sends: readonly string[] | null): boolean {
  if (sends === null) return true;
  if (field === '') return true;
  const sent = sends.some((s) => s === field);
  // Newly required: only a consumer that does not send it yet is refused.
  if (/became-required$/.test(rule)) return !sent;
  return sends.some((s) => fieldsTouch(s, field));
}

function hitsOperation(problem: Finding, handle: ProblemHandle, op: UsedOperation): boolean {
  if (!sameOperation(`${op.method} ${op.shape}`, handle.operation)) return false;
  if (handle.side === 'request') return requestHits(problem.rule, handle.field, op.sends);
  if (handle.field === '') {
    // A success status that went hits only a consumer that expects that status.
    if (problem.rule === 'response-status-removed' && op.statuses !== null && handle.before !== undefined)
      return op.statuses.includes(handle.before);
    return true;
  }
  if (op.reads === 'all') return true;
  if (!op.reads.some((f) => fieldsTouch(f, handle.field))) return false;
  return !(problem.rule === 'response-enum-value-added' && allowsAll(op.allows?.get(handle.field), handle.added));
}

/** A pact's regex matchers on a field already accept every value its enum gained. */
function allowsAll(regexes: readonly string[] | undefined, added: readonly string[] | undefined): boolean {
  if (regexes === undefined || added === undefined || added.length === 0) return false;
  const values = added.map((v) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return undefined;
    }
  });
  return values.every((v) => {
    if (typeof v !== 'string') return false;
    return regexes.some((r) => {
      try {
        // Pact matches the whole value against the regex.
        return new RegExp(`^(?:${r})$`).test(v);
      } catch {
        return false;
      }
    });
  });
}

/**
 * A finding without a handle (a rule that does not set one yet) still names its operation in
 * its location ('/paths/~1pets/get/…'): enough to spare the consumers of every other operation.
 */
export function handleOf(problem: Pick<ContractProblem, 'handle' | 'location'>): ProblemHandle | undefined {
  if (problem.handle !== undefined) return problem.handle;
  const segments = problem.location
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const [root, template, method, ...rest] = segments;
  if (
    root !== 'paths' ||
    template === undefined ||
    method === undefined ||
    !(OPERATION_METHODS as readonly string[]).includes(method)
  )
    return undefined;
  const side = rest[0] === 'requestBody' || rest[0] === 'parameters' ? 'request' : 'response';
  return { operation: `${method.toUpperCase()} ${template}`, side, field: '' };
}

/** Does this breaking finding of the provider hit a consumer with this usage? */
export function affects(problem: Finding, usage: DeclaredUsage): boolean {
  const handle = handleOf(problem);
  if (handle === undefined || usage.form === 'unknown') return true;
  switch (usage.form) {
    case 'operations':
      return usage.operations.some((op) => hitsOperation(problem, handle, op));
    case 'copy':
      return usage.findings.some(
        ({ rule, handle: own }) =>
          rule === problem.rule &&
          own.side === handle.side &&
          own.field === handle.field &&
          (own.operation === handle.operation || sameOperation(own.operation, handle.operation)),
      );
    case 'any-of':
      return usage.of.some((u) => affects(problem, u));
    case 'names': {
      const short = handle.operation.split('.').pop() ?? handle.operation;
      return (
        usage.names.has(handle.operation) ||
        [...usage.names].some((n) => n === short || n.endsWith(`.${handle.operation}`))
      );
    }
  }
}

/** What a consumer uses that broke, in one line: the operation, the field, the old and the new shape, the rule. */
export function describeHit(problem: Finding): string {
  const h = problem.handle;
  if (h === undefined) return `${problem.message} [${problem.rule}]`;
  const what = h.field === '' ? '' : `${h.side === 'request' ? 'sends' : 'reads'} "${h.field}"`;
  const subject = [h.operation, what].filter((s) => s !== '').join(' ');
  const shape = h.before !== undefined || h.after !== undefined ? ` (${h.before ?? '?'} → ${h.after ?? '?'})` : '';
  return `${subject === '' ? problem.file : subject}${shape} [${problem.rule}]`;
}
