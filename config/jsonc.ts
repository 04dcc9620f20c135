/**
 * JSON with comments (`//` to the end of the line, `/* … *\/`), as `lockstep init` writes
 * repos.config.json: the comments explain each detected setting where it stands. Anything else
 * is strict JSON (no trailing commas, no single quotes), and a syntax error names its line and
 * column.
 */

export class JsoncSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'JsoncSyntaxError';
  }
}

/** The text with every comment replaced by spaces (line breaks kept), so positions still hold. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) throw syntaxAt(text, i, 'a /* comment is never closed with */');
      out += text.slice(i, close + 2).replace(/[^\n]/g, ' ');
      i = close + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Index just past the string that opens at `start` (or the end of the text when it never closes). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, text.length);
}

function syntaxAt(text: string, index: number, message: string): JsoncSyntaxError {
  const before = text.slice(0, index).split('\n');
  return new JsoncSyntaxError(message, before.length, (before.at(-1)?.length ?? 0) + 1);
}

/** Parses JSON with comments; a syntax error is a JsoncSyntaxError with its line and column. */
export function parseJsonc(text: string): unknown {
  const plain = stripComments(text);
  try {
    return JSON.parse(plain) as unknown;
  } catch {
    // JSON.parse names no position for some errors; the scanner finds the first one.
    const error = firstSyntaxError(plain);
    throw syntaxAt(plain, error.index, error.message);
  }
}

/** Where the scanner stopped, and why. */
class Found extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** Walks the (comment-free) text as JSON's grammar and returns where it first goes wrong. */
function firstSyntaxError(text: string): Found {
  let i = 0;
  const fail = (message: string): never => {
    throw new Found(i, message);
  };
  const shown = (): string => (i < text.length ? JSON.stringify(text[i]) : 'the end of the file');
  const space = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const string = (): void => {
    if (text[i] !== '"') fail(`expected a string in double quotes, found ${shown()}`);
    const end = stringEnd(text, i);
    if (text[end - 1] !== '"' || end - 1 === i) fail('a string is not closed on its line');
    i = end;
  };
  /** The items of an object or array after its opening bracket, up to and past `close`. */
  const items = (close: '}' | ']', item: () => void): void => {
    i++;
    space();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      space();
      if (text[i] === close) return void i++;
      if (text[i] !== ',') fail(`expected "," or "${close}" after a value, found ${shown()}`);
      const comma = i++;
      space();
      if (text[i] === close) {
        i = comma;
        fail(`a trailing comma before "${close}" (remove it)`);
      }
    }
  };
  const member = (): void => {
    space();
    string();
    space();
    if (text[i] !== ':') fail(`expected ":" after the field name, found ${shown()}`);
    i++;
    value();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') return items('}', member);
    if (c === '[') return items(']', value);
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!literal) fail(`expected a value, found ${shown()}`);
    i += literal?.[0].length ?? 0;
  };
  try {
    value();
    space();
    if (i < text.length) fail(`unexpected ${shown()} after the end of the document`);
    // JSON.parse refused what the scanner accepts (a bad escape, a control character in a string).
    return new Found(0, 'invalid JSON (a string holds a bad escape or control character)');
  } catch (found) {
    if (found instanceof Found) return found;
    throw found;
  }
}

/** A value of a JSONC document with where it stands in the text (`end` is exclusive). */
export interface JsoncNode {
  start: number;
  end: number;
  /** An object's members in order, each with its key and value. */
  members?: { key: string; value: JsoncNode }[];
  /** An array's items in order. */
  items?: JsoncNode[];
}

/**
 * Where each value of a JSONC document stands, so that a writer can replace or insert a value
 * and keep every comment and all formatting around it. Throws a JsoncSyntaxError as parseJsonc.
 */
export function parseJsoncTree(text: string): JsoncNode {
  parseJsonc(text);
  const plain = stripComments(text);
  let i = 0;
  const space = (): void => {
    while (/\s/.test(plain[i] ?? '')) i++;
  };
  const value = (): JsoncNode => {
    space();
    const start = i;
    const c = plain[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      const members: { key: string; value: JsoncNode }[] = [];
      const items: JsoncNode[] = [];
      i++;
      space();
      while (plain[i] !== close) {
        if (close === '}') {
          const end = stringEnd(plain, i);
          const key = JSON.parse(plain.slice(i, end)) as string;
          i = end;
          space();
          i++; // ':'
          members.push({ key, value: value() });
        } else {
          items.push(value());
        }
        space();
        if (plain[i] === ',') i++;
        space();
      }
      i++;
      return close === '}' ? { start, end: i, members } : { start, end: i, items };
    }
    if (c === '"') i = stringEnd(plain, i);
    else i += /^(?:true|false|null|-?[0-9.eE+-]+)/.exec(plain.slice(i))?.[0].length ?? 1;
    return { start, end: i };
  };
  return value();
}

/**
 * Replaces `[start, end)` of `text` with `text` for each edit, in one pass (edits must not
 * overlap; an insertion, `start === end`, at the end of a replaced range goes after it).
 */
export function applyEdits(text: string, edits: { start: number; end: number; text: string }[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const e of [...edits].sort((a, b) => a.start - b.start || b.end - b.start - (a.end - a.start))) {
    parts.push(text.slice(at, e.start), e.text);
    at = Math.max(at, e.end);
  }
  parts.push(text.slice(at));
  return parts.join('');
}
