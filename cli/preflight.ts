/**
 * Checks that need the outside world before a change starts: every target remote answers and
 * has its base branch, every sandbox image exists on this host's Docker engine, and a repo
 * with sandbox.egress finds the egress forwarder and its CA bundle on this host.
 */
import Docker from 'dockerode';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { gitCredentials } from '../activities/forges/git-credentials.ts';
import { remoteBranchCommit } from '../activities/git/workspace.ts';
import { InputError, type InputIssue, type LoadedConfig } from '../config/load.ts';
import { projectRoot } from '../config/paths.ts';
import type { RepoTask } from '../workflows/types.ts';
import { EnvironmentError } from './errors.ts';

export async function preflight(loaded: LoadedConfig, tasks: RepoTask[], docker = new Docker()): Promise<void> {
  const issues: InputIssue[] = [];
  const index = (repo: string) => loaded.config.repos.findIndex((r) => r.name === repo);
  // Private repos of a remote forge answer git over HTTPS only with the token; it goes to git
  // the way the worker gives it (environment, scoped to the forge host), when this process has it.
  const credentials = gitCredentials([loaded.config.forge], process.env);

  await Promise.all(
    tasks.map(async (task) => {
      const i = index(task.repo);
      try {
        const sha = await withTimeout(remoteBranchCommit(task.url, task.baseBranch, credentials), 30_000, `no answer from ${task.url} within 30 s`);
        if (!sha) {
          issues.push({ file: loaded.file, path: `repos[${i}].baseBranch`, message: `branch "${task.baseBranch}" does not exist in ${task.url}`, fix: 'set baseBranch to a branch the remote has' });
        }
      } catch (err) {
        const first = ((err as Error).message.split('\n').find((l) => l.trim()) ?? '').trim();
        issues.push({ file: loaded.file, path: `repos[${i}].url`, message: `cannot reach ${task.url}: ${first}`, fix: 'check the URL and your access to it (git ls-remote must work from this machine)' });
      }
    }),
  );

  try {
    await docker.ping();
  } catch {
    throw new EnvironmentError('no Docker engine answers; run "npm run bootstrap" (it starts one) or start Docker yourself');
  }
  const images = new Map<string, string>();
  for (const task of tasks) if (!images.has(task.sandbox.image)) images.set(task.sandbox.image, task.repo);
  await Promise.all(
    [...images].map(async ([image, repo]) => {
      try {
        await docker.getImage(image).inspect();
      } catch {
        issues.push({ file: loaded.file, path: `repos[${index(repo)}].sandbox.image`, message: `image "${image}" is not on this Docker engine`, fix: 'run "npm run bootstrap" to build lockstep-sandbox, or build and tag the image named here' });
      }
    }),
  );
  issues.push(...(await egressIssues(loaded, tasks, index)));
  if (issues.length > 0) throw new InputError(issues.sort((a, b) => a.path.localeCompare(b.path)));
}

/** What a setup with egress needs on this host: the forwarder (bootstrap builds it) and a readable CA bundle. */
export async function egressIssues(loaded: LoadedConfig, tasks: RepoTask[], index: (repo: string) => number, forwarder = join(projectRoot, '.tools', 'egress', 'bin', 'egress-forwarder')): Promise<InputIssue[]> {
  const issues: InputIssue[] = [];
  const readable = (file: string, mode: number) => access(file, mode).then(() => true, () => false);
  const withEgress = tasks.filter((t) => t.sandbox.egress);
  if (withEgress[0] && !(await readable(forwarder, constants.X_OK))) {
    issues.push({ file: loaded.file, path: `repos[${index(withEgress[0].repo)}].sandbox.egress`, message: 'this host has no egress forwarder (.tools/egress/bin/egress-forwarder), so setup cannot reach the allowed hosts', fix: 'run "npm run bootstrap" (it builds the forwarder with Go 1.19+), or remove sandbox.egress' });
  }
  for (const task of withEgress) {
    const ca = task.sandbox.egress?.caBundle;
    if (ca && !(await readable(ca, constants.R_OK))) {
      issues.push({ file: loaded.file, path: `repos[${index(task.repo)}].sandbox.egress.caBundle`, message: `cannot read ${ca} on this host`, fix: 'name an existing PEM bundle on the worker, or leave caBundle out to use the system bundle' });
    }
  }
  return issues;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
