/**
 * An agent's conversation, kept on the worker's host beside the workspace instead of in workflow
 * history: one file per turn (`turn-0003.json`), one per tool result, one per extra user message.
 * Every write is keyed by turn and call id, so a retried activity overwrites its own file and
 * never adds a message twice.
 */
import type { ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const pad = (n: number): string => String(n).padStart(4, '0');
const safe = (id: string): string => id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);

export interface FunctionCall {
  id: string;
  name: string;
  arguments: string;
}

export class Transcript {
  constructor(readonly dir: string) {}

  static at(stateDir: string, changeId: string, repo: string, attempt: number): Transcript {
    return new Transcript(join(stateDir, 'agent', changeId, repo, `attempt-${attempt}`));
  }

  async writeTurn(turn: number, messages: ChatCompletionMessageParam[]): Promise<void> {
    await this.write(`turn-${pad(turn)}.json`, messages);
  }

  async writeToolResult(turn: number, callId: string, content: string): Promise<void> {
    await this.write(`turn-${pad(turn)}.tool-${safe(callId)}.json`, [{ role: 'tool', tool_call_id: callId, content }]);
  }

  async writeUserMessage(turn: number, text: string): Promise<void> {
    await this.write(`turn-${pad(turn)}.user.json`, [{ role: 'user', content: text }]);
  }

  /** The function calls the assistant made in `turn`. */
  async calls(turn: number): Promise<FunctionCall[]> {
    const messages = await this.read(`turn-${pad(turn)}.json`);
    return messages.flatMap((m) => (m.role === 'assistant' ? functionCalls(m.tool_calls ?? []) : []));
  }

  /**
   * The conversation before model turn `beforeTurn`: each turn's messages, then the result of
   * each of its tool calls in call order, then any extra user message. A call whose result is
   * missing (its tool never ran) gets a result saying so, as the API requires an answer to
   * every call.
   */
  async messages(beforeTurn: number): Promise<ChatCompletionMessageParam[]> {
    const names = new Set(await readdir(this.dir).catch(() => [] as string[]));
    const out: ChatCompletionMessageParam[] = [];
    for (let turn = 0; turn < beforeTurn; turn++) {
      const file = `turn-${pad(turn)}.json`;
      if (!names.has(file)) continue;
      const messages = await this.read(file);
      out.push(...messages);
      for (const m of messages) {
        if (m.role !== 'assistant') continue;
        for (const call of functionCalls(m.tool_calls ?? [])) {
          const result = `turn-${pad(turn)}.tool-${safe(call.id)}.json`;
          if (names.has(result)) out.push(...(await this.read(result)));
          else out.push({ role: 'tool', tool_call_id: call.id, content: 'This tool call was not executed.' });
        }
      }
      const user = `turn-${pad(turn)}.user.json`;
      if (names.has(user)) out.push(...(await this.read(user)));
    }
    return out;
  }

  private async read(name: string): Promise<ChatCompletionMessageParam[]> {
    return JSON.parse(await readFile(join(this.dir, name), 'utf8')) as ChatCompletionMessageParam[];
  }

  private async write(name: string, messages: ChatCompletionMessageParam[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, name);
    await writeFile(`${path}.tmp`, JSON.stringify(messages));
    await rename(`${path}.tmp`, path);
  }
}

function functionCalls(
  calls:
    | readonly ChatCompletionMessageToolCall[]
    | readonly { id: string; type: string; function?: { name: string; arguments: string } }[],
): FunctionCall[] {
  return calls.flatMap((c) =>
    c.type === 'function' && 'function' in c && c.function
      ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }]
      : [],
  );
}
