/** The bundled demo fleet, seeded into a temporary state folder with its own bare remotes. */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoConfigFile, demoFleetDir, seedRemotes } from '../../cli/demo.ts';
import { projectRoot } from '../../config/paths.ts';

export interface TestFleet {
  root: string;
  stateDir: string;
  configFile: string;
  remote(repo: string): string;
  cleanup(): Promise<void>;
}

/**
 * A fleet seeded into a temporary folder: the demo fleet by default, or a fixture folder that
 * holds one folder per repo and its own repos.config.json.
 */
export async function seedTestFleet(fixture: string | null = null): Promise<TestFleet> {
  const root = await mkdtemp(join(tmpdir(), 'lockstep-test-'));
  const stateDir = join(root, '.lockstep');
  await seedRemotes(fixture ?? demoFleetDir, stateDir);
  // The fleet config names remotes relative to itself (.lockstep/remotes/...): a copy next to
  // this state folder points at these remotes.
  const configFile = join(root, 'repos.config.json');
  await copyFile(fixture ? join(fixture, 'repos.config.json') : demoConfigFile, configFile);
  return {
    root,
    stateDir,
    configFile,
    remote: (repo) => join(stateDir, 'remotes', `${repo}.git`),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export const fixtureFleet = (name: string): string => join(projectRoot, 'tests', 'fixtures', name);

export const exampleChange = (name: string): string => join(projectRoot, 'examples', 'changes', name);
