/**
 * Hardened Docker sandboxes: one container per repo of a change, with a deterministic name,
 * no network, no capabilities, a read-only root, limits, a non-root user and an allowlisted
 * environment. Commands run as `docker exec`, never through a shell on the host; a timeout or a
 * cancellation kills the container's whole process tree (the fork bomb included).
 */
import type Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import { isAbsolute, join } from 'node:path';
import { setupCommand } from '../../config/paths.ts';
import type { SandboxConfig } from '../../config/repos.ts';
import { FORBIDDEN_PASS_ENV } from '../../config/repos.ts';
import type { CommandResult } from '../../core/commands.ts';
import { egressBytes, sandboxCommand } from '../../core/metrics.ts';
import type { RunInSandboxInput, SandboxRef } from '../../core/workspace.ts';
import { deniedHint, egressForSandbox, openEgress, type EgressDeps } from '../egress/sandbox.ts';
import { activityContext } from '../context.ts';
import { beat, heartbeating, type HeartbeatTarget } from '../heartbeat.ts';
import { dockerUnresponsive, fatal, sandboxGone } from '../errors.ts';
import { CACHE_ENV, CACHE_MOUNT, lockCache } from './cache.ts';
import {
  killLeftovers,
  leftoversNote,
  settleLeftovers,
  SWEPT_SCRIPT,
  SweptStderr,
  type Leftovers,
  type SweptReport,
} from './leftovers.ts';
import { OutputCapture } from './output.ts';

export const LABEL_CHANGE = 'lockstep.change';
export const LABEL_REPO = 'lockstep.repo';
export const LABEL_OWNER = 'lockstep.owner';
export const LABEL_WORKSPACE = 'lockstep.workspace';
/** The host folder of the repo's package-manager cache, when one is mounted. */
export const LABEL_CACHE = 'lockstep.cache';
/** The workflow whose activity made the sandbox, and its run: the reconciler asks Temporal about them. */
export const LABEL_WORKFLOW = 'lockstep.workflow';
export const LABEL_RUN = 'lockstep.run';
/** The repo workflow's attempt the sandbox was made for. */
export const LABEL_ATTEMPT = 'lockstep.attempt';
/** The task queue of the worker that made it (its host). */
export const LABEL_HOST = 'lockstep.host';
/** The Temporal server and namespace the workflow lives in: a reconciler judges only its own. */
export const LABEL_CLUSTER = 'lockstep.cluster';

