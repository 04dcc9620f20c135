/**
 * Container compliance: what every Lockstep sandbox must look like from the outside, checked on
 * the engine's own record of the container (`docker inspect`), not on the spec Lockstep meant to
 * send. A watcher inspects each sandbox the moment the engine reports it created, so suites can
 * say how many containers they made and how many of them held.
 */
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { CACHE_ENV, CACHE_MOUNT } from '../../activities/sandbox/cache.ts';
import { PassThrough } from 'node:stream';
import { BASE_ENV, LABEL_CACHE, LABEL_CHANGE, LABEL_WORKSPACE } from '../../activities/sandbox/docker.ts';

export interface ComplianceOptions {
  /** Environment names allowed besides BASE_ENV (a repo's `sandbox.env`, its `passEnv`). */
  allowEnv?: Iterable<string>;
  /** Values that must appear nowhere in the container's environment or command. */
  secrets?: readonly string[];
  /**
   * Also probe each sandbox once it starts (loopbackViolations). Not for suites whose sandboxes
   * run fork bombs and disk fillers: a probe starved by them would blame the sandbox.
   */
  probeLoopback?: boolean;
}

export interface ComplianceReport {
  id: string;
  name: string;
  violations: string[];
}

const SOCKET = /docker\.sock|containerd\.sock|podman\.sock/;

/** The rules, on an inspected container; returns one line per broken rule (empty: compliant). */
export function complianceViolations(info: ContainerInspectInfo, options: ComplianceOptions = {}): string[] {
  const v: string[] = [];
  const host = info.HostConfig;
  const config = info.Config as typeof info.Config & { NetworkDisabled?: boolean };
  if (host.NetworkMode !== 'none') v.push(`NetworkMode is ${String(host.NetworkMode)}, not none`);
  // NetworkDisabled would take /etc/hosts away, and with it `localhost`; NetworkMode none is the rule.
  if (config.NetworkDisabled) v.push('Config.NetworkDisabled is set, so localhost does not resolve');
  if (!((host.CapDrop ?? []) as string[]).map((c) => c.toUpperCase()).includes('ALL'))
    v.push(`CapDrop ${JSON.stringify(host.CapDrop)} does not drop ALL`);
  if (((host.CapAdd ?? []) as string[]).length > 0) v.push(`CapAdd ${JSON.stringify(host.CapAdd)} adds capabilities`);
  if (!((host.SecurityOpt ?? []) as string[]).some((o) => /^no-new-privileges(:true|=true)?$/.test(o)))
    v.push(`SecurityOpt ${JSON.stringify(host.SecurityOpt)} lacks no-new-privileges`);
  if (host.ReadonlyRootfs !== true) v.push('root file system is writable');
  if (host.Privileged) v.push('privileged');
  if (!host.Memory || host.Memory <= 0) v.push('no memory limit');
  else if (host.MemorySwap !== host.Memory)
    v.push(`MemorySwap ${String(host.MemorySwap)} allows swap beyond Memory ${host.Memory}`);
  if (!host.PidsLimit || host.PidsLimit <= 0) v.push('no pids limit');
  if (!host.NanoCpus || host.NanoCpus <= 0) v.push('no CPU limit (NanoCpus)');
  for (const mode of ['PidMode', 'IpcMode', 'UTSMode', 'UsernsMode'] as const) {
    const value = (host as Record<string, unknown>)[mode];
    if (value === 'host') v.push(`${mode} is host`);
  }
  if (((host.Devices ?? []) as unknown[]).length > 0) v.push(`devices mapped: ${JSON.stringify(host.Devices)}`);

  const user = info.Config.User ?? '';
  const uid = user.split(':')[0] ?? '';
  if (user === '' || uid === '0' || uid === 'root')
    v.push(`runs as ${user === '' ? 'the image default (root)' : user}`);

  for (const m of info.Mounts ?? []) {
    if (SOCKET.test(m.Source) || SOCKET.test(m.Destination))
      v.push(`mounts a container engine socket: ${m.Source} -> ${m.Destination}`);
    if (
      m.Source === '/' ||
      m.Source === '/var/run' ||
      m.Source === '/run' ||
      m.Source === '/proc' ||
      m.Source === '/sys'
    )
      v.push(`mounts host ${m.Source}`);
    const gitDir = m.Destination === '/workspace/.git';
    if (gitDir && m.RW) v.push('/workspace/.git is mounted writable');
    // The repo's package cache is the one writable mount besides the work tree, and only the folder its label names.
    const cache =
      m.Destination === CACHE_MOUNT &&
      m.Source === info.Config.Labels[LABEL_CACHE] &&
      /\/caches\/[^/]+\/[^/]+$/.test(m.Source);
    if (m.Type === 'bind' && m.Destination !== '/workspace' && !gitDir && !cache && m.RW)
      v.push(`writable bind mount ${m.Destination}`);
  }
  for (const bind of host.Binds ?? []) {
    if (SOCKET.test(bind)) v.push(`binds a container engine socket: ${bind}`);
  }

  const allowed = new Set([...Object.keys(BASE_ENV), ...Object.keys(CACHE_ENV), ...(options.allowEnv ?? [])]);
  for (const entry of info.Config.Env ?? []) {
    const name = entry.slice(0, entry.indexOf('=') === -1 ? entry.length : entry.indexOf('='));
    if (!allowed.has(name)) v.push(`environment variable ${name} is not allowlisted`);
  }
  const exposed = JSON.stringify([info.Config.Env, info.Config.Cmd, info.Config.Entrypoint, info.Config.Labels]);
  for (const secret of options.secrets ?? []) {
    if (secret && exposed.includes(secret))
      v.push(`a planted secret (${secret.slice(0, 6)}…) is in the container's environment, command or labels`);
  }
  return v;
}

