/**
 * A local, strict, OpenAI-compatible Chat Completions server for tests. It replays scripted
 * assistant turns to the real `openai` client and rejects, with the real API's status codes and
 * error shape, the requests the real API rejects (malformed messages, tool_call bookkeeping,
 * strict-mode schemas, response_format, tool_choice, unknown parameters, bad keys).
 *
 * Every rejection the server makes on its own (400, 401, 404, and the 500s for script problems)
 * is recorded in `violations`, so a test can assert that the code under test sent nothing the
 * real API would refuse. Errors a script injects on purpose are not violations.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';

/** A request body that passed validation (the server never accepts `stream: true`). */
export type ChatRequest = ChatCompletionCreateParamsNonStreaming;

export interface ScriptedTurn {
  /** Optional check on the request; throw to fail the test (the server answers 500 with the message and records it in `violations`). */
  expect?: (request: ChatRequest) => void;
  /** The reply: an assistant message (content and/or tool_calls), or an HTTP error to inject. */
  reply:
    | {
        content?: string | null;
        tool_calls?: { id?: string; name: string; arguments: string }[];
        finish_reason?: 'stop' | 'tool_calls' | 'length';
      }
    | {
        status: number;
        error: { message: string; type?: string; code?: string | null };
        headers?: Record<string, string>;
      }
    | ((request: ChatRequest) => ScriptedTurn['reply']);
  /** Token usage to report (defaults computed roughly from text length). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface FakeOpenAI {
  /** e.g. http://127.0.0.1:PORT/v1 */
  baseURL: string;
  /** The only key accepted (Authorization: Bearer <key>); others get 401 like the real API. */
  apiKey: string;
  /** Every accepted request body, in order (for assertions: e.g. no secret in any request). */
  requests: ChatRequest[];
  /** Every rejection reason the server produced itself (400/401/404 and script 500s). */
  violations: string[];
  /** Queue turns for requests whose `model` equals this name (appends to what is queued). */
  script(model: string, turns: ScriptedTurn[]): void;
  remaining(model: string): number;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
type MessageReply = Exclude<
  ScriptedTurn['reply'],
  ((request: ChatRequest) => ScriptedTurn['reply']) | { status: number }
>;
type ErrorReply = Extract<ScriptedTurn['reply'], { status: number }>;

/** A rejection, answered in OpenAI's error shape. */
class Rejection extends Error {
  constructor(
    message: string,
    readonly param: string | null,
    readonly code: string | null = 'invalid_value',
    readonly status = 400,
    readonly type = 'invalid_request_error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function reject(param: string | null, message: string, code: string | null = 'invalid_value'): never {
  throw new Rejection(message, param, code);
}

// ---------------------------------------------------------------------------------------------
// Small type checks
// ---------------------------------------------------------------------------------------------

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function wrongType(param: string, expected: string, value: unknown): never {
  reject(param, `Invalid type for '${param}': expected ${expected}, but got ${kind(value)} instead.`, 'invalid_type');
}

function needObj(value: unknown, param: string): Obj {
  if (!isObj(value)) wrongType(param, 'an object', value);
  return value;
}

function needString(value: unknown, param: string): string {
  if (typeof value !== 'string') wrongType(param, 'a string', value);
  return value;
}

function needArray(value: unknown, param: string, min = 0, max = Infinity): unknown[] {
  if (!Array.isArray(value)) wrongType(param, 'an array', value);
  if (value.length < min) {
    reject(
      param,
      `Invalid '${param}': empty array. Expected an array with minimum length ${min}, but got an empty array instead.`,
      'empty_array',
    );
  }
  if (value.length > max) {
    reject(
      param,
      `Invalid '${param}': array too long. Expected an array with maximum length ${max}, but got an array with length ${value.length} instead.`,
      'array_above_max_length',
    );
  }
  return value;
}

function needBoolean(value: unknown, param: string): boolean {
  if (typeof value !== 'boolean') wrongType(param, 'a boolean', value);
  return value;
}

function needNumber(value: unknown, param: string, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    wrongType(param, integer ? 'an integer' : 'a number', value);
  if (integer && !Number.isInteger(value)) wrongType(param, 'an integer', value);
  if (value < min)
    reject(
      param,
      `Invalid '${param}': number below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      'decimal_below_min_value',
    );
  if (value > max)
    reject(
      param,
      `Invalid '${param}': number above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      'decimal_above_max_value',
    );
  return value;
}

function needOneOf<T extends string>(value: unknown, param: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((a) => `'${a}'`);
    const supported =
      list.length > 1 ? `${list.slice(0, -1).join(', ')}, and ${list[list.length - 1] ?? ''}` : (list[0] ?? '');
    reject(param, `Invalid value for '${param}': ${show(value)}. Supported values are: ${supported}.`);
  }
  return value as T;
}

/** Nested objects: keys outside `allowed` are unknown parameters, as the real API reports them. */
function onlyKeys(value: Obj, param: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) reject(`${param}.${key}`, `Unknown parameter: '${param}.${key}'.`, 'unknown_parameter');
  }
}

