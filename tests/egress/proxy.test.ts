/**
 * The egress proxy on a real unix socket, against real upstream servers on loopback (reachable
 * only through the test-only `loopbackPorts` of the factory): what it lets through, what it
 * refuses and why, the caps, and that the worker's own loopback services stay out of reach.
 */
import type { Duplex } from 'node:stream';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowEntryProblem, allowlistRefusal, isNonPublic, type EgressPolicy } from '../../activities/egress/policy.ts';
import { startEgressProxy, type EgressProxy, type EgressRecord } from '../../activities/egress/proxy.ts';

let root = '';
let upstream: Server;
let upstreamPort = 0;
let upstreamHits = 0;
/** Stands in for Temporal or Docker on the worker's loopback: must never see a byte. */
let privateService: TcpServer;
let privatePort = 0;
let privateHits = 0;
let proxyCount = 0;

const policy = (over: Partial<EgressPolicy> = {}): EgressPolicy => ({
  allow: ['localhost'],
  ports: [443, 80],
  maxBytes: 10_000_000,
  maxConnections: 100,
  ...over,
});

async function proxy(
  over: Partial<EgressPolicy> = {},
  resolve?: (host: string) => Promise<string[]>,
): Promise<{ p: EgressProxy; socketPath: string; logPath: string }> {
  proxyCount += 1;
  const socketPath = join(root, `p${proxyCount}`, 'egress.sock');
  const logPath = join(root, 'logs', `p${proxyCount}.jsonl`);
  const p = await startEgressProxy({
    socketPath,
    logPath,
    logName: `p${proxyCount}.jsonl`,
    policy: policy(over),
    loopbackPorts: [upstreamPort],
    ...(resolve ? { resolve } : {}),
  });
  return { p, socketPath, logPath };
}

/** CONNECT through the proxy; resolves with the status and, when tunnelled, what the echo sent back. */
function tunnel(socketPath: string, target: string, payload = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'CONNECT', path: target, headers: { host: target } });
    req.on('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        let body = head.toString();
        socket.on('data', (c: Buffer) => (body += c.toString()));
        socket.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
        socket.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
        return;
      }
      let body = '';
      // The upstream answers `Connection: close`, so the tunnel ends when it has answered.
      socket.on('data', (c: Buffer) => (body += c.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ status: 200, body }));
      socket.write(payload);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain-HTTP proxy request: absolute URI, with the Host header given. */
function plain(socketPath: string, uri: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path: uri, headers: { host }, setHost: false });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function records(logPath: string): Promise<EgressRecord[]> {
  return (await readFile(logPath, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EgressRecord);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-egress-'));
  // Plain requests reach it directly; tunnels carry HTTP to it (a real client would carry TLS).
  upstream = createHttpServer((req, res) => {
    upstreamHits += 1;
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 2);
    res.end('x'.repeat(size));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  privateService = createTcpServer((s) => {
    privateHits += 1;
    s.end('temporal');
  });
  await new Promise<void>((r) => privateService.listen(0, '127.0.0.1', r));
  privatePort = (privateService.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => upstream.close(() => r()));
  await new Promise<void>((r) => privateService.close(() => r()));
  await rm(root, { recursive: true, force: true });
});

describe('the allowlist', () => {
  const p = { allow: ['registry.example.org', '*.files.example.net', 'git.example.com:8443'], ports: [443, 80] };
  it('matches exact hosts and suffixes on the default ports, and entry ports alone', () => {
    expect(allowlistRefusal(p, 'registry.example.org', 443)).toBeNull();
    expect(allowlistRefusal(p, 'REGISTRY.example.org.', 80)).toBeNull();
    expect(allowlistRefusal(p, 'registry.example.org', 22)).toMatch(/port 22 is not allowed/);
    expect(allowlistRefusal(p, 'evil-registry.example.org', 443)).toMatch(/not in the allowlist/);
    expect(allowlistRefusal(p, 'registry.example.org.evil.com', 443)).toMatch(/not in the allowlist/);
    expect(allowlistRefusal(p, 'a.files.example.net', 443)).toBeNull();
    expect(allowlistRefusal(p, 'a.b.files.example.net', 443)).toBeNull();
    expect(allowlistRefusal(p, 'files.example.net', 443)).toMatch(/not in the allowlist/);
    expect(allowlistRefusal(p, 'xfiles.example.net', 443)).toMatch(/not in the allowlist/);
    expect(allowlistRefusal(p, 'git.example.com', 8443)).toBeNull();
    expect(allowlistRefusal(p, 'git.example.com', 443)).toMatch(/port 443 is not allowed/);
  });

  it('refuses IP literals, whatever the list says', () => {
    expect(allowlistRefusal({ allow: ['*.example.org'], ports: [443] }, '93.184.215.14', 443)).toMatch(/IP address/);
    expect(
      allowlistRefusal({ allow: ['*.example.org'], ports: [443] }, '[2606:2800:21f:cb07:6820:80da:af6b:8b2c]', 443),
    ).toMatch(/IP address/);
    expect(allowEntryProblem('10.0.0.1')).toMatch(/IP addresses are never allowed/);
    expect(allowEntryProblem('*.org')).toMatch(/two labels/);
    expect(allowEntryProblem('registry.example.org:70000')).toMatch(/port/);
    expect(allowEntryProblem('*.example.org:443')).toBeNull();
  });

  it('knows which addresses are not public', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
    ]) {
      expect(isNonPublic(a), a).toBe(true);
    }
    // Egress gateways answer names with documentation-range addresses (this machine's does).
    for (const a of ['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '203.0.113.80', '198.18.0.7'])
      expect(isNonPublic(a), a).toBe(false);
  });
});

