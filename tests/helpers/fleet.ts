/** The bundled demo fleet, seeded into a temporary state folder with its own bare remotes. */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { demoConfigFile, demoFleetDir, seedRemotes } from '../../client/machine/demo.ts';
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

/**
 * A copy of an example change under another id, in `dir`. Sandboxes are named after the change
 * id on the one Docker engine all test files share, so files that run the demo change side by
 * side each run it under an id of their own.
 */
export async function exampleChangeAs(name: string, id: string, dir: string): Promise<string> {
  const text = await readFile(exampleChange(name), 'utf8');
  if (!/^id: \S+$/m.test(text)) throw new Error(`${name} has no "id:" line to rename`);
  const file = join(dir, `${id}.yaml`);
  await writeFile(file, text.replace(/^id: \S+$/m, `id: ${id}`));
  return file;
}

/**
 * The billing code steps of the demo change, which scripted agents run through run_command.
 * Billing changes alone in those tests, so it keeps declaring the `price` it still receives
 * from catalog: declaring `price_cents` without catalog would rightly be blocked by the gate.
 */
export async function billingCodeSteps(): Promise<string[]> {
  const change = parse(await readFile(exampleChange('price-cents.yaml'), 'utf8')) as {
    repos: { name: string; steps: { run: string }[] }[];
  };
  return (
    change.repos
      .find((r) => r.name === 'billing')
      ?.steps.map((s) => s.run)
      .filter((run) => !run.includes('catalog-api.uses.json')) ?? []
  );
}

/** Sets `defaults.sandbox.egress` of the fleet config in `configFile`. */
export async function allowEgress(
  configFile: string,
  allow: string[],
  phases: { steps?: object; agent?: object } = {},
): Promise<void> {
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { defaults: { sandbox: Record<string, unknown> } };
  config.defaults.sandbox.egress = { allow, ...phases };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
}
