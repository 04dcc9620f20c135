/** A steps-mode repo task as the CLI builds one, for runs that hand the coordinator its input directly (the workflows-only bench, workflow tests). */
import { SandboxConfig } from '../config/repos.ts';
import { changeBranch } from '../core/ids.ts';
import type { RepoTask } from '../core/repo.ts';

export function stepsTask(repo: string, extra: Partial<RepoTask> = {}): RepoTask {
  return {
    repo,
    url: `/remotes/${repo}.git`,
    baseBranch: 'main',
    branch: changeBranch('x'),
    sandbox: SandboxConfig.parse({ test: 'run-tests' }),
    mode: 'steps',
    steps: [{ name: 'edit', run: 'true' }],
    instructions: null,
    expectedFiles: [],
    acceptance: null,
    provides: [],
    consumes: [],
    contractPaths: [],
    ...extra,
  };
}
