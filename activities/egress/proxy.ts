/**
 * The egress of one command: an allowlisting HTTP and HTTPS (CONNECT) forward proxy the
 * worker runs on a unix socket mounted into that one sandbox, so every connection is
 * attributed to its change and repo. It listens only while the command runs. The upstream is
 * dialled at the address the proxy itself resolved and checked (a name that resolves into the
 * worker's loopback or a private range is refused, so no DNS trick reaches Temporal, Docker or
 * a metadata endpoint).
 *
 * Setup's proxy never opens TLS: a tunnel is judged by its CONNECT target, a plain request by
 * its absolute URI, and every connection becomes one JSON line. A phase with a method policy
 * (steps, agent) is inspected: the proxy answers the tunnel's TLS itself with a leaf of the
 * worker's egress CA (activities/egress/ca.ts), judges every request's method, Host and path,
 * forwards it over TLS verified against Node's roots and the worker's CA bundle, and writes one
 * JSON line per request. A client that does not trust the CA never sends a request.
 */
import { lookup } from 'node:dns/promises';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { connect, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, TLSSocket, type ConnectionOptions } from 'node:tls';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { EgressPhase, EgressSummary } from '../../core/commands.ts';
import type { EgressCa } from './ca.ts';
import { allowlistRefusal, isNonPublic, normalHost, requestRefusal, type EgressPolicy } from './policy.ts';

export type { EgressSummary };

export interface EgressRecord {
  at: string;
  /** The phase whose policy judged it (absent in logs written before phases: setup). */
  phase?: EgressPhase;
  host: string;
  port: number;
  /** CONNECT for a tunnel, else the request's method. */
  method: string;
  /** An inspected request's path (with its query), as sent. */
  path?: string;
  /** An inspected request's response status (the proxy's own 403 when refused, 502 when the upstream failed). */
  status?: number;
  bytesUp: number;
  bytesDown: number;
  allowed: boolean;
  /** Why it was refused or cut (absent when allowed and completed). */
  reason?: string;
  durationMs: number;
}

export interface EgressProxyOptions {
  socketPath: string;
  policy: EgressPolicy;
  /** Where the JSON lines go (appended: a retried setup adds to the same file). */
  logPath: string;
  /** `EgressSummary.log`: how the log is named outside this worker. */
  logName: string;
  /**
   * Loopback ports the proxy may dial although loopback is never public: only for tests, whose
   * upstream runs on this machine. Never set from configuration.
   */
  loopbackPorts?: readonly number[];
  /** Who may connect to the socket besides the worker: the sandbox's user (default: anyone who can reach the folder). */
  socketOwner?: { uid: number; gid: number };
  /** Name resolution (default: the system resolver, every address). */
  resolve?: (host: string) => Promise<string[]>;
  /** The phase this proxy serves, written in every line (default: setup). */
  phase?: EgressPhase;
  /**
   * Needed when `policy.methods` is set: the CA whose leaves answer the tunnels' TLS, and the
   * certificates (PEM) an upstream may chain to besides Node's own roots.
   */
  inspect?: { ca: EgressCa; upstreamCa: readonly string[] };
  /** Refuse every connection with this reason (a phase the fleet or the change keeps closed). */
  closed?: string;
}

export interface EgressProxy {
  summary(): EgressSummary;
  /**
   * Settles with a reason once the setup was refused REFUSALS_TO_GIVE_UP connections: a client
   * that retries a refused host without end (npm does, whatever its retry settings) would
   * otherwise run until the setup's timeout and say nothing. Never settles otherwise.
   */
  readonly gaveUp: Promise<string>;
  /** Stops listening, cuts every open connection, writes the last lines; idempotent. */
  close(): Promise<EgressSummary>;
}

const LIST_MAX = 10;
/** Refused connections after which the setup is stopped; later refusals are counted, not logged. */
export const REFUSALS_TO_GIVE_UP = 50;
/** How long close waits for cut connections to record themselves before the log ends. */
const RECORD_WAIT_MS = 5000;

class Denied extends Error {}