export async function checkContainer(
  docker: Docker,
  id: string,
  options: ComplianceOptions = {},
): Promise<ComplianceReport> {
  const info = await docker.getContainer(id).inspect();
  return { id, name: info.Name.replace(/^\//, ''), violations: complianceViolations(info, options) };
}

export interface SandboxWatch {
  /** Every sandbox seen created so far, with its violations. */
  readonly reports: ComplianceReport[];
  /** Containers seen created but gone before they could be inspected (each one is a gap in the figure). */
  readonly missed: string[];
  /** Stops watching once every inspection in flight has finished. */
  stop(): Promise<{ checked: number; compliant: number; missed: number; probed: number; reports: ComplianceReport[] }>;
}

/**
 * Watches the engine's events for Lockstep sandboxes created from now on (label lockstep.change)
 * whose workspace label passes `belongs`, and inspects each as soon as it is created.
 */
export async function watchSandboxes(
  docker: Docker,
  belongs: (workspace: string, labels: Record<string, string>) => boolean,
  options: ComplianceOptions = {},
): Promise<SandboxWatch> {
  const reports: ComplianceReport[] = [];
  const missed: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const events = options.probeLoopback ? ['create', 'start'] : ['create'];
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: events, label: [LABEL_CHANGE] },
  })) as NodeJS.ReadableStream & { destroy?: () => void };
  const probedIds = new Set<string>();
  const probeViolations = new Map<string, string[]>();
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      const event = JSON.parse(line) as {
        id?: string;
        Action?: string;
        status?: string;
        Actor?: { ID?: string; Attributes?: Record<string, string> };
      };
      const id = event.Actor?.ID ?? event.id;
      const labels = event.Actor?.Attributes ?? {};
      if (!id || !belongs(labels[LABEL_WORKSPACE] ?? '', labels)) continue;
      if ((event.Action ?? event.status) === 'start') {
        // Once per container: a restart after a killed command proves nothing new.
        if (probedIds.has(id)) continue;
        probedIds.add(id);
        const probe = loopbackViolations(docker, id).then(
          async (found) => {
            // A container removed or stopped mid-probe is a gap, not a violation.
            const running = await docker
              .getContainer(id)
              .inspect()
              .then(
                (i) => i.State.Running,
                () => false,
              );
            if (found.length > 0 && !running) probedIds.delete(id);
            else probeViolations.set(id, found);
          },
          () => void probedIds.delete(id),
        );
        inFlight.add(probe);
        void probe.finally(() => inFlight.delete(probe));
        continue;
      }
      const job = checkContainer(docker, id, options).then(
        (report) => void reports.push(report),
        () => void missed.push(labels.name ?? id),
      );
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job));
    }
  });
  return {
    reports,
    missed,
    async stop() {
      // Events arrive slightly after the fact: let the last ones in before closing the stream.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await Promise.all([...inFlight]);
      stream.destroy?.();
      for (const report of reports) report.violations.push(...(probeViolations.get(report.id) ?? []));
      const compliant = reports.filter((r) => r.violations.length === 0).length;
      return { checked: reports.length, compliant, missed: missed.length, probed: probeViolations.size, reports };
    },
  };
}

/**
 * What only a running container can show: `localhost` resolves to loopback (the engine wrote
 * /etc/hosts), a server bound on localhost answers a client in the same sandbox, and there is
 * no interface but lo. Runs as the sandbox's own user; returns one line per broken rule.
 */
export async function loopbackViolations(docker: Docker, id: string): Promise<string[]> {
  const probe = [
    'import socket, os',
    'v4 = sorted({a[4][0] for a in socket.getaddrinfo("localhost", None, socket.AF_INET)})',
    'try:',
    '    v6 = sorted({a[4][0] for a in socket.getaddrinfo("localhost", None, socket.AF_INET6)})',
    'except OSError:',
    '    v6 = []',
    'srv = socket.create_server(("localhost", 0))',
    'port = srv.getsockname()[1]',
    'cli = socket.create_connection(("localhost", port), timeout=5)',
    'conn, _ = srv.accept()',
    'cli.sendall(b"ping")',
    'got = conn.recv(4)',
    'print("v4=" + ",".join(v4))',
    'print("v6=" + ",".join(v6))',
    'print("echo=" + got.decode())',
    'print("ifaces=" + ",".join(sorted(os.listdir("/sys/class/net"))))',
  ].join('\n');
  const exec = await docker
    .getContainer(id)
    .exec({ Cmd: ['python3', '-c', probe], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
  });
  const out = Buffer.concat(chunks).toString('utf8');
  const field = (name: string): string | undefined => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];
  const v: string[] = [];
  if (field('v4') === undefined) return [`the loopback probe failed: ${out.trim().split('\n').slice(-3).join(' | ')}`];
  if (field('v4') !== '127.0.0.1') v.push(`localhost resolves to ${field('v4') || 'nothing'} over IPv4, not 127.0.0.1`);
  const v6 = field('v6') ?? '';
  if (v6 !== '' && v6 !== '::1') v.push(`localhost resolves to ${v6} over IPv6, not ::1`);
  if (field('echo') !== 'ping') v.push('a server bound on localhost did not answer a client in the same sandbox');
  if (field('ifaces') !== 'lo') v.push(`network interfaces ${field('ifaces') ?? '?'}, not lo alone`);
  return v;
}
