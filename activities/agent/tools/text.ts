/** Caps and clipping: how much of any text the model reads back, and the one-line summaries for history. */
import { quote } from './boundary.ts';

/** The most the model reads back from one call. */
export const MODEL_OUTPUT_CHARS = 12_000;
export const SUMMARY_CHARS = 200;

export function takeHead(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf('\n', max);
  return text.slice(0, cut > max / 2 ? cut : max);
}

export function takeTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const from = text.length - max;
  const cut = text.indexOf('\n', from);
  return text.slice(cut !== -1 && cut < from + max / 2 ? cut + 1 : from);
}

/** The final guard on what the model reads. */
export function capped(text: string): string {
  if (text.length <= MODEL_OUTPUT_CHARS) return text;
  const note = `\n[… cut at ${MODEL_OUTPUT_CHARS} characters]`;
  return text.slice(0, MODEL_OUTPUT_CHARS - note.length) + note;
}

/** One line, control characters blanked, at most `max` characters. */
export function clip(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

export function showPath(path: string): string {
  return /^[\w./@+-]+$/.test(path) ? clip(path, 120) : clip(quote(path), 120);
}

export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
