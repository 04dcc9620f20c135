/**
 * A real Temporal cluster for one test file, as teams run it: the server built from its Go
 * module (scripts/temporal-cluster.sh), PostgreSQL 15 for persistence and visibility with the
 * schema applied by the server's own SQL tool, mTLS on the frontend (a CA of the test's own, a
 * server certificate for 127.0.0.1 and localhost, client certificates), a namespace and
 * Lockstep's search attributes. Everything lives in one temporary folder, on loopback ports, and
 * goes at `stop()` (also when the start fails half-way).
 */
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { searchAttributesReady } from '../../client/connection.ts';
import { projectRoot } from '../../config/paths.ts';
import { plainSettings } from '../../config/temporal.ts';
import { createServer } from 'node:net';

const run = promisify(execFile);
export const SERVER_VERSION = '1.32.2';
const serverDir = join(projectRoot, '.tools', `temporal-server-${SERVER_VERSION}`);

export interface TestCluster {
  /** 127.0.0.1:<port> of the frontend (mTLS). */
  address: string;
  namespace: string;
  dir: string;
  /** PEM files: the cluster's CA, a client certificate and key it accepts, and the faulty ones. */
  files: {
    ca: string;
    clientCert: string;
    clientKey: string;
    /** A CA that did not sign the server's certificate. */
    otherCa: string;
    /** Signed by the cluster's CA, valid from 2020 to 2021. */
    expiredCert: string;
    expiredKey: string;
    /** Valid, but signed by the other CA: the server refuses it. */
    foreignCert: string;
    foreignKey: string;
  };
  /** Milliseconds from the call to a frontend that answers with the namespace and attributes ready. */
  startedInMs: number;
  stop(): Promise<void>;
}

/** The folder of PostgreSQL's programs: PATH first, then Debian's versioned folder. */
async function postgresBin(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/lib/postgresql/15/bin')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) {
      // pg_ctl finds postgres next to itself; a PATH link to it does not, so resolve the link.
      const { stdout } = await run('readlink', ['-f', join(dir, 'pg_ctl')]);
      return join(stdout.trim(), '..');
    }
  }
  throw new Error('PostgreSQL 15 (initdb, pg_ctl) is not installed; run "npm run bootstrap -- --tests"');
}

/**
 * A free loopback port below 32768: the server stores its services' ports in a smallint column
 * (cluster membership), so the kernel's ephemeral ports above it make it exit at start.
 */
const taken = new Set<number>();
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
}

const asRoot = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: as root, its programs run as the postgres user. */
const asPostgres = (cmd: string, args: string[]) =>
  asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);

/**
 * The postgres user must reach the data folder: the temporary folders above it that are root's
 * own and closed to others (the suite's root is 0700) get search permission, never read
 * permission; nothing above the temporary folder is touched.
 */
async function searchableUpwards(dir: string): Promise<void> {
  const top = tmpdir();
  for (let d = dirname(dir); d === top || d.startsWith(`${top}/`); d = dirname(d)) {
    const s = await stat(d);
    if (s.uid === 0 && (s.mode & 0o001) === 0) await chmod(d, (s.mode & 0o7777) | 0o001);
  }
}

async function certificates(dir: string) {
  const cnf = join(dir, 'ca.cnf');
  await mkdir(join(dir, 'issued'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(
    cnf,
    [
      '[ca]',
      'default_ca = testca',
      '[testca]',
      `dir = ${dir}`,
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${join(dir, 'issued')}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = anything',
      'unique_subject = no',
      '[anything]',
      'commonName = supplied',
      '[server]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      '[client]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const ca = async (name: string) =>
    run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.pem`),
      '-days',
      '2',
      '-subj',
      `/CN=Lockstep test ${name}`,
    ]);
  await Promise.all([ca('ca'), ca('other-ca')]);
  // One at a time: `openssl ca` keeps its serial and index in files.
  const leaf = async (name: string, ext: string, dates: string[], signer = 'ca') => {
    await run('openssl', [
      'req',
      '-new',
      ...ec,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.csr`),
      '-subj',
      `/CN=${name}`,
    ]);
    await run('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      cnf,
      '-cert',
      join(dir, `${signer}.pem`),
      '-keyfile',
      join(dir, `${signer}.key`),
      '-extensions',
      ext,
      ...dates,
      '-in',
      join(dir, `${name}.csr`),
      '-out',
      join(dir, `${name}.pem`),
    ]);
  };
  await leaf('server', 'server', ['-days', '2']);
  await leaf('client', 'client', ['-days', '2']);
  await leaf('system-worker', 'client', ['-days', '2']);
  await leaf('expired', 'client', ['-startdate', '20200101000000Z', '-enddate', '20210101000000Z']);
  await leaf('foreign', 'client', ['-days', '2'], 'other-ca');
}

