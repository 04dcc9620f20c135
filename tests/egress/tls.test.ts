/**
 * The TLS-terminating egress proxy of the phases with a method policy (steps, agent), on a real
 * unix socket, against a real TLS server on loopback with its own test CA (reachable only
 * through the test-only `loopbackPorts`): the method policy, the Host and path checks, the
 * request log, the CA's lifetime, and that a client that does not trust the CA fails closed.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_LIFETIME_DAYS, createEgressCa, renewingEgressCa, type EgressCa } from '../../activities/egress/ca.ts';
import type { EgressPolicy } from '../../activities/egress/policy.ts';
import { startEgressProxy, type EgressProxy, type EgressRecord } from '../../activities/egress/proxy.ts';
import { egressDepsFor } from '../../activities/egress/sandbox.ts';

let root = '';
let upstream: Server;
let upstreamPort = 0;
/** Every request the upstream saw: the proof that a refused one never left the proxy. */
const hits: { method: string; url: string; host: string }[] = [];
/** The upstream's own CA, which the proxy trusts only when told (as the worker's CA bundle). */
let upstreamCa: EgressCa;
/** The worker's egress CA, which the sandbox trusts through its bundle. */
let proxyCa: EgressCa;
let count = 0;

async function proxy(
  over: { trustUpstream?: boolean; methods?: string[]; allow?: string[] } = {},
): Promise<{ p: EgressProxy; socketPath: string; logPath: string }> {
  count += 1;
  const socketPath = join(root, `p${count}`, 'egress.sock');
  const logPath = join(root, 'logs', `p${count}.jsonl`);
  const policy: EgressPolicy = {
    allow: over.allow ?? ['localhost'],
    ports: [upstreamPort],
    maxBytes: 10_000_000,
    maxConnections: 100,
    methods: over.methods ?? ['GET', 'HEAD', 'OPTIONS'],
  };
  const p = await startEgressProxy({
    socketPath,
    logPath,
    logName: `p${count}.jsonl`,
    policy,
    phase: 'steps',
    inspect: { ca: proxyCa, upstreamCa: over.trustUpstream === false ? [] : [upstreamCa.certPem] },
    loopbackPorts: [upstreamPort],
    resolve: () => Promise.resolve(['127.0.0.1']),
  });
  return { p, socketPath, logPath };
}

