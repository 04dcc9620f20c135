/** Where Lockstep keeps things on this machine. */
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding Lockstep's own files: the clone, or the installed package. */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * True when Lockstep runs from an installed package (its folder lies inside a node_modules),
 * false in a clone of its repository. The package folder may be read-only or shared by users,
 * so an installed Lockstep never writes into it.
 */
export const installedPackage = (root: string = projectRoot): boolean => root.split(sep).includes('node_modules');

/**
 * One git-ignored folder for all runtime state: Temporal's database, remotes, workspaces, logs.
 * It belongs to the folder the command runs in (two fleets in two folders keep apart), never to
 * the installed package.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return env.LOCKSTEP_STATE_DIR || join(cwd, '.lockstep');
}

/**
 * The machine's tools (Temporal CLI, the gate's tools, the egress forwarder): the clone keeps
 * them in its `.tools/` (scripts/bootstrap.sh), an installed package in a per-user cache folder
 * (`lockstep setup`). `LOCKSTEP_TOOLS_DIR` overrides both.
 */
export function toolsDir(env: NodeJS.ProcessEnv = process.env, root: string = projectRoot): string {
  if (env.LOCKSTEP_TOOLS_DIR) return env.LOCKSTEP_TOOLS_DIR;
  if (!installedPackage(root)) return join(root, '.tools');
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'lockstep');
}

export const defaultConfigFile = (): string => join(process.cwd(), 'repos.config.json');

/** The shared task queue (workflows and non-host activities); tests give each suite its own. */
export function taskQueue(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCKSTEP_TASK_QUEUE ?? 'lockstep';
}

/** The command that installs the machine's tools, as a fix names it. */
export const setupCommand = (root: string = projectRoot): string =>
  installedPackage(root) ? 'npx lockstep setup' : 'npm run bootstrap';
