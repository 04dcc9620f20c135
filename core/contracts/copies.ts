/**
 * A consumer's copy of a provider's .proto, read the way buf compares it: what matters is what
 * the copy declares (messages, fields by number, enums), never its comments, formatting, order
 * or file options. Here: the imports a copy needs beside it, and a buf finding turned into a
 * problem that names the declaration in both files and says what to do. Pure: no I/O.
 */
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { ContractProblem } from './types.ts';

/** Removes // and /* *\/ comments, keeping string literals and line structure intact. */
export function stripProtoComments(text: string): string {
  let out = '';
  let inBlock = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    const next = text[i + 1] ?? '';
    if (inBlock) {
      if (c === '*' && next === '/') {
        inBlock = false;
        i++;
      } else if (c === '\n') out += c;
      continue;
    }
    if (quote !== null) {
      out += c;
      if (c === '\\' && next !== '') {
        out += next;
        i++;
      } else if (c === quote || c === '\n') quote = null;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      out += c;
    } else if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      if (i < text.length) out += '\n';
    } else if (c === '/' && next === '*') {
      inBlock = true;
      i++;
    } else out += c;
  }
  return out;
}

/** The files a .proto imports, except the well-known types that buf carries itself. */
export function protoImports(text: string): string[] {
  const found: string[] = [];
  for (const m of stripProtoComments(text).matchAll(/\bimport\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/g)) {
    const path = m[1] ?? '';
    if (!path.startsWith('google/protobuf/') && !found.includes(path)) found.push(path);
  }
  return found;
}

const lastSegment = (name: string): string => name.split('.').pop() ?? name;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The 1-based line where `kind name {` opens in the proto, and the line where it closes. */
function block(
  lines: string[],
  kind: string,
  name: string,
  from = 0,
  to = lines.length,
): { start: number; end: number } | null {
  const open = new RegExp(`\\b${kind}\\s+${escape(lastSegment(name))}\\s*\\{`);
  for (let i = from; i < to; i++) {
    if (!open.test(lines[i] ?? '')) continue;
    let depth = 0;
    for (let j = i; j < to; j++) {
      for (const ch of lines[j] ?? '') {
        if (ch === '{') depth++;
        else if (ch === '}') depth--;
      }
      if (depth <= 0) return { start: i, end: j };
    }
    return { start: i, end: to - 1 };
  }
  return null;
}

/**
 * The line of the copy that declares what a buf message is about: the field (by its number)
 * or enum value inside its message or enum, else the message, enum or service itself.
 */
export function locateInProto(text: string, bufMessage: string): number | null {
  const lines = stripProtoComments(text).split(/\r\n|\r|\n/);
  const quoted = (word: string) => new RegExp(`\\b${word}\\s+"([^"]+)"`, 'i').exec(bufMessage)?.[1];
  const field = quoted('field');
  const value = quoted('enum value');
  const message = quoted('message');
  const enumName = quoted('enum');
  const service = quoted('service');
  const container =
    message !== undefined
      ? block(lines, 'message', message)
      : enumName !== undefined
        ? block(lines, 'enum', enumName)
        : service !== undefined
          ? block(lines, 'service', service)
          : null;
  const number = field ?? value;
  if (container && number !== undefined && /^\d+$/.test(number)) {
    const declares = new RegExp(`=\\s*${number}\\b`);
    // Only the container's own declarations: a nested message has numbers of its own, while a
    // oneof's fields belong to the message around it.
    const open: boolean[] = [];
    for (let i = container.start; i <= container.end; i++) {
      const line = lines[i] ?? '';
      if (i > container.start && open.filter(Boolean).length === 1 && declares.test(line)) return i + 1;
      for (const [at, ch] of [...line].entries()) {
        if (ch === '{') open.push(!/\boneof\s+\w+\s*$/.test(line.slice(0, at)));
        else if (ch === '}') open.pop();
      }
    }
  }
  if (container) return container.start + 1;
  return null;
}

