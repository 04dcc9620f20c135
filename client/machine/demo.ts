/**
 * The bundled demo fleet: each service under examples/fleet becomes its own git repository
 * with a bare remote under the state folder (once; later runs reuse them).
 */
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { git } from '../../activities/git/workspace.ts';
import { projectRoot } from '../../config/paths.ts';

export const demoFleetDir = join(projectRoot, 'examples', 'fleet');
export const demoChangeFile = join(projectRoot, 'examples', 'changes', 'price-cents.yaml');
export const demoConfigFile = join(projectRoot, 'repos.config.json');

export async function seedDemoRemotes(
  stateDir: string,
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  return seedRemotes(demoFleetDir, stateDir, log);
}

/**
 * Each folder of `fleetDir` becomes a bare remote `<stateDir>/remotes/<name>.git` whose main
 * holds exactly that folder. A remote seeded by an earlier version of the fleet gets one more
 * commit on main with the folder as it is now; its change branches and pull requests stay.
 */
export async function seedRemotes(
  fleetDir: string,
  stateDir: string,
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  const remotes = join(stateDir, 'remotes');
  const services = (await readdir(fleetDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  const created: string[] = [];
  for (const name of services.sort()) {
    const remote = join(remotes, `${name}.git`);
    const exists = await stat(join(remote, 'HEAD')).then(
      () => true,
      () => false,
    );
    const work = await mkdtemp(join(tmpdir(), `lockstep-seed-${name}-`));
    try {
      await cp(join(fleetDir, name), work, { recursive: true });
      const repo = git(work);
      await repo.raw(['init', '--quiet', '--initial-branch', 'main']);
      await repo.raw(['add', '--all']);
      if (!exists) {
        await repo.raw(['commit', '--quiet', '--no-verify', '-m', `Initial import of the ${name} service`]);
        await rm(remote, { recursive: true, force: true });
        await git(undefined).raw(['clone', '--quiet', '--bare', '--no-hardlinks', work, remote]);
        created.push(name);
        log(`seeded demo remote ${name} (${remote})`);
        continue;
      }
      const tree = (await repo.raw(['write-tree'])).trim();
      await repo.raw(['fetch', '--quiet', '--no-tags', remote, 'refs/heads/main']);
      const main = (await repo.revparse(['FETCH_HEAD'])).trim();
      if ((await repo.revparse([`${main}^{tree}`])).trim() === tree) continue;
      const commit = (
        await repo.raw(['commit-tree', tree, '-p', main, '-m', `Update the ${name} service to the bundled demo fleet`])
      ).trim();
      await repo.raw(['push', '--quiet', remote, `${commit}:refs/heads/main`]);
      created.push(name);
      log(`updated demo remote ${name}: the bundled fleet changed since it was seeded`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return created;
}

/**
 * The demo's fleet config for remotes seeded into `stateDir`. The bundled file names them
 * relative to itself (`.lockstep/remotes/…` beside the clone's root); any other state folder
 * (an installed package run from a working folder) gets a copy in that folder naming its own.
 */
export async function demoConfigFor(stateDir: string): Promise<string> {
  if (resolve(stateDir) === resolve(dirname(demoConfigFile), '.lockstep')) return demoConfigFile;
  const config = JSON.parse(await readFile(demoConfigFile, 'utf8')) as { $schema?: string; repos: { url: string }[] };
  delete config.$schema;
  for (const repo of config.repos) repo.url = resolve(stateDir, relative('.lockstep', repo.url));
  const file = join(stateDir, 'demo.config.json');
  await mkdir(stateDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}
