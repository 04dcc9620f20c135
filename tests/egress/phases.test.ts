/**
 * Egress beyond setup as a user writes it: the fleet grants `sandbox.egress.steps` / `.agent`
 * (bounded by the setup list, methods validated), the change asks with `egress:`, and a change
 * that asks for what the fleet does not grant is refused before anything starts, naming the
 * change file's key, the repo and the fleet key. Then what each command kind gets: the
 * inspected policy, a proxy that refuses everything with the keys that would open it, or no
 * route at all.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renewingEgressCa } from '../../activities/egress/ca.ts';
import { egressPhase, grantedPolicy } from '../../activities/egress/phases.ts';
import { allowCovered } from '../../activities/egress/policy.ts';
import {
  EGRESS_MOUNT,
  egressDir,
  egressForSandbox,
  openEgress,
  type EgressDeps,
} from '../../activities/egress/sandbox.ts';
import { requiredEgress } from '../../core/inputs.ts';
import { InputError, loadChange, loadReposConfig, type InputIssue } from '../../config/load.ts';
import { resolveTasks } from '../../core/inputs.ts';
import { SandboxConfig } from '../../config/repos.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-egress-phases-'));
  for (const name of ['api', 'web']) await mkdir(join(dir, 'remotes', name), { recursive: true });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const egressOf = (egress: unknown) => SandboxConfig.parse({ test: 't', egress }).egress;

async function configIssues(egress: unknown): Promise<InputIssue[]> {
  const file = join(dir, 'bad.config.json');
  await writeFile(
    file,
    JSON.stringify({ repos: [{ name: 'api', url: 'remotes/api', sandbox: { test: 't', egress } }] }),
  );
  const err = await loadReposConfig(file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as InputError).issues;
}

describe('sandbox.egress.steps and .agent in the fleet config', () => {
  it('are off unless set; when set, they default to the setup hosts and GET, HEAD, OPTIONS', () => {
    const plain = egressOf({ allow: ['proxy.example.org'] });
    expect(plain?.steps).toBeUndefined();
    expect(grantedPolicy(plain!, 'steps')).toBeNull();
    expect(grantedPolicy(plain!, 'agent')).toBeNull();
    const granted = egressOf({
      allow: ['proxy.example.org', '*.files.example.org'],
      steps: {},
      agent: { allow: ['proxy.example.org'], methods: ['GET'] },
    });
    expect(grantedPolicy(granted!, 'steps')).toEqual({
      allow: ['proxy.example.org', '*.files.example.org'],
      methods: ['GET', 'HEAD', 'OPTIONS'],
    });
    expect(grantedPolicy(granted!, 'agent')).toEqual({ allow: ['proxy.example.org'], methods: ['GET'] });
    expect(grantedPolicy(granted!, 'setup')).toEqual({
      allow: ['proxy.example.org', '*.files.example.org'],
      methods: null,
    });
  });

  it('refuses a phase host the setup list does not cover, and a method that is not an upper-case HTTP method, at their dot-paths', async () => {
    const found = await configIssues({
      allow: ['proxy.example.org', '*.files.example.org'],
      steps: { allow: ['a.files.example.org', 'evil.example.com', 'proxy.example.org:8443'] },
    });
    found.push(
      ...(await configIssues({ allow: ['proxy.example.org'], agent: { methods: ['get', 'CONNECT'], extra: 1 } })),
    );
    const byPath = new Map(found.map((i) => [i.path, i.message]));
    expect(byPath.has('repos[0].sandbox.egress.steps.allow[0]')).toBe(false);
    expect(byPath.get('repos[0].sandbox.egress.steps.allow[1]')).toBe(
      '"evil.example.com" is not covered by sandbox.egress.allow (a phase may reach less than setup, never more): add it there too, or remove it here',
    );
    expect(byPath.get('repos[0].sandbox.egress.steps.allow[2]')).toMatch(/"proxy\.example\.org:8443" is not covered/);
    expect(byPath.get('repos[0].sandbox.egress.agent.methods[0]')).toBeDefined();
    expect(found.find((i) => i.path === 'repos[0].sandbox.egress.agent.methods[1]')?.fix).toMatch(
      /"GET", "HEAD", "OPTIONS", "POST"/,
    );
    expect(byPath.get('repos[0].sandbox.egress.agent')).toMatch(/unknown field "extra"/);
  });

  it('judges coverage by host and port: a wildcard covers its subdomains and narrower wildcards, never its bare suffix', () => {
    const setup = ['proxy.example.org', '*.example.net', 'git.example.com:22'];
    const ports = [443, 80];
    expect(allowCovered('proxy.example.org', setup, ports)).toBe(true);
    expect(allowCovered('proxy.example.org:443', setup, ports)).toBe(true);
    expect(allowCovered('proxy.example.org:8443', setup, ports)).toBe(false);
    expect(allowCovered('a.b.example.net', setup, ports)).toBe(true);
    expect(allowCovered('*.b.example.net', setup, ports)).toBe(true);
    expect(allowCovered('*.example.net', setup, ports)).toBe(true);
    expect(allowCovered('example.net', setup, ports)).toBe(false);
    expect(allowCovered('git.example.com:22', setup, ports)).toBe(true);
    expect(allowCovered('git.example.com', setup, ports)).toBe(false);
  });
});

describe('egress: in the change file', () => {
  async function fleet(): Promise<string> {
    const file = join(dir, 'repos.config.json');
    const sandbox = (egress: unknown) => ({ test: 't', ...(egress ? { egress } : {}) });
    await writeFile(
      file,
      JSON.stringify({
        repos: [
          { name: 'api', url: 'remotes/api', sandbox: sandbox({ allow: ['proxy.example.org'], steps: {} }) },
          { name: 'web', url: 'remotes/web', sandbox: sandbox({ allow: ['proxy.example.org'] }) },
        ],
      }),
    );
    return file;
  }
  async function changeFile(name: string, body: object): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify({ id: 'bump-1', title: 't', ...body }));
    return file;
  }

  it('asks nothing by default; requiredEgress says what a change needs', () => {
    expect(requiredEgress({})).toEqual({ steps: false, agent: false });
    expect(requiredEgress({ egress: { steps: true, agent: false } })).toEqual({ steps: true, agent: false });
  });

  it('resolves each task with what the change asked and its repo grants', async () => {
    const loaded = await loadReposConfig(await fleet());
    const change = await loadChange(
      await changeFile('ok.json', {
        egress: { steps: true },
        repos: [{ name: 'api', steps: [{ name: 's', run: 'go get x' }] }],
      }),
      loaded,
    );
    const [api] = resolveTasks(loaded, change);
    expect(api?.egress).toEqual({ steps: true, agent: false });
    const quiet = await loadChange(
      await changeFile('quiet.json', {
        repos: [
          { name: 'api', steps: [{ name: 's', run: 'true' }] },
          { name: 'web', steps: [{ name: 's', run: 'true' }] },
        ],
      }),
      loaded,
    );
    expect(resolveTasks(loaded, quiet).map((t) => t.egress)).toEqual([undefined, undefined]);
  });

  it('refuses a change that asks for egress a target repo is not granted, naming the change key, the repo and the fleet key', async () => {
    const configFile = await fleet();
    const loaded = await loadReposConfig(configFile);
    const file = await changeFile('ask.json', {
      egress: { steps: true, agent: true },
      repos: [
        { name: 'api', steps: [{ name: 's', run: 'true' }] },
        { name: 'web', steps: [{ name: 's', run: 'true' }] },
      ],
    });
    const err = await loadChange(file, loaded).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    const issues = (err as InputError).issues;
    expect(issues.map((i) => [i.file, i.path, i.message])).toEqual([
      [file, 'egress.steps', 'the change asks for steps egress, but the fleet does not grant it to repo "web"'],
      [file, 'egress.agent', 'the change asks for agent egress, but the fleet does not grant it to repo "api"'],
      [file, 'egress.agent', 'the change asks for agent egress, but the fleet does not grant it to repo "web"'],
    ]);
    expect(issues[0]?.fix).toMatch(
      /^set repos\[1\]\.sandbox\.egress\.steps in .*repos\.config\.json, where repos\[1\]\.name is "web" .* or remove egress\.steps from the change file$/,
    );
    expect(issues[1]?.fix).toMatch(/^set repos\[0\]\.sandbox\.egress\.agent in /);
    const unknown = await loadChange(
      await changeFile('unknown.json', { egress: { network: true }, repos: [{ name: 'api' }] }),
      loaded,
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect((unknown as InputError).issues[0]).toMatchObject({ path: 'egress', message: 'unknown field "network"' });
  });
});

describe('what each command kind gets', () => {
  let deps: EgressDeps;
  const ref = { changeId: 'c1', repo: 'api' };
  const logDir = () => join(dir, 'logs');

  beforeAll(async () => {
    const bundle = join(dir, 'worker-bundle.pem');
    await writeFile(bundle, '-----BEGIN CERTIFICATE-----\nworker\n-----END CERTIFICATE-----\n');
    deps = {
      dir: join(dir, 'egress'),
      forwarderDir: join(dir, 'bin'),
      registryEnv: async () => ({ GOPROXY: 'https://proxy.example.org' }),
      defaultCaBundle: bundle,
      ca: renewingEgressCa(),
    };
  });

  /** CONNECT on the command's socket: the proxy's answer. */
  const connectThrough = (target: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: join(egressDir(deps, ref), 'egress.sock'), method: 'CONNECT', path: target });
      req.on('connect', (res, socket, head) => {
        let body = head.toString();
        socket.on('data', (c: Buffer) => (body += c.toString()));
        socket.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('maps kinds to phases: tests and the gate never have one', () => {
    expect(['setup', 'step', 'agent', 'test', 'gate'].map((k) => egressPhase(k as never))).toEqual([
      'setup',
      'steps',
      'agent',
      null,
      null,
    ]);
  });

  it("gives an asked, granted step the inspected policy and a bundle of the worker's CAs and its egress CA", async () => {
    const made = await egressForSandbox(deps, ref, egressOf({ allow: ['proxy.example.org'], steps: {} }));
    const step = await openEgress(deps, ref, made.labels, logDir(), '10001:10001', 'step', {
      steps: true,
      agent: false,
    });
    try {
      expect(step).toMatchObject({ phase: 'steps', closed: false });
      expect(step?.env).toEqual(
        expect.arrayContaining([
          `SSL_CERT_FILE=${EGRESS_MOUNT}/ca-inspected.pem`,
          `NODE_EXTRA_CA_CERTS=${EGRESS_MOUNT}/ca-inspected.pem`,
          `GIT_SSL_CAINFO=${EGRESS_MOUNT}/ca-inspected.pem`,
          'GOPROXY=https://proxy.example.org',
        ]),
      );
      const bundle = await readFile(join(egressDir(deps, ref), 'ca-inspected.pem'), 'utf8');
      expect(bundle).toContain('worker');
      expect(bundle).toContain(deps.ca.current().certPem);
      const refused = await connectThrough('elsewhere.example.org:443');
      expect(refused).toMatchObject({ status: 403 });
      expect(refused.body).toContain('host is not in the allowlist');
    } finally {
      await step?.proxy.close();
    }
    expect(
      await openEgress(deps, ref, made.labels, logDir(), '10001:10001', 'test', { steps: true, agent: true }),
    ).toBeNull();
    expect(
      await openEgress(deps, ref, made.labels, logDir(), '10001:10001', 'gate', { steps: true, agent: true }),
    ).toBeNull();
  });

  it('runs a step the change did not ask for, or an agent command the fleet does not grant, behind a proxy that refuses everything and names the keys', async () => {
    const made = await egressForSandbox(deps, ref, egressOf({ allow: ['proxy.example.org'], steps: {} }));
    const step = await openEgress(deps, ref, made.labels, logDir(), '10001:10001', 'step', undefined);
    try {
      expect(step).toMatchObject({ phase: 'steps', closed: true });
      const refused = await connectThrough('proxy.example.org:443');
      expect(refused.status).toBe(403);
      expect(refused.body).toContain(
        'egress for steps is off in this change: ask with "egress: { steps: true }" in the change file (the fleet grants it with repos[<i>].sandbox.egress.steps in repos.config.json, where repos[<i>].name is "api")',
      );
    } finally {
      expect(await step?.proxy.close()).toMatchObject({ phase: 'steps', connections: 0, denied: 1 });
    }
    const agent = await openEgress(deps, ref, made.labels, logDir(), '10001:10001', 'agent', {
      steps: true,
      agent: false,
    });
    try {
      const refused = await connectThrough('proxy.example.org:443');
      expect(refused.body).toContain(
        'egress for agent is off: the fleet does not grant it (set repos[<i>].sandbox.egress.agent in repos.config.json',
      );
    } finally {
      await agent?.proxy.close();
    }
  });
});