export interface CopyFinding {
  rule: string;
  /** buf's location in the provider's file: `file:line:column`. */
  location: string;
  message: string;
}

/** A file of a copy's layout: its text, and where it came from (a path in the consumer's repository, or `<provider>:<path>`). */
export interface LaidOut {
  text: string;
  from: string;
}

/**
 * One buf finding against a consumer's copy, in the words of the .proto, with both places and
 * the fix. buf names the provider's file; the consumer's place is the declaration in whichever
 * laid-out file holds it (a message may live in a file the copy imports).
 */
export function copyProblem(
  finding: CopyFinding,
  files: ReadonlyMap<string, LaidOut>,
  where: { provider: string; consumer: string; copy: string },
): ContractProblem {
  let at: { file: string; line: number } | null = null;
  for (const file of files.values()) {
    const line = locateInProto(file.text, finding.message);
    if (line !== null) {
      at = { file: file.from, line };
      break;
    }
  }
  const copyAt = at === null ? where.copy : `${at.file}:${at.line}`;
  return {
    kind: 'mismatch',
    rule: finding.rule,
    file: at?.file ?? where.copy,
    location: at === null ? '' : `L${at.line}`,
    message:
      `${where.consumer}'s copy ${copyAt} no longer fits ${where.provider}'s ${finding.location}: ${finding.message} ` +
      `To fix: keep what the copy declares in ${where.provider} (a removed field keeps its number and name reserved), ` +
      `or change the copy in ${where.consumer} (and the code that reads it) in this change.`,
  };
}

/** Reads a file of a repository at the revision being checked; null when it is not there. */
export type ProtoReader = (path: string) => Promise<string | null>;

/** A copy's imports are followed this far; a contract is a handful of files. */
const MAX_LAYOUT_FILES = 64;

export type CopyLayout =
  | { ok: true; files: Map<string, LaidOut> }
  /** An import found nowhere (`beside` is where it was looked for), or one that leaves the module (`beside` empty). */
  | { ok: false; from: string; imported: string; beside: string };

/**
 * The files buf needs as the copy's baseline, by the paths the provider's module uses: the copy
 * at the provider's path, and what it imports (transitively). An import is taken from beside the
 * importing file in the consumer's repository, else from that path in the consumer's repository,
 * else the provider's own file (the copy then only relies on it, as the provider has it).
 */
export async function copyLayout(
  copy: { text: string; path: string },
  providerPath: string,
  read: { consumer: ProtoReader; provider: ProtoReader },
  provider = 'provider',
): Promise<CopyLayout> {
  const files = new Map<string, LaidOut>([[providerPath, { text: copy.text, from: copy.path }]]);
  const pending: { text: string; from: string }[] = [{ text: copy.text, from: copy.path }];
  for (let next = pending.shift(); next !== undefined && files.size < MAX_LAYOUT_FILES; next = pending.shift()) {
    for (const imported of protoImports(next.text)) {
      if (files.has(imported)) continue;
      // The layout is written to disk under these paths: none may leave its folder.
      if (isAbsolute(imported) || normalize(imported).split('/').includes('..'))
        return { ok: false, from: next.from, imported, beside: '' };
      const beside = normalize(join(dirname(next.from), imported));
      const candidates: [ProtoReader, string, boolean][] = [
        [read.consumer, beside, true],
        [read.consumer, imported, true],
        [read.provider, imported, false],
      ];
      let found: LaidOut | null = null;
      for (const [reader, path, inConsumer] of candidates) {
        if (path.startsWith('..')) continue;
        const text = await reader(path);
        if (text !== null) {
          found = { text, from: inConsumer ? path : `${provider}:${imported}` };
          pending.push({ text, from: inConsumer ? path : imported });
          break;
        }
      }
      if (found === null) return { ok: false, from: next.from, imported, beside };
      files.set(imported, found);
    }
  }
  return { ok: true, files };
}
