/**
 * The layer rules: workflow code that imports side effects fails the lint (the determinism
 * guard), and so does any import against the direction docs/architecture.md draws.
 */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.ts';

const eslint = new ESLint({ cwd: projectRoot });
const workflowFile = join(projectRoot, 'workflows', 'pulls.ts');

async function ruleIds(code: string, filePath = workflowFile): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('workflow lint rules', () => {
  it('rejects Node built-ins and side-effect packages in workflows/', async () => {
    for (const source of [
      `import { readFileSync } from 'node:fs';`,
      `import Docker from 'dockerode';`,
      `import { z } from 'zod';`,
    ]) {
      const ids = await ruleIds(`${source}\nexport const x = 1;\n`);
      expect(ids).toContain('@typescript-eslint/no-restricted-imports');
    }
  });

  it('rejects value imports from activities/ but allows type imports', async () => {
    expect(
      await ruleIds(
        `import { createHostActivities } from '../activities/index.ts';\nexport const f = createHostActivities;\n`,
      ),
    ).toContain('@typescript-eslint/no-restricted-imports');
    expect(
      await ruleIds(`import type { HostActivities } from '../activities/index.ts';\nexport type H = HostActivities;\n`),
    ).not.toContain('@typescript-eslint/no-restricted-imports');
  });

  it('rejects process and setInterval in workflows/', async () => {
    expect(await ruleIds(`export const env = process.env;\n`)).toContain('no-restricted-globals');
  });
});

describe('layer rules', () => {
  const restricted = '@typescript-eslint/no-restricted-imports';
  const coreFile = join(projectRoot, 'core', 'order.ts');
  const activityFile = join(projectRoot, 'activities', 'errors.ts');

  it('keeps core/ free of I/O and of every other layer but config types', async () => {
    for (const source of [
      `import { readFileSync } from 'node:fs';\nexport const x = readFileSync;`,
      `import Docker from 'dockerode';\nexport const x = Docker;`,
      `import { createHostActivities } from '../activities/index.ts';\nexport const x = createHostActivities;`,
      `import type { changeWorkflow } from '../workflows/change.ts';\nexport type X = typeof changeWorkflow;`,
      `import { ReposConfig } from '../config/repos.ts';\nexport const x = ReposConfig;`,
    ]) {
      expect(await ruleIds(`${source}\n`, coreFile), source).toContain(restricted);
    }
    for (const source of [
      `import { createHash } from 'node:crypto';\nexport const x = createHash;`,
      `import type { ReposConfig } from '../config/repos.ts';\nexport type X = ReposConfig;`,
    ]) {
      expect(await ruleIds(`${source}\n`, coreFile), source).not.toContain(restricted);
    }
  });

  it('keeps activities/ off workflows/, even for types', async () => {
    expect(
      await ruleIds(
        `import { pullRequestsWorkflow } from '../workflows/pulls.ts';\nexport const x = pullRequestsWorkflow;\n`,
        activityFile,
      ),
    ).toContain(restricted);
    expect(
      await ruleIds(
        `import type { pullRequestsWorkflow } from '../workflows/pulls.ts';\nexport type X = typeof pullRequestsWorkflow;\n`,
        activityFile,
      ),
    ).toContain(restricted);
    expect(
      await ruleIds(
        `import { FATAL_ERROR_TYPES } from '../core/errors.ts';\nexport const x = FATAL_ERROR_TYPES;\n`,
        activityFile,
      ),
    ).not.toContain(restricted);
  });

  it('keeps cli/ and bench/ off activities/ (but the activity interfaces, as types): they go through client/', async () => {
    const cliFile = join(projectRoot, 'cli', 'main.ts');
    const benchFile = join(projectRoot, 'bench', 'run.ts');
    for (const [file, up] of [
      [cliFile, '..'],
      [join(projectRoot, 'cli', 'audit', 'egress.ts'), '../..'],
      [benchFile, '..'],
    ] as const) {
      for (const source of [
        `import { createSandbox } from '${up}/activities/sandbox/docker.ts';\nexport const x = createSandbox;`,
        `import type { CacheEntry } from '${up}/activities/sandbox/cache.ts';\nexport type X = CacheEntry;`,
        `import { createHostActivities } from '${up}/activities/index.ts';\nexport const x = createHostActivities;`,
        `import { pullRequestsWorkflow } from '${up}/workflows/pulls.ts';\nexport const x = pullRequestsWorkflow;`,
      ]) {
        expect(await ruleIds(`${source}\n`, file), `${file}: ${source}`).toContain(restricted);
      }
      for (const source of [
        `import { runChange } from '${up}/client/start.ts';\nexport const x = runChange;`,
        `import type { pullRequestsWorkflow } from '${up}/workflows/pulls.ts';\nexport type X = typeof pullRequestsWorkflow;`,
        // The activity interfaces, as types: the audit names what a history holds by them.
        `import type { HostActivities } from '${up}/activities/index.ts';\nexport type X = HostActivities;`,
      ]) {
        expect(await ruleIds(`${source}\n`, file), `${file}: ${source}`).not.toContain(restricted);
      }
    }
  });

  it("lets only client/machine/ use the activities' libraries, and keeps client/ off cli/ and bench/", async () => {
    const clientFile = join(projectRoot, 'client', 'start.ts');
    const machineFile = join(projectRoot, 'client', 'machine', 'caches.ts');
    expect(
      await ruleIds(
        `import { createSandbox } from '../activities/sandbox/docker.ts';\nexport const x = createSandbox;\n`,
        clientFile,
      ),
    ).toContain(restricted);
    expect(
      await ruleIds(
        `import { createSandbox } from '../../activities/sandbox/docker.ts';\nexport const x = createSandbox;\n`,
        machineFile,
      ),
    ).not.toContain(restricted);
    for (const [file, up] of [
      [clientFile, '..'],
      [machineFile, '../..'],
    ] as const) {
      expect(
        await ruleIds(`import { renderResult } from '${up}/cli/progress.ts';\nexport const x = renderResult;\n`, file),
      ).toContain(restricted);
      expect(
        await ruleIds(`import { runBaseline } from '${up}/bench/baseline.ts';\nexport const x = runBaseline;\n`, file),
      ).toContain(restricted);
      expect(
        await ruleIds(
          `import { changeWorkflow } from '${up}/workflows/change.ts';\nexport const x = changeWorkflow;\n`,
          file,
        ),
      ).toContain(restricted);
      expect(
        await ruleIds(
          `import type { changeWorkflow } from '${up}/workflows/change.ts';\nexport type X = typeof changeWorkflow;\n`,
          file,
        ),
      ).not.toContain(restricted);
    }
  });
});