/** What every sandbox gets before the repo's own `env`: writable homes and caches on the tmpfs. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  HOME: '/tmp/home',
  PATH: '/usr/local/bin:/usr/bin:/bin:/usr/lib/go/bin',
  LANG: 'C.UTF-8',
  TMPDIR: '/tmp',
  GOCACHE: '/tmp/.cache/go-build',
  GOPATH: '/tmp/go',
  GOFLAGS: '-mod=mod',
  GOPROXY: 'off',
  GOTOOLCHAIN: 'local',
  npm_config_cache: '/tmp/.npm',
  PIP_CACHE_DIR: '/tmp/.cache/pip',
  PYTHONDONTWRITEBYTECODE: '1',
  CI: 'true',
};

export const containerName = (ref: SandboxRef): string => `lockstep-${ref.changeId}-${ref.repo}`;

/** The environment a sandbox receives: base, its cache's, the repo's fixed env, then allowlisted worker vars. */
export function sandboxEnv(sandbox: SandboxConfig, workerEnv: NodeJS.ProcessEnv, cached = false): string[] {
  const env: Record<string, string> = { ...BASE_ENV, ...(cached ? CACHE_ENV : {}), ...sandbox.env };
  for (const name of sandbox.passEnv) {
    const value = workerEnv[name];
    if (value !== undefined && !FORBIDDEN_PASS_ENV.test(name)) env[name] = value;
  }
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** A host folder the sandbox may read but never write, such as the gate's tools and rules. */
export interface ReadOnlyMount {
  /** Absolute path on the host. */
  source: string;
  /** Absolute path in the container, outside /workspace and /tmp. */
  target: string;
}

export interface SandboxSpecInput extends SandboxRef {
  workspace: string;
  sandbox: SandboxConfig;
  /** `uid:gid` the commands run as; never root. */
  user: string;
  owner: string;
  workerEnv: NodeJS.ProcessEnv;
  readOnlyMounts?: readonly ReadOnlyMount[];
  /** Host folder of the repo's package-manager cache, mounted read-write at /cache (activities/sandbox/cache.ts). */
  cacheDir?: string | null;
  /** More labels (the sandbox's egress policy; who made it and for which attempt), beside the fixed ones. */
  labels?: Readonly<Record<string, string>>;
}

function readOnlyBind(mount: ReadOnlyMount): string {
  const { source, target } = mount;
  const inside = (dir: string): boolean => target === dir || target.startsWith(`${dir}/`);
  if (
    !isAbsolute(source) ||
    !isAbsolute(target) ||
    target === '/' ||
    inside('/workspace') ||
    inside('/tmp') ||
    /[:,]/.test(source + target)
  ) {
    throw new Error(
      `read-only mount ${source} -> ${target}: both paths must be absolute, and the target outside /workspace and /tmp`,
    );
  }
  return `${source}:${target}:ro`;
}

function cacheBind(source: string): string {
  if (!isAbsolute(source) || /[:,]/.test(source))
    throw new Error(`cache mount ${source}: the path must be absolute, without ":" or ","`);
  return `${source}:${CACHE_MOUNT}:rw`;
}

export function containerSpec(input: SandboxSpecInput): ContainerCreateOptions {
  const { sandbox } = input;
  const memory = sandbox.limits.memoryMb * 1024 * 1024;
  return {
    name: containerName(input),
    Image: sandbox.image,
    // The image's own entrypoint would wrap (or replace) the idle process: it is overridden.
    Entrypoint: ['sleep'],
    Cmd: ['infinity'],
    User: input.user,
    WorkingDir: '/workspace',
    Env: sandboxEnv(sandbox, input.workerEnv, Boolean(input.cacheDir)),
    // Not NetworkDisabled: with it the engine writes no /etc/hosts and `localhost` does not
    // resolve. NetworkMode none alone leaves loopback as the only interface.
    Labels: {
      ...input.labels,
      [LABEL_CHANGE]: input.changeId,
      [LABEL_REPO]: input.repo,
      [LABEL_OWNER]: input.owner,
      [LABEL_WORKSPACE]: input.workspace,
      ...(input.cacheDir ? { [LABEL_CACHE]: input.cacheDir } : {}),
    },
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${sandbox.limits.tmpfsMb}m,mode=1777` },
      PidsLimit: sandbox.limits.pids,
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(sandbox.limits.cpus * 1e9),
      // fsize is in bytes: a single write past it gets SIGXFSZ (exit 153) instead of filling the
      // host disk under the work tree.
      Ulimits: [
        { Name: 'nofile', Soft: 4096, Hard: 4096 },
        { Name: 'fsize', Soft: sandbox.limits.fileMb * 1024 * 1024, Hard: sandbox.limits.fileMb * 1024 * 1024 },
      ],
      // Reaps zombies; killing it (SIGKILL to PID 1) ends every process in the container.
      Init: true,
      IpcMode: 'private',
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      // The sandbox may change the work tree but never the repository's config or hooks.
      Binds: [
        `${input.workspace}:/workspace:rw`,
        `${join(input.workspace, '.git')}:/workspace/.git:ro`,
        ...(input.readOnlyMounts ?? []).map(readOnlyBind),
        // The one writable mount outside the work tree, on purpose: caches outlive the sandbox.
        ...(input.cacheDir ? [cacheBind(input.cacheDir)] : []),
      ],
    },
  };
}

export interface SandboxDeps {
  docker: Docker;
  user: string;
  owner: string;
  workerEnv: NodeJS.ProcessEnv;
  /** Host folders every sandbox of this worker reads (the gate's tools and rules). */
  readOnlyMounts?: readonly ReadOnlyMount[];
  /** The egress proxy's side of this worker; without it no repo may set sandbox.egress. */
  egress?: EgressDeps;
  /** This worker's host queue and Temporal cluster (`address/namespace`), labelled on its sandboxes. */
  host?: string;
  cluster?: string;
  logDir: string;
  /** Where a running command's heartbeats go (the activity's context), with its output so far. */
  heartbeat?: HeartbeatTarget<{ bytes: number; elapsedMs: number }> | null;
  heartbeatEveryMs?: number;
}

/** How long the engine may leave a ping unanswered before a sandbox activity gives up on it. */
export const DOCKER_PING_TIMEOUT_MS = 15_000;

export interface DockerWatch {
  /** Aborted when the engine stopped answering; the work should stop at its next step. */
  signal: AbortSignal;
}

/**
 * Runs `work` while pinging the engine every `everyMs`. Each answered ping beats `ctx` (with `details()`),
 * so an activity's heartbeat says the engine answers, not only that the worker lives. When a
 * ping stays unanswered for `timeoutMs` (a daemon that hangs, a socket that went silent), the
 * watch aborts its signal and rejects with DockerUnresponsive at once, without waiting for
 * `work`: a request stuck on the engine may never come back.
 */
export async function whileDockerAnswers<T>(
  docker: Docker,
  work: (watch: DockerWatch) => Promise<T>,
  options: {
    ctx?: HeartbeatTarget<unknown> | null;
    details?: () => unknown;
    everyMs?: number;
    timeoutMs?: number;
  } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DOCKER_PING_TIMEOUT_MS;
  const controller = new AbortController();
  let pingSince: number | null = null;
  let stop: (err: Error) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  const tick = (): void => {
    if (pingSince !== null) {
      if (Date.now() - pingSince < timeoutMs) return;
      const err = dockerUnresponsive(
        `the Docker engine did not answer for ${Math.round(timeoutMs / 1000)}s; gave up on it (check the engine with \`docker info\` on this worker's host; the repo's attempt is retried)`,
      );
      controller.abort(err);
      stop(err);
      return;
    }
    pingSince = Date.now();
    docker
      .ping()
      .then(() => {
        pingSince = null;
        if (!controller.signal.aborted) beat(options.ctx, options.details?.());
      })
      // A refused connection answers too (the engine is gone, not hung): the work's own calls fail.
      .catch(() => (pingSince = null));
  };
  const timer = setInterval(tick, Math.min(options.everyMs ?? 5000, timeoutMs / 3));
  try {
    return await Promise.race([work({ signal: controller.signal }), stopped]);
  } finally {
    clearInterval(timer);
  }
}

