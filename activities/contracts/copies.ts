/**
 * A consumer's copy of a provider's contract (a .proto, a schema) must say what the provider's
 * says. Formatting noise is not drift: line endings and trailing whitespace never count, and for
 * proto files neither do comments, indentation or blank lines.
 */
import type { ContractProblem } from './types.ts';

interface Line {
  /** 1-based line number in the original text. */
  number: number;
  text: string;
}

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

function significantLines(text: string, mode: 'proto' | 'text'): Line[] {
  const source = mode === 'proto' ? stripProtoComments(text) : text;
  const lines = source.split(/\r\n|\r|\n/).map((raw, i) => ({ number: i + 1, text: mode === 'proto' ? raw.trim().replace(/\s+/g, ' ') : raw.trimEnd() }));
  if (mode === 'proto') return lines.filter((l) => l.text !== '');
  while (lines.length > 0 && lines[lines.length - 1]?.text === '') lines.pop();
  return lines;
}

function quoteLine(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return JSON.stringify(shown);
}

/** One `mismatch` naming the first line where the consumer's copy differs, or none. */
export function compareContractCopies(providerText: string, consumerText: string, providerFile: string, consumerFile: string, mode: 'proto' | 'text'): ContractProblem[] {
  const provider = significantLines(providerText, mode);
  const consumer = significantLines(consumerText, mode);
  const length = Math.max(provider.length, consumer.length);
  for (let i = 0; i < length; i++) {
    const want = provider[i];
    const got = consumer[i];
    if (want !== undefined && got !== undefined && want.text === got.text) continue;
    const problem = (line: number, message: string): ContractProblem[] => [
      { kind: 'mismatch', rule: 'copy-drift', file: consumerFile, location: `L${line}`, message },
    ];
    if (want === undefined && got !== undefined) {
      return problem(got.number, `${consumerFile} line ${got.number} ${quoteLine(got.text)} is not in ${providerFile} (the copy has more than the provider's)`);
    }
    if (want !== undefined && got === undefined) {
      const last = consumer[consumer.length - 1]?.number ?? 0;
      return problem(last + 1, `${consumerFile} ends where ${providerFile} line ${want.number} has ${quoteLine(want.text)}`);
    }
    if (want !== undefined && got !== undefined) {
      return problem(got.number, `${consumerFile} line ${got.number} differs from ${providerFile} line ${want.number}: expected ${quoteLine(want.text)}, found ${quoteLine(got.text)}`);
    }
  }
  return [];
}
