/**
 * Reading back what a change did to a test fleet: its remotes (git against the bare repos), its
 * result's repos and their setup, and a repo's egress log. Shared by the fleet e2e tests.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { RepoOutcome } from '../../core/repo.ts';
import type { StepOutcome } from '../../core/commands.ts';
import type { Harness } from './harness.ts';

const exec = promisify(execFile);

/** A text's non-empty lines, sorted (file lists from git). */
export const lines = (text: string): string[] => text.split('\n').filter(Boolean).sort();
export const repoOf = (result: ChangeResult, name: string): RepoOutcome | undefined =>
  result.repos.find((r) => r.repo === name);
export const setupOf = (repo: RepoOutcome | undefined): StepOutcome | undefined =>
  repo?.steps.find((s) => s.kind === 'setup');

/** git against a fleet repo's bare remote, and the JSON lines of a repo's egress log (none: []), for the harness `h()` names. */
export function fleetReaders(h: () => Harness): {
  git: (repo: string, ...args: string[]) => Promise<string>;
  egressLog: (changeId: string, repo: string) => Promise<EgressRecord[]>;
} {
  return {
    git: async (repo, ...args) => (await exec('git', ['--git-dir', h().fleet.remote(repo), ...args])).stdout,
    egressLog: async (changeId, repo) => {
      const text = await readFile(join(h().fleet.stateDir, 'logs', changeId, repo, 'egress.jsonl'), 'utf8').catch(
        () => '',
      );
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as EgressRecord);
    },
  };
}