export async function createSandbox(
  deps: SandboxDeps,
  input: SandboxRef & {
    workspace: string;
    sandbox: SandboxConfig;
    cacheDir?: string | null;
    /** The repo's name in the fleet config, when `repo` is not it (the gate's sandboxes). */
    configName?: string;
    attempt?: number;
  },
  signal?: AbortSignal,
): Promise<string> {
  const { docker } = deps;
  try {
    await docker.getImage(input.sandbox.image).inspect();
  } catch (err) {
    if (statusCode(err) === 404) {
      throw fatal(
        'SandboxImageMissing',
        `sandbox image "${input.sandbox.image}" is not on this host; run "${setupCommand()}" (or build the image named in repos.config.json) and retry`,
      );
    }
    throw err;
  }
  const name = containerName(input);
  const existing = docker.getContainer(name);
  const info = await existing.inspect().catch((err: unknown) => {
    if (statusCode(err) === 404) return null;
    throw err;
  });
  signal?.throwIfAborted();
  if (info) {
    // Idempotent: a retried create finds its own container; anything else under the name goes,
    // also a container of another worker process (a dead one's, whose bind mount may point at a
    // work tree since replaced).
    if (
      info.State.Running &&
      info.Config.Labels[LABEL_WORKSPACE] === input.workspace &&
      info.Config.Labels[LABEL_OWNER] === deps.owner
    )
      return name;
    await existing.remove({ force: true }).catch(ignore404);
  }
  signal?.throwIfAborted();
  const egress = await egressForSandbox(deps.egress, input, input.sandbox.egress, input.configName);
  const { configName: _configName, attempt, ...spec } = input;
  const container = await docker.createContainer(
    containerSpec({
      ...spec,
      user: deps.user,
      owner: deps.owner,
      workerEnv: deps.workerEnv,
      readOnlyMounts: [...(deps.readOnlyMounts ?? []), ...egress.mounts],
      labels: { ...egress.labels, ...provenance(deps, attempt) },
    }),
  );
  // Given up on while the engine was silent: whoever asked has moved on, so nothing may be left.
  const abandon = async (): Promise<void> => {
    if (!signal?.aborted) return;
    await container.remove({ force: true, v: true }).catch(() => undefined);
    signal.throwIfAborted();
  };
  await abandon();
  await container.start();
  await abandon();
  return name;
}

