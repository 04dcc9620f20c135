/** The JSON Schema of repos.config.json, generated from the zod schema (editors use it via $schema). */
import { z } from 'zod';
import { ReposConfig } from './repos.ts';

export function reposConfigJsonSchema(): object {
  return {
    ...z.toJSONSchema(ReposConfig, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://lockstep.invalid/schemas/repos.config.schema.json',
    title: 'Lockstep fleet configuration (repos.config.json)',
  };
}
