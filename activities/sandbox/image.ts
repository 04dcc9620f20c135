/**
 * Images Lockstep builds from a repo's recipe (`sandbox.build`): tagged by a content hash of the
 * Dockerfile and its context, so an unchanged recipe is never built twice on an engine and a
 * changed one never reuses a stale image. The build's output goes to a log file and, line by
 * line, to the caller (the CLI shows it as progress).
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export interface ImageRecipe {
  /** Absolute path of the Dockerfile, inside `context`. */
  dockerfile: string;
  /** Absolute path of the build context. */
  context: string;
}

/** Files of the context that go into the build (and the hash): all but version-control folders. */
async function contextFiles(context: string, dir = context): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await contextFiles(context, path)));
    else if (entry.isFile() || entry.isSymbolicLink()) files.push(relative(context, path).split(sep).join('/'));
  }
  return files.sort();
}

/** The image's tag: `lockstep-build:<first 16 hex of the recipe's hash>` (repos with one recipe share it). */
export async function recipeTag(recipe: ImageRecipe): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`dockerfile\0${relative(recipe.context, recipe.dockerfile)}\0`);
  for (const file of await contextFiles(recipe.context)) {
    const path = join(recipe.context, file);
    hash.update(`${file}\0${(await stat(path)).mode & 0o111 ? 'x' : '-'}\0`);
    hash.update(await readFile(path));
    hash.update('\0');
  }
  return `lockstep-build:${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Builds `tag` from the recipe unless the engine has it. RUN steps get the host's network
 * (`networkmode: host`, as `docker build --network host`): with the engine's bridge off there is
 * no other, and a recipe that downloads a toolchain needs one. Returns whether it built.
 */
export async function ensureImage(
  docker: Docker,
  tag: string,
  recipe: ImageRecipe,
  logFile: string,
  progress: (line: string) => void,
): Promise<'reused' | 'built'> {
  const present = await docker
    .getImage(tag)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (present) return 'reused';
  await mkdir(join(logFile, '..'), { recursive: true });
  const log = createWriteStream(logFile);
  try {
    const stream = await docker.buildImage(
      { context: recipe.context, src: await contextFiles(recipe.context) },
      {
        t: tag,
        dockerfile: relative(recipe.context, recipe.dockerfile).split(sep).join('/'),
        networkmode: 'host',
        rm: true,
        forcerm: true,
      },
    );
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
          const text = event.error ?? event.errorDetail?.message ?? event.stream ?? '';
          if (!text) return;
          log.write(text.endsWith('\n') ? text : `${text}\n`);
          for (const line of text.split('\n')) if (line.trim()) progress(line.trimEnd());
          if (event.error) reject(new Error(`building ${tag} failed: ${event.error.trim()} (log: ${logFile})`));
        },
      );
    });
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
  return 'built';
}
