/**
 * Does a consumer's declared usage still fit the provider's OpenAPI document at the head of the
 * change? A consumer declares its usage as its own copy of the document, as a Pact file, or as a
 * list of operations and response fields. Every mismatch names the consumer, the operation and
 * the field.
 */
import { z } from 'zod';
import {
  diffOpenApi,
  isSuccessStatus,
  openApiProblem,
  pathIndex,
  type OperationMethod,
  OPERATION_METHODS,
} from './openapi.ts';
import { statesOf, unwrapMatchers } from './pact.ts';
import { deref, isObject, own, ownObject, pointer, type JsonObject } from './pointer.ts';
import { describeTypes, typesWithin, viewOf, type JsonType } from './schema.ts';
import type { ConsumerFiles, ContractProblem, OpenApiUsage, OperationUse } from './types.ts';

/** An operation of the provider's document that a request or a declared use resolved to. */
export interface ResolvedOperation {
  method: OperationMethod;
  /** The template as the provider's document spells it. */
  template: string;
  operation: JsonObject;
  segments: string[];
}

function segmentPattern(template: string): RegExp {
  const parts = template
    .split(/(\{[^}/]*\})/)
    .map((part) => (/^\{[^}/]*\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('')}$`);
}

/** The path part of each server URL ('http://host/v1' → '/v1'), so full request paths match templates. */
function serverPrefixes(document: unknown): string[] {
  const prefixes = new Set<string>(['']);
  const servers = own(document, 'servers');
  if (!Array.isArray(servers)) return [...prefixes];
  for (const server of servers) {
    const url = own(server, 'url');
    if (typeof url !== 'string') continue;
    const path = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(url)?.[1] ?? (url.startsWith('/') ? url : '');
    prefixes.add(path.replace(/\/+$/, ''));
  }
  return [...prefixes];
}

/**
 * The operation a concrete request path (e.g. '/v1/pets/42') or a template (e.g. '/pets/{id}')
 * reaches: literal segments win over templated ones, as an HTTP router would decide.
 */
export function resolveOperation(document: unknown, method: string, requestPath: string): ResolvedOperation | null {
  const verb = method.toLowerCase();
  if (!(OPERATION_METHODS as readonly string[]).includes(verb)) return null;
  const path = requestPath.split(/[?#]/, 1)[0] ?? '';
  let best: { score: number; template: string; item: unknown } | null = null;
  for (const { template, item } of pathIndex(document).values()) {
    const resolved = deref(document, item);
    if (!resolved.ok || !isObject(own(resolved.value, verb))) continue;
    for (const prefix of serverPrefixes(document)) {
      const full = `${prefix}${template}`;
      const samePattern = full.replace(/\{[^}/]*\}/g, '{}') === path.replace(/\{[^}/]*\}/g, '{}');
      if (!samePattern && !segmentPattern(full).test(path)) continue;
      // The most literal characters wins: '/pets/mine' over '/pets/{id}', '/pets/{id}.json' over '/pets/{id}'.
      const score = full.replace(/\{[^}/]*\}/g, '').length;
      if (best === null || score > best.score) best = { score, template, item: resolved.value };
    }
  }
  if (best === null) return null;
  const operation = own(best.item, verb);
  if (!isObject(operation)) return null;
  return {
    method: verb as OperationMethod,
    template: best.template,
    operation,
    segments: ['paths', best.template, verb],
  };
}

const JSON_MEDIA = /^application\/(.+\+)?json$/i;

/** The declared response for a status: the exact code, then its range ('2XX'), then 'default'. */
function responseFor(
  document: unknown,
  operation: JsonObject,
  status: number,
): { code: string; response: unknown } | null {
  const responses = ownObject(operation, 'responses') ?? {};
  const code = String(status);
  const range = `${code[0] ?? ''}XX`;
  for (const key of Object.keys(responses)) if (key === code) return resolved(key);
  for (const key of Object.keys(responses)) if (key.toUpperCase() === range) return resolved(key);
  if (Object.hasOwn(responses, 'default')) return resolved('default');
  return null;
  function resolved(key: string): { code: string; response: unknown } {
    const d = deref(document, responses[key]);
    return { code: key, response: d.ok ? d.value : undefined };
  }
}

/** The schema of a response body: the media type asked for, else a JSON one, else the first. */
function bodySchema(response: unknown, contentType: string | null): { mediaType: string; schema: unknown } | null {
  const content = ownObject(response, 'content');
  if (content === undefined) return null;
  const keys = Object.keys(content);
  const wanted = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  const key = keys.find((k) => k.toLowerCase() === wanted) ?? keys.find((k) => JSON_MEDIA.test(k)) ?? keys[0];
  if (key === undefined) return null;
  return { mediaType: key, schema: own(content[key], 'schema') };
}

/** The 2xx response a `uses` entry's fields are read from: the lowest success code with a JSON body. */
function successBody(
  document: unknown,
  operation: JsonObject,
): { code: string; mediaType: string; schema: unknown } | null {
  const responses = ownObject(operation, 'responses') ?? {};
  for (const code of Object.keys(responses).filter(isSuccessStatus).sort()) {
    const d = deref(document, responses[code]);
    if (!d.ok) continue;
    const body = bodySchema(d.value, 'application/json');
    if (body !== null && body.schema !== undefined) return { code, ...body };
  }
  return null;
}

type FieldLookup = { found: true } | { found: false; segments: string[]; missing: string };

/** Follows a dotted field path through properties, stepping through arrays' items on the way. */
function lookupField(document: unknown, schema: unknown, field: string): FieldLookup {
  const names = field.split('.');
  const segments: string[] = [];
  let node = schema;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] ?? '';
    let view = viewOf(document, node);
    for (let hops = 0; !view.properties.has(name) && view.items !== undefined && hops < 8; hops++) {
      segments.push('items');
      node = view.items;
      view = viewOf(document, node);
    }
    // What we cannot analyse (oneOf, free-form maps) cannot prove a field missing.
    if (view.opaque) return { found: true };
    if (view.properties.has(name)) {
      segments.push('properties', name);
      node = view.properties.get(name);
      continue;
    }
    if (view.additional.kind === 'schema') {
      segments.push('additionalProperties');
      node = view.additional.schema;
      continue;
    }
    if (
      view.properties.size === 0 &&
      view.additional.kind === 'open' &&
      (view.types === null || view.types.has('object'))
    )
      return { found: true };
    return { found: false, segments: [...segments, 'properties', name], missing: names.slice(0, i + 1).join('.') };
  }
  return { found: true };
}

function checkUses(
  head: unknown,
  uses: readonly OperationUse[],
  consumer: string,
  files: ConsumerFiles,
): ContractProblem[] {
  const problems: ContractProblem[] = [];
  const mismatch = (rule: string, segments: string[], message: string): void => {
    problems.push({
      kind: 'mismatch',
      rule,
      file: files.provider,
      location: pointer(segments),
      message: `consumer "${consumer}" uses ${message}`,
      consumer,
    });
  };
  for (const use of uses) {
    const match = /^([A-Z]+) (\/\S*)$/.exec(use.operation);
    if (match === null) {
      problems.push({
        kind: 'invalid',
        rule: 'use-unreadable',
        file: files.consumer,
        location: '',
        message: `consumer "${consumer}": "${use.operation}" is not "<METHOD> <path>"`,
        consumer,
      });
      continue;
    }
    const [, method = '', path = ''] = match;
    const op = resolveOperation(head, method, path);
    if (op === null) {
      mismatch(
        'operation-missing',
        ['paths', path, method.toLowerCase()],
        `${use.operation}, which ${files.provider} does not define`,
      );
      continue;
    }
    const name = `${method} ${op.template}`;
    if (use.fields.length === 0) continue;
    const body = successBody(head, op.operation);
    if (body === null) {
      mismatch(
        'response-body-missing',
        [...op.segments, 'responses'],
        `${name} fields ${use.fields.map((f) => `"${f}"`).join(', ')}, but the operation declares no 2xx JSON response body`,
      );
      continue;
    }
    const base = [...op.segments, 'responses', body.code, 'content', body.mediaType, 'schema'];
    for (const field of use.fields) {
      const found = lookupField(head, body.schema, field);
      if (!found.found) {
        const detail = found.missing === field ? '' : ` (no "${found.missing}")`;
        mismatch(
          'response-field-missing',
          [...base, ...found.segments],
          `${name}: field "${field}" is not in the ${body.code} response${detail}`,
        );
      }
    }
  }
  return problems;
}

const PactRequest = z.object({ method: z.string().min(1), path: z.string() }).loose();
const PactResponse = z
  .object({
    status: z.number().int().min(100).max(599),
    headers: z.record(z.string(), z.unknown()).optional(),
    body: z.unknown().optional(),
  })
  .loose();
const PactInteraction = z
  .object({
    description: z.string().optional(),
    type: z.string().optional(),
    request: PactRequest,
    response: PactResponse,
  })
  .loose();
const PactFile = z.object({ interactions: z.array(z.unknown()) }).loose();

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'object';
}

function headerValue(headers: Record<string, unknown> | undefined, name: string): string | null {
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  }
  return null;
}

const MAX_PACT_NODES = 20_000;
const MAX_ARRAY_ELEMENTS = 100;

function checkPact(head: unknown, pact: unknown, consumer: string, files: ConsumerFiles): ContractProblem[] {
  const problems: ContractProblem[] = [];
  const file = PactFile.safeParse(pact);
  // A v3 message pact has no HTTP interactions to hold against the document; its provider's verifier checks it.
  if (!file.success && Array.isArray(own(pact, 'messages'))) return [];
  if (!file.success) {
    return [
      {
        kind: 'invalid',
        rule: 'pact-unreadable',
        file: files.consumer,
        location: '/interactions',
        message: `${files.consumer}: not a Pact file: it needs an "interactions" list`,
        consumer,
      },
    ];
  }
  const version = own(own(own(pact, 'metadata'), 'pactSpecification'), 'version');
  const v4 = typeof version === 'string' && version.startsWith('4');
  file.data.interactions.forEach((raw, index) => {
    const at = ['interactions', String(index)];
    const type = own(raw, 'type');
    if (typeof type === 'string' && !/http/i.test(type)) return; // message interactions are checked by their own contract
    const parsed = PactInteraction.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push({
        kind: 'invalid',
        rule: 'pact-unreadable',
        file: files.consumer,
        location: pointer([...at, ...(issue?.path.map(String) ?? [])]),
        message: `${files.consumer}: interaction ${index} is not a Pact HTTP interaction: ${issue?.message ?? 'unreadable'}`,
        consumer,
      });
      return;
    }
    const { request, response } = parsed.data;
    const states = statesOf(raw);
    const given = states.length > 0 ? ` given ${states.map((s) => `"${s.slice(0, 80)}"`).join(' and ')}` : '';
    const label = `consumer "${consumer}": interaction "${(parsed.data.description ?? String(index)).slice(0, 120)}"${given} (${request.method.toUpperCase()} ${request.path.slice(0, 200)})`;
    const mismatch = (rule: string, segments: string[], message: string): void => {
      problems.push({
        kind: 'mismatch',
        rule,
        file: files.consumer,
        location: pointer([...at, ...segments]),
        message: `${label} ${message}`,
        consumer,
      });
    };
    const op = resolveOperation(head, request.method, request.path);
    if (op === null) {
      mismatch('operation-missing', ['request'], `matches no operation of ${files.provider}`);
      return;
    }
    const name = `${op.method.toUpperCase()} ${op.template}`;
    const declared = responseFor(head, op.operation, response.status);
    if (declared === null) {
      mismatch(
        'response-status-missing',
        ['response', 'status'],
        `expects status ${response.status}, which ${name} does not declare`,
      );
      return;
    }
    let body = response.body;
    const bodySegments = ['response', 'body'];
    if (v4 && isObject(body) && Object.hasOwn(body, 'content')) {
      body = body.content;
      bodySegments.push('content');
    }
    // Integration-JSON matchers (`pact:matcher:type`) promise the shape of their example value.
    body = unwrapMatchers(body);
    if (body === undefined || body === null || body === '') return;
    const schema = bodySchema(declared.response, headerValue(response.headers, 'content-type'));
    if (schema === null || schema.schema === undefined) {
      mismatch(
        'response-body-missing',
        bodySegments,
        `expects a body, but ${name} ${declared.code} response declares none`,
      );
      return;
    }
    // Every element of an array reports the same field once, not once per element.
    const seen = new Set<string>();
    const once = (rule: string, field: string, segments: string[], message: string): void => {
      const key = `${rule}\u0000${field}`;
      if (seen.has(key)) return;
      seen.add(key);
      mismatch(rule, segments, message);
    };
    const where = `${name} ${declared.code} response`;
    let nodes = 0;
    const walk = (value: unknown, node: unknown, segments: string[], field: string): void => {
      if (++nodes > MAX_PACT_NODES) return;
      const view = viewOf(head, node);
      if (view.opaque) return;
      const type = jsonTypeOf(value);
      if (view.types !== null && !typesWithin(new Set([type]), view.types)) {
        const subject = field === '' ? 'the body' : `field "${field}"`;
        once(
          'response-field-type-mismatch',
          field,
          segments,
          `expects ${subject} of ${where} to be ${type}, but the provider's schema says ${describeTypes(view.types)}`,
        );
        return;
      }
      if (isObject(value)) {
        for (const key of Object.keys(value)) {
          const child = field === '' ? key : `${field}.${key}`;
          if (view.properties.has(key)) walk(value[key], view.properties.get(key), [...segments, key], child);
          else if (view.additional.kind === 'schema')
            walk(value[key], view.additional.schema, [...segments, key], child);
          // An object schema that lists no properties is a free-form map: any key fits.
          else if (view.properties.size > 0 || view.additional.kind === 'closed') {
            once(
              'response-field-missing',
              child,
              [...segments, key],
              `expects field "${child}" in ${where}, which is not in the provider's schema`,
            );
          }
        }
      }
      if (Array.isArray(value) && view.items !== undefined) {
        value
          .slice(0, MAX_ARRAY_ELEMENTS)
          .forEach((element, i) => walk(element, view.items, [...segments, String(i)], `${field}[]`));
      }
    };
    walk(body, schema.schema, bodySegments, '');
  });
  return problems;
}

