/**
 * How this machine reaches Temporal, the way Temporal's own tools read it (the SDK's envconfig):
 * a profile of a temporal.toml (TEMPORAL_CONFIG_FILE, or the user's config folder; TEMPORAL_PROFILE
 * picks the profile), overridden by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and
 * TEMPORAL_TLS_*. The CLI and the worker connect through the same settings. Every value keeps
 * the setting it came from, so an error (and `describeTemporalSettings`) can name it.
 */
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';
import { readFileSync, existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A connection setting that is wrong or unusable (a file, a certificate, a profile): names the setting. */
export class TemporalSettingsError extends Error {
  override name = 'TemporalSettingsError';
}

/** One value and where it was set: an environment variable, or a key of the profile in the file. */
export interface Setting<T> {
  value: T;
  from: string;
}

/** A certificate or key: a file (path) or inline PEM (data). */
export interface PemSetting {
  path?: string;
  data?: string;
  from: string;
}

export interface TemporalSettings {
  /** The profile in force ('default' unless TEMPORAL_PROFILE names another). */
  profile: string;
  /** The config file read, when one exists. */
  file: string | null;
  address: Setting<string>;
  namespace: Setting<string>;
  apiKey: Setting<string> | null;
  /** On when any TLS setting or an API key is given (unless TLS is explicitly disabled). */
  tls: boolean;
  tlsDisabledBy: string | null;
  serverName: Setting<string> | null;
  serverCaCert: PemSetting | null;
  clientCert: PemSetting | null;
  clientKey: PemSetting | null;
  grpcMeta: Record<string, string>;
}

export const DEFAULT_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';

function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config');
  return join(base, 'temporalio', 'temporal.toml');
}

const definedEnv = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));

