/** Where Lockstep keeps things on this machine. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** One git-ignored folder for all runtime state: Temporal's database, remotes, workspaces, logs. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCKSTEP_STATE_DIR ?? join(projectRoot, '.lockstep');
}

export function temporalAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.TEMPORAL_ADDRESS ?? 'localhost:7233';
}

export function temporalNamespace(env: NodeJS.ProcessEnv = process.env): string {
  return env.TEMPORAL_NAMESPACE ?? 'default';
}

export const defaultConfigFile = (): string => join(process.cwd(), 'repos.config.json');

/** The shared task queue (workflows and non-host activities); tests give each suite its own. */
export function taskQueue(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCKSTEP_TASK_QUEUE ?? 'lockstep';
}
