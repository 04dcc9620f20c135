/**
 * config/temporal.ts: the connection settings in force, read the way Temporal's envconfig reads
 * them (a temporal.toml profile, TEMPORAL_* variables over it), each with the setting it came
 * from; their description never shows a secret; a faulty certificate names its setting.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectionOptions,
  describeTemporalSettings,
  loadTemporalSettings,
  TemporalSettingsError,
} from '../../config/temporal.ts';

const run = promisify(execFile);
let dir: string;
let file: string;
const SECRET = 'sk-lockstep-very-secret-api-key';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-settings-'));
  file = join(dir, 'temporal.toml');
  // A real certificate and key (openssl), valid now, to read through the settings.
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'client.key'),
    '-out',
    join(dir, 'client.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=client',
  ]);
  await writeFile(join(dir, 'not-a-cert.pem'), 'hello\n');
  await writeFile(
    file,
    [
      '[profile.default]',
      'address = "temporal.example:7233"',
      '',
      '[profile.prod]',
      'address = "prod.example:7233"',
      'namespace = "payments"',
      `api_key = "${SECRET}"`,
      '[profile.prod.tls]',
      'server_name = "prod.example"',
      `server_ca_cert_path = "${join(dir, 'client.pem')}"`,
      `client_cert_path = "${join(dir, 'client.pem')}"`,
      'client_key_data = """',
      '-----BEGIN PRIVATE KEY-----',
      'c2VjcmV0LWtleS1tYXRlcmlhbA==',
      '-----END PRIVATE KEY-----',
      '"""',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Temporal connection settings', () => {
  it('with nothing set: the loopback default, no TLS, as before', () => {
    const s = loadTemporalSettings({ HOME: dir });
    expect([s.address, s.namespace, s.tls, s.apiKey, s.file]).toEqual([
      { value: 'localhost:7233', from: 'default' },
      { value: 'default', from: 'default' },
      false,
      null,
      null,
    ]);
    expect(connectionOptions(s)).toEqual({ address: 'localhost:7233' });
  });

  it('TEMPORAL_PROFILE picks a profile of the file; each value says where it came from; the variables win', () => {
    const s = loadTemporalSettings({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'billing',
    });
    expect(s.profile).toBe('prod');
    expect(s.address).toEqual({ value: 'prod.example:7233', from: `profile "prod" address in ${file}` });
    expect(s.namespace).toEqual({ value: 'billing', from: 'TEMPORAL_NAMESPACE' });
    expect(s.tls).toBe(true);
    expect(s.serverCaCert?.from).toBe(`profile "prod" tls.server_ca_cert_path in ${file}`);
    const options = connectionOptions(s);
    expect(options.apiKey).toBe(SECRET);
    expect(options.tls?.serverNameOverride).toBe('prod.example');
    expect(Buffer.from(options.tls?.clientCertPair?.key ?? []).toString()).toContain('c2VjcmV0LWtleS1tYXRlcmlhbA==');
  });

  it('an API key alone turns TLS on; TEMPORAL_TLS=false turns it off; no server name unless one is set', () => {
    const keyed = loadTemporalSettings({ HOME: dir, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_API_KEY: SECRET });
    expect(keyed.tls).toBe(true);
    // An IP as TLS server name makes Node warn (DEP0123): the certificate is checked against the address.
    expect(connectionOptions(keyed)).toEqual({ address: '127.0.0.1:7233', apiKey: SECRET, tls: {} });
    const off = loadTemporalSettings({ HOME: dir, TEMPORAL_API_KEY: SECRET, TEMPORAL_TLS: 'false' });
    expect([off.tls, off.tlsDisabledBy, connectionOptions(off).tls]).toEqual([false, 'TEMPORAL_TLS', undefined]);
  });

  it('the description names every setting in force and shows no secret', () => {
    const s = loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    const text = describeTemporalSettings(s).join('\n');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('c2VjcmV0');
    expect(describeTemporalSettings(s)).toEqual([
      `profile: prod (${file})`,
      `address: prod.example:7233 [profile "prod" address in ${file}]`,
      `namespace: payments [profile "prod" namespace in ${file}]`,
      `api key: set, redacted [profile "prod" api_key in ${file}]`,
      'tls: on',
      `server name: prod.example [profile "prod" tls.server_name in ${file}]`,
      `server CA: ${join(dir, 'client.pem')} [profile "prod" tls.server_ca_cert_path in ${file}]`,
      `client certificate: ${join(dir, 'client.pem')} [profile "prod" tls.client_cert_path in ${file}]`,
      `client key: (inline, redacted) [profile "prod" tls.client_key_data in ${file}]`,
    ]);
  });

  it('a profile that is not in the file names the profile and the file', () => {
    expect(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toThrow(
      new TemporalSettingsError(
        `Temporal connection settings: profile "staging" of ${file} (TEMPORAL_PROFILE): Profile 'staging' not found in config data`,
      ),
    );
  });

  it('a file that is not a certificate, a missing file, an expired client certificate: each names its setting', () => {
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' };
    const notCert = loadTemporalSettings({ ...env, TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'not-a-cert.pem') });
    expect(() => connectionOptions(notCert)).toThrow(
      `TEMPORAL_TLS_SERVER_CA_CERT_PATH (profile "prod" of ${file}): ${join(dir, 'not-a-cert.pem')} is not a PEM certificate`,
    );
    const missing = loadTemporalSettings({ ...env, TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'gone.pem') });
    expect(() => connectionOptions(missing)).toThrow(
      `TEMPORAL_TLS_CLIENT_CERT_PATH (profile "prod" of ${file}): cannot read the client certificate at ${join(dir, 'gone.pem')} (ENOENT)`,
    );
    const later = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    expect(() => connectionOptions(loadTemporalSettings(env), later)).toThrow(
      /^profile "prod" tls\.client_cert_path in .*temporal\.toml: the client certificate .*client\.pem expired on /,
    );
  });
});
