/** `lockstep run` builds the images of `sandbox.build` recipes its change needs, before it starts. */
import Docker from 'dockerode';
import { dirname, join } from 'node:path';
import { ensureImage } from '../../activities/sandbox/image.ts';
import type { SandboxConfig } from '../../config/repos.ts';

/** Builds each recipe image the engine lacks (once per tag), with its output as progress; returns the tags built. */
export async function buildRecipeImages(
  sandboxes: readonly SandboxConfig[],
  stateDir: string,
  log: (line: string) => void,
  docker = new Docker(),
): Promise<string[]> {
  const built: string[] = [];
  const seen = new Set<string>();
  for (const sandbox of sandboxes) {
    if (!sandbox.build || seen.has(sandbox.image)) continue;
    seen.add(sandbox.image);
    const logFile = join(stateDir, 'logs', 'builds', `${sandbox.image.replace(/[^A-Za-z0-9._-]+/g, '-')}.log`);
    const outcome = await ensureImage(
      docker,
      sandbox.image,
      { dockerfile: sandbox.build.dockerfile, context: sandbox.build.context ?? dirname(sandbox.build.dockerfile) },
      logFile,
      (line) => log(`build ${sandbox.image}: ${line}`),
    );
    if (outcome === 'built') {
      log(`built ${sandbox.image} from ${sandbox.build.dockerfile} (output: ${logFile})`);
      built.push(sandbox.image);
    }
  }
  return built;
}