function present(obj: Obj, key: string): boolean {
  return obj[key] !== undefined && obj[key] !== null;
}

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

function needName(value: unknown, param: string): string {
  const name = needString(value, param);
  if (!NAME_PATTERN.test(name)) {
    reject(
      param,
      `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.`,
    );
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// Request validation
// ---------------------------------------------------------------------------------------------

const TOP_LEVEL = [
  'model',
  'messages',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'response_format',
  'seed',
  'stop',
  'n',
  'user',
  'metadata',
  'stream',
  'stream_options',
  'store',
  'reasoning_effort',
  'frequency_penalty',
  'presence_penalty',
  'logprobs',
  'top_logprobs',
  'logit_bias',
  'service_tier',
  'prediction',
  'modalities',
  'audio',
  'web_search_options',
  'verbosity',
  'prompt_cache_key',
  'safety_identifier',
] as const;

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Validates a parsed body; returns it typed when the real API would accept it. */
function validateRequest(body: unknown): ChatRequest {
  if (!isObj(body))
    reject(null, `Invalid request body: expected a JSON object, but got ${kind(body)} instead.`, 'invalid_type');

  for (const key of Object.keys(body)) {
    if (key === 'functions' || key === 'function_call') {
      reject(
        key,
        `'${key}' is deprecated in favour of 'tools'/'tool_choice' and is not supported by this test server.`,
        'unsupported_parameter',
      );
    }
    if (!(TOP_LEVEL as readonly string[]).includes(key))
      reject(key, `Unrecognized request argument supplied: ${key}`, 'unknown_parameter');
  }

  if (body.model === undefined || body.model === null)
    reject('model', "Missing required parameter: 'model'.", 'missing_required_parameter');
  if (needString(body.model, 'model').length === 0)
    reject('model', "Invalid 'model': empty string. Expected a non-empty model name.", 'empty_string');
  if (body.messages === undefined || body.messages === null)
    reject('messages', "Missing required parameter: 'messages'.", 'missing_required_parameter');
  const messages = needArray(body.messages, 'messages', 1);

  if (present(body, 'stream')) {
    if (needBoolean(body.stream, 'stream'))
      reject('stream', 'streaming is not supported by this test server', 'unsupported_value');
  }
  if (present(body, 'stream_options')) {
    reject(
      'stream_options',
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'invalid_value',
    );
  }

  validateScalars(body);
  const toolNames = validateTools(body);
  validateToolChoice(body, toolNames);
  validateMessages(messages);
  validateResponseFormat(body, messages);
  return body as unknown as ChatRequest;
}

function validateScalars(body: Obj): void {
  if (present(body, 'temperature')) needNumber(body.temperature, 'temperature', 0, 2);
  if (present(body, 'top_p')) needNumber(body.top_p, 'top_p', 0, 1);
  if (present(body, 'frequency_penalty')) needNumber(body.frequency_penalty, 'frequency_penalty', -2, 2);
  if (present(body, 'presence_penalty')) needNumber(body.presence_penalty, 'presence_penalty', -2, 2);
  if (present(body, 'max_tokens')) needNumber(body.max_tokens, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  if (present(body, 'max_completion_tokens'))
    needNumber(body.max_completion_tokens, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  if (present(body, 'seed')) needNumber(body.seed, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  if (present(body, 'n') && needNumber(body.n, 'n', 1, 128, true) !== 1) {
    reject(
      'n',
      'n > 1 is not supported by this test server (it scripts exactly one choice per request).',
      'unsupported_value',
    );
  }
  if (present(body, 'stop')) {
    if (Array.isArray(body.stop)) {
      needArray(body.stop, 'stop', 0, 4).forEach((s, i) => needString(s, `stop[${i}]`));
    } else {
      needString(body.stop, 'stop');
    }
  }
  if (present(body, 'user')) needString(body.user, 'user');
  if (present(body, 'prompt_cache_key')) needString(body.prompt_cache_key, 'prompt_cache_key');
  if (present(body, 'safety_identifier')) needString(body.safety_identifier, 'safety_identifier');
  if (present(body, 'store')) needBoolean(body.store, 'store');
  if (present(body, 'metadata')) {
    const metadata = needObj(body.metadata, 'metadata');
    const keys = Object.keys(metadata);
    if (keys.length > 16)
      reject('metadata', `Invalid 'metadata': too many keys. Expected at most 16, but got ${keys.length}.`);
    for (const key of keys) {
      if (key.length > 64) reject(`metadata.${key}`, `Invalid 'metadata': key '${key}' is longer than 64 characters.`);
      if (needString(metadata[key], `metadata.${key}`).length > 512) {
        reject(
          `metadata.${key}`,
          `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512.`,
          'string_above_max_length',
        );
      }
    }
    if (body.store !== true) reject('metadata', "The 'metadata' parameter is only allowed when 'store' is enabled.");
  }
  if (present(body, 'reasoning_effort')) {
    needOneOf(body.reasoning_effort, 'reasoning_effort', ['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);
  }
  if (present(body, 'verbosity')) needOneOf(body.verbosity, 'verbosity', ['low', 'medium', 'high']);
  if (present(body, 'service_tier'))
    needOneOf(body.service_tier, 'service_tier', ['auto', 'default', 'flex', 'scale', 'priority']);
  if (present(body, 'logprobs')) needBoolean(body.logprobs, 'logprobs');
  if (present(body, 'top_logprobs')) {
    needNumber(body.top_logprobs, 'top_logprobs', 0, 20, true);
    if (body.logprobs !== true)
      reject(
        'top_logprobs',
        "Invalid value for 'top_logprobs': 'top_logprobs' is only allowed when 'logprobs' is enabled.",
      );
  }
  if (present(body, 'logit_bias')) {
    const bias = needObj(body.logit_bias, 'logit_bias');
    for (const [token, value] of Object.entries(bias)) {
      if (!/^\d+$/.test(token))
        reject(`logit_bias.${token}`, `Invalid 'logit_bias': key '${token}' is not a token id.`);
      needNumber(value, `logit_bias.${token}`, -100, 100);
    }
  }
  if (present(body, 'modalities')) {
    needArray(body.modalities, 'modalities', 1).forEach((m, i) => needOneOf(m, `modalities[${i}]`, ['text', 'audio']));
  }
  if (present(body, 'audio')) needObj(body.audio, 'audio');
  if (present(body, 'web_search_options')) needObj(body.web_search_options, 'web_search_options');
  if (present(body, 'prediction')) {
    const prediction = needObj(body.prediction, 'prediction');
    onlyKeys(prediction, 'prediction', ['type', 'content']);
    needOneOf(prediction.type, 'prediction.type', ['content']);
    validateTextContent(prediction.content, 'prediction.content');
  }
}

// -- tools --------------------------------------------------------------------------------------

function validateTools(body: Obj): Set<string> {
  const names = new Set<string>();
  if (!present(body, 'tools')) {
    if (present(body, 'parallel_tool_calls')) {
      reject(
        'parallel_tool_calls',
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      );
    }
    return names;
  }
  if (present(body, 'parallel_tool_calls')) needBoolean(body.parallel_tool_calls, 'parallel_tool_calls');
  const tools = needArray(body.tools, 'tools', 1, 128);
  tools.forEach((raw, i) => {
    const param = `tools[${i}]`;
    const tool = needObj(raw, param);
    onlyKeys(tool, param, ['type', 'function']);
    needOneOf(tool.type, `${param}.type`, ['function']);
    if (tool.function === undefined)
      reject(`${param}.function`, `Missing required parameter: '${param}.function'.`, 'missing_required_parameter');
    const fn = needObj(tool.function, `${param}.function`);
    onlyKeys(fn, `${param}.function`, ['name', 'description', 'parameters', 'strict']);
    if (fn.name === undefined)
      reject(
        `${param}.function.name`,
        `Missing required parameter: '${param}.function.name'.`,
        'missing_required_parameter',
      );
    const name = needName(fn.name, `${param}.function.name`);
    if (names.has(name))
      reject(
        `${param}.function.name`,
        `Invalid '${param}.function.name': duplicate function name '${name}'. Tool names must be unique.`,
      );
    names.add(name);
    if (present(fn, 'description')) {
      const description = needString(fn.description, `${param}.function.description`);
      if (description.length > 1024) {
        reject(
          `${param}.function.description`,
          `Invalid '${param}.function.description': string too long. Expected a string with maximum length 1024, but got a string with length ${description.length} instead.`,
          'string_above_max_length',
        );
      }
    }
    const strict = present(fn, 'strict') ? needBoolean(fn.strict, `${param}.function.strict`) : false;
    if (present(fn, 'parameters')) {
      const where = `${param}.function.parameters`;
      const owner = `function '${name}'`;
      if (strict) checkStrictSchema(fn.parameters, where, owner);
      else checkLooseSchema(fn.parameters, where, owner);
    }
  });
  return names;
}

function validateToolChoice(body: Obj, toolNames: Set<string>): void {
  if (!present(body, 'tool_choice')) return;
  if (!present(body, 'tools')) {
    reject('tool_choice', "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.");
  }
  const choice = body.tool_choice;
  if (typeof choice === 'string') {
    needOneOf(choice, 'tool_choice', ['none', 'auto', 'required']);
    return;
  }
  const named = needObj(choice, 'tool_choice');
  onlyKeys(named, 'tool_choice', ['type', 'function']);
  needOneOf(named.type, 'tool_choice.type', ['function']);
  const fn = needObj(named.function, 'tool_choice.function');
  onlyKeys(fn, 'tool_choice.function', ['name']);
  const name = needString(fn.name, 'tool_choice.function.name');
  if (!toolNames.has(name)) {
    reject(
      'tool_choice.function.name',
      `Invalid value for 'tool_choice.function.name': tool choice '${name}' not found in 'tools' parameter (declared: ${[...toolNames].join(', ') || 'none'}).`,
    );
  }
}

// -- JSON Schema --------------------------------------------------------------------------------

const STRICT_KEYWORDS = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'description',
  'title',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  // Constraints Structured Outputs accepts (strings, numbers, arrays).
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
];
const SCHEMA_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'];

function contextLabel(path: readonly string[]): string {
  return `(${path.map((p) => `'${p}'`).join(', ')}${path.length === 1 ? ',' : ''})`;
}

function fieldPath(where: string, path: readonly string[]): string {
  return path.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : `${acc}.${part}`), where);
}

function schemaTypes(node: Obj, owner: string, where: string, path: readonly string[]): string[] {
  if (node.type === undefined) return [];
  const types = Array.isArray(node.type) ? node.type : [node.type];
  for (const t of types) {
    if (typeof t !== 'string' || !SCHEMA_TYPES.includes(t)) {
      reject(
        where,
        `Invalid schema for ${owner}: In context=${contextLabel(path)}, ${show(t)} is not a valid type (at ${fieldPath(where, path)}).`,
        'invalid_function_parameters',
      );
    }
  }
  return types as string[];
}

/** Non-strict schemas: the real API still insists on an object root and a well-formed `required`. */
function checkLooseSchema(schema: unknown, where: string, owner: string): void {
  const fail = (message: string): never =>
    reject(where, `Invalid schema for ${owner}: ${message}`, 'invalid_function_parameters');
  if (!isObj(schema)) fail(`schema must be a JSON Schema object, got ${kind(schema)} (at ${where}).`);
  const root = schema as Obj;
  if (root.type !== 'object')
    fail(
      `schema must be a JSON Schema of 'type: "object"', got 'type: ${show(root.type ?? 'None')}' (at ${where}.type).`,
    );
  if (root.properties !== undefined && !isObj(root.properties))
    fail(`${show(root.properties)} is not of type 'object' (at ${where}.properties).`);
  if (
    root.required !== undefined &&
    (!Array.isArray(root.required) || root.required.some((r) => typeof r !== 'string'))
  ) {
    fail(`${show(root.required)} is not of type 'array' of strings (at ${where}.required).`);
  }
}

/**
 * Strict mode (function `strict: true`, json_schema `strict: true`): the root is an object (not
 * anyOf); every object has `additionalProperties: false` and lists every property in `required`
 * (optional fields are a union with "null"); only the supported keywords and types; arrays have
 * `items`; `$ref`s resolve inside the schema.
 */
function checkStrictSchema(schema: unknown, where: string, owner: string): void {
  const code = where.startsWith('response_format') ? 'invalid_json_schema' : 'invalid_function_parameters';
  const fail = (path: readonly string[], message: string): never =>
    reject(
      where,
      `Invalid schema for ${owner}: In context=${contextLabel(path)}, ${message} (at ${fieldPath(where, path)}).`,
      code,
    );

  if (!isObj(schema))
    reject(
      where,
      `Invalid schema for ${owner}: schema must be a JSON Schema object, got ${kind(schema)} (at ${where}).`,
      code,
    );
  const root = schema;
  if (root.anyOf !== undefined && root.type === undefined) {
    reject(where, `Invalid schema for ${owner}: the root schema must be an object, not 'anyOf' (at ${where}).`, code);
  }
  if (root.type !== 'object') {
    reject(
      where,
      `Invalid schema for ${owner}: schema must be a JSON Schema of 'type: "object"', got 'type: ${show(root.type ?? 'None')}' (at ${where}.type).`,
      code,
    );
  }

  const defs = new Map<string, unknown>();
  for (const container of ['$defs', 'definitions'] as const) {
    if (root[container] === undefined) continue;
    if (!isObj(root[container])) fail([container], `'${container}' must be an object`);
    for (const [name, def] of Object.entries(root[container] as Obj)) defs.set(`#/${container}/${name}`, def);
  }

  const walk = (node: unknown, path: readonly string[]): void => {
    if (!isObj(node)) fail(path, `schema must be an object, got ${kind(node)}`);
    const schemaNode = node as Obj;
    for (const key of Object.keys(schemaNode)) {
      if (!STRICT_KEYWORDS.includes(key)) fail(path, `'${key}' is not permitted`);
    }
    if (path.length > 0 && (schemaNode.$defs !== undefined || schemaNode.definitions !== undefined)) {
      fail(path, "'$defs' is only supported at the root of the schema");
    }
    const hasShape = ['type', 'anyOf', '$ref', 'enum', 'const'].some((k) => schemaNode[k] !== undefined);
    if (!hasShape) fail(path, "schema must have a 'type' key");
    const types = schemaTypes(schemaNode, owner, where, path);

    if (schemaNode.description !== undefined && typeof schemaNode.description !== 'string')
      fail([...path, 'description'], "'description' must be a string");
    if (schemaNode.title !== undefined && typeof schemaNode.title !== 'string')
      fail([...path, 'title'], "'title' must be a string");

    if (types.includes('object') || schemaNode.properties !== undefined) {
      if (schemaNode.additionalProperties !== false)
        fail(path, "'additionalProperties' is required to be supplied and to be false");
      const properties = schemaNode.properties === undefined ? {} : schemaNode.properties;
      if (!isObj(properties)) fail([...path, 'properties'], "'properties' must be an object");
      const keys = Object.keys(properties as Obj);
      const required = schemaNode.required === undefined ? [] : schemaNode.required;
      if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) {
        fail(path, "'required' is required to be supplied and to be an array including every key in properties");
      }
      const requiredKeys = required as string[];
      const missing = keys.filter((k) => !requiredKeys.includes(k));
      if (missing.length > 0) {
        fail(
          path,
          `'required' is required to be supplied and to be an array including every key in properties. Missing '${missing[0] ?? ''}'`,
        );
      }
      const extra = requiredKeys.filter((k) => !keys.includes(k));
      if (extra.length > 0) fail(path, `Extra required key '${extra[0] ?? ''}' supplied`);
      for (const key of keys) walk((properties as Obj)[key], [...path, 'properties', key]);
    } else if (schemaNode.additionalProperties !== undefined && schemaNode.additionalProperties !== false) {
      fail(path, "'additionalProperties' must be false");
    }

    if (types.includes('array')) {
      if (schemaNode.items === undefined) fail(path, 'array schema missing items');
      walk(schemaNode.items, [...path, 'items']);
    } else if (schemaNode.items !== undefined) {
      walk(schemaNode.items, [...path, 'items']);
    }

    if (schemaNode.anyOf !== undefined) {
      if (!Array.isArray(schemaNode.anyOf) || schemaNode.anyOf.length === 0)
        fail([...path, 'anyOf'], "'anyOf' must be a non-empty array");
      (schemaNode.anyOf as unknown[]).forEach((branch, i) => walk(branch, [...path, 'anyOf', String(i)]));
    }
    if (schemaNode.enum !== undefined && (!Array.isArray(schemaNode.enum) || schemaNode.enum.length === 0)) {
      fail([...path, 'enum'], "'enum' must be a non-empty array");
    }
    if (schemaNode.$ref !== undefined) {
      if (typeof schemaNode.$ref !== 'string' || (schemaNode.$ref !== '#' && !defs.has(schemaNode.$ref))) {
        fail([...path, '$ref'], `reference ${show(schemaNode.$ref)} can't be resolved`);
      }
    }
  };

  walk(root, []);
  for (const [ref, def] of defs) walk(def, ref.slice(2).split('/'));
}

// -- messages -----------------------------------------------------------------------------------

function validateTextContent(content: unknown, param: string, partTypes: readonly string[] = ['text']): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) wrongType(param, 'a string or an array of content parts', content);
  needArray(content, param, 1).forEach((raw, i) => {
    const partParam = `${param}[${i}]`;
    const part = needObj(raw, partParam);
    const type = needOneOf(part.type, `${partParam}.type`, partTypes);
    switch (type) {
      case 'text':
        onlyKeys(part, partParam, ['type', 'text']);
        needString(part.text, `${partParam}.text`);
        break;
      case 'refusal':
        onlyKeys(part, partParam, ['type', 'refusal']);
        needString(part.refusal, `${partParam}.refusal`);
        break;
      case 'image_url': {
        onlyKeys(part, partParam, ['type', 'image_url']);
        const image = needObj(part.image_url, `${partParam}.image_url`);
        onlyKeys(image, `${partParam}.image_url`, ['url', 'detail']);
        needString(image.url, `${partParam}.image_url.url`);
        if (present(image, 'detail')) needOneOf(image.detail, `${partParam}.image_url.detail`, ['auto', 'low', 'high']);
        break;
      }
      case 'input_audio': {
        onlyKeys(part, partParam, ['type', 'input_audio']);
        const audio = needObj(part.input_audio, `${partParam}.input_audio`);
        onlyKeys(audio, `${partParam}.input_audio`, ['data', 'format']);
        needString(audio.data, `${partParam}.input_audio.data`);
        needOneOf(audio.format, `${partParam}.input_audio.format`, ['wav', 'mp3']);
        break;
      }
      case 'file': {
        onlyKeys(part, partParam, ['type', 'file']);
        const file = needObj(part.file, `${partParam}.file`);
        onlyKeys(file, `${partParam}.file`, ['file_id', 'file_data', 'filename']);
        if (!present(file, 'file_id') && !present(file, 'file_data')) {
          reject(
            `${partParam}.file`,
            `Invalid '${partParam}.file': one of 'file_id' or 'file_data' is required.`,
            'missing_required_parameter',
          );
        }
        break;
      }
      default:
        reject(`${partParam}.type`, `Invalid value for '${partParam}.type': ${show(type)}.`);
    }
  });
}

function requireContent(message: Obj, param: string): void {
  if (message.content === undefined || message.content === null) {
    reject(
      `${param}.content`,
      `Invalid value for '${param}.content': expected a string or an array of content parts, got ${kind(message.content ?? null)}.`,
      'missing_required_parameter',
    );
  }
}

interface OpenToolCalls {
  assistantIndex: number;
  /** id -> index in the assistant's tool_calls */
  ids: Map<string, number>;
  answered: Set<string>;
}

function unanswered(open: OpenToolCalls): never {
  const missing = [...open.ids].filter(([id]) => !open.answered.has(id));
  const where = missing.map(([id, k]) => `${id} (messages[${open.assistantIndex}].tool_calls[${k}].id)`).join(', ');
  reject(
    `messages[${open.assistantIndex}].tool_calls`,
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${where}`,
    'invalid_value',
  );
}

function validateMessages(messages: unknown[]): void {
  let open: OpenToolCalls | null = null;
  for (const [i, raw] of messages.entries()) {
    const param = `messages[${i}]`;
    const message = needObj(raw, param);
    if (message.role === undefined)
      reject(`${param}.role`, `Missing required parameter: '${param}.role'.`, 'missing_required_parameter');
    const role = needOneOf(message.role, `${param}.role`, ROLES);

    if (role !== 'tool') {
      if (open !== null && open.answered.size < open.ids.size) unanswered(open);
      open = null;
    }

    switch (role) {
      case 'system':
      case 'developer':
        onlyKeys(message, param, ['role', 'content', 'name']);
        if (present(message, 'name')) needString(message.name, `${param}.name`);
        requireContent(message, param);
        validateTextContent(message.content, `${param}.content`);
        break;
      case 'user':
        onlyKeys(message, param, ['role', 'content', 'name']);
        if (present(message, 'name')) needString(message.name, `${param}.name`);
        requireContent(message, param);
        validateTextContent(message.content, `${param}.content`, ['text', 'image_url', 'input_audio', 'file']);
        break;
      case 'assistant':
        open = validateAssistant(message, param, i);
        break;
      case 'tool': {
        onlyKeys(message, param, ['role', 'content', 'tool_call_id']);
        requireContent(message, param);
        validateTextContent(message.content, `${param}.content`);
        if (message.tool_call_id === undefined) {
          reject(
            `${param}.tool_call_id`,
            `Missing required parameter: '${param}.tool_call_id'.`,
            'missing_required_parameter',
          );
        }
        const id = needString(message.tool_call_id, `${param}.tool_call_id`);
        if (open === null) {
          reject(
            `${param}.role`,
            `Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls' (${param}.tool_call_id '${id}' has no assistant tool call before it).`,
          );
        }
        if (!open.ids.has(id)) {
          reject(
            `${param}.tool_call_id`,
            `Invalid '${param}.tool_call_id': '${id}' does not match any tool_call id of the preceding assistant message (messages[${open.assistantIndex}]: ${[...open.ids.keys()].join(', ')}).`,
          );
        }
        if (open.answered.has(id)) {
          reject(
            `${param}.tool_call_id`,
            `Invalid '${param}.tool_call_id': tool call '${id}' already has a response message.`,
          );
        }
        open.answered.add(id);
        break;
      }
    }
  }
  if (open !== null && open.answered.size < open.ids.size) unanswered(open);
}

