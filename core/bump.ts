/** Dependency bumps (docs/bumps.md): the change file's ask, what manifests say, each repo's outcome. */
import type { BumpEcosystem } from '../config/change.ts';

/** A change file's `bump`, and once resolved the one concrete version every repo gets. */
export interface BumpSpec {
  ecosystem: BumpEcosystem;
  package: string;
  /** As the change file says: a version, a range or query, or "latest". */
  to: string;
  /**
   * The concrete version `to` resolved to. Absent in a fresh run (the coordinator resolves it,
   * once); set by `resume` and `run --rerun` from the earlier run, so they never move to a
   * version published meanwhile.
   */
  version?: string;
}

/** A resolved bump, as the result and the memo record it. */
export interface ResolvedBump {
  ecosystem: BumpEcosystem;
  package: string;
  to: string;
  version: string;
}

/** One manifest (or lockfile) of a repo that declares the bumped package. */
export interface BumpManifest {
  /** Path in the repo. */
  path: string;
  /** The spec as written: "^2.1.3", "v1.60.0", "==2.31.0", ">=2"; for a lockfile, the locked version. */
  spec: string;
  /** npm: the package.json section; pip: "pin" when the line pins with ==, "compiled" when a sibling .in file is compiled with pip-compile. */
  kind: string;
}

/** What a repo's base branch says about the bumped package (read from the remote, no work tree). */
export interface RepoBumpManifests {
  repo: string;
  /** Whether any manifest declares the package. */
  declares: boolean;
  /** The version in use: the lockfile's (npm), go.mod's, or the pinned one (pip); null when only a range is declared. */
  current: string | null;
  manifests: BumpManifest[];
  /** Why it cannot be bumped as it is (declared, but in no form Lockstep can move), or null. */
  problem: string | null;
}

/** How a work tree declares the bumped package, as the guard around the agent's fix compares it. */
export type BumpDeclaration = Pick<RepoBumpManifests, 'declares' | 'current' | 'manifests'>;

export interface BumpDeclarationInput {
  workspace: string;
  ecosystem: BumpEcosystem;
  package: string;
  /** The manifests to read, relative to the workspace. */
  paths: string[];
}

/** A repo's bump in its result. */
export interface RepoBumpOutcome {
  package: string;
  version: string;
  from: string | null;
  /** `bumped`: moved (green); `already`: at the version; `not-declared`: the repo does not use the package. */
  outcome: 'bumped' | 'already' | 'not-declared' | 'failed';
}
