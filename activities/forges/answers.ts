/**
 * A forge's answer, checked against the schema of the fields Lockstep reads before any of them is
 * used: a field missing or of another type is named at once, instead of surfacing later as an
 * `undefined` in a PR record or a crash far from the request.
 */
import type { z } from 'zod';

export type ForgeName = 'GitHub' | 'GitLab' | 'Gitea';

/** An answer without the fields Lockstep reads: the same request gets the same answer, so no retry helps. */
export class ForgeAnswerMalformed extends Error {
  constructor(
    readonly forge: ForgeName,
    /** The endpoint as the forge's API documentation names it, e.g. `GET /repos/{owner}/{repo}/pulls`. */
    readonly endpoint: string,
    /** Dot-path of the first field that does not fit (`[2].head.sha`); empty for the answer as a whole. */
    readonly field: string,
    problem: string,
  ) {
    super(
      `${forge}'s answer to ${endpoint} does not fit what Lockstep reads: ${field ? `field ${field}` : 'the answer'}: ${problem} ` +
        `(check that forge.baseUrl in repos.config.json is the ${forge} API)`,
    );
  }
}

function dotPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

/** `answer` as `schema` reads it, or ForgeAnswerMalformed naming the forge, the endpoint and the field. */
export function parseAnswer<T>(schema: z.ZodType<T>, answer: unknown, forge: ForgeName, endpoint: string): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ForgeAnswerMalformed(forge, endpoint, dotPath(issue?.path ?? []), issue?.message ?? 'does not fit');
}
