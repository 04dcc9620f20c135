/** The strict fake OpenAI server, exercised through the real `openai` client. */
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './openai-server.ts';

let fake: FakeOpenAI;
let client: OpenAI;

beforeEach(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ baseURL: fake.baseURL, apiKey: fake.apiKey, maxRetries: 0 });
});

afterEach(async () => {
  await fake.close();
});

const readFileTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'read_file',
    description: 'Read a file from the repository.',
    strict: true,
    parameters: {
      type: 'object',
      properties: {
        path: { type: 'string', description: 'Path relative to the repository root.' },
        range: {
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              properties: { start: { type: 'integer' }, end: { type: 'integer' } },
              required: ['start', 'end'],
              additionalProperties: false,
            },
          ],
        },
      },
      required: ['path', 'range'],
      additionalProperties: false,
    },
  },
};

/** Sends a body the client's types would not allow, to check the server refuses it. */
function unchecked(body: unknown): ChatCompletionCreateParamsNonStreaming {
  return body as ChatCompletionCreateParamsNonStreaming;
}

/** The call must fail with a 400 the client maps to BadRequestError, naming `field`; nothing is consumed. */
async function expectBadRequest(call: Promise<unknown>, field: string, also?: string): Promise<void> {
  const err: unknown = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  const message = (err as InstanceType<typeof OpenAI.BadRequestError>).message;
  expect(message).toContain(field);
  if (also !== undefined) expect(message).toContain(also);
  expect(fake.violations.some((v) => v.includes(field))).toBe(true);
  expect(fake.requests).toHaveLength(0);
}

describe('scripted turns through the real openai client', () => {
  it('round-trips a tool call, then accepts the tool result in the next turn', async () => {
    fake.script('agent-model', [
      { reply: { tool_calls: [{ name: 'read_file', arguments: '{"path":"README.md","range":null}' }] } },
      {
        expect: (request) => {
          const last = request.messages.at(-1);
          if (last?.role !== 'tool' || last.tool_call_id !== 'call_1')
            throw new Error('expected the tool result for call_1 last');
        },
        reply: { content: 'The README explains the project.' },
        usage: { prompt_tokens: 42, completion_tokens: 7 },
      },
    ]);

    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a careful agent.' },
      { role: 'user', content: 'Summarise the README.' },
    ];
    const first = await client.chat.completions.create({
      model: 'agent-model',
      messages,
      tools: [readFileTool],
      tool_choice: 'auto',
    });
    expect(first.object).toBe('chat.completion');
    expect(first.id).toMatch(/^chatcmpl-/);
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.id).toBe('call_1');
    expect(call.function.name).toBe('read_file');
    expect(JSON.parse(call.function.arguments)).toEqual({ path: 'README.md', range: null });
    expect(first.usage?.total_tokens).toBe((first.usage?.prompt_tokens ?? 0) + (first.usage?.completion_tokens ?? 0));

    if (choice === undefined) throw new Error('no choice');
    messages.push(choice.message, {
      role: 'tool',
      tool_call_id: call.id,
      content: '# Lockstep\nOne change across many repositories.',
    });
    const second = await client.chat.completions.create({ model: 'agent-model', messages, tools: [readFileTool] });
    expect(second.choices[0]?.message.content).toBe('The README explains the project.');
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.usage).toEqual({ prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 });

    expect(fake.violations).toEqual([]);
    expect(fake.remaining('agent-model')).toBe(0);
    expect(fake.requests).toHaveLength(2);
  });

  it('records every accepted request body in order', async () => {
    fake.script('m', [
      { reply: { content: 'one' } },
      { reply: (request) => ({ content: `echo: ${String(request.messages.length)}` }) },
    ]);
    await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'first' }],
      temperature: 0,
    });
    const second = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: 'second' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe('echo: 2');
    expect(fake.requests.map((r) => r.messages.at(-1)?.content)).toEqual(['first', 'second']);
    expect(fake.requests[0]).toEqual({ model: 'm', messages: [{ role: 'user', content: 'first' }], temperature: 0 });
    expect(JSON.stringify(fake.requests)).not.toContain(fake.apiKey);
  });

  it('accepts strict json_schema output with $defs/$ref and json_object when the prompt says JSON', async () => {
    fake.script('m', [{ reply: { content: '{"ok":true,"items":[]}' } }, { reply: { content: '{"a":1}' } }]);
    await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'Plan the change.' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'plan',
          strict: true,
          schema: {
            type: 'object',
            properties: { ok: { type: 'boolean' }, items: { type: 'array', items: { $ref: '#/$defs/item' } } },
            required: ['ok', 'items'],
            additionalProperties: false,
            $defs: {
              item: {
                type: 'object',
                properties: { repo: { type: ['string', 'null'] } },
                required: ['repo'],
                additionalProperties: false,
              },
            },
          },
        },
      },
    });
    await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'Answer in Json.' }],
      response_format: { type: 'json_object' },
    });
    expect(fake.violations).toEqual([]);
    expect(fake.requests).toHaveLength(2);
  });

  it('fails the request with a 500 and a violation when a turn expectation throws', async () => {
    fake.script('m', [
      {
        expect: (request) => {
          if (request.tools === undefined) throw new Error('tools were not sent');
        },
        reply: { content: 'unreachable' },
      },
    ]);
    const err: unknown = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as Error).message).toContain('tools were not sent');
    expect(fake.violations).toEqual([expect.stringContaining('tools were not sent')]);
  });

  it('lists the scripted models on GET /v1/models', async () => {
    fake.script('alpha', [{ reply: { content: 'a' } }]);
    fake.script('beta', []);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['alpha', 'beta']);
  });
});