function validateAssistant(message: Obj, param: string, index: number): OpenToolCalls | null {
  onlyKeys(message, param, ['role', 'content', 'name', 'tool_calls', 'refusal', 'audio', 'function_call']);
  if (present(message, 'name')) needString(message.name, `${param}.name`);
  if (present(message, 'refusal')) needString(message.refusal, `${param}.refusal`);
  if (present(message, 'content')) validateTextContent(message.content, `${param}.content`, ['text', 'refusal']);
  const hasCalls = present(message, 'tool_calls');
  if (!present(message, 'content') && !hasCalls && !present(message, 'function_call') && !present(message, 'audio')) {
    reject(
      `${param}.content`,
      `Invalid value for '${param}.content': expected a string, got null (an assistant message needs 'content' or 'tool_calls').`,
      'missing_required_parameter',
    );
  }
  if (!hasCalls) return null;
  const ids = new Map<string, number>();
  needArray(message.tool_calls, `${param}.tool_calls`, 1).forEach((raw, k) => {
    const callParam = `${param}.tool_calls[${k}]`;
    const call = needObj(raw, callParam);
    onlyKeys(call, callParam, ['id', 'type', 'function']);
    if (call.id === undefined)
      reject(`${callParam}.id`, `Missing required parameter: '${callParam}.id'.`, 'missing_required_parameter');
    const id = needString(call.id, `${callParam}.id`);
    if (id.length === 0) reject(`${callParam}.id`, `Invalid '${callParam}.id': empty string.`, 'empty_string');
    if (ids.has(id))
      reject(`${callParam}.id`, `Invalid '${callParam}.id': duplicate tool call id '${id}' in the same message.`);
    ids.set(id, k);
    if (call.type === undefined)
      reject(`${callParam}.type`, `Missing required parameter: '${callParam}.type'.`, 'missing_required_parameter');
    needOneOf(call.type, `${callParam}.type`, ['function']);
    if (call.function === undefined)
      reject(
        `${callParam}.function`,
        `Missing required parameter: '${callParam}.function'.`,
        'missing_required_parameter',
      );
    const fn = needObj(call.function, `${callParam}.function`);
    onlyKeys(fn, `${callParam}.function`, ['name', 'arguments']);
    needName(fn.name, `${callParam}.function.name`);
    if (fn.arguments === undefined) {
      reject(
        `${callParam}.function.arguments`,
        `Missing required parameter: '${callParam}.function.arguments'.`,
        'missing_required_parameter',
      );
    }
    needString(fn.arguments, `${callParam}.function.arguments`);
  });
  return { assistantIndex: index, ids, answered: new Set() };
}

