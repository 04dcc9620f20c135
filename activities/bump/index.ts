/**
 * The coordinator's bump activities (shared queue): resolve the change's `to` once, and read
 * what each target repo's base branch declares. Both use the worker's own tools and settings.
 * On a repo's host: what its work tree declares, for the guard around the agent's fix.
 */
import { resolve, sep } from 'node:path';
import type { BumpEcosystem } from '../../config/change.ts';
import { inLanes } from '../../core/lanes.ts';
import type {
  BumpDeclaration,
  BumpDeclarationInput,
  BumpSpec,
  RepoBumpManifests,
  ResolvedBump,
} from '../../core/bump.ts';
import { fatal } from '../errors.ts';
import type { GitCredentials } from '../git/workspace.ts';
import { baseManifests } from './manifests.ts';
import { BumpResolveError, resolveBumpVersion } from './resolve.ts';
import { workspaceDeclaration } from './workspace.ts';

export interface BumpDeps {
  /** The worker's environment: its npm, go and pip read their registries and CA settings from it. */
  workerEnv: NodeJS.ProcessEnv;
  gitCredentials?: GitCredentials;
  /** Heartbeats while a long read runs (outside an activity: none). */
  whileAlive: <T>(work: () => Promise<T>) => Promise<T>;
}

export interface BumpManifestsInput {
  bump: { ecosystem: BumpEcosystem; package: string };
  repos: { repo: string; url: string; baseBranch: string }[];
}

export function createBumpActivities(deps: BumpDeps) {
  return {
    /** `to` as one concrete version; a name or range the registry does not know is fatal (retrying cannot help). */
    async resolveBump(input: BumpSpec): Promise<ResolvedBump> {
      try {
        return await deps.whileAlive(() => resolveBumpVersion(input, deps.workerEnv));
      } catch (err) {
        if (err instanceof BumpResolveError) throw fatal('InvalidInput', err.message);
        throw err;
      }
    },

    /** What each repo's base branch declares, two remotes at a time. */
    async bumpManifests(input: BumpManifestsInput): Promise<RepoBumpManifests[]> {
      return deps.whileAlive(() => inLanes(input.repos, 2, (r) => baseManifests(r, input.bump, deps.gitCredentials)));
    },
  };
}

/** The bump's activities on a repo's host: what its work tree declares now. */
export function createBumpHostActivities(deps: { workspacesRoot: string }) {
  return {
    async bumpDeclaration(input: BumpDeclarationInput): Promise<BumpDeclaration> {
      if (!resolve(input.workspace).startsWith(resolve(deps.workspacesRoot) + sep))
        throw fatal('InvalidInput', `refusing to read ${input.workspace}: not a Lockstep workspace`);
      return workspaceDeclaration(input.workspace, input.ecosystem, input.package, input.paths);
    },
  };
}
