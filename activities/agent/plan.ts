/**
 * The coordinator's plan: asked for with a JSON schema (structured output), validated with zod
 * and against the change's repos; what does not validate goes back to the model with the errors.
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import type { ChangePlan, PlanInput, PlanTurnResult } from '../../core/agent.ts';
import { modelTokens } from '../../core/metrics.ts';
import { activityContext } from '../context.ts';
import { classifyModelError } from '../llm/client.ts';
import { PLANNER_SYSTEM_PROMPT, planRequestMessage } from './prompts.ts';

export const PlanSchema = z
  .object({
    summary: z.string().min(1).max(2000),
    repos: z
      .array(
        z
          .object({
            repo: z.string().min(1),
            task: z.string().min(1).max(10_000),
            files: z.array(z.string().min(1).max(300)).max(100),
            acceptance: z.string().min(1).max(2000),
          })
          .strict(),
      )
      .min(1),
    order: z.array(z.string().min(1)),
  })
  .strict();

/** Keywords strict structured outputs accept; zod's length limits are checked on the answer instead. */
const STRICT_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'description',
  'anyOf',
  'minItems',
  'maxItems',
]);

function strictSubset(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSubset);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!STRICT_KEYWORDS.has(key)) continue;
    out[key] =
      key === 'properties'
        ? Object.fromEntries(
            Object.entries(value as Record<string, unknown>).map(([name, schema]) => [name, strictSubset(schema)]),
          )
        : strictSubset(value);
  }
  return out;
}

/** The response format sent to the model: the zod schema as a strict JSON schema. */
export function planResponseFormat() {
  const schema = strictSubset(z.toJSONSchema(PlanSchema, { target: 'draft-7' })) as Record<string, unknown>;
  return { type: 'json_schema' as const, json_schema: { name: 'change_plan', strict: true, schema } };
}

/** Validates a model's answer; returns the plan or every problem found, for a re-ask. */
export function validatePlan(answer: string, repos: readonly string[]): { plan: ChangePlan | null; errors: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(answer);
  } catch (err) {
    return { plan: null, errors: [`the answer is not valid JSON: ${(err as Error).message}`] };
  }
  const parsed = PlanSchema.safeParse(json);
  if (!parsed.success) {
    return {
      plan: null,
      errors: parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
    };
  }
  const plan = parsed.data;
  const errors: string[] = [];
  const named = plan.repos.map((r) => r.repo);
  for (const repo of repos)
    if (!named.includes(repo)) errors.push(`repos: repository "${repo}" has no task; give every repository one`);
  for (const repo of new Set(named)) {
    if (!repos.includes(repo)) errors.push(`repos: "${repo}" is not one of ${repos.join(', ')}`);
    if (named.filter((n) => n === repo).length > 1) errors.push(`repos: "${repo}" is listed more than once`);
  }
  const order = [...plan.order].sort();
  if (order.join('\n') !== [...repos].sort().join('\n'))
    errors.push(`order: must list exactly these repositories once each: ${repos.join(', ')}`);
  plan.repos.forEach((r, i) =>
    r.files.forEach((f, j) => {
      if (f.startsWith('/') || f.split(/[\\/]/).includes('..'))
        errors.push(`repos.${i}.files.${j}: "${f}" must be a path inside the repository`);
    }),
  );
  return errors.length > 0 ? { plan: null, errors } : { plan, errors: [] };
}

export async function planTurn(openai: OpenAI, input: PlanInput): Promise<PlanTurnResult> {
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
    { role: 'system', content: PLANNER_SYSTEM_PROMPT },
    { role: 'user', content: planRequestMessage(input) },
  ];
  if (input.previous) {
    messages.push(
      { role: 'assistant', content: input.previous.answer },
      {
        role: 'user',
        content: `That plan does not validate:\n- ${input.previous.errors.join('\n- ')}\nAnswer again with a corrected plan.`,
      },
    );
  }
  let completion: OpenAI.Chat.Completions.ChatCompletion;
  try {
    completion = await openai.chat.completions.create(
      { model: input.model, messages, response_format: planResponseFormat() },
      { timeout: input.timeoutSeconds * 1000 },
    );
  } catch (err) {
    throw classifyModelError(err);
  }
  const meter = activityContext()?.metricMeter;
  if (meter)
    modelTokens(
      meter,
      completion.model,
      completion.usage?.prompt_tokens ?? 0,
      completion.usage?.completion_tokens ?? 0,
    );
  const answer = completion.choices[0]?.message.content ?? '';
  const { plan, errors } = validatePlan(
    answer,
    input.repos.map((r) => r.repo),
  );
  return {
    plan,
    errors,
    answer: answer.slice(0, 20_000),
    usage: { prompt: completion.usage?.prompt_tokens ?? 0, completion: completion.usage?.completion_tokens ?? 0 },
  };
}
