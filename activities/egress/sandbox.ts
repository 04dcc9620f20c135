/**
 * How a sandbox's setup reaches the egress proxy although the sandbox has no network
 * interface: its own folder of this worker's state (the proxy's socket, the CA bundle) and the
 * static forwarder are mounted read-only; for a command of kind `setup`, and no other, the
 * proxy listens on the socket and the forwarder runs the command with the proxy variables set.
 * Steps, agent tools, tests and the gate's checks find no socket listening and no forwarder
 * running, so they have no route out.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, constants, copyFile, mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { SandboxEgress } from '../../config/repos.ts';
import type { SandboxRef } from '../../workflows/types.ts';
import { fatal } from '../errors.ts';
import type { ReadOnlyMount } from '../sandbox/docker.ts';
import { startEgressProxy, type EgressProxy, type EgressSummary } from './proxy.ts';

/** The sandbox's egress folder (socket and CA bundle) inside the container. */
export const EGRESS_MOUNT = '/run/lockstep-egress';
/** `.tools/egress/bin` (scripts/egress-forwarder.sh) inside the container. */
export const FORWARDER_MOUNT = '/opt/lockstep-egress';
/** The loopback port the forwarder listens on while setup runs. */
export const FORWARDER_PORT = 3128;
/** Container label holding the sandbox's egress policy, so every command of it knows. */
export const LABEL_EGRESS = 'lockstep.egress';

const SOCKET = 'egress.sock';
const CA = 'ca.pem';
// sockaddr_un holds 108 bytes with the terminating NUL.
const SOCKET_PATH_MAX = 107;

export interface EgressDeps {
  /** Where the per-sandbox folders go (in the worker's state dir). */
  dir: string;
  /** Folder holding `egress-forwarder`, or null when it is not built on this host. */
  forwarderDir: string | null;
  /**
   * The worker's own registries, for setup's environment (npm_config_registry, GOPROXY, ...).
   * Read once, at the first setup that needs them: asking npm, pip and go costs a second of
   * CPU that a worker whose fleet has no egress should not pay at every start.
   */
  registryEnv: () => Promise<Readonly<Record<string, string>>>;
  /** The bundle used when `caBundle` is not configured (the worker's system bundle), or null. */
  defaultCaBundle: string | null;
  /** Loopback ports the proxy may dial: tests only (their upstream runs here). Never from config. */
  loopbackPorts?: readonly number[];
}

/** What a sandbox's label says about its egress. */
interface EgressLabel {
  /** The repo's name in the fleet config (a gate sandbox's own name carries a prefix). */
  repo: string;
  allow: string[];
  ports: number[];
  maxMb: number;
  maxConnections: number;
  ca: boolean;
}

export const egressDir = (deps: Pick<EgressDeps, 'dir'>, ref: SandboxRef): string =>
  join(deps.dir, createHash('sha256').update(`${ref.changeId}/${ref.repo}`).digest('hex').slice(0, 16));

/**
 * Prepares the sandbox's egress folder and returns the mounts and label to create it with.
 * Without `sandbox.egress` nothing is mounted and setup stays offline.
 */