function checkCopy(head: unknown, copy: unknown, consumer: string, files: ConsumerFiles): ContractProblem[] {
  const refused = openApiProblem(copy, files.consumer, `${consumer}'s copy`);
  if (refused !== null) return [{ ...refused, consumer }];
  return diffOpenApi(copy, head, files.provider).map((p) =>
    p.kind === 'breaking'
      ? {
          ...p,
          kind: 'mismatch' as const,
          consumer,
          message: `consumer "${consumer}" (its copy ${files.consumer}): ${p.message}`,
        }
      : { ...p, consumer },
  );
}

/**
 * Checks one consumer's usage against the provider's OpenAPI document at head. Problems are
 * `mismatch` (or `invalid` when a document cannot be read); each names `consumer`.
 */
export function checkOpenApiConsumer(
  providerHead: unknown,
  usage: OpenApiUsage,
  consumer: string,
  files: ConsumerFiles,
): ContractProblem[] {
  const refused = openApiProblem(providerHead, files.provider, 'head');
  if (refused !== null) return [{ ...refused, consumer }];
  switch (usage.form) {
    case 'copy':
      return checkCopy(providerHead, usage.document, consumer, files);
    case 'pact':
      return checkPact(providerHead, usage.pact, consumer, files);
    case 'uses':
      return checkUses(providerHead, usage.uses, consumer, files);
  }
}