/** Who made a sandbox, for the reconciler: the activity's workflow and run, the attempt, the host. */
function provenance(deps: SandboxDeps, attempt: number | undefined): Record<string, string> {
  const execution = activityContext()?.info.workflowExecution;
  const labels: Record<string, string> = {};
  if (execution) {
    labels[LABEL_WORKFLOW] = execution.workflowId;
    labels[LABEL_RUN] = execution.runId;
  }
  if (attempt !== undefined) labels[LABEL_ATTEMPT] = String(attempt);
  if (deps.host) labels[LABEL_HOST] = deps.host;
  if (deps.cluster) labels[LABEL_CLUSTER] = deps.cluster;
  return labels;
}

export async function removeSandbox(docker: Docker, ref: SandboxRef): Promise<void> {
  await docker.getContainer(containerName(ref)).remove({ force: true, v: true }).catch(ignore404);
}

/**
 * Every sandbox of a change's repo on this engine, whatever attempt, worker or workflow run made
 * it (a late retry of a create included); returns the names removed.
 */
export async function removeRepoSandboxes(docker: Docker, ref: SandboxRef): Promise<string[]> {
  const found = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_CHANGE}=${ref.changeId}`, `${LABEL_REPO}=${ref.repo}`] },
  });
  await removeSandbox(docker, ref);
  const removed: string[] = [];
  for (const c of found) {
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(ignore404);
    removed.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
  }
  return removed;
}

/**
 * How a configured command runs: with bash, or with sh in an image that has no bash. `sh` asks
 * (a builtin, no extra exec) and hands the script over as an argument, never re-parsed. With
 * `sweep`, the shell stays to kill what the command left running and report it on stderr
 * (leftovers.ts `SWEPT_SCRIPT`); without it (a command behind the egress forwarder, whose
 * process the sweep would take for a leftover), it becomes the command.
 */
export function shellArgv(script: string, sweep = true): string[] {
  if (!sweep)
    return ['sh', '-c', 'command -v bash >/dev/null 2>&1 && exec bash -c "$1" || exec sh -c "$1"', 'lockstep', script];
  const run = 'if command -v bash >/dev/null 2>&1; then bash -c "$1"; else sh -c "$1"; fi\nrc=$?\n';
  return ['sh', '-c', run + SWEPT_SCRIPT, 'lockstep', script];
}

/**
 * Runs `command` with `bash -c` (`sh -c` when the image has no bash) in the sandbox, or `argv` as is when given (no shell, so
 * model-supplied arguments stay arguments). Never rejects for the command's own sake: a
 * failure is an exit code, a timeout is `timedOut` with exit code 137. Rejects when the sandbox
 * is gone, or when `signal` aborts (the caller's cancellation), after killing the command.
 */
export async function runInSandbox(
  deps: SandboxDeps,
  input: RunInSandboxInput,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const { docker } = deps;
  if (input.argv?.length === 0) throw new Error('runInSandbox: argv must not be empty');
  const container = docker.getContainer(containerName(input));
  const info = await container.inspect().catch((err: unknown) => {
    throw statusCode(err) === 404 ? sandboxGone(`sandbox ${containerName(input)} no longer exists`) : err;
  });
  if (!info.State.Running) await container.start();

  // Setup (and a bump's install) fills the cache: one install at a time per cache key (see activities/sandbox/cache.ts).
  const cacheDir = input.kind === 'setup' || input.kind === 'bump' ? info.Config.Labels[LABEL_CACHE] : undefined;
  const release = cacheDir ? await lockCache(cacheDir, signal) : null;
  try {
    return await runCommand(deps, input, container, info.Config.Labels ?? {}, signal);
  } finally {
    await release?.();
  }
}

async function runCommand(
  deps: SandboxDeps,
  input: RunInSandboxInput,
  container: Docker.Container,
  labels: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const logPath = join(
    deps.logDir,
    input.changeId,
    input.repo,
    `${String(input.index).padStart(2, '0')}-${input.kind}-${slug(input.name)}.log`,
  );
  // Only a phase with egress gets a route out, and only while the command runs (activities/egress/sandbox.ts).
  const egress = await openEgress(
    deps.egress,
    { changeId: input.changeId, repo: input.repo },
    labels,
    deps.logDir,
    deps.user,
    input.kind,
    input.egress,
  );
  try {
    const capture = await OutputCapture.open(logPath, input.outputBytes);
    return await execute(deps, container, input, capture, egress, signal);
  } finally {
    await egress?.proxy.close();
  }
}

async function execute(
  deps: SandboxDeps,
  container: Docker.Container,
  input: RunInSandboxInput,
  capture: OutputCapture,
  egress: Awaited<ReturnType<typeof openEgress>>,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const { docker } = deps;
  const started = Date.now();
  // A shell command sweeps its own leftovers in its exec; an argv (no shell) or a command behind
  // the egress forwarder gets a sweep of its own once it returned.
  const swept = input.argv || egress ? null : new SweptStderr((chunk) => capture.write(chunk));
  const cmd = input.argv ?? shellArgv(`mkdir -p "$HOME" 2>/dev/null\n${input.command}`, swept !== null);
  const exec = await container.exec({
    Cmd: egress ? [...egress.prefix, ...cmd] : cmd,
    ...(egress ? { Env: egress.env } : {}),
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
    WorkingDir: '/workspace',
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  docker.modem.demuxStream(stream, capture.sink(), swept ? swept.sink() : capture.sink());

  let timedOut = false;
  let aborted = false;
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  let killed = null as Promise<void> | null; // assigned from the timer or the abort listener
  const kill = (): void => {
    // SIGKILL to the container's init ends every process in it, however many it forked.
    killed ??= container
      .kill({ signal: 'SIGKILL' })
      .catch(() => undefined)
      .then(() => void stream.destroy());
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, input.timeoutSeconds * 1000);
  const onAbort = (): void => {
    aborted = true;
    kill();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // A setup that keeps knocking on refused hosts is stopped now, not at its timeout.
  let refusedStop: string | null = null;
  void egress?.proxy.gaveUp.then((reason) => {
    if (killed) return;
    refusedStop = reason;
    kill();
  });
  let leftovers: Leftovers = { killed: 0, containerKilled: false };
  let report = null as SweptReport | null; // assigned once the command returned
  let durationMs: number;
  try {
    durationMs = await heartbeating(
      deps.heartbeat,
      async () => {
        // A process the command left running may hold its output open after it returned (a fork
        // bomb that detaches): the command has returned when its exec has, stream or not.
        await Promise.race([ended, execReturned(exec, ended)]);
        const returnedAfterMs = Date.now() - started;
        if (!killed) {
          const drained = (): Promise<unknown> =>
            Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000))]);
          // A shell that exited 0 swept first, so nothing holds the output open and its report is
          // last; one killed by a signal (or by its command) did not, and its sweep runs now.
          if (swept && (await exitedZero(exec))) {
            await drained();
            report = swept.end();
          }
          leftovers = report
            ? await settleLeftovers(container, report.killed, report.alive)
            : await killLeftovers(docker, container);
          await drained();
          stream.destroy();
          if (!report) swept?.end(false);
        }
        return returnedAfterMs;
      },
      { everyMs: deps.heartbeatEveryMs, details: () => ({ bytes: capture.bytes, elapsedMs: Date.now() - started }) },
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  // The stream ends as soon as the command dies, before the engine has finished stopping the
  // container: wait for the kill, or the next command would exec into a dying container.
  if (killed) await killed;
  let exitCode = 137;
  if (!timedOut && !aborted && refusedStop === null) {
    // A sweeping shell's report carries the command's code; otherwise the exec's own is it.
    const state = report ? null : await exec.inspect().catch(() => null);
    exitCode = report?.exitCode ?? (state?.Running ? 137 : (state?.ExitCode ?? 137));
  }
  const closed = egress ? await egress.proxy.close() : null;
  const meter = activityContext()?.metricMeter;
  if (meter) {
    sandboxCommand(meter, input.kind, (Date.now() - started) / 1000);
    if (egress && closed) egressBytes(meter, egress.phase, closed.bytesUp, closed.bytesDown);
  }
  // A closed phase's summary says something only when the command tried to go out.
  const summary = closed && egress && (!egress.closed || closed.denied > 0) ? closed : null;
  // Setup's refusals matter when it failed; a step's or the agent's always (a tool may fall back quietly).
  const hint =
    egress && summary && (exitCode !== 0 || egress.phase !== 'setup') ? deniedHint(egress.repo, summary) : '';
  if (hint) capture.write(Buffer.from(`\n${hint}\n`));
  const note = leftoversNote(leftovers);
  const stopped = refusedStop === null ? null : `stopped: ${refusedStop as string}`;
  const log = await capture.close(
    timedOut ? `killed after ${input.timeoutSeconds}s timeout` : aborted ? 'cancelled' : (stopped ?? note ?? undefined),
  );
  if (aborted) throw signal?.reason instanceof Error ? signal.reason : new Error('cancelled');
  return {
    exitCode,
    timedOut,
    durationMs,
    outputBytes: capture.bytes,
    truncated: capture.truncated,
    outputTail:
      capture.tailText() +
      (timedOut
        ? `\n[lockstep: killed after ${input.timeoutSeconds}s timeout]`
        : stopped
          ? `\n[lockstep: ${stopped}]`
          : note
            ? `\n[lockstep: ${note}]`
            : ''),
    log,
    ...(summary ? { egress: summary } : {}),
    ...(leftovers.killed > 0 ? { leftovers: leftovers.killed } : {}),
  };
}

/** Whether the exec's process exited 0: a sweeping shell does only once it swept. */
async function exitedZero(exec: Docker.Exec): Promise<boolean> {
  const state = await exec.inspect().catch(() => null);
  return !!state && !state.Running && state.ExitCode === 0;
}

/** Resolves when the exec's process has exited (polled), or when `ended` settles first. */
async function execReturned(exec: Docker.Exec, ended: Promise<void>, everyMs = 300): Promise<void> {
  let done = false;
  void ended.then(() => (done = true));
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    if (done) return;
    const state = await exec.inspect().catch(() => null);
    if (state && !state.Running) return;
  }
}

/**
 * Removes `lockstep.*` containers whose owning worker process is gone (crashed or stopped
 * without cleanup). Containers of live workers on this machine are left alone.
 */
export async function reapOrphans(docker: Docker, isAlive: (owner: string) => boolean): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL_CHANGE] } });
  const removed: string[] = [];
  for (const c of containers) {
    const owner = c.Labels[LABEL_OWNER] ?? '';
    if (owner && isAlive(owner)) continue;
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(ignore404);
    removed.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
  }
  return removed;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'command'
  );
}

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : undefined;
}

function ignore404(err: unknown): void {
  if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
}