export async function egressForSandbox(
  deps: EgressDeps | undefined,
  ref: SandboxRef,
  egress: SandboxEgress | undefined,
  /** The repo's name in the fleet config, when the sandbox's own name differs (the gate's). */
  configName: string = ref.repo,
): Promise<{ mounts: ReadOnlyMount[]; labels: Record<string, string> }> {
  if (!egress) return { mounts: [], labels: {} };
  if (!deps?.forwarderDir) {
    throw fatal(
      'InvalidInput',
      `repo "${configName}" sets sandbox.egress in repos.config.json, but this worker has no egress forwarder (.tools/egress/bin/egress-forwarder); run "npm run bootstrap" on the worker's host (it needs Go 1.19+), or remove sandbox.egress`,
    );
  }
  const dir = egressDir(deps, ref);
  if (join(dir, SOCKET).length > SOCKET_PATH_MAX) {
    throw fatal('InvalidInput', `the egress socket path ${join(dir, SOCKET)} is longer than ${SOCKET_PATH_MAX} bytes; start the worker with a shorter LOCKSTEP_STATE_DIR`);
  }
  const ca = egress.caBundle ?? deps.defaultCaBundle;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  if (ca) {
    try {
      // A copy, so the sandbox sees one file and never the folder it came from.
      await copyFile(ca, join(dir, CA));
      await chmod(join(dir, CA), 0o644);
    } catch (err) {
      throw fatal('InvalidInput', `sandbox.egress.caBundle of repo "${configName}": cannot read ${ca} on this worker (${(err as Error).message}); name an existing PEM bundle or leave the key out`);
    }
  }
  const label: EgressLabel = { repo: configName, allow: egress.allow, ports: egress.ports, maxMb: egress.maxMb, maxConnections: egress.maxConnections, ca: ca !== null && ca !== undefined };
  return {
    mounts: [
      { source: dir, target: EGRESS_MOUNT },
      { source: deps.forwarderDir, target: FORWARDER_MOUNT },
    ],
    labels: { [LABEL_EGRESS]: JSON.stringify(label) },
  };
}

/** Removes the sandbox's egress folder (after the sandbox is gone). */
export async function removeEgressDir(deps: EgressDeps | undefined, ref: SandboxRef): Promise<void> {
  if (deps) await rm(egressDir(deps, ref), { recursive: true, force: true });
}

export interface SetupEgress {
  /** The repo's name in the fleet config, for the messages. */
  repo: string;
  /** Put before the command's argv: the forwarder, which runs it. */
  prefix: string[];
  /** Exec environment: the proxy variables, the registries, the CA bundle. */
  env: string[];
  proxy: EgressProxy;
}

/**
 * Opens the egress of one setup command: the proxy starts listening on the sandbox's socket.
 * Null when the sandbox has no egress (no label) — then setup runs as offline as any command.
 */
export async function openSetupEgress(
  deps: EgressDeps | undefined,
  ref: SandboxRef,
  labels: Record<string, string>,
  logDir: string,
  /** `uid:gid` the setup runs as: the only one that may connect to the socket. */
  user: string,
): Promise<SetupEgress | null> {
  const raw = labels[LABEL_EGRESS];
  if (!raw || !deps) return null;
  const label = JSON.parse(raw) as EgressLabel;
  const registries = await deps.registryEnv();
  const logPath = join(logDir, ref.changeId, ref.repo, 'egress.jsonl');
  const proxy = await startEgressProxy({
    socketPath: join(egressDir(deps, ref), SOCKET),
    logPath,
    logName: relative(logDir, logPath),
    policy: { allow: label.allow, ports: label.ports, maxBytes: label.maxMb * 1024 * 1024, maxConnections: label.maxConnections },
    ...(deps.loopbackPorts ? { loopbackPorts: deps.loopbackPorts } : {}),
    ...socketOwner(user),
  });
  const url = `http://127.0.0.1:${FORWARDER_PORT}`;
  const env: Record<string, string> = {
    ...registries,
    HTTPS_PROXY: url,
    HTTP_PROXY: url,
    https_proxy: url,
    http_proxy: url,
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
    npm_config_proxy: url,
    npm_config_https_proxy: url,
  };
  if (label.ca) {
    const ca = `${EGRESS_MOUNT}/${CA}`;
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'PIP_CERT', 'REQUESTS_CA_BUNDLE', 'GIT_SSL_CAINFO']) env[name] = ca;
  }
  return {
    repo: label.repo,
    prefix: [`${FORWARDER_MOUNT}/egress-forwarder`, '-listen', `127.0.0.1:${FORWARDER_PORT}`, '-socket', `${EGRESS_MOUNT}/${SOCKET}`, '--'],
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    proxy,
  };
}

