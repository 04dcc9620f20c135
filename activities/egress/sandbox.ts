/**
 * How a sandbox's commands reach the egress proxy although the sandbox has no network
 * interface: its own folder of this worker's state (the proxy's socket, the CA bundles) and the
 * static forwarder are mounted read-only; for a command whose phase has egress (setup; steps
 * and the agent's commands where the fleet grants it and the change asks, see phases.ts) the
 * proxy listens on the socket with that phase's policy, and the forwarder runs the command with
 * the proxy variables set. A step or agent command of a repo with `sandbox.egress` whose phase
 * is closed runs behind a proxy that refuses everything and says which keys would open it.
 * Tests and the gate's checks find no socket listening and no forwarder running: no route out.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, constants, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { setupCommand, toolsDir } from '../../config/paths.ts';
import type { SandboxEgress } from '../../config/repos.ts';
import type { CommandKind, EgressAsk, EgressPhase } from '../../core/commands.ts';
import type { SandboxRef } from '../../core/workspace.ts';
import { fatal } from '../errors.ts';
import type { ReadOnlyMount } from '../sandbox/docker.ts';
import { renewingEgressCa, type RenewingEgressCa } from './ca.ts';
import { closedReason, egressPhase, grantedPolicy, type PhasePolicy } from './phases.ts';
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
/** The worker's bundle plus its egress CA: what the inspected phases trust. */
const INSPECTED_CA = 'ca-inspected.pem';
/** The CA variables every TLS client in the sandbox reads (Go and OpenSSL: SSL_CERT_FILE). */
const CA_VARIABLES = [
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'PIP_CERT',
  'REQUESTS_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'npm_config_cafile',
];
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
  /** This worker's egress CA (made at its start, key in memory only): opens the inspected phases' TLS. */
  ca: RenewingEgressCa;
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
  /** What the fleet grants beyond setup (absent: not granted; labels made before phases have neither). */
  steps?: PhasePolicy;
  agent?: PhasePolicy;
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
      `repo "${configName}" sets sandbox.egress in repos.config.json, but this worker has no egress forwarder (egress/bin/egress-forwarder in its tools folder ${toolsDir()}); run "${setupCommand()}" on the worker's host (it needs Go 1.19+), or remove sandbox.egress`,
    );
  }
  const dir = egressDir(deps, ref);
  if (join(dir, SOCKET).length > SOCKET_PATH_MAX) {
    throw fatal(
      'InvalidInput',
      `the egress socket path ${join(dir, SOCKET)} is longer than ${SOCKET_PATH_MAX} bytes; start the worker with a shorter LOCKSTEP_STATE_DIR`,
    );
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
      throw fatal(
        'InvalidInput',
        `sandbox.egress.caBundle of repo "${configName}": cannot read ${ca} on this worker (${(err as Error).message}); name an existing PEM bundle or leave the key out`,
      );
    }
  }
  const steps = grantedPolicy(egress, 'steps');
  const agent = grantedPolicy(egress, 'agent');
  const label: EgressLabel = {
    repo: configName,
    allow: egress.allow,
    ports: egress.ports,
    maxMb: egress.maxMb,
    maxConnections: egress.maxConnections,
    ca: ca !== null && ca !== undefined,
    ...(steps ? { steps } : {}),
    ...(agent ? { agent } : {}),
  };
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

export interface CommandEgress {
  /** The repo's name in the fleet config, for the messages. */
  repo: string;
  phase: EgressPhase;
  /** The phase is closed for this command: its proxy refuses everything. */
  closed: boolean;
  /** Put before the command's argv: the forwarder, which runs it. */
  prefix: string[];
  /** Exec environment: the proxy variables, the registries, the CA bundle. */
  env: string[];
  proxy: EgressProxy;
}

/** The egress log of a change's repo on this worker: one JSON line per connection or request, every phase. */
export const egressLogPath = (logDir: string, ref: SandboxRef): string =>
  join(logDir, ref.changeId, ref.repo, 'egress.jsonl');

/**
 * Opens the egress of one command: the proxy starts listening on the sandbox's socket with the
 * policy of the command's phase. Null when the command's kind has no phase (tests, the gate)
 * or the sandbox has no egress (no label): then it runs with no route out.
 */