/** Reads the settings in force; reads no certificate yet (see `connectionOptions`). */
export function loadTemporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const file = env.TEMPORAL_CONFIG_FILE ?? defaultConfigFile(env);
  const fileExists = existsSync(file);
  const profile = env.TEMPORAL_PROFILE ?? 'default';
  let fromFile: ClientConfigProfile;
  try {
    fromFile = loadClientConfigProfile({ overrideEnvVars: definedEnv(env), disableEnv: true });
  } catch (err) {
    throw new TemporalSettingsError(
      `Temporal connection settings: profile "${profile}" of ${file}${env.TEMPORAL_PROFILE ? ' (TEMPORAL_PROFILE)' : ''}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const key = (name: string) => `profile "${profile}" ${name} in ${file}`;
  const pick = <T>(envName: string, fileKey: string, fileValue: T | undefined): Setting<T> | null => {
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv as T, from: envName };
    return fileValue === undefined ? null : { value: fileValue, from: key(fileKey) };
  };
  const pem = (envName: string, fileKey: string, source: ConfigDataSource | undefined): PemSetting | null => {
    const path = env[`${envName}_PATH`];
    if (path) return { path, from: `${envName}_PATH` };
    const data = env[`${envName}_DATA`];
    if (data) return { data, from: `${envName}_DATA` };
    if (!source) return null;
    if ('path' in source) return { path: source.path, from: key(`tls.${fileKey}_path`) };
    return {
      data: typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8'),
      from: key(`tls.${fileKey}_data`),
    };
  };
  const tlsFile = fromFile.tls;
  const tlsEnv = env.TEMPORAL_TLS;
  const disabledBy =
    tlsEnv !== undefined
      ? tlsEnv === 'true' || tlsEnv === '1'
        ? null
        : 'TEMPORAL_TLS'
      : tlsFile?.disabled === true
        ? key('tls.disabled')
        : null;
  const apiKey = pick<string>('TEMPORAL_API_KEY', 'api_key', fromFile.apiKey);
  const serverName = pick<string>('TEMPORAL_TLS_SERVER_NAME', 'tls.server_name', tlsFile?.serverName);
  const serverCaCert = pem('TEMPORAL_TLS_SERVER_CA_CERT', 'server_ca_cert', tlsFile?.serverCACert);
  const clientCert = pem('TEMPORAL_TLS_CLIENT_CERT', 'client_cert', tlsFile?.clientCert);
  const clientKey = pem('TEMPORAL_TLS_CLIENT_KEY', 'client_key', tlsFile?.clientKey);
  const anyTls =
    tlsEnv === 'true' || tlsEnv === '1' || tlsFile !== undefined || !!serverName || !!serverCaCert || !!clientCert;
  const grpcMeta: Record<string, string> = { ...fromFile.grpcMeta };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TEMPORAL_GRPC_META_')) continue;
    const header = name.slice('TEMPORAL_GRPC_META_'.length).toLowerCase().replaceAll('_', '-');
    if (value) grpcMeta[header] = value;
    else delete grpcMeta[header];
  }
  return {
    profile,
    file: fileExists ? file : null,
    address: pick<string>('TEMPORAL_ADDRESS', 'address', fromFile.address) ?? {
      value: DEFAULT_ADDRESS,
      from: 'default',
    },
    namespace: pick<string>('TEMPORAL_NAMESPACE', 'namespace', fromFile.namespace) ?? {
      value: DEFAULT_NAMESPACE,
      from: 'default',
    },
    apiKey,
    tls: disabledBy === null && (anyTls || apiKey !== null),
    tlsDisabledBy: disabledBy,
    serverName,
    serverCaCert,
    clientCert,
    clientKey,
    grpcMeta,
  };
}

/** True when the settings ask for anything but a plain connection (TLS, an API key, headers). */
export const securedConnection = (s: TemporalSettings): boolean =>
  s.tls || s.apiKey !== null || Object.keys(s.grpcMeta).length > 0;

function readPem(setting: PemSetting, what: string, where: string): Buffer {
  if (setting.data !== undefined) return Buffer.from(setting.data, 'utf8');
  const path = setting.path ?? '';
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new TemporalSettingsError(
      `${settingName(setting.from, where)}: cannot read the ${what} at ${path} (${reason})`,
    );
  }
}

/** The profile's words for an error: which profile, unless the setting came from the environment alone. */
export const inProfile = (s: TemporalSettings): string =>
  s.file ? ` (profile "${s.profile}" of ${s.file})` : s.profile !== 'default' ? ` (profile "${s.profile}")` : '';

/** A setting as an error names it: a key of the profile says its profile itself, a variable gets it added. */
export const settingName = (from: string, where: string): string =>
  from.startsWith('profile ') ? from : `${from}${where}`;

function certificate(pem: Buffer, setting: PemSetting, where: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TemporalSettingsError(
      `${settingName(setting.from, where)}: ${setting.path ?? 'the inline data'} is not a PEM certificate`,
    );
  }
}

/** What a client or worker connection is given (both SDK connections take these fields). */
export interface ConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * The options of a connection (client or worker) for these settings: certificates read and
 * checked here, so a missing file, a certificate that is not one, or a client certificate out
 * of its validity names its setting before any connection is tried.
 */
export function connectionOptions(s: TemporalSettings, now: Date = new Date()): ConnectionOptions {
  const where = inProfile(s);
  const options: ConnectionOptions = { address: s.address.value };
  if (s.apiKey) options.apiKey = s.apiKey.value;
  if (Object.keys(s.grpcMeta).length > 0) options.metadata = s.grpcMeta;
  if (!s.tls) return options;
  const tls: TLSConfig = {};
  if (s.serverCaCert) {
    const pem = readPem(s.serverCaCert, 'server CA certificate', where);
    certificate(pem, s.serverCaCert, where);
    tls.serverRootCACertificate = pem;
  }
  // Without a server name the certificate is checked against the address's host (an IP is
  // matched against the certificate's IP names; as a TLS server name Node would warn, DEP0123).
  if (s.serverName) tls.serverNameOverride = s.serverName.value;
  if (s.clientCert || s.clientKey) {
    if (!s.clientCert || !s.clientKey) {
      const missing = s.clientCert ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
      const given = (s.clientCert ?? s.clientKey)?.from ?? '';
      throw new TemporalSettingsError(
        `${settingName(given, where)}: a client certificate needs its key too; set ${missing}`,
      );
    }
    const crt = readPem(s.clientCert, 'client certificate', where);
    const key = readPem(s.clientKey, 'client key', where);
    const cert = certificate(crt, s.clientCert, where);
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    if (now > to || now < from) {
      const which = s.clientCert.path ? `the client certificate ${s.clientCert.path}` : 'the client certificate';
      const when = now > to ? `expired on ${to.toISOString()}` : `is not valid before ${from.toISOString()}`;
      throw new TemporalSettingsError(`${settingName(s.clientCert.from, where)}: ${which} ${when}`);
    }
    tls.clientCertPair = { crt, key };
  }
  return { ...options, tls };
}

/**
 * The settings in force, one line each, for `doctor` and error reports: secrets never appear
 * (an API key and inline key data are shown as set or not, paths are shown).
 */
export function describeTemporalSettings(s: TemporalSettings): string[] {
  const pemText = (p: PemSetting | null, secret: boolean) =>
    p === null ? 'not set' : `${p.path ?? (secret ? '(inline, redacted)' : '(inline PEM)')} [${p.from}]`;
  return [
    `profile: ${s.profile}${s.file ? ` (${s.file})` : ' (no config file)'}`,
    `address: ${s.address.value} [${s.address.from}]`,
    `namespace: ${s.namespace.value} [${s.namespace.from}]`,
    `api key: ${s.apiKey ? `set, redacted [${s.apiKey.from}]` : 'not set'}`,
    `tls: ${s.tls ? 'on' : s.tlsDisabledBy ? `off [${s.tlsDisabledBy}]` : 'off'}`,
    ...(s.tls
      ? [
          `server name: ${s.serverName ? `${s.serverName.value} [${s.serverName.from}]` : 'the address host'}`,
          `server CA: ${s.serverCaCert ? pemText(s.serverCaCert, false) : "the system's trusted CAs"}`,
          `client certificate: ${pemText(s.clientCert, false)}`,
          `client key: ${pemText(s.clientKey, true)}`,
        ]
      : []),
    ...Object.keys(s.grpcMeta).map((name) => `grpc header ${name}: set, redacted`),
  ];
}

/** Settings for a plain connection to `address` (tests and scripts that hold a connection of their own). */
export function plainSettings(address: string, namespace = DEFAULT_NAMESPACE): TemporalSettings {
  return {
    profile: 'default',
    file: null,
    address: { value: address, from: 'TEMPORAL_ADDRESS' },
    namespace: { value: namespace, from: 'TEMPORAL_NAMESPACE' },
    apiKey: null,
    tls: false,
    tlsDisabledBy: null,
    serverName: null,
    serverCaCert: null,
    clientCert: null,
    clientKey: null,
    grpcMeta: {},
  };
}