describe('strict validation: 400s the client surfaces as BadRequestError', () => {
  beforeEach(() => {
    fake.script('m', [{ reply: { content: 'should never be served' } }]);
  });
  afterEach(() => {
    // A rejected request never consumes a scripted turn.
    expect(fake.remaining('m')).toBe(1);
  });

  it('rejects an unknown role', async () => {
    const call = client.chat.completions.create(
      unchecked({ model: 'm', messages: [{ role: 'robot', content: 'beep' }] }),
    );
    await expectBadRequest(call, 'messages[0].role', "Invalid value for 'messages[0].role'");
  });

  it('rejects a tool message whose tool_call_id matches no preceding tool call', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_zzz', content: 'result' },
      ],
    });
    await expectBadRequest(call, 'messages[2].tool_call_id', 'call_zzz');
  });

  it('rejects a tool message with no assistant tool call before it', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'go' },
        { role: 'tool', tool_call_id: 'call_a', content: 'result' },
      ],
    });
    await expectBadRequest(
      call,
      'messages[1]',
      "messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
    );
  });

  it('rejects an assistant tool call left unanswered before the next message', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{}' } },
            { id: 'call_b', type: 'function', function: { name: 'read_file', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'a' },
        { role: 'user', content: 'and?' },
      ],
    });
    await expectBadRequest(
      call,
      'messages[1].tool_calls[1].id',
      "must be followed by tool messages responding to each 'tool_call_id'",
    );
    // Also when the conversation simply ends after the tool calls.
    const ending = client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: 'calling',
          tool_calls: [{ id: 'call_c', type: 'function', function: { name: 'read_file', arguments: '{}' } }],
        },
      ],
    });
    await expectBadRequest(ending, 'messages[1].tool_calls[0].id', 'call_c');
  });

  it('rejects a strict tool schema without additionalProperties: false', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'go' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'edit',
            strict: true,
            parameters: {
              type: 'object',
              properties: { change: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } },
              required: ['change'],
              additionalProperties: false,
            },
          },
        },
      ],
    });
    await expectBadRequest(
      call,
      'tools[0].function.parameters.properties.change',
      "'additionalProperties' is required to be supplied and to be false",
    );
  });

  it('rejects a strict schema with a property missing from required', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'go' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'edit',
            strict: true,
            parameters: {
              type: 'object',
              properties: { path: { type: 'string' }, note: { type: 'string' } },
              required: ['path'],
              additionalProperties: false,
            },
          },
        },
      ],
    });
    await expectBadRequest(call, 'tools[0].function.parameters', "Missing 'note'");
  });

  it('rejects a strict response_format schema using an unsupported keyword', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'go' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'out',
          strict: true,
          schema: {
            type: 'object',
            properties: { n: { type: 'integer', default: 1 } },
            required: ['n'],
            additionalProperties: false,
          },
        },
      },
    });
    await expectBadRequest(call, 'response_format.json_schema.schema.properties.n', "'default' is not permitted");
  });

  it('rejects json_object when no message mentions json', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'Give me data.' }],
      response_format: { type: 'json_object' },
    });
    await expectBadRequest(call, "'messages' must contain the word 'json'");
  });

  it('rejects a tool_choice naming an undeclared tool', async () => {
    const call = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'go' }],
      tools: [readFileTool],
      tool_choice: { type: 'function', function: { name: 'write_file' } },
    });
    await expectBadRequest(call, 'tool_choice.function.name', 'write_file');
  });

  it('rejects duplicate tool names and names outside the allowed pattern', async () => {
    await expectBadRequest(
      client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'go' }],
        tools: [readFileTool, readFileTool],
      }),
      'tools[1].function.name',
      'duplicate',
    );
    await expectBadRequest(
      client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'go' }],
        tools: [{ type: 'function', function: { name: 'read file', parameters: { type: 'object', properties: {} } } }],
      }),
      'tools[0].function.name',
      'does not match pattern',
    );
  });

  it('rejects unknown top-level fields and streaming', async () => {
    await expectBadRequest(
      client.chat.completions.create(unchecked({ model: 'm', messages: [{ role: 'user', content: 'go' }], top_k: 3 })),
      'Unrecognized request argument supplied: top_k',
    );
    await expectBadRequest(
      client.chat.completions.create(
        unchecked({ model: 'm', messages: [{ role: 'user', content: 'go' }], stream: true }),
      ),
      'streaming is not supported by this test server',
    );
  });

  it('rejects an empty messages array and an assistant message with neither content nor tool_calls', async () => {
    await expectBadRequest(
      client.chat.completions.create({ model: 'm', messages: [] }),
      "Invalid 'messages': empty array",
    );
    await expectBadRequest(
      client.chat.completions.create(
        unchecked({ model: 'm', messages: [{ role: 'user', content: 'go' }, { role: 'assistant' }] }),
      ),
      'messages[1].content',
    );
  });
});

