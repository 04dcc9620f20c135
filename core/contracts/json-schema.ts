/**
 * Breaking changes between two versions of a JSON Schema describing an event payload. Events
 * outlive the code that wrote them (queues, logs, replays), so a change breaks when a payload
 * valid under the base is refused by the head, or when a property readers use disappears.
 * The rules are listed in docs/contracts.md.
 */
import { compareSchemas } from './schema.ts';
import { isObject, pointer } from './pointer.ts';
import type { ContractProblem } from './types.ts';

function notSchema(document: unknown, file: string, which: string): ContractProblem | null {
  if (isObject(document) || typeof document === 'boolean') return null;
  return {
    kind: 'invalid',
    rule: 'not-json-schema',
    file,
    location: '',
    message: `${file} (${which}): a JSON Schema must be an object or a boolean`,
  };
}

export function diffJsonSchema(base: unknown, head: unknown, file: string): ContractProblem[] {
  const refused = [notSchema(base, file, 'base'), notSchema(head, file, 'head')].filter(
    (p): p is ContractProblem => p !== null,
  );
  if (refused.length > 0) return refused;
  return compareSchemas({ side: 'event', baseRoot: base, headRoot: head, prefix: file }, base, head).map((f) => ({
    kind: f.kind,
    rule: f.rule,
    file,
    location: pointer(f.segments),
    message: f.message,
    ...(f.kind === 'breaking'
      ? {
          handle: {
            operation: '',
            side: 'response' as const,
            field: f.field ?? '',
            ...(f.before === undefined ? {} : { before: f.before }),
            ...(f.after === undefined ? {} : { after: f.after }),
          },
        }
      : {}),
  }));
}