function serverConfig(dir: string, dynamicConfig: string, pgPort: number, ports: Record<string, number>): string {
  const store = (db: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: tcp
        user: temporal
        password: temporal
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (name: string) => `
  ${name}:
    rpc:
      grpcPort: ${ports[`${name}Grpc`]}
      membershipPort: ${ports[`${name}Membership`]}
      bindOnIP: 127.0.0.1${name === 'frontend' ? `\n      httpPort: ${ports.frontendHttp}` : ''}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 10)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  tls:
    frontend:
      server:
        certFile: ${join(dir, 'server.pem')}
        keyFile: ${join(dir, 'server.key')}
        requireClientAuth: true
        clientCaFiles:
          - ${join(dir, 'ca.pem')}
      client:
        serverName: localhost
        rootCaFiles:
          - ${join(dir, 'ca.pem')}
    systemWorker:
      certFile: ${join(dir, 'system-worker.pem')}
      keyFile: ${join(dir, 'system-worker.key')}
      client:
        serverName: localhost
        rootCaFiles:
          - ${join(dir, 'ca.pem')}
services:${['frontend', 'history', 'matching', 'worker'].map(service).join('')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontendGrpc}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${dynamicConfig}
  pollInterval: 10s
`;
}

// Tests read right after they write: caches that would hide a new namespace or attribute for seconds go.
const DYNAMIC_CONFIG = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
system.namespaceCacheRefreshInterval:
  - value: 500ms
`;

export async function startTestCluster(namespace = 'lockstep-cluster'): Promise<TestCluster> {
  const began = Date.now();
  const serverBin = join(serverDir, 'temporal-server');
  const sqlTool = join(serverDir, 'temporal-sql-tool');
  if (!existsSync(serverBin) || !existsSync(sqlTool))
    throw new Error(`the Temporal server is not built at ${serverDir}; run "npm run bootstrap -- --tests"`);
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-cluster-'));
  let postgresUp = false;
  let server: ChildProcess | null = null;
  const pgData = join(dir, 'pg');
  const bin = await postgresBin().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const child = server;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    if (postgresUp) await asPostgres(join(bin, 'pg_ctl'), ['-D', pgData, '-m', 'immediate', '-w', 'stop']);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await chmod(dir, 0o755);
    if (asRoot) await searchableUpwards(dir);
    const sockets = join(dir, 'sockets');
    await mkdir(pgData, { mode: 0o700 });
    await mkdir(sockets);
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(pgData, Number(stdout.trim()), Number(gid.trim()));
      await chown(sockets, Number(stdout.trim()), Number(gid.trim()));
    }
    const [pgPort] = await Promise.all([
      freeLowPort(),
      certificates(join(dir, 'tls')).then(() => undefined),
      asPostgres(join(bin, 'initdb'), ['-D', pgData, '-U', 'temporal', '--auth=trust', '-E', 'UTF8', '--no-sync']),
    ]);
    await asPostgres(join(bin, 'pg_ctl'), [
      '-D',
      pgData,
      '-l',
      join(pgData, 'server.log'),
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${pgPort} -k ${sockets} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
      '-w',
      'start',
    ]);
    postgresUp = true;
    const sql = (db: string, ...args: string[]) =>
      run(sqlTool, [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(pgPort),
        '-u',
        'temporal',
        '--pw',
        'temporal',
        '--db',
        db,
        ...args,
      ]);
    await Promise.all(
      (['temporal', 'visibility'] as const).map(async (kind) => {
        const db = kind === 'temporal' ? 'temporal' : 'temporal_visibility';
        await sql(db, 'create-database');
        await sql(db, 'setup-schema', '-v', '0.0');
        await sql(db, 'update-schema', '-d', join(serverDir, 'schema', 'postgresql', 'v12', kind, 'versioned'));
      }),
    );
    const names = ['frontend', 'history', 'matching', 'worker'];
    const ports: Record<string, number> = {};
    for (const name of names) {
      ports[`${name}Grpc`] = await freeLowPort();
      ports[`${name}Membership`] = await freeLowPort();
    }
    ports.frontendHttp = await freeLowPort();
    const tls = join(dir, 'tls');
    await writeFile(join(dir, 'dynamic.yaml'), DYNAMIC_CONFIG);
    await writeFile(join(dir, 'server.yaml'), serverConfig(tls, join(dir, 'dynamic.yaml'), pgPort, ports));
    const logFile = join(dir, 'server.log');
    const fd = openSync(logFile, 'a');
    try {
      server = spawn(serverBin, ['--config-file', join(dir, 'server.yaml'), '--allow-no-auth', 'start'], {
        cwd: dir,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const child = server;
    const address = `127.0.0.1:${ports.frontendGrpc}`;
    const [ca, crt, key] = await Promise.all(['ca.pem', 'client.pem', 'client.key'].map((f) => readFile(join(tls, f))));
    const connect = () =>
      Connection.connect({
        address,
        connectTimeout: 2000,
        tls: { serverNameOverride: 'localhost', serverRootCACertificate: ca, clientCertPair: { crt: crt!, key: key! } },
      });
    let connection: Connection | null = null;
    const deadline = Date.now() + 60_000;
    while (!connection) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`temporal-server exited: ${(await readFile(logFile, 'utf8')).slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`temporal-server did not answer at ${address} within 60 s`);
      connection = await connect().catch(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return null;
      });
    }
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      const client = new Client({ connection, namespace });
      // The namespace reaches the frontend's cache a moment after it is registered.
      const ready = async () => {
        for (let i = 0; i < 100; i++) {
          const ok = await client.workflowService
            .describeNamespace({ namespace })
            .then(() => true)
            .catch(() => false);
          if (ok) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`namespace ${namespace} never became ready`);
      };
      await ready();
      const session = {
        client,
        address,
        namespace,
        settings: plainSettings(address, namespace),
        devServer: null,
        close: () => Promise.resolve(),
      };
      if (!(await searchAttributesReady(session)))
        throw new Error("Lockstep's search attributes could not be registered on the cluster");
    } finally {
      await connection.close();
    }
    return {
      address,
      namespace,
      dir,
      files: {
        ca: join(tls, 'ca.pem'),
        clientCert: join(tls, 'client.pem'),
        clientKey: join(tls, 'client.key'),
        otherCa: join(tls, 'other-ca.pem'),
        expiredCert: join(tls, 'expired.pem'),
        expiredKey: join(tls, 'expired.key'),
        foreignCert: join(tls, 'foreign.pem'),
        foreignKey: join(tls, 'foreign.key'),
      },
      startedInMs: Date.now() - began,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
