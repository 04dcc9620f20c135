/**
 * Lockstep against a Temporal cluster as teams run it (tests/helpers/cluster.ts: the server built
 * from its Go module, PostgreSQL, mTLS on the frontend), reached through Temporal's environment
 * configuration: a temporal.toml profile picked by TEMPORAL_PROFILE, with TLS (CA, server name,
 * client certificate) and an API key. The CLI and its worker connect through the same settings;
 * a wrong CA or an expired client certificate fails with exit 3 and names the setting.
 */
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { seedTestFleet, type TestFleet } from '../helpers/fleet.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';

let cluster: TestCluster;
let fleet: TestFleet;
let configFile: string;
const queue = `cluster-${uniqueSuffix()}`;
const API_KEY = 'lockstep-test-api-key-0123456789';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `lockstep <args>` with only the profile file and the given variables naming Temporal. */
function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(projectRoot, 'bin', 'lockstep.js'), ...args],
      {
        cwd: fleet.root,
        env: {
          ...inherited,
          TEMPORAL_CONFIG_FILE: configFile,
          LOCKSTEP_STATE_DIR: fleet.stateDir,
          LOCKSTEP_TASK_QUEUE: queue,
          CI: 'true',
          ...env,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  [cluster, fleet] = await Promise.all([startTestCluster(), seedTestFleet()]);
  configFile = join(fleet.root, 'temporal.toml');
  const tls = (ca: string) =>
    [
      `server_name = "localhost"`,
      `server_ca_cert_path = "${ca}"`,
      `client_cert_path = "${cluster.files.clientCert}"`,
      `client_key_path = "${cluster.files.clientKey}"`,
    ].join('\n');
  await writeFile(
    configFile,
    [
      // The default profile points nowhere: only TEMPORAL_PROFILE's choice can reach the cluster.
      '[profile.default]',
      'address = "127.0.0.1:9"',
      '',
      '[profile.cluster]',
      `address = "${cluster.address}"`,
      `namespace = "${cluster.namespace}"`,
      `api_key = "${API_KEY}"`,
      '[profile.cluster.tls]',
      tls(cluster.files.ca),
      '',
      '[profile.wrong-ca]',
      `address = "${cluster.address}"`,
      `namespace = "${cluster.namespace}"`,
      '[profile.wrong-ca.tls]',
      tls(cluster.files.otherCa),
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await cluster?.stop();
  await fleet?.cleanup();
});

describe('a Temporal cluster with mTLS, through a temporal.toml profile', () => {
  it('starts in seconds', () => {
    process.stderr.write(`cluster ready in ${cluster.startedInMs} ms\n`);
    expect(cluster.startedInMs).toBeLessThan(30_000);
  });

  it('runs a change end to end: the CLI and its worker connect with the profile (TLS, client certificate, API key)', async () => {
    const id = 'cluster-note';
    const file = join(fleet.root, `${id}.yaml`);
    await writeFile(
      file,
      stringify({
        id,
        title: 'A note in two repos',
        description: 'A small documented change, run on the cluster.',
        repos: [
          { name: 'catalog', steps: [{ name: 'note', run: `echo "${id}" >> NOTES.md` }] },
          { name: 'storefront', steps: [{ name: 'note', run: `echo "${id}" >> NOTES.md` }] },
        ],
      }),
    );
    const out = await cli(['run', file, '--json'], { TEMPORAL_PROFILE: 'cluster' });
    expect(out.stderr).not.toContain(API_KEY);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { status: string; repos: { repo: string; status: string }[] };
    expect(result.status).toBe('succeeded');
    expect(result.repos.map((r) => [r.repo, r.status]).sort()).toEqual([
      ['catalog', 'green'],
      ['storefront', 'green'],
    ]);
    // The branch reached each remote, with the step's edit.
    for (const repo of ['catalog', 'storefront']) {
      const { stdout } = await promisify(execFile)('git', [
        '--git-dir',
        fleet.remote(repo),
        'show',
        `lockstep/${id}:NOTES.md`,
      ]);
      expect(stdout).toContain(id);
    }
    // The change lives on the cluster, in the profile's namespace, with Lockstep's search attributes.
    const [ca, crt, key] = await Promise.all(
      [cluster.files.ca, cluster.files.clientCert, cluster.files.clientKey].map((f) => readFile(f)),
    );
    const connection = await Connection.connect({
      address: cluster.address,
      tls: { serverNameOverride: 'localhost', serverRootCACertificate: ca, clientCertPair: { crt: crt!, key: key! } },
    });
    try {
      const client = new Client({ connection, namespace: cluster.namespace });
      const described = await client.workflow.getHandle(changeWorkflowId(id)).describe();
      expect(described.status.name).toBe('COMPLETED');
      expect(described.searchAttributes.LockstepChangeId).toEqual([id]);
      const listed = await cli(['list', '--json'], { TEMPORAL_PROFILE: 'cluster' });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain(id);
    } finally {
      await connection.close();
    }
  });

  it('a wrong CA in the profile: exit 3, and the message names the profile key', async () => {
    const out = await cli(['list'], { TEMPORAL_PROFILE: 'wrong-ca' });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toContain('profile "wrong-ca" tls.server_ca_cert_path');
    expect(out.stderr).toContain("the server's certificate does not verify with this CA");
    expect(out.stderr).not.toContain('internal error');
  });

  it('a wrong CA from the environment: the message names TEMPORAL_TLS_SERVER_CA_CERT_PATH', async () => {
    const out = await cli(['list'], {
      TEMPORAL_PROFILE: 'cluster',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: cluster.files.otherCa,
    });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toMatch(/TEMPORAL_TLS_SERVER_CA_CERT_PATH \(profile "cluster" of .*temporal\.toml\)/);
  });

  it('an expired client certificate: exit 3, the message names TEMPORAL_TLS_CLIENT_CERT_PATH; the server refuses it too', async () => {
    const out = await cli(['list'], {
      TEMPORAL_PROFILE: 'cluster',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cluster.files.expiredCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: cluster.files.expiredKey,
    });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toContain('TEMPORAL_TLS_CLIENT_CERT_PATH');
    expect(out.stderr).toContain('expired on 2021-01-01');
    // The check before connecting says what the server would: it refuses the certificate.
    const [ca, crt, key] = await Promise.all(
      [cluster.files.ca, cluster.files.expiredCert, cluster.files.expiredKey].map((f) => readFile(f)),
    );
    const attempt = Connection.connect({
      address: cluster.address,
      connectTimeout: 3000,
      tls: { serverNameOverride: 'localhost', serverRootCACertificate: ca, clientCertPair: { crt: crt!, key: key! } },
    }).then(async (c) => {
      await c.workflowService.getSystemInfo({});
      await c.close();
    });
    await expect(attempt).rejects.toThrow();
  });

  it('a client certificate the server does not trust: exit 3, the message names TEMPORAL_TLS_CLIENT_CERT_PATH', async () => {
    const out = await cli(['list'], {
      TEMPORAL_PROFILE: 'cluster',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cluster.files.foreignCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: cluster.files.foreignKey,
    });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toMatch(
      /TEMPORAL_TLS_CLIENT_CERT_PATH \(profile "cluster" of .*\): the server refused the client certificate \(ERR_SSL_/,
    );
  });

  it('an unreadable certificate file: exit 3, the message names the setting and the path', async () => {
    const missing = join(fleet.root, 'no-such-ca.pem');
    const out = await cli(['list'], { TEMPORAL_PROFILE: 'cluster', TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toContain(`TEMPORAL_TLS_SERVER_CA_CERT_PATH`);
    expect(out.stderr).toContain(`cannot read the server CA certificate at ${missing} (ENOENT)`);
  });
});
