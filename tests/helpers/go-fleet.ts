/**
 * The gRPC fleet (tests/fixtures/grpc-fleet: greeter, a gRPC service, and gateway, its client,
 * both on google.golang.org/grpc and logrus from the Go module proxy) and what it needs on this
 * host: the example Go recipe (examples/images/go1.26) with the toolchain module's zip, and the
 * host of the Go module proxy this machine's go uses. The end-to-end tests and the bench share it.
 */
import { execFileSync } from 'node:child_process';
import { access, cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';
import { placeRecipe, preparedOnce, recipeDir } from './recipes.ts';

export const GO_RECIPE = 'go1.26';

/** Where the fleet config names the recipe (relative to the config's folder). */
export const GO_RECIPE_DIR = recipeDir(GO_RECIPE);

/** The Go version the recipe adds: examples/images/go1.26/toolchain.txt, which scripts/go-toolchain.sh reads too. */
export async function goToolchainVersion(): Promise<string> {
  return (await readFile(join(projectRoot, 'examples', 'images', GO_RECIPE, 'toolchain.txt'), 'utf8')).trim();
}

export const toolchainZipName = (version: string): string => `toolchain-go${version}.linux-amd64.zip`;

/**
 * The toolchain module's zip as the bootstrap keeps it in .tools/go-toolchain (`npm test` runs
 * `bootstrap.sh --tests`, which fetches it once); fetched here by the same script when missing.
 */
async function toolchainZip(version: string): Promise<string> {
  const zip = join(projectRoot, '.tools', 'go-toolchain', toolchainZipName(version));
  const present = await access(zip).then(
    () => true,
    () => false,
  );
  if (!present)
    execFileSync('bash', [join(projectRoot, 'scripts', 'go-toolchain.sh'), '--quiet'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  return zip;
}

/**
 * Puts the example Go recipe and the toolchain's zip into the fleet's folder, where its
 * repos.config.json names it. The build context is prepared once per toolchain version.
 */
export async function placeGoRecipe(fleetRoot: string): Promise<void> {
  const version = await goToolchainVersion();
  const name = toolchainZipName(version);
  const prepared = await preparedOnce(`go-recipe-${version}`, async (dir) =>
    cp(await toolchainZip(version), join(dir, name)),
  );
  await placeRecipe(fleetRoot, GO_RECIPE, prepared, [name]);
}

/** The host of the first Go module proxy in this machine's `go env GOPROXY`: read there, never written down. */
export function goProxyHost(): string {
  const goproxy = execFileSync('go', ['env', 'GOPROXY'], { encoding: 'utf8' }).trim();
  const first = goproxy.split(/[,|]/)[0] ?? '';
  if (!/^https?:\/\//.test(first))
    throw new Error(`go env GOPROXY is "${goproxy}": the Go fixtures need a module proxy URL first in it`);
  return new URL(first).hostname;
}