describe('the proxy', () => {
  it('tunnels an allowed CONNECT and records host, port and bytes', async () => {
    const { p, socketPath, logPath } = await proxy({ ports: [upstreamPort] });
    const res = await tunnel(
      socketPath,
      `localhost:${upstreamPort}`,
      'GET /?size=5 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*xxxxx$/);
    const summary = await p.close();
    expect(summary).toMatchObject({ connections: 1, denied: 0, hosts: ['localhost'] });
    expect(summary.bytesUp).toBeGreaterThan(40);
    expect(summary.bytesDown).toBe(res.body.length);
    const [line] = await records(logPath);
    expect(line).toMatchObject({
      host: 'localhost',
      port: upstreamPort,
      method: 'CONNECT',
      allowed: true,
      bytesDown: res.body.length,
    });
    expect(line?.durationMs).toBeGreaterThanOrEqual(0);
    await expect(stat(socketPath)).rejects.toThrow(/ENOENT/);
  });

  it('refuses CONNECT to an unlisted host, an IP literal and an unlisted port, and says why', async () => {
    const { p, socketPath, logPath } = await proxy({ allow: ['localhost', 'registry.example.org'] });
    const hitsBefore = upstreamHits;
    const unlisted = await tunnel(socketPath, 'evil.example.com:443');
    expect(unlisted.status).toBe(403);
    expect(unlisted.body).toMatch(/evil\.example\.com:443 denied: host is not in the allowlist/);
    expect((await tunnel(socketPath, '127.0.0.1:' + String(upstreamPort))).body).toMatch(/IP address/);
    expect((await tunnel(socketPath, '[::1]:443')).body).toMatch(/IP address/);
    expect((await tunnel(socketPath, 'registry.example.org:22')).body).toMatch(/port 22 is not allowed/);
    const summary = await p.close();
    expect(summary).toMatchObject({ connections: 0, denied: 4 });
    expect(summary.deniedHosts.map((d) => d.host)).toEqual([
      'evil.example.com',
      '127.0.0.1',
      '::1',
      'registry.example.org',
    ]);
    expect((await records(logPath)).every((r) => !r.allowed && r.reason)).toBe(true);
    expect(upstreamHits).toBe(hitsBefore);
  });

  it("never reaches the worker's loopback services, by name or by a resolver that points inside", async () => {
    const { p, socketPath } = await proxy(
      { allow: ['localhost', 'internal.example.org', 'rebind.example.org'], ports: [privatePort, 80] },
      async (host) => {
        if (host === 'internal.example.org') return ['10.0.0.5'];
        if (host === 'rebind.example.org') return ['93.184.215.14', '127.0.0.1'];
        return ['127.0.0.1'];
      },
    );
    const byName = await tunnel(socketPath, `localhost:${privatePort}`);
    expect(byName.status).toBe(403);
    expect(byName.body).toMatch(/resolves to 127\.0\.0\.1, which is not a public address/);
    expect((await tunnel(socketPath, 'internal.example.org:80')).body).toMatch(/resolves to 10\.0\.0\.5/);
    expect((await tunnel(socketPath, 'rebind.example.org:80')).body).toMatch(/resolves to 127\.0\.0\.1/);
    expect((await plain(socketPath, `http://localhost:${privatePort}/`, `localhost:${privatePort}`)).status).toBe(403);
    await p.close();
    expect(privateHits).toBe(0);
  });

  it('forwards a plain request whose Host agrees with its URI and refuses one whose Host lies', async () => {
    const { p, socketPath, logPath } = await proxy({ ports: [upstreamPort] });
    const hitsBefore = upstreamHits;
    const ok = await plain(socketPath, `http://localhost:${upstreamPort}/?size=3`, `localhost:${upstreamPort}`);
    expect(ok).toEqual({ status: 200, body: 'xxx' });
    const lying = await plain(socketPath, `http://localhost:${upstreamPort}/`, 'metadata.internal');
    expect(lying.status).toBe(400);
    expect(lying.body).toMatch(/Host header \(metadata\.internal\) disagrees/);
    const relative = await plain(socketPath, '/', `localhost:${upstreamPort}`);
    expect(relative.status).toBe(400);
    await p.close();
    expect(upstreamHits - hitsBefore).toBe(1);
    const lines = await records(logPath);
    expect(lines.map((l) => [l.method, l.allowed])).toEqual([
      ['GET', true],
      ['GET', false],
      ['GET', false],
    ]);
  });

  it('cuts a setup off at its byte cap and at its connection cap', async () => {
    const bytes = await proxy({ maxBytes: 4000, ports: [upstreamPort] });
    const big = await plain(
      bytes.socketPath,
      `http://localhost:${upstreamPort}/?size=100000`,
      `localhost:${upstreamPort}`,
    ).catch(() => ({ status: -1, body: '' }));
    expect(big.body.length).toBeLessThan(100_000);
    const after = await tunnel(bytes.socketPath, `localhost:${upstreamPort}`);
    expect(after.status).toBe(403);
    expect(after.body).toMatch(/byte cap of this setup \(4000 bytes, sandbox\.egress\.maxMb\)/);
    await bytes.p.close();
    expect((await records(bytes.logPath))[0]?.reason).toMatch(/byte cap/);

    const conns = await proxy({ maxConnections: 2, ports: [upstreamPort] });
    for (let i = 0; i < 2; i += 1)
      expect(
        (await plain(conns.socketPath, `http://localhost:${upstreamPort}/`, `localhost:${upstreamPort}`)).status,
      ).toBe(200);
    const third = await plain(conns.socketPath, `http://localhost:${upstreamPort}/`, `localhost:${upstreamPort}`);
    expect(third.status).toBe(403);
    expect(third.body).toMatch(/connection cap of this setup \(2, sandbox\.egress\.maxConnections\)/);
    expect(await conns.p.close()).toMatchObject({ connections: 2, denied: 1 });
  });

  it('stops listening when closed, also with a tunnel open', async () => {
    const { p, socketPath } = await proxy({ ports: [upstreamPort] });
    const open = new Promise<string>((resolve) => {
      const req = request({ socketPath, method: 'CONNECT', path: `localhost:${upstreamPort}` });
      req.on('connect', (_res, socket) => {
        socket.on('error', () => undefined);
        socket.on('close', () => resolve('cut'));
        void p.close();
      });
      req.end();
    });
    expect(await open).toBe('cut');
    await expect(tunnel(socketPath, `localhost:${upstreamPort}`)).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });
  it('records every connection in the log before it closes, also tunnels still open when the setup ends', async () => {
    // npm keeps its sockets open until it exits: up to 15 tunnels are cut by close at once.
    const { p, socketPath, logPath } = await proxy({ ports: [upstreamPort] });
    const tunnels = 15;
    const sockets = await Promise.all(
      Array.from(
        { length: tunnels },
        () =>
          new Promise<Duplex>((resolve, reject) => {
            const req = request({ socketPath, method: 'CONNECT', path: `localhost:${upstreamPort}` });
            req.on('connect', (_res, socket) => {
              socket.on('error', () => undefined);
              // Keep-alive: the tunnel stays open after its answer, as npm's agent keeps it.
              socket.once('data', () => resolve(socket));
              socket.write('GET /?size=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n');
            });
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    expect(sockets).toHaveLength(tunnels);
    const summary = await p.close();
    const lines = await records(logPath);
    expect(summary.connections).toBe(tunnels);
    expect(lines).toHaveLength(tunnels);
    expect(lines.reduce((n, l) => n + l.bytesDown, 0)).toBe(summary.bytesDown);
  });
});