export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const { policy } = options;
  const phase = options.phase ?? 'setup';
  const scope = phase === 'setup' ? 'this setup' : 'this command';
  const inspect = policy.methods ? options.inspect : undefined;
  if (policy.methods && !inspect)
    throw new Error('startEgressProxy: a method policy needs the egress CA (options.inspect)');
  // Built once: every upstream of this command is verified against the same roots.
  const upstreamTls = inspect ? createSecureContext({ ca: [...rootCertificates, ...inspect.upstreamCa] }) : null;
  const resolve =
    options.resolve ??
    (async (host: string) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address));
  await mkdir(dirname(options.socketPath), { recursive: true, mode: 0o755 });
  await mkdir(dirname(options.logPath), { recursive: true });
  await rm(options.socketPath, { force: true });
  const log: WriteStream = createWriteStream(options.logPath, { flags: 'a' });
  const totals = { connections: 0, requests: 0, denied: 0, bytesUp: 0, bytesDown: 0, attempts: 0 };
  const hosts = new Set<string>();
  const deniedHosts: EgressSummary['deniedHosts'] = [];
  const open = new Set<Duplex>();
  const pending = new Set<Promise<void>>();
  let closed: Promise<EgressSummary> | null = null;
  /** Connections not recorded yet, and who waits for none to be left (close, before the log ends). */
  let unrecorded = 0;
  let allRecorded: (() => void) | null = null;
  let giveUp: (reason: string) => void = () => undefined;
  const gaveUp = new Promise<string>((resolve) => (giveUp = resolve));

  const summary = (): EgressSummary => ({
    phase,
    connections: totals.connections,
    ...(inspect ? { requests: totals.requests } : {}),
    denied: totals.denied,
    bytesUp: totals.bytesUp,
    bytesDown: totals.bytesDown,
    hosts: [...hosts].slice(0, LIST_MAX),
    deniedHosts: deniedHosts.slice(0, LIST_MAX),
    log: options.logName,
  });

  const write = (record: EgressRecord): void => {
    // Setup's plain requests carry their path in the log too, but count as its connections.
    const request = inspect !== undefined && record.path !== undefined;
    if (record.allowed) {
      // An inspected tunnel counts as a connection once its TLS stands (see `inspectTunnel`).
      if (request) totals.requests += 1;
      else totals.connections += 1;
      if (hosts.size < LIST_MAX) hosts.add(record.host);
    } else {
      totals.denied += 1;
      const same = (d: EgressSummary['deniedHosts'][number]): boolean =>
        d.host === record.host &&
        d.port === record.port &&
        (!request || (d.method === record.method && d.path === record.path));
      if (deniedHosts.length < LIST_MAX && !deniedHosts.some(same)) {
        deniedHosts.push({
          host: record.host,
          port: record.port,
          reason: record.reason ?? 'denied',
          ...(request ? { method: record.method, path: (record.path ?? '').slice(0, 200) } : {}),
        });
      }
      if (totals.denied === REFUSALS_TO_GIVE_UP) {
        const first = deniedHosts[0];
        giveUp(
          `the egress proxy refused ${REFUSALS_TO_GIVE_UP} connections${first ? `, the first to ${first.host}:${first.port} (${first.reason})` : ''}`,
        );
      }
      // The summary keeps counting; the log stops growing with a client that retries without end.
      if (totals.denied > REFUSALS_TO_GIVE_UP) return;
    }
    log.write(`${JSON.stringify(record)}\n`);
  };

  /** One connection's (or inspected request's) accounting; `end` records it once, however it ended. */
  const track = (host: string, port: number, method: string, path?: string) => {
    const started = Date.now();
    const entry = {
      up: 0,
      down: 0,
      reason: undefined as string | undefined,
      done: false,
      allowed: true,
      status: undefined as number | undefined,
    };
    unrecorded += 1;
    let cut: () => void = () => undefined;
    return {
      onCut(fn: () => void) {
        cut = fn;
      },
      count(direction: 'up' | 'down', bytes: number) {
        entry[direction] += bytes;
        totals[direction === 'up' ? 'bytesUp' : 'bytesDown'] += bytes;
        if (totals.bytesUp + totals.bytesDown > policy.maxBytes && !entry.reason) {
          entry.reason = `the byte cap of ${scope} (${policy.maxBytes} bytes, sandbox.egress.maxMb) was reached`;
          cut();
        }
      },
      status(code: number) {
        entry.status = code;
      },
      /** Records it without a line of its own (an inspected tunnel: its requests have lines). */
      silent() {
        if (entry.done) return;
        entry.done = true;
        unrecorded -= 1;
        if (unrecorded === 0) allRecorded?.();
      },
      end(denied?: string, reason?: string) {
        if (entry.done) return;
        entry.done = true;
        if (reason && !entry.reason) entry.reason = reason;
        write({
          at: new Date(started).toISOString(),
          phase,
          host,
          port,
          method,
          ...(path !== undefined ? { path } : {}),
          ...(entry.status !== undefined ? { status: entry.status } : {}),
          bytesUp: entry.up,
          bytesDown: entry.down,
          allowed: denied === undefined,
          ...((denied ?? entry.reason) ? { reason: denied ?? entry.reason } : {}),
          durationMs: Date.now() - started,
        });
        unrecorded -= 1;
        if (unrecorded === 0) allRecorded?.();
      },
    };
  };

  /** The address to dial for `host:port`, or Denied with the reason. */
  const admit = async (host: string, port: number): Promise<string> => {
    totals.attempts += 1;
    if (options.closed) throw new Denied(options.closed);
    if (closed) throw new Denied('the command has ended');
    if (totals.attempts > policy.maxConnections)
      throw new Denied(
        `the connection cap of ${scope} (${policy.maxConnections}, sandbox.egress.maxConnections) was reached`,
      );
    if (totals.bytesUp + totals.bytesDown > policy.maxBytes)
      throw new Denied(`the byte cap of ${scope} (${policy.maxBytes} bytes, sandbox.egress.maxMb) was reached`);
    const refusal = allowlistRefusal(policy, host, port);
    if (refusal) throw new Denied(refusal);
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      throw new Denied('the host name does not resolve');
    }
    if (addresses.length === 0) throw new Denied('the host name does not resolve');
    const loopbackOk = (a: string): boolean =>
      (options.loopbackPorts ?? []).includes(port) && (a === '::1' || a.startsWith('127.'));
    // One bad address refuses the name: a resolver that mixes in a private address is an attack.
    const bad = addresses.find((a) => isNonPublic(a) && !loopbackOk(a));
    if (bad) throw new Denied(`resolves to ${bad}, which is not a public address`);
    return addresses[0] as string;
  };

  type Admitted = { host: string; port: number; address: string };

  /** One request of an inspected phase, judged and forwarded to the address admitted for its host. */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    target: Admitted,
    scheme: 'http' | 'https',
    path: string,
  ): void => {
    const method = req.method ?? 'GET';
    const authority = `${target.host}${target.port === (scheme === 'https' ? 443 : 80) ? '' : `:${target.port}`}`;
    const t = track(target.host, target.port, method, path.slice(0, 2000));
    const refusal = requestRefusal(
      policy,
      phase,
      { method, path, hostHeader: parseAuthority(String(req.headers.host ?? ''), scheme === 'https' ? 443 : 80) },
      target,
    );
    if (refusal) {
      t.status(403);
      t.end(refusal);
      req.resume();
      res
        .writeHead(403, { 'content-type': 'text/plain', connection: 'close' })
        .end(`lockstep egress: ${method} ${scheme}://${authority}${path.slice(0, 2000)} refused: ${refusal}\n`);
      return;
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!/^(proxy-|connection$|keep-alive$|upgrade$)/i.test(name) && value !== undefined) headers[name] = value;
    }
    const options = { host: target.address, port: target.port, method, path, headers, setHost: false, agent: false };
    // The upstream's certificate must name the host the sandbox asked for, under Node's roots or the worker's bundle.
    const secured: HttpsRequestOptions & ConnectionOptions = {
      ...options,
      servername: target.host,
      ...(upstreamTls ? { secureContext: upstreamTls } : {}),
    };
    const upstream = scheme === 'https' ? httpsRequest(secured) : httpRequest(options);
    t.onCut(() => {
      upstream.destroy();
      res.destroy();
    });
    req.on('data', (chunk: Buffer) => t.count('up', chunk.length));
    req.pipe(upstream);
    upstream.on('response', (up) => {
      t.status(up.statusCode ?? 502);
      up.on('data', (chunk: Buffer) => t.count('down', chunk.length));
      const back = { ...up.headers };
      delete back.connection;
      delete back['keep-alive'];
      res.writeHead(up.statusCode ?? 502, back);
      up.pipe(res);
      up.on('end', () => t.end());
      up.on('error', () => t.end());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        t.status(502);
        res
          .writeHead(502, { 'content-type': 'text/plain', connection: 'close' })
          .end(
            `lockstep egress: ${method} ${scheme}://${authority}${path.slice(0, 2000)}: the upstream failed: ${err.message}\n`,
          );
      } else res.destroy();
      t.end(undefined, `the upstream failed: ${err.message}`);
    });
    res.on('close', () => {
      upstream.destroy();
      t.end();
    });
  };

  /** Inspected tunnels' TLS sockets, with what their CONNECT admitted; their requests arrive at `inner`. */
  const tunnels = new WeakMap<object, Admitted>();
  const inner = createServer();
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const tunnel = tunnels.get(req.socket);
    if (!tunnel) return void res.destroy();
    forward(req, res, tunnel, 'https', req.url ?? '');
  });
  inner.on('clientError', (_err, socket: Duplex) => socket.destroy());

  /** CONNECT of an inspected phase: admitted like any tunnel, then its TLS is answered here. */
  const inspectTunnel = (
    target: { host: string; port: number },
    client: Duplex,
    head: Buffer,
    t: ReturnType<typeof track>,
    deny: (reason: string) => void,
    ca: EgressCa,
  ): Promise<void> =>
    admit(target.host, target.port).then(
      (address) => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) client.unshift(head);
        const secure = new TLSSocket(client, {
          isServer: true,
          secureContext: ca.context(target.host),
          ALPNProtocols: ['http/1.1'],
        });
        open.add(secure);
        tunnels.set(secure, { ...target, address });
        let established = false;
        secure.on('secure', () => {
          established = true;
          totals.connections += 1;
          t.silent();
        });
        const unfinished = (err?: Error): string =>
          `TLS with the client did not complete${err ? ` (${err.message})` : ''}: a client that does not trust the egress CA ends it so; the sandbox trusts the CA through the bundle its CA variables name`;
        secure.on('error', (err: Error) => {
          if (!established) t.end(unfinished(err));
          secure.destroy();
        });
        secure.on('close', () => {
          open.delete(secure);
          if (!established) t.end(unfinished());
        });
        inner.emit('connection', secure);
      },
      (err: unknown) => deny(err instanceof Error ? err.message : String(err)),
    );

  const server = createServer();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = parseAuthority(req.url ?? '');
    const t = track(target?.host ?? String(req.url).slice(0, 200), target?.port ?? 0, 'CONNECT');
    const deny = (reason: string): void => {
      t.end(reason);
      client.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nlockstep egress: ${target ? `${target.host}:${target.port}` : 'this target'} denied: ${reason}\n`,
      );
    };
    client.on('error', () => undefined);
    if (!target) return deny('not a host:port target');
    if (inspect) {
      const job = inspectTunnel(target, client, head, t, deny, inspect.ca);
      pending.add(job);
      void job.finally(() => pending.delete(job));
      return;
    }
    const job = admit(target.host, target.port).then(
      (address) => {
        const upstream = connect({ host: address, port: target.port });
        open.add(upstream);
        t.onCut(() => {
          upstream.destroy();
          client.destroy();
        });
        let connected = false;
        upstream.on('connect', () => {
          connected = true;
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length) {
            t.count('up', head.length);
            upstream.write(head);
          }
          client.on('data', (chunk: Buffer) => t.count('up', chunk.length));
          upstream.on('data', (chunk: Buffer) => t.count('down', chunk.length));
          client.pipe(upstream);
          upstream.pipe(client);
        });
        upstream.on('error', (err) => {
          if (connected) client.destroy();
          else
            client.end(
              `HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\nlockstep egress: ${target.host}:${target.port}: ${err.message}\n`,
            );
        });
        upstream.on('close', () => {
          open.delete(upstream);
          // Before the tunnel stood, the 502 written on error must still reach the client.
          if (connected) client.destroy();
          t.end();
        });
        client.on('close', () => upstream.destroy());
      },
      (err: unknown) => deny(err instanceof Error ? err.message : String(err)),
    );
    pending.add(job);
    void job.finally(() => pending.delete(job));
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let url: URL | null = null;
    try {
      url = new URL(req.url ?? '');
    } catch {
      url = null;
    }
    const port = url ? Number(url.port || 80) : 0;
    const host = url ? normalHost(url.hostname.replace(/^\[|\]$/g, '')) : String(req.headers.host ?? '?').slice(0, 200);
    const t = track(host, port, req.method ?? 'GET');
    const deny = (status: number, reason: string): void => {
      t.end(reason);
      req.resume();
      res
        .writeHead(status, { 'content-type': 'text/plain', connection: 'close' })
        .end(`lockstep egress: ${host}:${port} denied: ${reason}\n`);
    };
    if (!url || url.protocol !== 'http:')
      return deny(400, 'a plain request must carry an absolute http:// URI (use CONNECT for https)');
    if (!inspect) {
      // Setup judges a plain request by its URI, which must agree with its Host header; an
      // inspected phase judges both per request, in forward.
      const claimed = parseAuthority(String(req.headers.host ?? ''), 80);
      if (!claimed || claimed.host !== host || claimed.port !== port)
        return deny(400, `the Host header (${String(req.headers.host ?? 'none')}) disagrees with the request's URI`);
    }
    // Forwarded like a tunnel's request, to the address admitted for its host; logged per request.
    const path = `${url.pathname}${url.search}`;
    t.silent();
    const job = admit(host, port).then(
      (address) => forward(req, res, { host, port, address }, 'http', path),
      (err: unknown) => {
        const r = track(host, port, req.method ?? 'GET', path.slice(0, 2000));
        const reason = err instanceof Error ? err.message : String(err);
        r.status(403);
        r.end(reason);
        req.resume();
        res
          .writeHead(403, { 'content-type': 'text/plain', connection: 'close' })
          .end(
            `lockstep egress: ${req.method ?? 'GET'} http://${host}:${port}${path.slice(0, 2000)} refused: ${reason}\n`,
          );
      },
    );
    pending.add(job);
    void job.finally(() => pending.delete(job));
  });
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.socketPath, () => {
      server.off('error', fail);
      done();
    });
  });
  // The sandbox's user is usually not the worker's: the socket goes to that uid alone when the
  // worker may hand it over (as root), else it stays connectable by whoever reaches its folder.
  if (options.socketOwner && process.getuid?.() === 0) {
    await chown(options.socketPath, options.socketOwner.uid, options.socketOwner.gid);
    await chmod(options.socketPath, 0o600);
  } else await chmod(options.socketPath, 0o666);

  return {
    summary,
    gaveUp,
    close() {
      closed ??= (async () => {
        await new Promise<void>((done) => {
          server.close(() => done());
          for (const socket of open) socket.destroy();
          server.closeAllConnections();
        });
        await Promise.allSettled([...pending]);
        // Cut tunnels record on their close events, which a destroyed client's tunnel reaches
        // only some loop turns later: the log ends once every connection is in it.
        // Bounded, so a connection that never reports cannot keep the setup from ending.
        if (unrecorded > 0)
          await new Promise<void>((done) => {
            allRecorded = done;
            setTimeout(done, RECORD_WAIT_MS).unref();
          });
        await new Promise<void>((done) => log.end(() => done()));
        await rm(options.socketPath, { force: true });
        return summary();
      })();
      return closed;
    },
  };
}

/** `host:port` (CONNECT form, `[v6]:port` too), with `defaultPort` when the port is absent. */
function parseAuthority(text: string, defaultPort?: number): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m?.[1]) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || port < 1 || port > 65_535) return null;
  return { host: normalHost(m[1].replace(/^\[|\]$/g, '')), port };
}
