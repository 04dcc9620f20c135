/** The determinism guard: workflow code that imports side effects must fail the lint. */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.ts';

const eslint = new ESLint({ cwd: projectRoot });
const workflowFile = join(projectRoot, 'workflows', 'order.ts');

async function ruleIds(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: workflowFile });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('workflow lint rules', () => {
  it('rejects Node built-ins and side-effect packages in workflows/', async () => {
    for (const source of [`import { readFileSync } from 'node:fs';`, `import Docker from 'dockerode';`, `import { z } from 'zod';`]) {
      const ids = await ruleIds(`${source}\nexport const x = 1;\n`);
      expect(ids).toContain('@typescript-eslint/no-restricted-imports');
    }
  });

  it('rejects value imports from activities/ but allows type imports', async () => {
    expect(await ruleIds(`import { createHostActivities } from '../activities/index.ts';\nexport const f = createHostActivities;\n`)).toContain(
      '@typescript-eslint/no-restricted-imports',
    );
    expect(await ruleIds(`import type { HostActivities } from '../activities/index.ts';\nexport type H = HostActivities;\n`)).not.toContain(
      '@typescript-eslint/no-restricted-imports',
    );
  });

  it('rejects process and setInterval in workflows/', async () => {
    expect(await ruleIds(`export const env = process.env;\n`)).toContain('no-restricted-globals');
  });
});