export async function openEgress(
  deps: EgressDeps | undefined,
  ref: SandboxRef,
  labels: Record<string, string>,
  logDir: string,
  /** `uid:gid` the command runs as: the only one that may connect to the socket. */
  user: string,
  kind: CommandKind,
  /** What the change asked (RepoTask.egress); absent: nothing beyond setup. */
  ask?: EgressAsk,
): Promise<CommandEgress | null> {
  const phase = egressPhase(kind);
  const raw = labels[LABEL_EGRESS];
  if (!phase || !raw || !deps) return null;
  const label = JSON.parse(raw) as EgressLabel;
  const granted = phase === 'setup' ? null : (label[phase] ?? null);
  const closed = phase === 'setup' ? null : closedReason(label.repo, phase, granted !== null, ask);
  const inspected = phase !== 'setup' && granted !== null && closed === null ? granted : null;
  const registries = await deps.registryEnv();
  const dir = egressDir(deps, ref);
  // The worker's bundle (copied at sandbox creation): trusted for the upstreams, and by the sandbox.
  const bundle = label.ca ? await readFile(join(dir, CA), 'utf8').catch(() => '') : '';
  // The CA current now, for the whole command (a worker renews it while it runs for weeks).
  const ca = deps.ca.current();
  if (inspected) {
    // Written at each command: the CA is this worker process's, which may not be the one that made the sandbox.
    await writeFile(join(dir, INSPECTED_CA), `${bundle.trimEnd()}\n${ca.certPem}`, { mode: 0o644 });
    await chmod(join(dir, INSPECTED_CA), 0o644);
  }
  const logPath = egressLogPath(logDir, ref);
  const proxy = await startEgressProxy({
    socketPath: join(dir, SOCKET),
    logPath,
    logName: relative(logDir, logPath),
    phase,
    policy: {
      allow: inspected ? inspected.allow : closed ? [] : label.allow,
      ports: label.ports,
      maxBytes: label.maxMb * 1024 * 1024,
      maxConnections: label.maxConnections,
      ...(inspected?.methods ? { methods: inspected.methods } : {}),
    },
    ...(inspected ? { inspect: { ca, upstreamCa: bundle ? [bundle] : [] } } : {}),
    ...(closed ? { closed } : {}),
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
  if (inspected || label.ca) {
    const ca = `${EGRESS_MOUNT}/${inspected ? INSPECTED_CA : CA}`;
    for (const name of CA_VARIABLES) env[name] = ca;
  }
  return {
    repo: label.repo,
    phase,
    closed: closed !== null,
    prefix: [
      `${FORWARDER_MOUNT}/egress-forwarder`,
      '-listen',
      `127.0.0.1:${FORWARDER_PORT}`,
      '-socket',
      `${EGRESS_MOUNT}/${SOCKET}`,
      '--',
    ],
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    proxy,
  };
}

function socketOwner(user: string): { socketOwner?: { uid: number; gid: number } } {
  const [uid, gid] = user.split(':').map(Number);
  return Number.isInteger(uid) && Number.isInteger(gid)
    ? { socketOwner: { uid: uid as number, gid: gid as number } }
    : {};
}

/** The line a failed command gets when the proxy refused it something: what, where, and the fix. */
export function deniedHint(repo: string, summary: EgressSummary): string {
  const first = summary.deniedHosts[0];
  if (!first) return '';
  const phase = summary.phase ?? 'setup';
  const others =
    summary.deniedHosts.length > 1
      ? ` (also: ${summary.deniedHosts
          .slice(1)
          .map((d) => (d.method ? `${d.method} ${d.host}${d.path ?? ''}` : `${d.host}:${d.port}`))
          .join(', ')})`
      : '';
  const key = phase === 'setup' ? 'sandbox.egress.allow' : `sandbox.egress.${phase}.allow`;
  const fix = /allowlist|port \d+ is not allowed/.test(first.reason)
    ? `if ${phase} needs it, add "${first.host}${first.reason.startsWith('port') ? `:${first.port}` : ''}" to repos[<i>].${key} in repos.config.json, where repos[<i>].name is "${repo}"${phase === 'setup' ? ' (or to defaults.sandbox.egress.allow)' : ' (and to sandbox.egress.allow, which bounds it)'}`
    : /egress for \w+ is off|sandbox\.egress\.\w+\.methods/.test(first.reason)
      ? 'the reason names the keys'
      : 'no allowlist entry can open that';
  const what = first.method
    ? `${first.method} ${first.host}:${first.port}${first.path ?? ''}`
    : `egress to ${first.host}:${first.port}`;
  const who = phase === 'setup' ? 'setup was' : phase === 'steps' ? 'the step was' : "the agent's command was";
  return `[lockstep: ${who} refused ${what}: ${first.reason}${others}; ${fix} (egress log: ${summary.log})]`;
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
export async function egressDepsFor(
  stateDir: string,
  forwarderDir: string,
  env: NodeJS.ProcessEnv,
  loopbackPorts?: readonly number[],
): Promise<EgressDeps> {
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
    // A new CA at every worker start, its key never leaving this process.
    ca: renewingEgressCa(),
  };
}
