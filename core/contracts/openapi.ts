/**
 * Our own structural breaking-change diff of two OpenAPI 3.x documents (no maintained library
 * fits: the ones on npm either need the network for remote refs, or report in shapes we would
 * have to re-interpret). The rules, and why each one breaks a consumer, are in docs/contracts.md.
 */
import { compareSchemas, type Side } from './schema.ts';
import { deref, isObject, own, ownObject, pointer, type JsonObject } from './pointer.ts';
import type { ContractProblem, ProblemHandle } from './types.ts';

export const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type OperationMethod = (typeof OPERATION_METHODS)[number];

/** '/pets/{petId}' and '/pets/{id}' are the same path: parameter names do not travel on the wire. */
export function pathShape(template: string): string {
  return template.replace(/\{[^}/]*\}/g, '{}');
}

/** Refuses what is not an OpenAPI 3.x document, with one `invalid` problem. */
export function openApiProblem(document: unknown, file: string, which: string): ContractProblem | null {
  const version = own(document, 'openapi');
  if (!isObject(document) || typeof version !== 'string') {
    const swagger = own(document, 'swagger');
    const hint = typeof swagger === 'string' ? ` (it is Swagger ${swagger}; convert it to OpenAPI 3)` : '';
    return {
      kind: 'invalid',
      rule: 'not-openapi',
      file,
      location: '/openapi',
      message: `${file} (${which}): not an OpenAPI 3.x document: no "openapi" version field${hint}`,
    };
  }
  if (!/^3\.\d+(\.\d+)?$/.test(version)) {
    return {
      kind: 'invalid',
      rule: 'not-openapi',
      file,
      location: '/openapi',
      message: `${file} (${which}): OpenAPI ${version.slice(0, 20)} is not supported; only 3.x is`,
    };
  }
  const paths = own(document, 'paths');
  if (paths !== undefined && !isObject(paths)) {
    return {
      kind: 'invalid',
      rule: 'not-openapi',
      file,
      location: '/paths',
      message: `${file} (${which}): "paths" must be an object`,
    };
  }
  return null;
}

/** The path items of a document, by path shape, keeping the document's own spelling of the template. */
export function pathIndex(document: unknown): Map<string, { template: string; item: unknown }> {
  const index = new Map<string, { template: string; item: unknown }>();
  const paths = ownObject(document, 'paths') ?? {};
  for (const template of Object.keys(paths)) {
    if (!template.startsWith('/')) continue;
    const shape = pathShape(template);
    if (!index.has(shape)) index.set(shape, { template, item: paths[template] });
  }
  return index;
}

/** Methods a path item defines, in the order OpenAPI lists them. */
export function methodsOf(root: unknown, pathItem: unknown): OperationMethod[] {
  const d = deref(root, pathItem);
  if (!d.ok) return [];
  return OPERATION_METHODS.filter((m) => isObject(own(d.value, m)));
}

export function isSuccessStatus(code: string): boolean {
  return /^2(\d\d|XX)$/i.test(code);
}

interface Param {
  name: string;
  in: string;
  required: boolean;
  schema: unknown;
  segments: string[];
}

/** How a parameter is named in a handle: 'query:per_page', 'header:x-api-version'. */
function parameterField(param: Param): string {
  return `${param.in}:${param.in === 'header' ? param.name.toLowerCase() : param.name}`;
}

function paramKey(name: string, location: string): string {
  return `${location}:${location === 'header' ? name.toLowerCase() : name}`;
}

