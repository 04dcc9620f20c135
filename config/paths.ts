/** Where Lockstep keeps things on this machine. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** One git-ignored folder for all runtime state: Temporal's database, remotes, workspaces, logs. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCKSTEP_STATE_DIR ?? join(projectRoot, '.lockstep');
}

export const defaultConfigFile = (): string => join(process.cwd(), 'repos.config.json');

/** The shared task queue (workflows and non-host activities); tests give each suite its own. */
export function taskQueue(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCKSTEP_TASK_QUEUE ?? 'lockstep';
}
