/**
 * Checks that need the outside world before a change starts: every target remote answers and
 * has its base branch, every sandbox image exists on this host's Docker engine and has what
 * a sandbox needs (sh, sleep, mkdir) and the commands the repo's setup and tests start with,
 * and a repo with sandbox.egress finds the egress forwarder and its CA bundle on this host.
 */
import Docker from 'dockerode';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { gitCredentials } from '../../activities/forges/git-credentials.ts';
import { remoteBranchCommit } from '../../activities/git/workspace.ts';
import { InputError, type InputIssue, type LoadedConfig } from '../../config/load.ts';
import { sandboxEnv } from '../../activities/sandbox/docker.ts';
import type { SandboxConfig } from '../../config/repos.ts';
import { setupCommand, toolsDir } from '../../config/paths.ts';
import type { RepoTask } from '../../core/repo.ts';
import { sandboxIdentity } from '../../workers/worker.ts';
import { EnvironmentError } from '../errors.ts';
import { inLanes } from '../../core/lanes.ts';

/** Remotes asked and images probed at once. */
const PREFLIGHT_LANES = 16;

export async function preflight(loaded: LoadedConfig, tasks: RepoTask[], docker = new Docker()): Promise<void> {
  const issues: InputIssue[] = [];
  const positions = new Map(loaded.config.repos.map((r, i) => [r.name, i]));
  const index = (repo: string) => positions.get(repo) ?? -1;
  // Private repos of a remote forge answer git over HTTPS only with the token; it goes to git
  // the way the worker gives it (environment, scoped to the forge host), when this process has it.
  const credentials = gitCredentials([loaded.config.forge], process.env);

  // A fleet of thousands: a few remotes and probes at a time, each distinct probe once.
  await inLanes(tasks, PREFLIGHT_LANES, async (task) => {
    const i = index(task.repo);
    try {
      const sha = await withTimeout(
        remoteBranchCommit(task.url, task.baseBranch, credentials),
        30_000,
        `no answer from ${task.url} within 30 s`,
      );
      if (!sha) {
        issues.push({
          file: loaded.file,
          path: `repos[${i}].baseBranch`,
          message: `branch "${task.baseBranch}" does not exist in ${task.url}`,
          fix: 'set baseBranch to a branch the remote has',
        });
      }
    } catch (err) {
      const first = ((err as Error).message.split('\n').find((l) => l.trim()) ?? '').trim();
      issues.push({
        file: loaded.file,
        path: `repos[${i}].url`,
        message: `cannot reach ${task.url}: ${first}`,
        fix: 'check the URL and your access to it (git ls-remote must work from this machine)',
      });
    }
  });

  try {
    await docker.ping();
  } catch {
    throw new EnvironmentError(
      `no Docker engine answers; run "${setupCommand()}" (it starts one) or start Docker yourself`,
    );
  }
  const missing = new Set<string>();
  await Promise.all(
    [...new Set(tasks.map((t) => t.sandbox.image))].map(async (image) => {
      try {
        await docker.getImage(image).inspect();
      } catch {
        missing.add(image);
      }
    }),
  );
  const reported = new Set<string>();
  const probes = new Map<string, Promise<ImageLack[]>>();
  const lacks = (sandbox: SandboxConfig): Promise<ImageLack[]> => {
    const key = JSON.stringify([sandbox.image, sandbox.setup, sandbox.test, sandbox.env.PATH]);
    let probe = probes.get(key);
    if (!probe) probes.set(key, (probe = imageLacks(docker, sandbox)));
    return probe;
  };
  await inLanes(tasks, PREFLIGHT_LANES, async (task) => {
    const i = index(task.repo);
    if (missing.has(task.sandbox.image)) {
      if (!reported.has(task.sandbox.image)) {
        reported.add(task.sandbox.image);
        issues.push(
          task.sandbox.build
            ? {
                file: loaded.file,
                path: `repos[${i}].sandbox.build`,
                message: `the image of ${task.sandbox.build.dockerfile} (${task.sandbox.image}) is not built on this Docker engine yet`,
                fix: '"lockstep run" builds it before the change starts',
              }
            : {
                file: loaded.file,
                path: `repos[${i}].sandbox.image`,
                message: `image "${task.sandbox.image}" is not on this Docker engine`,
                fix: `run "${setupCommand()}" to build lockstep-sandbox, or build and tag the image named here`,
              },
        );
      }
      return;
    }
    issues.push(
      ...(await lacks(task.sandbox)).map((l) => ({
        file: loaded.file,
        path: `repos[${i}].sandbox.${l.field}`,
        message: l.message,
        fix: l.fix,
      })),
    );
  });
  issues.push(...(await egressIssues(loaded, tasks, index)));
  if (issues.length > 0) throw new InputError(issues.sort((a, b) => a.path.localeCompare(b.path)));
}

