/**
 * The CLI's side of a bump change, read on this machine before anything starts: which repos it
 * targets (those whose base branch declares the package, when the change file names none) and
 * the dry run. The version an earlier run of the change resolved (for `resume` and
 * `run --rerun`) is read from Temporal (client/queries.ts).
 */
import { baseManifests } from '../../activities/bump/manifests.ts';
import { BumpResolveError, resolveBumpVersion } from '../../activities/bump/resolve.ts';
import { gitCredentials } from '../../activities/forges/git-credentials.ts';
import type { Change } from '../../config/change.ts';
import { egressIssues, InputError, type LoadedConfig } from '../../config/load.ts';
import { inLanes } from '../../core/lanes.ts';
import type { BumpSpec, RepoBumpManifests, ResolvedBump } from '../../core/bump.ts';

/** What each repo's base branch declares (every fleet repo when `names` is null). */
export async function fleetManifests(
  loaded: LoadedConfig,
  bump: NonNullable<Change['bump']>,
  names: string[] | null,
): Promise<RepoBumpManifests[]> {
  const credentials = gitCredentials([loaded.config.forge], process.env);
  const repos = loaded.config.repos.filter((r) => names === null || names.includes(r.name));
  return inLanes(repos, 2, (r) =>
    baseManifests({ repo: r.name, url: r.url, baseBranch: r.baseBranch }, bump, credentials),
  );
}

/**
 * The change with its targets: as given (manifests null: not read), or, for a bump that names
 * none, every fleet repo whose manifests declare the package (none: bad input, nothing starts).
 */
export async function withBumpTargets(
  loaded: LoadedConfig,
  change: Change,
  changeFile: string,
): Promise<{ change: Change; manifests: RepoBumpManifests[] | null }> {
  // Named targets need no reading here: the coordinator reads their manifests once, durably.
  if (!change.bump || change.repos.length > 0) return { change, manifests: null };
  const manifests = await fleetManifests(loaded, change.bump, null);
  const declaring = manifests.filter((m) => m.declares);
  if (declaring.length === 0) {
    throw new InputError([
      {
        file: changeFile,
        path: 'bump.package',
        message: `no repo of the fleet (${loaded.config.repos.map((r) => r.name).join(', ')}) declares ${change.bump.ecosystem} package "${change.bump.package}" on its base branch`,
        fix: 'check the package name and ecosystem, or list the repos under "repos"',
      },
    ]);
  }
  const targeted: Change = { ...change, repos: declaring.map((m) => ({ name: m.repo })) };
  const refused = egressIssues(changeFile, targeted, loaded);
  if (refused.length > 0) throw new InputError(refused);
  return { change: targeted, manifests: declaring };
}

/** `to` resolved now, with this machine's tools; a name or range the registry does not know is bad input naming the field. */
export async function resolveForCli(bump: BumpSpec, changeFile: string): Promise<ResolvedBump> {
  try {
    return await resolveBumpVersion(bump);
  } catch (err) {
    if (err instanceof BumpResolveError)
      throw new InputError([
        {
          file: changeFile,
          path: err.field,
          message: err.message.slice(err.field.length + 2),
          fix:
            err.field === 'bump.package'
              ? 'use the name the registry publishes it under'
              : 'use a version, range or query the package has',
        },
      ]);
    throw err;
  }
}

export interface DryRun {
  bump: ResolvedBump;
  repos: { repo: string; declares: boolean; current: string | null; manifests: string[]; action: string }[];
}

/** What a bump change would do, without starting anything. */
export async function dryRunBump(loaded: LoadedConfig, change: Change, changeFile: string): Promise<DryRun> {
  if (!change.bump)
    throw new InputError([
      {
        file: changeFile,
        path: 'bump',
        message: '--dry-run lists the targets of a bump change; this change has no "bump"',
        fix: 'add "bump", or run without --dry-run',
      },
    ]);
  const targets = await withBumpTargets(loaded, change, changeFile);
  const manifests =
    targets.manifests ??
    (await fleetManifests(
      loaded,
      change.bump,
      change.repos.map((t) => t.name),
    ));
  const bump = await resolveForCli(
    { ecosystem: change.bump.ecosystem, package: change.bump.package, to: change.bump.to },
    changeFile,
  );
  return {
    bump,
    repos: manifests.map((m) => ({
      repo: m.repo,
      declares: m.declares,
      current: m.current,
      manifests: [...new Set(m.manifests.map((x) => x.path))],
      action: !m.declares
        ? 'unchanged: does not declare the package'
        : m.problem
          ? `fails: ${m.problem}`
          : m.current === bump.version
            ? 'unchanged: already at the version'
            : `bump ${m.current ?? m.manifests[0]?.spec ?? '?'} → ${bump.version}`,
    })),
  };
}