/** An operation's parameters: path-level ones, overridden by the operation's own (as the spec says). */
function parametersOf(
  root: unknown,
  pathItem: unknown,
  pathSegments: string[],
  method: OperationMethod,
  report: (p: string[], ref: string, reason: string) => void,
): Map<string, Param> {
  const result = new Map<string, Param>();
  const add = (list: unknown, segments: string[]): void => {
    if (!Array.isArray(list)) return;
    list.forEach((entry, i) => {
      const at = [...segments, 'parameters', String(i)];
      const d = deref(root, entry);
      if (!d.ok) {
        report(at, d.ref, d.reason);
        return;
      }
      const name = own(d.value, 'name');
      const location = own(d.value, 'in');
      if (typeof name !== 'string' || typeof location !== 'string') return;
      result.set(paramKey(name, location), {
        name,
        in: location,
        required: own(d.value, 'required') === true || location === 'path',
        schema: own(d.value, 'schema'),
        segments: at,
      });
    });
  };
  const item = deref(root, pathItem);
  if (!item.ok) return result;
  add(own(item.value, 'parameters'), pathSegments);
  add(own(own(item.value, method), 'parameters'), [...pathSegments, method]);
  return result;
}

/** A media-type map's entry, matched case-insensitively. */
function mediaEntry(content: JsonObject | undefined, mediaType: string): { key: string; value: unknown } | undefined {
  if (content === undefined) return undefined;
  const wanted = mediaType.toLowerCase();
  const key = Object.keys(content).find((k) => k.toLowerCase() === wanted);
  return key === undefined ? undefined : { key, value: content[key] };
}

/** One way to authenticate: the schemes it needs, each with its scopes. */
type SecurityAlternative = Map<string, Set<string>>;

/**
 * The ways a caller may authenticate to an operation: its own `security`, else the document's.
 * An empty list, or an empty requirement object in it, means a caller without credentials is let in.
 */
function securityOf(document: unknown, operation: unknown): { alternatives: SecurityAlternative[]; own: boolean } {
  const local = isObject(operation) && Object.hasOwn(operation, 'security');
  const raw = local ? own(operation, 'security') : own(document, 'security');
  if (!Array.isArray(raw) || raw.length === 0) return { alternatives: [new Map<string, Set<string>>()], own: local };
  const alternatives = raw.filter(isObject).map((requirement) => {
    const alternative: SecurityAlternative = new Map<string, Set<string>>();
    for (const [scheme, scopes] of Object.entries(requirement)) {
      alternative.set(
        scheme,
        new Set(Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : []),
      );
    }
    return alternative;
  });
  return { alternatives, own: local };
}

/** A caller that satisfies `held` also satisfies `needed`: no scheme or scope more is asked. */
function satisfies(held: SecurityAlternative, needed: SecurityAlternative): boolean {
  for (const [scheme, scopes] of needed) {
    const have = held.get(scheme);
    if (have === undefined) return false;
    for (const scope of scopes) if (!have.has(scope)) return false;
  }
  return true;
}

function describeSecurity(alternative: SecurityAlternative): string {
  if (alternative.size === 0) return 'no credentials';
  return [...alternative]
    .map(([scheme, scopes]) => (scopes.size > 0 ? `${scheme} (${[...scopes].join(', ')})` : scheme))
    .join(' + ');
}