/** What a setup with egress needs on this host: the forwarder (bootstrap builds it) and a readable CA bundle. */
export async function egressIssues(
  loaded: LoadedConfig,
  tasks: RepoTask[],
  index: (repo: string) => number,
  forwarder = join(toolsDir(), 'egress', 'bin', 'egress-forwarder'),
): Promise<InputIssue[]> {
  const issues: InputIssue[] = [];
  const readable = (file: string, mode: number) =>
    access(file, mode).then(
      () => true,
      () => false,
    );
  const withEgress = tasks.filter((t) => t.sandbox.egress);
  if (withEgress[0] && !(await readable(forwarder, constants.X_OK))) {
    issues.push({
      file: loaded.file,
      path: `repos[${index(withEgress[0].repo)}].sandbox.egress`,
      message: `this host has no egress forwarder (${forwarder}), so setup cannot reach the allowed hosts`,
      fix: `run "${setupCommand()}" (it builds the forwarder with Go 1.19+), or remove sandbox.egress`,
    });
  }
  for (const task of withEgress) {
    const ca = task.sandbox.egress?.caBundle;
    if (ca && !(await readable(ca, constants.R_OK))) {
      issues.push({
        file: loaded.file,
        path: `repos[${index(task.repo)}].sandbox.egress.caBundle`,
        message: `cannot read ${ca} on this host`,
        fix: 'name an existing PEM bundle on the worker, or leave caBundle out to use the system bundle',
      });
    }
  }
  return issues;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the sandbox itself runs: its idle process, and the folder made for HOME before each command. */
const SANDBOX_NEEDS = ['sleep', 'mkdir'];

export interface ImageLack {
  /** The field under `sandbox` the lack is about. */
  field: 'image' | 'test' | 'setup';
  message: string;
  fix: string;
}

/**
 * Runs the image once, as a sandbox would (no network, non-root, read-only root), and asks its
 * `sh` for the programs a sandbox needs and for the first word of the repo's test and setup
 * commands. A command found only after setup (on a PATH into the work tree) is not asked for.
 */
export async function imageLacks(docker: Docker, sandbox: SandboxConfig): Promise<ImageLack[]> {
  const firstWord = (command: string | undefined): string | null => {
    const word = command?.trim().split(/\s+/)[0] ?? '';
    return /^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(word) ? word : null;
  };
  const pathIntoWorkspace = (sandbox.env.PATH ?? '').includes('/workspace');
  const asked = new Map<string, ImageLack['field']>(SANDBOX_NEEDS.map((n) => [n, 'image']));
  for (const field of ['setup', 'test'] as const) {
    const word = pathIntoWorkspace ? null : firstWord(sandbox[field]);
    if (word && !asked.has(word)) asked.set(word, field);
  }
  const probe = `for t in ${[...asked.keys()].join(' ')}; do command -v "$t" >/dev/null 2>&1 || echo "lacks:$t"; done; command -v bash >/dev/null 2>&1 || echo "lacks:bash"`;
  const container = await docker.createContainer({
    Image: sandbox.image,
    Entrypoint: ['sh', '-c', probe],
    Cmd: [],
    User: sandboxIdentity().sandboxUser,
    Env: sandboxEnv(sandbox, {}),
    WorkingDir: '/',
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: 256 * 1024 * 1024,
      PidsLimit: 64,
    },
  });
  try {
    try {
      await container.start();
    } catch (err) {
      const message = (err as Error).message;
      if (/executable file not found|no such file or directory/i.test(message)) {
        return [
          {
            field: 'image',
            message: `image "${sandbox.image}" has no sh: Lockstep runs every command through it`,
            fix: 'use an image with a POSIX shell at sh on its PATH (see docs/environments.md)',
          },
        ];
      }
      throw err;
    }
    await container.wait();
    const out = (await container.logs({ stdout: true, stderr: true, follow: false })).toString('utf8');
    const lacks = [...out.matchAll(/lacks:(\S+)/g)].map((m) => m[1] ?? '');
    return lacks.flatMap((tool): ImageLack[] => {
      if (tool === 'bash') return []; // Commands fall back to sh; only the gate's tools need bash (docs/environments.md).
      const field = asked.get(tool) ?? 'image';
      if (field === 'image')
        return [
          {
            field,
            message: `image "${sandbox.image}" has no ${tool}: every sandbox needs it`,
            fix: `install ${tool} in the image (coreutils)`,
          },
        ];
      return [
        {
          field,
          message: `image "${sandbox.image}" has no "${tool}", the first command of sandbox.${field}`,
          fix: `install ${tool} in the image, or name an image that has it in sandbox.image`,
        },
      ];
    });
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}
