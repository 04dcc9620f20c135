/**
 * An evaluation suite: tasks on a fleet, each a change for the agents plus hidden checks that
 * run on the result, and reference steps that solve it (to prove the checks can pass, and
 * that they fail on the untouched base).
 */
import { z } from 'zod';
import { ChangeId, ChangeStep } from './change.ts';
import { Name } from './repos.ts';

export const EvalCheck = z
  .object({
    repo: Name,
    /** Run with `bash -c` in the repo's sandbox on the task's branch; exit 0 = the task is done. */
    command: z.string().min(1),
  })
  .strict();

export const EvalTask = z
  .object({
    id: ChangeId,
    title: z.string().min(1).max(200),
    description: z.string().min(1),
    repos: z
      .array(z.object({ name: Name, instructions: z.string().min(1).optional() }).strict())
      .min(1, 'name at least one target repository'),
    /** Per repo, steps that solve the task (used by `lockstep eval --reference`). */
    reference: z.record(Name, z.array(ChangeStep).min(1)),
    checks: z.array(EvalCheck).min(1, 'give at least one hidden check'),
  })
  .strict();
export type EvalTask = z.infer<typeof EvalTask>;

export const EvalSuite = z
  .object({
    name: ChangeId,
    description: z.string().default(''),
    tasks: z.array(EvalTask).min(1),
  })
  .strict();
export type EvalSuite = z.infer<typeof EvalSuite>;
