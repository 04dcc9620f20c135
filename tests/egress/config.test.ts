/**
 * sandbox.egress as a user writes it (the errors name the file's dot-path and the fix), and the
 * lines a user reads about it: the refused-host hint of a failed setup, the progress glance, and
 * the worker's own registries and CA bundle as setup receives them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renewingEgressCa } from '../../activities/egress/ca.ts';
import {
  deniedHint,
  egressForSandbox,
  EGRESS_MOUNT,
  FORWARDER_MOUNT,
  LABEL_EGRESS,
  openEgress,
  systemCaBundle,
  workerRegistryEnv,
} from '../../activities/egress/sandbox.ts';
import { sandboxEnv } from '../../activities/sandbox/docker.ts';
import { egressIssues } from '../../client/machine/preflight.ts';
import { egressGlance } from '../../cli/progress.ts';
import { InputError, loadReposConfig, type InputIssue } from '../../config/load.ts';
import { SandboxConfig } from '../../config/repos.ts';
import type { EgressSummary } from '../../core/commands.ts';
import type { RepoTask } from '../../core/repo.ts';
import type { LoadedConfig } from '../../config/load.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-egress-config-'));
  await mkdir(join(dir, 'remotes', 'api'), { recursive: true });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function issues(egress: unknown): Promise<InputIssue[]> {
  const file = join(dir, 'repos.config.json');
  await writeFile(
    file,
    JSON.stringify({
      repos: [{ name: 'api', url: 'remotes/api', sandbox: { test: 'make test', setup: 'npm ci', egress } }],
    }),
  );
  const err = await loadReposConfig(file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as InputError).issues;
}

const summary = (over: Partial<EgressSummary> = {}): EgressSummary => ({
  connections: 0,
  denied: 0,
  bytesUp: 0,
  bytesDown: 0,
  hosts: [],
  deniedHosts: [],
  log: 'c1/api/egress.jsonl',
  ...over,
});

describe('sandbox.egress', () => {
  it('fills the defaults: ports 443 and 80, caps, no CA bundle of its own', () => {
    const s = SandboxConfig.parse({
      test: 't',
      egress: { allow: ['registry.example.org', '*.files.example.net:8443'] },
    });
    expect(s.egress).toEqual({
      allow: ['registry.example.org', '*.files.example.net:8443'],
      ports: [443, 80],
      maxMb: 4096,
      maxConnections: 4000,
    });
    expect(SandboxConfig.parse({ test: 't' }).egress).toBeUndefined();
  });

  it('refuses IP addresses, bare suffixes, relative CA paths and an empty list, each at its dot-path', async () => {
    const found = await issues({
      allow: ['10.0.0.1', '*.org', 'ok.example.org'],
      caBundle: 'certs/ca.pem',
      ports: [0],
    });
    const byPath = new Map(found.map((i) => [i.path, i.message]));
    expect(byPath.get('repos[0].sandbox.egress.allow[0]')).toMatch(/"10\.0\.0\.1": IP addresses are never allowed/);
    expect(byPath.get('repos[0].sandbox.egress.allow[1]')).toMatch(/two labels/);
    expect(byPath.has('repos[0].sandbox.egress.allow[2]')).toBe(false);
    expect(byPath.get('repos[0].sandbox.egress.caBundle')).toMatch(/absolute path on the worker/);
    expect(byPath.get('repos[0].sandbox.egress.ports[0]')).toBeDefined();
    expect((await issues({ allow: [] })).map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^repos\[0\]\.sandbox\.egress\.allow: name at least one host/),
    ]);
    expect((await issues({ allow: ['a.example.org'], proxy: 'x' }))[0]?.path).toBe('repos[0].sandbox.egress');
  });

  it('is checked by preflight on this host: the forwarder, and a CA bundle that exists', async () => {
    const file = join(dir, 'repos.config.json');
    const loaded = { file, config: { repos: [{ name: 'api' }, { name: 'web' }] } } as unknown as LoadedConfig;
    const task = (repo: string, egress: unknown) =>
      ({ repo, sandbox: SandboxConfig.parse({ test: 't', ...(egress ? { egress } : {}) }) }) as unknown as RepoTask;
    const index = (repo: string) => ['api', 'web'].indexOf(repo);
    const tasks = [
      task('api', undefined),
      task('web', { allow: ['registry.example.org'], caBundle: join(dir, 'missing-ca.pem') }),
    ];
    const found = await egressIssues(loaded, tasks, index, join(dir, 'no-forwarder'));
    expect(found.map((i) => `${i.path}: ${i.message}`)).toEqual([
      `repos[1].sandbox.egress: this host has no egress forwarder (${join(dir, 'no-forwarder')}), so setup cannot reach the allowed hosts`,
      `repos[1].sandbox.egress.caBundle: cannot read ${join(dir, 'missing-ca.pem')} on this host`,
    ]);
    expect(found[0]?.fix).toMatch(/npm run bootstrap/);
    expect(await egressIssues(loaded, [task('api', undefined)], index, join(dir, 'no-forwarder'))).toEqual([]);
  });

  it("labels a sandbox with its policy and its name in the fleet config, which a gate sandbox's own name is not", async () => {
    const ca = join(dir, 'label-ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
    const deps = {
      dir: join(dir, 'egress'),
      forwarderDir: join(dir, 'bin'),
      registryEnv: async () => ({ npm_config_registry: 'https://npm.mirror.example.org/' }),
      defaultCaBundle: ca,
      ca: renewingEgressCa(),
    };
    const ref = { changeId: 'c1', repo: 'gate-k1-api' };
    const egress = SandboxConfig.parse({ test: 't', egress: { allow: ['npm.mirror.example.org'] } }).egress;
    const made = await egressForSandbox(deps, ref, egress, 'api');
    expect(made.mounts.map((m) => m.target)).toEqual([EGRESS_MOUNT, FORWARDER_MOUNT]);
    expect(JSON.parse(made.labels[LABEL_EGRESS] ?? '{}')).toEqual({
      repo: 'api',
      allow: ['npm.mirror.example.org'],
      ports: [443, 80],
      maxMb: 4096,
      maxConnections: 4000,
      ca: true,
    });
    const setup = await openEgress(deps, ref, made.labels, join(dir, 'logs'), '10001:10001', 'setup');
    try {
      expect(setup?.repo).toBe('api');
      expect(setup?.env).toEqual(
        expect.arrayContaining([
          'npm_config_registry=https://npm.mirror.example.org/',
          'HTTPS_PROXY=http://127.0.0.1:3128',
          `SSL_CERT_FILE=${EGRESS_MOUNT}/ca.pem`,
          'NO_PROXY=localhost,127.0.0.1,::1',
        ]),
      );
    } finally {
      await setup?.proxy.close();
    }
    expect(await openEgress(deps, ref, {}, join(dir, 'logs'), '10001:10001', 'setup')).toBeNull();
    await expect(egressForSandbox({ ...deps, forwarderDir: null }, ref, egress, 'api')).rejects.toThrow(
      /repo "api" sets sandbox.egress .* run "npm run bootstrap"/,
    );
  });

  it('gives the sandbox itself no proxy variable: only a setup exec gets them', () => {
    const env = sandboxEnv(SandboxConfig.parse({ test: 't', egress: { allow: ['registry.example.org'] } }), {
      HTTPS_PROXY: 'http://corp:3128',
      PATH: '/bin',
    });
    expect(
      env.filter((e) =>
        /^(https?_proxy|no_proxy|npm_config_https?_proxy|npm_config_proxy|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|PIP_CERT|REQUESTS_CA_BUNDLE|GIT_SSL_CAINFO)=/i.test(
          e,
        ),
      ),
    ).toEqual([]);
    expect(env).toContain('GOPROXY=off');
  });
});

describe('what a user reads about egress', () => {
  it('names the refused host and the config key to add it to', () => {
    const hint = deniedHint(
      'api',
      summary({
        denied: 2,
        deniedHosts: [
          { host: 'cdn.example.org', port: 443, reason: 'host is not in the allowlist' },
          { host: 'x.example.org', port: 22, reason: 'port 22 is not allowed for this host' },
        ],
      }),
    );
    expect(hint).toBe(
      '[lockstep: setup was refused egress to cdn.example.org:443: host is not in the allowlist (also: x.example.org:22); if setup needs it, add "cdn.example.org" to repos[<i>].sandbox.egress.allow in repos.config.json, where repos[<i>].name is "api" (or to defaults.sandbox.egress.allow) (egress log: c1/api/egress.jsonl)]',
    );
    expect(
      deniedHint(
        'api',
        summary({
          denied: 1,
          deniedHosts: [{ host: 'git.example.org', port: 22, reason: 'port 22 is not allowed for this host' }],
        }),
      ),
    ).toContain('add "git.example.org:22"');
    expect(
      deniedHint(
        'api',
        summary({
          denied: 1,
          deniedHosts: [
            { host: 'internal.example.org', port: 443, reason: 'resolves to 10.0.0.5, which is not a public address' },
          ],
        }),
      ),
    ).toContain('no allowlist entry can open that');
    expect(deniedHint('api', summary({ connections: 3 }))).toBe('');
  });

  it('sums a setup up in one short line', () => {
    expect(egressGlance(summary({ connections: 3, hosts: ['registry.example.org'], bytesDown: 51_200 }))).toBe(
      'egress 3 connections to registry.example.org, 50 KB down',
    );
    expect(
      egressGlance(
        summary({
          denied: 1,
          deniedHosts: [{ host: 'evil.example.com', port: 443, reason: 'host is not in the allowlist' }],
        }),
      ),
    ).toBe('egress: no connection, 1 refused (evil.example.com:443)');
  });

  it("reads the worker's registries from the tools' own config, and finds its CA bundle", async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    // Stand-ins for npm, python3 and go that answer the way the real tools' config commands do.
    await writeFile(
      join(bin, 'npm'),
      '#!/bin/sh\n[ "$1 $2 $3" = "config get registry" ] && echo https://npm.mirror.example.org/\n',
      { mode: 0o755 },
    );
    await writeFile(join(bin, 'python3'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    await writeFile(
      join(bin, 'go'),
      '#!/bin/sh\n[ "$2" = GOPROXY ] && echo https://goproxy.example.org,direct\n[ "$2" = GOSUMDB ] && echo sum.example.org\nexit 0\n',
      { mode: 0o755 },
    );
    expect(await workerRegistryEnv({ PATH: bin })).toEqual({
      npm_config_registry: 'https://npm.mirror.example.org/',
      GOPROXY: 'https://goproxy.example.org,direct',
      GOSUMDB: 'sum.example.org',
    });
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
    expect(await systemCaBundle({ SSL_CERT_FILE: ca })).toBe(ca);
    expect(await systemCaBundle({ SSL_CERT_FILE: join(dir, 'missing.pem') })).not.toBe(join(dir, 'missing.pem'));
  });
});
