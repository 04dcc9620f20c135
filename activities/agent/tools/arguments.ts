/** The model's arguments for a tool, checked against its spec before the tool sees them. */
import { quote } from './boundary.ts';
import { TOOL_SPECS, type ArgsOf, type ToolName, type ToolSpec } from './spec.ts';
import { clip } from './text.ts';

/** Checks arguments against the tool's spec; returns them, or a message naming every problem. */
export function parseArguments<N extends ToolName>(name: N, raw: string): ArgsOf<N> | string {
  const spec: ToolSpec = TOOL_SPECS[name];
  const usage = `Call it with a JSON object like ${JSON.stringify(spec.example)}.`;
  let value: unknown;
  // Some models send nothing at all for a tool without parameters.
  if (raw.trim() === '') value = {};
  else {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return `the arguments of ${name} are not valid JSON (${clip(reason, 120)}). ${usage}`;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `the arguments of ${name} must be a JSON object, not ${describe(value)}. ${usage}`;
  }
  const args = value as Record<string, unknown>;
  const problems: string[] = [];
  const known = Object.keys(spec.params);
  for (const key of Object.keys(args)) {
    // Own keys only: `in` would take "constructor" or "__proto__" for parameters of every tool.
    if (!Object.hasOwn(spec.params, key)) {
      problems.push(
        `unknown argument ${quote(clip(key, 60))} (${name} takes ${known.length ? known.join(', ') : 'no arguments'})`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(spec.params)) {
    const v = args[key];
    const wanted = p.type === 'integer' ? 'an integer' : 'a string';
    if (v === undefined || v === null) {
      // Lenient with omitted optional arguments: not every endpoint enforces strict schemas.
      if (p.nullable) out[key] = null;
      else problems.push(`missing required argument ${quote(key)} (${wanted}: ${p.description})`);
      continue;
    }
    const fits = p.type === 'integer' ? typeof v === 'number' && Number.isSafeInteger(v) : typeof v === 'string';
    if (!fits) {
      problems.push(`argument ${quote(key)} must be ${wanted}${p.nullable ? ' or null' : ''}, not ${describe(v)}`);
      continue;
    }
    out[key] = v;
  }
  if (problems.length > 0) return `invalid arguments for ${name}: ${problems.join('; ')}. ${usage}`;
  // Every parameter of TOOL_SPECS[name] was checked above, and nothing else was kept.
  return out as ArgsOf<N>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${quote(clip(value, 40))})`;
  if (typeof value === 'number')
    return Number.isInteger(value) ? `the number ${value}` : `a fractional number (${value})`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