/** CONNECT through the proxy's socket: the tunnel's socket, or the refusal's status and body. */
function connectTunnel(socketPath: string, target: string): Promise<{ status: number; socket: Socket; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'CONNECT', path: target, headers: { host: target } });
    req.on('connect', (res, socket: Socket, head) => {
      if (res.statusCode === 200) return resolve({ status: 200, socket, body: '' });
      let body = head.toString();
      socket.on('data', (c: Buffer) => (body += c.toString()));
      socket.on('close', () => resolve({ status: res.statusCode ?? 0, socket, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Answer {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/** An HTTPS request through the tunnel, the client trusting `trust` (the sandbox's bundle). */
async function https(
  socketPath: string,
  method: string,
  path: string,
  options: { trust?: string; host?: string; body?: string } = {},
): Promise<Answer> {
  const tunnel = await connectTunnel(socketPath, `localhost:${upstreamPort}`);
  if (tunnel.status !== 200) throw new Error(`CONNECT refused: ${tunnel.status} ${tunnel.body}`);
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket: tunnel.socket,
      servername: 'localhost',
      ca: [options.trust ?? proxyCa.certPem],
      ALPNProtocols: ['http/1.1'],
    });
    secure.on('error', reject);
    const req = request({
      createConnection: () => secure,
      method,
      path,
      headers: { host: options.host ?? `localhost:${upstreamPort}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        secure.destroy();
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function records(logPath: string): Promise<EgressRecord[]> {
  return (await readFile(logPath, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EgressRecord);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-tls-'));
  upstreamCa = createEgressCa({ label: 'test upstream' });
  proxyCa = createEgressCa({ label: 'test worker' });
  const leaf = upstreamCa.leaf('localhost');
  upstream = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', host: String(req.headers.host) });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`module list for ${req.url ?? ''}\n`));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

describe('the TLS-terminating egress proxy (phases with a method policy)', () => {
  it('lets a GET through over verified TLS and logs its method, host, path, status and bytes', async () => {
    const { p, socketPath, logPath } = await proxy();
    const before = hits.length;
    const answer = await https(socketPath, 'GET', '/example.org/mod/@v/list?go=1');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('module list for /example.org/mod/@v/list?go=1\n');
    expect(hits.slice(before)).toEqual([
      { method: 'GET', url: '/example.org/mod/@v/list?go=1', host: `localhost:${upstreamPort}` },
    ]);
    const summary = await p.close();
    expect(summary).toMatchObject({ phase: 'steps', connections: 1, requests: 1, denied: 0, hosts: ['localhost'] });
    const lines = await records(logPath);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      phase: 'steps',
      method: 'GET',
      host: 'localhost',
      port: upstreamPort,
      path: '/example.org/mod/@v/list?go=1',
      status: 200,
      allowed: true,
    });
    expect(lines[0]?.bytesDown).toBe(answer.body.length);
    expect(lines[0]?.reason).toBeUndefined();
  });

  it('refuses a POST with a 403 naming the method, host, path and the fleet key; the upstream never sees it', async () => {
    const { p, socketPath, logPath } = await proxy();
    const before = hits.length;
    const answer = await https(socketPath, 'POST', '/upload/secrets', { body: 'exfiltrated' });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain(`POST https://localhost:${upstreamPort}/upload/secrets refused`);
    expect(answer.body).toContain('method POST is not allowed for steps (allowed: GET, HEAD, OPTIONS');
    expect(answer.body).toContain('sandbox.egress.steps.methods');
    expect(hits.length).toBe(before);
    const summary = await p.close();
    expect(summary.deniedHosts).toEqual([
      {
        host: 'localhost',
        port: upstreamPort,
        method: 'POST',
        path: '/upload/secrets',
        reason: expect.stringContaining('method POST is not allowed') as unknown,
      },
    ]);
    expect(await records(logPath)).toEqual([
      expect.objectContaining({ phase: 'steps', method: 'POST', path: '/upload/secrets', status: 403, allowed: false }),
    ]);
  });

  it('lets a method through that the fleet allows, and refuses a Host that is not the tunnel host', async () => {
    const { p, socketPath } = await proxy({ methods: ['GET', 'POST'] });
    const before = hits.length;
    expect((await https(socketPath, 'POST', '/search')).status).toBe(200);
    const other = await https(socketPath, 'GET', '/', { host: 'metadata.internal' });
    expect(other.status).toBe(403);
    expect(other.body).toContain('the Host header names metadata.internal:443');
    expect(hits.slice(before).map((h) => `${h.method} ${h.url}`)).toEqual(['POST /search']);
    await p.close();
  });

  it('fails closed when the client does not trust the egress CA: no request reaches the upstream', async () => {
    const { p, socketPath, logPath } = await proxy();
    const before = hits.length;
    const stranger = createEgressCa({ label: 'not the worker' });
    await expect(https(socketPath, 'GET', '/anything', { trust: stranger.certPem })).rejects.toThrow(/certificate/i);
    const summary = await p.close();
    expect(hits.length).toBe(before);
    expect(summary.requests).toBe(0);
    const lines = await records(logPath);
    expect(lines).toEqual([
      expect.objectContaining({
        method: 'CONNECT',
        allowed: false,
        reason: expect.stringContaining('egress CA') as unknown,
      }),
    ]);
  });

  it('fails closed when the upstream is not trusted by the worker: a 502, and the request never reaches it', async () => {
    const { p, socketPath, logPath } = await proxy({ trustUpstream: false });
    const before = hits.length;
    const answer = await https(socketPath, 'GET', '/pkg.tgz');
    expect(answer.status).toBe(502);
    expect(answer.body).toMatch(/the upstream failed: .*(self.signed|unable to verify|issuer)/i);
    await p.close();
    expect(hits.length).toBe(before);
    expect(await records(logPath)).toEqual([expect.objectContaining({ method: 'GET', path: '/pkg.tgz', status: 502 })]);
  });

  it('refuses a CONNECT to an IP literal before any TLS', async () => {
    const { p, socketPath, logPath } = await proxy({ allow: ['localhost'] });
    const refused = await connectTunnel(socketPath, `127.0.0.1:${upstreamPort}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('an IP address, not a host name');
    await p.close();
    expect(await records(logPath)).toEqual([
      expect.objectContaining({ phase: 'steps', method: 'CONNECT', host: '127.0.0.1', allowed: false }),
    ]);
  });

  it('judges plain-HTTP requests the same way', async () => {
    const { p, socketPath, logPath } = await proxy();
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request({
        socketPath,
        method: 'DELETE',
        path: `http://localhost:${upstreamPort}/v1/thing`,
        headers: { host: `localhost:${upstreamPort}` },
        setHost: false,
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain(
      `DELETE http://localhost:${upstreamPort}/v1/thing refused: method DELETE is not allowed for steps`,
    );
    await p.close();
    expect(await records(logPath)).toEqual([
      expect.objectContaining({ method: 'DELETE', path: '/v1/thing', allowed: false }),
    ]);
  });
});

describe('the worker egress CA', () => {
  it('is valid for a bounded time and signs leaves for the host only, which never outlive it', () => {
    const ca = createEgressCa();
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
    expect(lifetime).toBeGreaterThan(CA_LIFETIME_DAYS * 86_400_000 - 1000);
    expect(lifetime).toBeLessThanOrEqual((CA_LIFETIME_DAYS + 1) * 86_400_000);
    const leaf = new X509Certificate(ca.leaf('proxy.golang.org').certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(cert.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:proxy.golang.org');
    expect(leaf.checkHost('proxy.golang.org')).toBe('proxy.golang.org');
    expect(leaf.checkHost('evil.example')).toBeUndefined();
    expect(new Date(leaf.validTo).getTime()).toBeLessThanOrEqual(new Date(cert.validTo).getTime());
    expect(ca.leaf('proxy.golang.org').certPem).toBe(ca.leaf('proxy.golang.org').certPem);
    expect(() => ca.leaf('10.0.0.1')).toThrow(/not a host name/);
  });

  it('is made anew at each worker start: a leaf of one is not trusted under the next', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-ca-'));
    try {
      const first = await egressDepsFor(dir, join(dir, 'no-forwarder'), {});
      const second = await egressDepsFor(dir, join(dir, 'no-forwarder'), {});
      expect(first.ca.current().certPem).not.toBe(second.ca.current().certPem);
      const leaf = new X509Certificate(first.ca.current().leaf('registry.npmjs.org').certPem);
      expect(leaf.verify(new X509Certificate(second.ca.current().certPem).publicKey)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is renewed once half its lifetime has passed, so a worker running for weeks never hands out an expired one', () => {
    let clock = new Date('2026-12-01T00:00:00Z').getTime();
    const renewing = renewingEgressCa({ now: () => new Date(clock) });
    const first = renewing.current();
    clock += (CA_LIFETIME_DAYS / 2) * 86_400_000 - 60_000;
    expect(renewing.current()).toBe(first);
    clock += 120_000;
    const second = renewing.current();
    expect(second).not.toBe(first);
    expect(second.notAfter.getTime()).toBe(clock + CA_LIFETIME_DAYS * 86_400_000);
    // Weeks later, still a CA valid now.
    clock += 30 * 86_400_000;
    const later = renewing.current();
    expect(later.notBefore.getTime()).toBeLessThanOrEqual(clock);
    expect(later.notAfter.getTime()).toBeGreaterThan(clock);
    expect(new X509Certificate(later.certPem).checkIssued(new X509Certificate(later.certPem))).toBe(true);
  });
});