// -- response_format ----------------------------------------------------------------------------

function mentionsJson(messages: unknown[]): boolean {
  const texts: string[] = [];
  for (const message of messages) {
    if (!isObj(message)) continue;
    if (typeof message.content === 'string') texts.push(message.content);
    if (Array.isArray(message.content)) {
      for (const part of message.content) if (isObj(part) && typeof part.text === 'string') texts.push(part.text);
    }
  }
  return texts.some((t) => /json/i.test(t));
}

function validateResponseFormat(body: Obj, messages: unknown[]): void {
  if (!present(body, 'response_format')) return;
  const format = needObj(body.response_format, 'response_format');
  const type = needOneOf(format.type, 'response_format.type', ['text', 'json_object', 'json_schema']);
  if (type !== 'json_schema') {
    onlyKeys(format, 'response_format', ['type']);
    if (type === 'json_object' && !mentionsJson(messages)) {
      reject(
        'messages',
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      );
    }
    return;
  }
  onlyKeys(format, 'response_format', ['type', 'json_schema']);
  if (format.json_schema === undefined) {
    reject(
      'response_format.json_schema',
      "Missing required parameter: 'response_format.json_schema'.",
      'missing_required_parameter',
    );
  }
  const spec = needObj(format.json_schema, 'response_format.json_schema');
  onlyKeys(spec, 'response_format.json_schema', ['name', 'description', 'schema', 'strict']);
  if (spec.name === undefined) {
    reject(
      'response_format.json_schema.name',
      "Missing required parameter: 'response_format.json_schema.name'.",
      'missing_required_parameter',
    );
  }
  const name = needName(spec.name, 'response_format.json_schema.name');
  if (present(spec, 'description')) needString(spec.description, 'response_format.json_schema.description');
  const strict = present(spec, 'strict') ? needBoolean(spec.strict, 'response_format.json_schema.strict') : false;
  if (!present(spec, 'schema')) {
    if (strict)
      reject(
        'response_format.json_schema.schema',
        "Missing required parameter: 'response_format.json_schema.schema' (required when strict is true).",
        'missing_required_parameter',
      );
    return;
  }
  if (strict) checkStrictSchema(spec.schema, 'response_format.json_schema.schema', `response_format '${name}'`);
  else needObj(spec.schema, 'response_format.json_schema.schema');
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(message: string, type: string, param: string | null, code: string | null): unknown {
  return { error: { message, type, param, code } };
}

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(key.length - 7, 40))}${key.slice(-4)}`;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function defaultErrorType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES)
      throw new Rejection('Request body too large for this test server.', null, 'request_too_large', 413);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeOpenAI(options?: { apiKey?: string }): Promise<FakeOpenAI> {
  const apiKey = options?.apiKey ?? 'sk-test-lockstep-fake-key';
  const scripts = new Map<string, ScriptedTurn[]>();
  const requests: ChatRequest[] = [];
  const violations: string[] = [];
  let toolCallCounter = 0;
  let completionCounter = 0;
  let requestCounter = 0;
  const created = Math.floor(Date.now() / 1000);

  const checkAuth = (req: IncomingMessage): void => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    const given = match?.[1]?.trim();
    if (given === undefined || given.length === 0) {
      throw new Rejection(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        null,
        'invalid_api_key',
        401,
      );
    }
    if (given !== apiKey) {
      throw new Rejection(
        `Incorrect API key provided: ${maskKey(given)}. You can find your API key in your provider's dashboard.`,
        null,
        'invalid_api_key',
        401,
      );
    }
  };

  const modelEntry = (id: string): unknown => ({ id, object: 'model', created, owned_by: 'lockstep-fake-openai' });

  const completion = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Rejection(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        null,
        null,
      );
    }
    const request = validateRequest(parsed);
    requests.push(request);

    const queue = scripts.get(request.model);
    if (queue === undefined) {
      throw new Rejection(
        `The model \`${request.model}\` does not exist or you do not have access to it (no script for it on this test server).`,
        'model',
        'model_not_found',
        404,
      );
    }
    const turn = queue.shift();
    if (turn === undefined) {
      throw new Rejection(
        `no scripted turn left for model ${request.model}`,
        null,
        'script_exhausted',
        500,
        'server_error',
        { 'x-should-retry': 'false' },
      );
    }

    let reply: ScriptedTurn['reply'];
    try {
      turn.expect?.(request);
      reply = turn.reply;
      for (let depth = 0; typeof reply === 'function'; depth += 1) {
        if (depth > 16) throw new Error('reply functions nested too deeply');
        reply = reply(request);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Rejection(
        `scripted turn for model ${request.model} failed: ${message}`,
        null,
        'script_expectation_failed',
        500,
        'server_error',
        {
          'x-should-retry': 'false',
        },
      );
    }

    if ('status' in reply) {
      sendInjectedError(res, reply, requestId);
      return;
    }
    sendCompletion(res, request, reply, turn.usage, requestId);
  };

  const sendInjectedError = (res: ServerResponse, reply: ErrorReply, requestId: string): void => {
    const body = errorBody(
      reply.error.message,
      reply.error.type ?? defaultErrorType(reply.status),
      null,
      reply.error.code ?? null,
    );
    sendJson(res, reply.status, body, { 'x-request-id': requestId, ...(reply.headers ?? {}) });
  };

  const sendCompletion = (
    res: ServerResponse,
    request: ChatRequest,
    reply: MessageReply,
    usage: ScriptedTurn['usage'],
    requestId: string,
  ): void => {
    const toolCalls = (reply.tool_calls ?? []).map((call) => {
      toolCallCounter += 1;
      return {
        id: call.id ?? `call_${toolCallCounter}`,
        type: 'function' as const,
        function: { name: call.name, arguments: call.arguments },
      };
    });
    const content = reply.content ?? null;
    const message: Obj = { role: 'assistant', content, refusal: null };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    const finishReason = reply.finish_reason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    const promptTokens =
      usage?.prompt_tokens ?? estimateTokens(JSON.stringify(request.messages) + JSON.stringify(request.tools ?? []));
    const completionTokens =
      usage?.completion_tokens ??
      estimateTokens((content ?? '') + toolCalls.map((c) => c.function.name + c.function.arguments).join(''));
    completionCounter += 1;
    sendJson(
      res,
      200,
      {
        id: `chatcmpl-fake${String(completionCounter).padStart(6, '0')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: request.model,
        choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      },
      { 'x-request-id': requestId },
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requestCounter += 1;
    const requestId = `req_fake${String(requestCounter).padStart(6, '0')}`;
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname.replace(/\/+$/, '');
    try {
      if (method === 'POST' && path === '/v1/chat/completions') {
        checkAuth(req);
        await completion(req, res, requestId);
        return;
      }
      if (method === 'GET' && path === '/v1/models') {
        checkAuth(req);
        sendJson(
          res,
          200,
          { object: 'list', data: [...scripts.keys()].map(modelEntry) },
          { 'x-request-id': requestId },
        );
        return;
      }
      const modelMatch = /^\/v1\/models\/([^/]+)$/.exec(path);
      if (method === 'GET' && modelMatch?.[1] !== undefined) {
        checkAuth(req);
        const id = decodeURIComponent(modelMatch[1]);
        if (!scripts.has(id)) throw new Rejection(`The model '${id}' does not exist`, 'model', 'model_not_found', 404);
        sendJson(res, 200, modelEntry(id), { 'x-request-id': requestId });
        return;
      }
      throw new Rejection(`Invalid URL (${method} ${path || '/'})`, null, null, 404);
    } catch (err) {
      const rejection =
        err instanceof Rejection
          ? err
          : new Rejection(
              `test server error: ${err instanceof Error ? err.message : String(err)}`,
              null,
              null,
              500,
              'server_error',
              { 'x-should-retry': 'false' },
            );
      violations.push(rejection.message);
      if (!res.headersSent) {
        // Drain what is left of the body so the client sees the answer, not a reset connection.
        req.resume();
        sendJson(res, rejection.status, errorBody(rejection.message, rejection.type, rejection.param, rejection.code), {
          'x-request-id': requestId,
          ...rejection.headers,
        });
      } else {
        res.end();
      }
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    violations,
    script(model: string, turns: ScriptedTurn[]): void {
      if (model.length === 0) throw new Error('script(): model name must not be empty');
      const queue = scripts.get(model) ?? [];
      queue.push(...turns);
      scripts.set(model, queue);
    },
    remaining(model: string): number {
      return scripts.get(model)?.length ?? 0;
    },
    close(): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
