/**
 * The baseline: a plain script doing the essential work of a change with no orchestration.
 * A pool of `concurrency` workers; per repo: `git clone`, `docker run --rm` of the step, then
 * `docker run --rm` of the tests (same image, user, hardening flags and limits as a Lockstep
 * sandbox), commit, push, remove the clone. No Temporal, no retries, no pull requests.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_ENV, CACHE_MOUNT, LABEL_CHANGE, LABEL_OWNER } from '../client/machine/libraries.ts';
import { SANDBOX_UID } from '../workers/worker.ts';
import { LIMITS, SANDBOX_IMAGE, STEP_COMMAND, TEST_COMMAND, type Fleet } from './fleet.ts';

const exec = promisify(execFile);

/** Every container the benchmarks start carries this label (see `docker ps -a --filter label=lockstep.bench`). */
export const BENCH_LABEL = 'lockstep.bench';

/** The user sandbox commands run as, as Lockstep picks it (workers/worker.ts sandboxIdentity). */
export function sandboxUser(): { user: string; chownTo: string | null } {
  const uid = process.getuid?.() ?? SANDBOX_UID;
  const gid = process.getgid?.() ?? SANDBOX_UID;
  if (uid === 0) return { user: `${SANDBOX_UID}:${SANDBOX_UID}`, chownTo: `${SANDBOX_UID}:${SANDBOX_UID}` };
  return { user: `${uid}:${gid}`, chownTo: null };
}

/** What a caller may set on a baseline container beyond the bench fleet's defaults. */
export interface RunOptions {
  /** Default: the bench fleet's image. */
  image?: string;
  /** Default: the bench fleet's limits. */
  limits?: { cpus: number; memoryMb: number; pids: number; tmpfsMb: number };
  /** After BASE_ENV, as a sandbox's cache and exec environment come after it. */
  env?: Readonly<Record<string, string>>;
  /** Read-only mounts (host path, container path), as a sandbox's egress folder and forwarder. */
  readOnly?: readonly { source: string; target: string }[];
  /** Host folder mounted read-write at /cache, as a sandbox's package-manager cache. */
  cacheDir?: string;
  /** argv put before `bash -c <command>`, as the egress forwarder runs a setup. */
  prefix?: readonly string[];
}

/** `docker run --rm` arguments with the flags of containerSpec() in activities/sandbox/docker.ts. */
export function dockerRunArgs(workspace: string, command: string, label: string, options: RunOptions = {}): string[] {
  const limits = options.limits ?? LIMITS;
  const env = Object.entries({ ...BASE_ENV, ...options.env }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const mounts = [
    ...(options.readOnly ?? []).map((m) => `${m.source}:${m.target}:ro`),
    ...(options.cacheDir ? [`${options.cacheDir}:${CACHE_MOUNT}:rw`] : []),
  ].flatMap((m) => ['-v', m]);
  return [
    // Lockstep's labels too, with this process as owner: if the bench dies, a worker's start-up
    // sweep (reapOrphans) removes what is left, as it does for sandboxes.
    'run',
    '--rm',
    '--label',
    `${BENCH_LABEL}=${label}`,
    '--label',
    `${LABEL_CHANGE}=bench-baseline`,
    '--label',
    `${LABEL_OWNER}=bench:${process.pid}`,
    '--network',
    'none',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--read-only',
    '--tmpfs',
    `/tmp:rw,exec,nosuid,nodev,size=${limits.tmpfsMb}m,mode=1777`,
    '--pids-limit',
    String(limits.pids),
    '--memory',
    `${limits.memoryMb}m`,
    '--memory-swap',
    `${limits.memoryMb}m`,
    '--cpus',
    String(limits.cpus),
    '--ulimit',
    'nofile=4096:4096',
    '--init',
    '--ipc',
    'private',
    '-u',
    sandboxUser().user,
    '-w',
    '/workspace',
    ...env,
    '-v',
    `${workspace}:/workspace:rw`,
    '-v',
    `${join(workspace, '.git')}:/workspace/.git:ro`,
    ...mounts,
    options.image ?? SANDBOX_IMAGE,
    ...(options.prefix ?? []),
    'bash',
    '-c',
    `mkdir -p "$HOME" 2>/dev/null\n${command}`,
  ];
}

export const gitIdentity = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'user.name=Lockstep Bench',
  '-c',
  'user.email=bench@lockstep.invalid',
];

async function oneRepo(fleet: Fleet, repo: string, runId: string): Promise<void> {
  const workspace = join(fleet.stateDir, 'baseline', runId, repo);
  await mkdir(join(fleet.stateDir, 'baseline', runId), { recursive: true });
  try {
    await exec('git', [
      'clone',
      '--quiet',
      '--no-hardlinks',
      '--single-branch',
      '--branch',
      'main',
      fleet.remote(repo),
      workspace,
    ]);
    const branch = `baseline/${runId}`;
    await exec('git', ['checkout', '--quiet', '-B', branch], { cwd: workspace });
    const { chownTo } = sandboxUser();
    if (chownTo) await exec('chown', ['-R', chownTo, workspace]);
    await exec('docker', dockerRunArgs(workspace, STEP_COMMAND, runId), { maxBuffer: 16 * 1024 * 1024 });
    await exec('docker', dockerRunArgs(workspace, TEST_COMMAND, runId), { maxBuffer: 16 * 1024 * 1024 });
    await exec('git', [...gitIdentity, '-c', `safe.directory=${workspace}`, 'add', '--all'], { cwd: workspace });
    await exec(
      'git',
      [
        ...gitIdentity,
        '-c',
        `safe.directory=${workspace}`,
        'commit',
        '--quiet',
        '--no-verify',
        '-m',
        'Bump the patch version',
      ],
      { cwd: workspace },
    );
    await exec(
      'git',
      [
        ...gitIdentity,
        '-c',
        `safe.directory=${workspace}`,
        'push',
        '--force',
        '--quiet',
        fleet.remote(repo),
        `HEAD:refs/heads/${branch}`,
      ],
      { cwd: workspace },
    );
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

/** Runs `each` over `items` with a pool of `concurrency` workers; throws the first failure, after which no item starts. */
export async function inPool<T>(
  items: readonly T[],
  concurrency: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await each(item);
      } catch (err) {
        errors.push(err);
        queue.length = 0;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
}

/** Runs the change over the fleet with a pool of `concurrency` workers; throws on the first failure. */
export async function runBaseline(fleet: Fleet, concurrency: number, runId: string): Promise<void> {
  await inPool(fleet.repos, concurrency, (repo) => oneRepo(fleet, repo, runId));
}

/**
 * Removes every container this benchmark run made and left behind: the baseline's (which use
 * --rm, so there should be none) and the Lockstep sandboxes of its workers and direct calls,
 * found by their owner label, so a run that fails or is interrupted half-way leaves nothing
 * (another checkout's sandboxes on the same engine are not touched).
 */
export async function sweepBenchContainers(isOurs: (owner: string) => boolean): Promise<number> {
  const { stdout } = await exec('docker', [
    'ps',
    '-a',
    '--filter',
    `label=${LABEL_CHANGE}`,
    '--format',
    `{{.ID}} {{.Label "${LABEL_OWNER}"}}`,
  ]);
  const ids = stdout
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter(([id, owner]) => id && owner && isOurs(owner))
    .map(([id]) => id ?? '');
  if (ids.length > 0) await exec('docker', ['rm', '-f', '-v', ...ids]);
  return ids.length;
}
