/**
 * `lockstep setup`: the clone's scripts/bootstrap.sh, run from the installed package with
 * --installed, so the Temporal CLI, the Docker engine check (or install), the sandbox image and
 * the gate's tools land in the per-user tools folder. In a clone it is the bootstrap itself.
 * Idempotent: a second run finds everything present and says so.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { installedPackage, projectRoot, toolsDir } from '../../config/paths.ts';
import { EnvironmentError } from '../errors.ts';

export async function runSetup(options: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const env = options.env ?? process.env;
  const tools = toolsDir(env);
  const installed = installedPackage();
  const args = [join(projectRoot, 'scripts', 'bootstrap.sh'), ...(installed ? ['--installed'] : [])];
  if (options.quiet) args.push('--quiet');
  // The bootstrap's own logs (dockerd, builds) stay with the tools: the package folder may be
  // read-only, and setup belongs to no fleet's state folder.
  const childEnv = installed
    ? { ...env, LOCKSTEP_TOOLS_DIR: tools, LOCKSTEP_STATE_DIR: join(tools, 'setup') }
    : { ...env, LOCKSTEP_TOOLS_DIR: tools };
  const code = await new Promise<number>((resolve, reject) => {
    // Progress lines go to stderr as the bootstrap writes them; stdout stays the command's.
    const child = spawn('bash', args, { env: childEnv, stdio: ['ignore', process.stderr, process.stderr] });
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code !== 0) {
    throw new EnvironmentError(`setup stopped (exit ${code}); the line before this one says what is missing`);
  }
  return tools;
}
