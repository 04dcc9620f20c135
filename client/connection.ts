/**
 * Connects the CLI (and the command's worker, worker.ts) to Temporal through the connection
 * settings in force (config/temporal.ts: a temporal.toml profile, TEMPORAL_* variables). With the
 * embedded defaults (no TLS, no API key, nothing answering at a loopback address), it starts the
 * dev server on the state folder's SQLite file and stops it when done; and when no worker polls
 * the task queue, it runs one in this process for the command's life (worker.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  connectionOptions,
  inProfile,
  loadTemporalSettings,
  securedConnection,
  settingName,
  TemporalSettingsError,
  type ConnectionOptions,
  type TemporalSettings,
} from '../config/temporal.ts';
import { startDevServer, temporalAnswers, TemporalUnavailableError, type DevServer } from '../workers/dev-server.ts';
import proto from '@temporalio/proto';

export interface TemporalSession {
  client: Client;
  address: string;
  namespace: string;
  /** The connection settings in force; the command's worker connects with the same. */
  settings: TemporalSettings;
  devServer: DevServer | null;
  close(): Promise<void>;
}

export const isLoopback = (address: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(address);

export async function openTemporal(options: {
  stateDir: string;
  startServer: boolean;
  log: (line: string) => void;
}): Promise<TemporalSession> {
  const settings = loadTemporalSettings();
  const address = settings.address.value;
  const namespace = settings.namespace.value;
  if (securedConnection(settings)) {
    // A secured server is never the embedded one: connect, or say which setting is at fault.
    const connection = await connectSecured(settings);
    return {
      client: new Client({ connection, namespace }),
      address,
      namespace,
      settings,
      devServer: null,
      close: () => connection.close(),
    };
  }
  let devServer: DevServer | null = null;
  if (!(await temporalAnswers(address))) {
    if (!options.startServer || !isLoopback(address)) {
      throw new TemporalUnavailableError(
        `no Temporal server answers at ${address}; start one with "lockstep server" or set TEMPORAL_ADDRESS`,
      );
    }
    options.log(`starting the embedded Temporal server at ${address} (data: ${join(options.stateDir, 'temporal.db')})`);
    devServer = await startDevServer({
      stateDir: options.stateDir,
      address,
      dbFile: join(options.stateDir, 'temporal.db'),
      namespace,
    });
    if (devServer.uiUrl) options.log(`Temporal Web UI: ${devServer.uiUrl}`);
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    client,
    address,
    namespace,
    settings,
    devServer,
    async close() {
      await connection.close();
      await devServer?.stop();
    },
  };
}

/** An HTTP/2 SETTINGS frame without settings: length 0, type 4, no flags, stream 0. */
const EMPTY_SETTINGS_FRAME = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/** Failed TLS handshakes, by the setting they point at. */
const CA_FAULTS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/**
 * Why a TLS connection to the server fails, as the setting at fault, found by a handshake of its
 * own (gRPC's error says only that no connection was made): the server CA (its certificate does
 * not verify), the server name, or the client certificate (the server's alert after it); null
 * when the handshake succeeds.
 */
export async function tlsFault(
  settings: TemporalSettings,
  options: ConnectionOptions,
  timeoutMs = 5000,
): Promise<string | null> {
  const tls = options.tls ?? {};
  const match = /^(.*):(\d+)$/.exec(options.address);
  const host = (match?.[1] ?? options.address).replace(/^\[|\]$/g, '');
  const port = Number(match?.[2] ?? 7233);
  const named = (from: string) => settingName(from, inProfile(settings));
  const caSetting =
    settings.serverCaCert?.from ?? 'TEMPORAL_TLS_SERVER_CA_CERT_PATH (not set: the system CAs were used)';
  const certSetting = settings.clientCert?.from ?? 'TEMPORAL_TLS_CLIENT_CERT_PATH (not set)';
  return new Promise((resolve) => {
    let settled = false;
    const done = (fault: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(fault);
    };
    const socket = tlsConnect({
      host,
      port,
      // An IP is no TLS server name (Node warns, DEP0123): it is checked against the IP names.
      ...(tls.serverNameOverride || !isIP(host) ? { servername: tls.serverNameOverride ?? host } : {}),
      ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
      ...(tls.clientCertPair
        ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
        : {}),
      ALPNProtocols: ['h2'],
    });
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (CA_FAULTS.has(code))
        done(`${named(caSetting)}: the server's certificate does not verify with this CA (${code})`);
      else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
        done(
          `${named(settings.serverName?.from ?? 'TEMPORAL_TLS_SERVER_NAME')}: the server's certificate is not for "${tls.serverNameOverride ?? host}"`,
        );
      else if (code.startsWith('ERR_SSL_') && code.includes('ALERT'))
        done(`${named(certSetting)}: the server refused the client certificate (${code})`);
      else done(`${named(settings.address.from)}: ${options.address}: ${err.message}`);
    });
    // The server checks the client certificate after the client's handshake ends: its alert
    // comes instead of its first HTTP/2 frame, the answer to the connection preface sent here.
    socket.on('secureConnect', () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), EMPTY_SETTINGS_FRAME]));
    });
    socket.on('data', () => done(null));
  });
}

/**
 * Connects with `connect` and the options of these settings (certificates read once); when TLS
 * is on, a handshake of its own comes first, so a fault fails at once with the setting it points
 * at (gRPC would wait out its timeout, keep the process alive that long, and say only that no
 * connection was made).
 */
export async function connectNaming<C>(
  settings: TemporalSettings,
  connect: (options: ConnectionOptions) => Promise<C>,
): Promise<C> {
  const options = connectionOptions(settings);
  const fault = options.tls !== undefined ? await tlsFault(settings, options) : null;
  if (fault) throw new TemporalSettingsError(fault);
  return connect(options);
}

/** A client connection with TLS, an API key or headers; its failure names the setting at fault. */
export async function connectSecured(settings: TemporalSettings): Promise<Connection> {
  try {
    return await connectNaming(settings, (options) => Connection.connect({ ...options, connectTimeout: 10_000 }));
  } catch (err) {
    if (err instanceof TemporalSettingsError) throw err;
    throw new TemporalUnavailableError(
      `no Temporal server answers at ${settings.address.value}${inProfile(settings)} [${settings.address.from}]: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The search attributes Lockstep sets on each change, so `list` can filter through visibility. */
export const SEARCH_ATTRIBUTES = {
  LockstepChangeId: 'Keyword',
  LockstepStatus: 'Keyword',
  LockstepRepos: 'KeywordList',
} as const;

/**
 * Makes sure the server knows Lockstep's search attributes (registering them when missing, as
 * the dev server allows); false when that is not possible, so changes run without them.
 */
export async function searchAttributesReady(session: TemporalSession): Promise<boolean> {
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const types = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  try {
    const known = await session.client.connection.operatorService.listSearchAttributes({
      namespace: session.namespace,
    });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (known.customAttributes ?? {})));
    if (missing.length === 0) return true;
    await session.client.connection.operatorService.addSearchAttributes({
      namespace: session.namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
    });
    return true;
  } catch {
    return false;
  }
}