/** Breaking changes from `base` to `head`, both parsed OpenAPI 3.x documents. */
export function diffOpenApi(base: unknown, head: unknown, file: string): ContractProblem[] {
  const refused = [openApiProblem(base, file, 'base'), openApiProblem(head, file, 'head')].filter(
    (p): p is ContractProblem => p !== null,
  );
  if (refused.length > 0) return refused;

  const problems: ContractProblem[] = [];
  const breaking = (rule: string, segments: string[], message: string, handle: ProblemHandle): void => {
    problems.push({ kind: 'breaking', rule, file, location: pointer(segments), message, handle });
  };
  const unresolved = (segments: string[], ref: string, reason: string): void => {
    problems.push({
      kind: 'invalid',
      rule: 'ref-unresolved',
      file,
      location: pointer(segments),
      message: `$ref "${ref}" at ${pointer(segments)} cannot be followed: ${reason}`,
    });
  };
  const schemas = (
    side: Side,
    operation: string,
    prefix: string,
    segments: string[],
    b: unknown,
    h: unknown,
    parameter?: string,
  ): void => {
    for (const f of compareSchemas({ side, baseRoot: base, headRoot: head, prefix }, b, h)) {
      const problem: ContractProblem = {
        kind: f.kind,
        rule: f.rule,
        file,
        location: pointer([...segments, ...f.segments]),
        message: f.message,
      };
      if (f.kind === 'breaking') {
        const field = parameter ?? f.field ?? '';
        problem.handle = {
          operation,
          side: side === 'response' ? 'response' : 'request',
          field,
          ...(f.before === undefined ? {} : { before: f.before }),
          ...(f.after === undefined ? {} : { after: f.after }),
          ...(f.added === undefined ? {} : { added: f.added }),
        };
      }
      problems.push(problem);
    }
  };

  const headPaths = pathIndex(head);
  for (const [shape, { template: baseTemplate, item: baseItem }] of pathIndex(base)) {
    const baseMethods = methodsOf(base, baseItem);
    const match = headPaths.get(shape);
    if (match === undefined) {
      if (baseMethods.length > 0) {
        const methods = baseMethods.map((m) => m.toUpperCase());
        breaking('path-removed', ['paths', baseTemplate], `path ${baseTemplate} removed (with ${methods.join(', ')})`, {
          operation: `${methods.join('|')} ${baseTemplate}`,
          side: 'response',
          field: '',
          after: 'removed',
        });
      }
      continue;
    }
    const template = match.template;
    const headMethods = new Set(methodsOf(head, match.item));
    for (const method of baseMethods) {
      const opName = `${method.toUpperCase()} ${template}`;
      const opSegments = ['paths', template, method];
      if (!headMethods.has(method)) {
        breaking('operation-removed', opSegments, `${opName} removed`, {
          operation: opName,
          side: 'response',
          field: '',
          after: 'removed',
        });
        continue;
      }
      const baseItemValue = deref(base, baseItem);
      const headItemValue = deref(head, match.item);
      const baseOp = own(baseItemValue.ok ? baseItemValue.value : undefined, method);
      const headOp = own(headItemValue.ok ? headItemValue.value : undefined, method);

      // Security: a caller that authenticates one of the ways the base allowed must still get in.
      const baseSecurity = securityOf(base, baseOp);
      const headSecurity = securityOf(head, headOp);
      const shutOut = baseSecurity.alternatives.find(
        (held) => !headSecurity.alternatives.some((needed) => satisfies(held, needed)),
      );
      if (shutOut !== undefined) {
        const now = headSecurity.alternatives.map(describeSecurity).join(' or ');
        breaking(
          'security-requirement-added',
          headSecurity.own ? [...opSegments, 'security'] : ['security'],
          `${opName} now requires ${now}; callers that send ${describeSecurity(shutOut)} are refused`,
          {
            operation: opName,
            side: 'request',
            field: '',
            before: describeSecurity(shutOut),
            after: now,
          },
        );
      }

      // Parameters: a consumer that does not send a newly required one is refused.
      const baseParams = parametersOf(base, baseItem, ['paths', baseTemplate], method, () => undefined);
      const headParams = parametersOf(head, match.item, ['paths', template], method, unresolved);
      for (const [key, param] of headParams) {
        const before = baseParams.get(key);
        const label = `${opName} ${param.in} parameter "${param.name}"`;
        // A new path parameter means a new path template, reported as the path's removal.
        if (param.in !== 'path' && param.required && before?.required !== true) {
          breaking(
            'request-parameter-became-required',
            param.segments,
            `${label} ${before === undefined ? 'added as required' : 'became required'}`,
            {
              operation: opName,
              side: 'request',
              field: parameterField(param),
              before: before === undefined ? 'absent' : 'optional',
              after: 'required',
            },
          );
        }
        if (before !== undefined && before.schema !== undefined && param.schema !== undefined) {
          schemas(
            'request',
            opName,
            label,
            [...param.segments, 'schema'],
            before.schema,
            param.schema,
            parameterField(param),
          );
        }
      }

      // Request body: what consumers send today must still be accepted.
      const baseBody = deref(base, own(baseOp, 'requestBody'));
      const headBody = deref(head, own(headOp, 'requestBody'));
      if (!headBody.ok) unresolved([...opSegments, 'requestBody'], headBody.ref, headBody.reason);
      if (baseBody.ok && headBody.ok && headBody.value !== undefined) {
        const bodySegments = [...opSegments, 'requestBody'];
        if (own(headBody.value, 'required') === true && own(baseBody.value, 'required') !== true) {
          breaking(
            'request-body-became-required',
            [...bodySegments, 'required'],
            `${opName} request body ${baseBody.value === undefined ? 'added as required' : 'became required'}`,
            {
              operation: opName,
              side: 'request',
              field: '',
              before: baseBody.value === undefined ? 'absent' : 'optional',
              after: 'required',
            },
          );
        }
        const baseContent = ownObject(baseBody.value, 'content');
        const headContent = ownObject(headBody.value, 'content');
        for (const mediaType of Object.keys(baseContent ?? {})) {
          const after = mediaEntry(headContent, mediaType);
          if (after === undefined) {
            breaking(
              'request-media-type-removed',
              [...bodySegments, 'content', mediaType],
              `${opName} request body no longer accepts ${mediaType}`,
              { operation: opName, side: 'request', field: '', before: mediaType, after: 'removed' },
            );
            continue;
          }
          const before = own(baseContent, mediaType);
          schemas(
            'request',
            opName,
            `${opName} request body`,
            [...bodySegments, 'content', after.key, 'schema'],
            own(before, 'schema'),
            own(after.value, 'schema'),
          );
        }
      }

      // Responses: what consumers read must still come back.
      const baseResponses = ownObject(baseOp, 'responses') ?? {};
      const headResponses = ownObject(headOp, 'responses') ?? {};
      for (const code of Object.keys(baseResponses)) {
        const responseSegments = [...opSegments, 'responses', code];
        const label = `${opName} ${code} response`;
        if (!Object.hasOwn(headResponses, code)) {
          // A consumer coded for a success status breaks when it changes; an error it no longer
          // receives breaks nothing.
          if (isSuccessStatus(code)) {
            const now = Object.keys(headResponses).filter(isSuccessStatus);
            breaking('response-status-removed', responseSegments, `${label} removed`, {
              operation: opName,
              side: 'response',
              field: '',
              before: code,
              after: now.length > 0 ? now.join('|') : 'removed',
            });
          }
          continue;
        }
        const before = deref(base, baseResponses[code]);
        const after = deref(head, headResponses[code]);
        if (!after.ok) {
          unresolved(responseSegments, after.ref, after.reason);
          continue;
        }
        if (!before.ok) continue;
        const baseContent = ownObject(before.value, 'content');
        const headContent = ownObject(after.value, 'content');
        for (const mediaType of Object.keys(baseContent ?? {})) {
          const afterMedia = mediaEntry(headContent, mediaType);
          if (afterMedia === undefined) {
            breaking(
              'response-media-type-removed',
              [...responseSegments, 'content', mediaType],
              `${label}: no longer returns ${mediaType}`,
              { operation: opName, side: 'response', field: '', before: mediaType, after: 'removed' },
            );
            continue;
          }
          const beforeSchema = own(own(baseContent, mediaType), 'schema');
          const afterSchema = own(afterMedia.value, 'schema');
          if (beforeSchema === undefined || afterSchema === undefined) continue;
          schemas(
            'response',
            opName,
            label,
            [...responseSegments, 'content', afterMedia.key, 'schema'],
            beforeSchema,
            afterSchema,
          );
        }
      }
    }
  }
  return problems;
}
