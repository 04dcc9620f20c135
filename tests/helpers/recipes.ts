/**
 * The example image recipes (examples/images/<name>) as the test fleets use them: what a recipe
 * adds beside its Dockerfile (tarballs, a toolchain's zip) is fetched once per checkout by the
 * registries' own clients into .lockstep/test-cache, then copied next to the Dockerfile in a
 * fleet's `images/<name>/`, where its repos.config.json names it. Same files, same tag: the
 * image is built once per engine, then reused.
 */
import { access, cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.ts';

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * The folder `.lockstep/test-cache/<name>`, filled by `fill` the first time it is asked for:
 * filled aside and renamed into place, so a run that died half-way leaves nothing that looks done.
 */
export async function preparedOnce(name: string, fill: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(projectRoot, '.lockstep', 'test-cache', name);
  if (await exists(join(dir, 'done'))) return dir;
  const part = `${dir}.part-${process.pid}`;
  await rm(part, { recursive: true, force: true });
  await mkdir(part, { recursive: true });
  await fill(part);
  await writeFile(join(part, 'done'), '');
  await rm(dir, { recursive: true, force: true });
  await rename(part, dir);
  return dir;
}

/** Where a fleet config names a recipe (relative to the config's folder). */
export const recipeDir = (recipe: string): string => join('images', recipe);

/**
 * Puts the example recipe `recipe` (its Dockerfile) and `files` from the prepared folder into
 * `<fleetRoot>/images/<recipe>/`.
 */
export async function placeRecipe(
  fleetRoot: string,
  recipe: string,
  prepared: string,
  files: readonly string[],
): Promise<void> {
  const target = join(fleetRoot, recipeDir(recipe));
  await mkdir(target, { recursive: true });
  await cp(join(projectRoot, 'examples', 'images', recipe, 'Dockerfile'), join(target, 'Dockerfile'));
  for (const file of files) await cp(join(prepared, file), join(target, file));
}