function socketOwner(user: string): { socketOwner?: { uid: number; gid: number } } {
  const [uid, gid] = user.split(':').map(Number);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { socketOwner: { uid: uid as number, gid: gid as number } } : {};
}

/** The line a failed setup gets when the proxy refused it something: the host and the fix. */
export function deniedHint(repo: string, summary: EgressSummary): string {
  const first = summary.deniedHosts[0];
  if (!first) return '';
  const others = summary.deniedHosts.length > 1 ? ` (also: ${summary.deniedHosts.slice(1).map((d) => `${d.host}:${d.port}`).join(', ')})` : '';
  const fix = /allowlist|port \d+ is not allowed/.test(first.reason)
    ? `if setup needs it, add "${first.host}${first.reason.startsWith('port') ? `:${first.port}` : ''}" to repos[<i>].sandbox.egress.allow in repos.config.json, where repos[<i>].name is "${repo}" (or to defaults.sandbox.egress.allow)`
    : 'no allowlist entry can open that';
  return `[lockstep: setup was refused egress to ${first.host}:${first.port}: ${first.reason}${others}; ${fix} (egress log: ${summary.log})]`;
}

const run = promisify(execFile);

/** One value from a tool's own config; null when the tool is missing or says nothing. */
async function toolSetting(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | null> {
  try {
    const { stdout } = await run(file, args, { env, timeout: 15_000 });
    const value = stdout.trim();
    return value && value !== 'undefined' && value !== 'null' ? value : null;
  } catch {
    return null;
  }
}

/**
 * The registries this worker itself installs from, read from the tools' own configuration once
 * at worker start: setup then downloads from the same place (a mirror the worker uses is the
 * mirror the sandbox uses), and no registry host is written into Lockstep.
 */
export async function workerRegistryEnv(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const [npm, pip, goproxy, gosumdb] = await Promise.all([
    toolSetting('npm', ['config', 'get', 'registry'], env),
    toolSetting('python3', ['-m', 'pip', 'config', 'get', 'global.index-url'], env),
    toolSetting('go', ['env', 'GOPROXY'], env),
    toolSetting('go', ['env', 'GOSUMDB'], env),
  ]);
  const out: Record<string, string> = {};
  if (npm) out.npm_config_registry = npm;
  if (pip) out.PIP_INDEX_URL = pip;
  if (goproxy && goproxy !== 'off') out.GOPROXY = goproxy;
  if (gosumdb) out.GOSUMDB = gosumdb;
  return out;
}

/** The worker's CA bundle, found the way OpenSSL and Node do: SSL_CERT_FILE, then the system's files. */
export async function systemCaBundle(env: NodeJS.ProcessEnv): Promise<string | null> {
  const candidates = [
    env.SSL_CERT_FILE,
    '/etc/ssl/certs/ca-certificates.crt',
    '/etc/pki/tls/certs/ca-bundle.crt',
    '/etc/ssl/ca-bundle.pem',
    '/etc/ssl/cert.pem',
    env.NODE_EXTRA_CA_CERTS,
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      await access(c, constants.R_OK);
      return c;
    } catch {
      // the next candidate
    }
  }
  return null;
}

/** Egress deps for a worker: its registries, its CA bundle and the forwarder if it is built. */
export async function egressDepsFor(stateDir: string, forwarderDir: string, env: NodeJS.ProcessEnv, loopbackPorts?: readonly number[]): Promise<EgressDeps> {
  let registries: Promise<Record<string, string>> | undefined;
  const built = await access(join(forwarderDir, 'egress-forwarder'), constants.X_OK).then(
    () => true,
    () => false,
  );
  return {
    dir: join(stateDir, 'egress'),
    forwarderDir: built ? forwarderDir : null,
    registryEnv: () => (registries ??= workerRegistryEnv(env)),
    defaultCaBundle: await systemCaBundle(env),
    ...(loopbackPorts ? { loopbackPorts } : {}),
  };
}
