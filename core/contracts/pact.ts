/**
 * Reads a Pact file of any specification version the way its consumer's tests write it: v2 and
 * v3 HTTP `interactions`, v3 `messages` (SNS/Kafka consumers), and v4 `interactions` typed
 * `Synchronous/HTTP`, `Asynchronous/Messages` or `Synchronous/Messages`. Examples written with
 * integration-JSON matchers (`{"pact:matcher:type": "type", "value": …}`) are read as their
 * example values, which is what a matcher promises the shape of. Pure, never throws.
 */
import { isObject, own, pointer } from './pointer.ts';
import type { ContractProblem } from './types.ts';

export interface PactEntry {
  kind: 'http' | 'message';
  /** The interaction's or message's description, as the consumer's test named it. */
  description: string;
  /** Provider states it is given (v2 `providerState`, v3/v4 `providerStates[].name`). */
  states: string[];
  /** Where it is in the file. */
  segments: string[];
  /** HTTP: method and path of the request. */
  request?: { method: string; path: string };
  /** HTTP: the response status and body example; message: its contents, under `body`. */
  status?: number;
  body?: unknown;
  /** Where `body` is in the file. */
  bodySegments?: string[];
}

export interface ReadPact {
  /** '2', '3', '4' (major of metadata.pactSpecification.version), '2' when absent. */
  version: string;
  entries: PactEntry[];
  problems: ContractProblem[];
}

const MAX_DEPTH = 64;

/** The example a matcher wraps: integration JSON (`pact:matcher:type` + `value`) becomes its value, all the way down. */
export function unwrapMatchers(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => unwrapMatchers(v, depth + 1));
  if (!isObject(value)) return value;
  if (typeof own(value, 'pact:matcher:type') === 'string' && Object.hasOwn(value, 'value'))
    return unwrapMatchers(value.value, depth + 1);
  if (typeof own(value, 'pact:generator:type') === 'string' && Object.hasOwn(value, 'value'))
    return unwrapMatchers(value.value, depth + 1);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    Object.defineProperty(out, key, {
      value: unwrapMatchers(value[key], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** Provider states an interaction is given: v2 `providerState`, v3/v4 `providerStates[].name`. */
export function statesOf(raw: unknown): string[] {
  const single = own(raw, 'providerState');
  if (typeof single === 'string') return [single];
  const list = own(raw, 'providerStates');
  if (!Array.isArray(list)) return [];
  return list.map((s) => own(s, 'name')).filter((n): n is string => typeof n === 'string');
}

/** A v4 body is `{content, contentType, encoded}`; earlier versions put the example itself there. */
function bodyOf(raw: unknown, v4: boolean, segments: string[]): { body: unknown; segments: string[] } {
  if (v4 && isObject(raw) && Object.hasOwn(raw, 'content'))
    return { body: unwrapMatchers(raw.content), segments: [...segments, 'content'] };
  return { body: unwrapMatchers(raw), segments };
}

/** How an entry is named in a problem: `message "order created" given "an order was paid"`. */
export function describeEntry(entry: PactEntry): string {
  const what =
    entry.kind === 'message'
      ? `message "${entry.description.slice(0, 120)}"`
      : `interaction "${entry.description.slice(0, 120)}"`;
  const given = entry.states.length > 0 ? ` given ${entry.states.map((s) => `"${s.slice(0, 80)}"`).join(' and ')}` : '';
  return `${what}${given}`;
}

export function readPact(pact: unknown, file: string): ReadPact {
  const problems: ContractProblem[] = [];
  const invalid = (segments: string[], message: string): void => {
    problems.push({
      kind: 'invalid',
      rule: 'pact-unreadable',
      file,
      location: pointer(segments),
      message: `${file}: ${message}`,
    });
  };
  const raw = own(own(own(pact, 'metadata'), 'pactSpecification'), 'version');
  const version = typeof raw === 'string' && /^\d/.test(raw) ? raw.slice(0, 1) : '2';
  const v4 = version === '4';
  const entries: PactEntry[] = [];
  const interactions = own(pact, 'interactions');
  const messages = own(pact, 'messages');
  if (!isObject(pact) || (!Array.isArray(interactions) && !Array.isArray(messages))) {
    invalid(
      ['interactions'],
      'not a Pact file: it needs an "interactions" list (or, for a v3 message pact, "messages")',
    );
    return { version, entries, problems };
  }
  const description = (item: unknown, fallback: string): string => {
    const d = own(item, 'description');
    return typeof d === 'string' && d !== '' ? d : fallback;
  };
  const message = (item: unknown, segments: string[], contentsKey: 'contents'): void => {
    const at = [...segments, contentsKey];
    if (!Object.hasOwn(isObject(item) ? item : {}, contentsKey)) {
      invalid(at, `message ${pointer(segments)} has no "${contentsKey}": write the message the consumer expects there`);
      return;
    }
    const { body, segments: bodySegments } = bodyOf(own(item, contentsKey), v4, at);
    entries.push({
      kind: 'message',
      description: description(item, pointer(segments)),
      states: statesOf(item),
      segments,
      body,
      bodySegments,
    });
  };
  if (Array.isArray(messages)) messages.forEach((item, i) => message(item, ['messages', String(i)], 'contents'));
  if (Array.isArray(interactions)) {
    interactions.forEach((item, i) => {
      const segments = ['interactions', String(i)];
      const type = own(item, 'type');
      if (typeof type === 'string' && /messages?$/i.test(type)) {
        if (/^synchronous/i.test(type)) {
          // A request/response over a queue: the response messages are what the provider must produce.
          const response = own(item, 'response');
          const first: unknown = Array.isArray(response) ? response[0] : undefined;
          if (first === undefined)
            invalid([...segments, 'response'], `synchronous message ${pointer(segments)} has no "response" messages`);
          else message(first, [...segments, 'response', '0'], 'contents');
          return;
        }
        message(item, segments, 'contents');
        return;
      }
      if (typeof type === 'string' && !/http/i.test(type)) {
        invalid(
          [...segments, 'type'],
          `interaction ${pointer(segments)} has the type "${type.slice(0, 60)}", which is not one of "Synchronous/HTTP", "Asynchronous/Messages", "Synchronous/Messages"`,
        );
        return;
      }
      const request = own(item, 'request');
      const response = own(item, 'response');
      const method = own(request, 'method');
      const path = own(request, 'path');
      const status = own(response, 'status');
      if (typeof method !== 'string' || method === '' || typeof path !== 'string') {
        invalid(
          [...segments, 'request'],
          `interaction ${pointer(segments)} is not a Pact HTTP interaction: it needs "request" with "method" and "path"`,
        );
        return;
      }
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
        invalid(
          [...segments, 'response', 'status'],
          `interaction ${pointer(segments)} needs "response.status", an HTTP status code`,
        );
        return;
      }
      const { body, segments: bodySegments } = bodyOf(own(response, 'body'), v4, [...segments, 'response', 'body']);
      entries.push({
        kind: 'http',
        description: description(item, String(i)),
        states: statesOf(item),
        segments,
        request: { method, path },
        status,
        body,
        bodySegments,
      });
    });
  }
  return { version, entries, problems };
}
