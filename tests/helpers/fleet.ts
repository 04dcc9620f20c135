/** The bundled demo fleet, seeded into a temporary state folder with its own bare remotes. */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoConfigFile, seedDemoRemotes } from '../../cli/demo.ts';
import { projectRoot } from '../../config/paths.ts';

export interface TestFleet {
  root: string;
  stateDir: string;
  configFile: string;
  remote(repo: string): string;
  cleanup(): Promise<void>;
}

export async function seedTestFleet(): Promise<TestFleet> {
  const root = await mkdtemp(join(tmpdir(), 'lockstep-test-'));
  const stateDir = join(root, '.lockstep');
  await seedDemoRemotes(stateDir);
  // The fleet config names remotes relative to itself (.lockstep/remotes/...): a copy next to
  // this state folder points at these remotes.
  const configFile = join(root, 'repos.config.json');
  await copyFile(demoConfigFile, configFile);
  return {
    root,
    stateDir,
    configFile,
    remote: (repo) => join(stateDir, 'remotes', `${repo}.git`),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export const exampleChange = (name: string): string => join(projectRoot, 'examples', 'changes', name);