describe('errors', () => {
  it('answers 401 invalid_api_key to a wrong key', async () => {
    fake.script('m', [{ reply: { content: 'no' } }]);
    const wrong = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-wrong-key-123456', maxRetries: 0 });
    const err: unknown = await wrong.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect(fake.requests).toHaveLength(0);
    expect(fake.remaining('m')).toBe(1);
  });

  it('serves an injected 429 with retry-after: 0, and the client retries at once and succeeds', async () => {
    fake.script('m', [
      {
        reply: {
          status: 429,
          error: { message: 'Rate limit reached for requests', code: 'rate_limit_exceeded' },
          headers: { 'retry-after': '0', 'x-request-id': 'req_429' },
        },
      },
      { reply: { content: 'after the retry' } },
    ]);
    const retrying = new OpenAI({ baseURL: fake.baseURL, apiKey: fake.apiKey, maxRetries: 1 });
    const started = Date.now();
    const result = await retrying.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(result.choices[0]?.message.content).toBe('after the retry');
    // Without retry-after the client's own backoff waits at least 375 ms.
    expect(Date.now() - started).toBeLessThan(350);
    expect(fake.requests).toHaveLength(2);
    expect(fake.violations).toEqual([]);
  });

  it('surfaces an injected 429 as RateLimitError with its headers when retries are off', async () => {
    fake.script('m', [
      {
        reply: {
          status: 429,
          error: { message: 'slow down', code: 'rate_limit_exceeded' },
          headers: { 'retry-after': '0', 'x-request-id': 'req_429' },
        },
      },
    ]);
    const err: unknown = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.code).toBe('rate_limit_exceeded');
    expect(rateLimit.requestID).toBe('req_429');
  });

  it('fails, and records a violation, when the script runs out', async () => {
    fake.script('m', [{ reply: { content: 'only one' } }]);
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'one' }] });
    const err: unknown = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'two' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as Error).message).toContain('no scripted turn left for model m');
    expect(fake.violations).toEqual(['no scripted turn left for model m']);
  });

  it('answers 404 model_not_found for a model that was never scripted, and 404 for unknown paths', async () => {
    const err: unknown = await client.chat.completions
      .create({ model: 'nobody', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');

    const res = await fetch(`${fake.baseURL}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}` },
      body: '{}',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'Invalid URL (POST /v1/embeddings)', type: 'invalid_request_error', param: null, code: null },
    });
    expect(fake.violations).toHaveLength(2);
  });
});
