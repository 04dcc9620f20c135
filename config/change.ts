/**
 * A change file (YAML or JSON): one change across several repositories. In steps mode each
 * target repo lists the commands that make its part of the change, run inside its sandbox.
 */
import { z } from 'zod';
import { Name } from './repos.ts';

export const ChangeId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use 1-63 lowercase letters, digits or "-", starting with a letter or digit');

export const ChangeStep = z
  .object({
    name: z.string().min(1).max(120),
    /** Run with `bash -c` in the repository's sandbox, in the workspace root. */
    run: z.string().min(1),
    timeoutSeconds: z.number().int().positive().max(86_400).optional(),
  })
  .strict();
export type ChangeStep = z.infer<typeof ChangeStep>;

/**
 * One target repo. Three ways to say what to do, per repo:
 * - `steps`: commands to run (no model at all);
 * - `instructions`: plain-language task for the repo's coding agent (no planning call);
 * - neither: the coordinator model plans this repo's task from the change's description.
 */
export const ChangeTarget = z
  .object({
    name: Name,
    steps: z.array(ChangeStep).min(1, 'give at least one step').optional(),
    instructions: z.string().min(1).max(20_000).optional(),
  })
  .strict()
  .refine((t) => !(t.steps && t.instructions), { message: 'give either "steps" or "instructions", not both', path: ['instructions'] });
export type ChangeTarget = z.infer<typeof ChangeTarget>;

/**
 * Network beyond setup that this change asks for; every target repo's fleet config must grant
 * it (`sandbox.egress.steps`, `sandbox.egress.agent`), or the change is refused before it starts.
 */
export const ChangeEgress = z
  .object({
    /** The steps may reach the hosts `sandbox.egress.steps` allows, with its methods. */
    steps: z.boolean().default(false),
    /** The agent's commands may reach the hosts `sandbox.egress.agent` allows, with its methods. */
    agent: z.boolean().default(false),
  })
  .strict();
export type ChangeEgress = z.infer<typeof ChangeEgress>;

export const Change = z
  .object({
    id: ChangeId,
    title: z.string().min(1).max(200),
    description: z.string().default(''),
    repos: z.array(ChangeTarget).min(1, 'name at least one target repository'),
    egress: ChangeEgress.optional(),
  })
  .strict();
export type Change = z.infer<typeof Change>;

/**
 * The egress phases a change needs from every target repo's fleet config: the one place that
 * decides it (what the change file asks, and whatever else a change's content implies).
 */
export function requiredEgress(change: Pick<Change, 'egress'>): { steps: boolean; agent: boolean } {
  return { steps: change.egress?.steps ?? false, agent: change.egress?.agent ?? false };
}
