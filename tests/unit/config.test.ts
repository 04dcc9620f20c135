/** repos.config.json and change files: every problem at once, with file, dot-path and fix. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateInput, resolveTasks } from '../../core/inputs.ts';
import { InputError, loadChange, loadForgeConfig, loadReposConfig, type InputIssue } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import { reposConfigJsonSchema } from '../../config/schema.ts';
import { forgeQueue } from '../../core/forge-queue.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockstep-config-'));
  for (const repo of ['api', 'web', 'worker']) await mkdir(join(dir, 'remotes', repo), { recursive: true });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const repo = (name: string, extra: object = {}) => ({
  name,
  url: `remotes/${name}`,
  sandbox: { test: 'make test' },
  ...extra,
});

async function write(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

async function issuesOf(promise: Promise<unknown>): Promise<InputIssue[]> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as InputError).issues;
}

const validConfig = {
  defaults: { sandbox: { limits: { memoryMb: 2048 } } },
  repos: [
    repo('api', { provides: [{ name: 'api-v1', kind: 'openapi', path: 'openapi.yaml' }] }),
    repo('web', { consumes: [{ name: 'api-v1', uses: [{ operation: 'GET /things', fields: ['name'] }] }] }),
  ],
};

describe('repos.config.json', () => {
  it('accepts a valid config, fills defaults and merges defaults.sandbox field by field', async () => {
    const loaded = await loadReposConfig(await write('ok.json', validConfig));
    const api = loaded.config.repos[0];
    expect(api?.baseBranch).toBe('main');
    expect(api?.sandbox.image).toBe('lockstep-sandbox:latest');
    expect(api?.sandbox.limits).toMatchObject({ memoryMb: 2048, pids: 256, cpus: 1 });
    expect(api?.sandbox.timeouts.testSeconds).toBe(900);
    expect(api?.url).toBe(join(dir, 'remotes', 'api'));
    expect(loaded.config.forge).toEqual({ type: 'local' });
  });

  it('reports every problem at once with its dot-path and a fix', async () => {
    const file = await write('bad.json', {
      concurency: 3,
      repos: [
        { name: 'API', url: 'remotes/api', sandbox: { test: 'x', limits: { memoryMb: 1 } } },
        { name: 'web', url: 'remotes/web', sandbox: {} },
        { name: 'worker', url: 'remotes/worker', sandbox: { test: 'x', passEnv: ['GITHUB_TOKEN'] } },
      ],
    });
    const issues = await issuesOf(loadReposConfig(file));
    const byPath = new Map(issues.map((i) => [i.path, i]));
    expect([...byPath.keys()]).toEqual(
      expect.arrayContaining([
        '',
        'repos[0].name',
        'repos[0].sandbox.limits.memoryMb',
        'repos[1].sandbox.test',
        'repos[2].sandbox.passEnv[0]',
      ]),
    );
    expect(byPath.get('')?.message).toContain('"concurency"');
    expect(byPath.get('repos[1].sandbox.test')?.message).toContain('missing');
    expect(byPath.get('repos[1].sandbox.test')?.fix).toContain('add "test"');
    expect(byPath.get('repos[2].sandbox.passEnv[0]')?.message).toContain('secret');
    for (const issue of issues) {
      expect(issue.file).toBe(file);
      expect(issue.fix.length).toBeGreaterThan(5);
    }
  });

  it('reports duplicate names, missing local repositories and broken contract links', async () => {
    const file = await write('semantic.json', {
      repos: [
        repo('api', {
          provides: [
            { name: 'events', kind: 'json-schema', path: 'e.json' },
            { name: 'check', kind: 'command' },
          ],
        }),
        repo('api'),
        repo('ghost'),
        repo('web', { consumes: [{ name: 'nope' }], provides: [{ name: 'events', kind: 'openapi', path: 'x' }] }),
        repo('worker', {
          provides: [{ name: 'jobs', kind: 'protobuf', path: 'jobs.proto' }],
          consumes: [{ name: 'jobs' }],
        }),
      ],
    });
    const issues = await issuesOf(loadReposConfig(file));
    const messages = issues.map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'repos[1].name: duplicate repo name "api" (also repos[0])',
        'repos[2].url: no git repository at remotes/ghost',
        'repos[0].provides[1].command: a "command" contract needs a command',
        'repos[3].consumes[0].name: no repo provides contract "nope"',
        'repos[3].provides[0].name: contract "events" is already provided by repos[0]',
        'repos[4].consumes[0].name: "worker" consumes its own contract "jobs"',
      ]),
    );
  });

  it('reports contracts that cannot be checked: missing verify, usage, pact path, unknown repos and unsafe paths', async () => {
    const file = await write('contracts.json', {
      gate: { waive: [{ rule: 'generic-api-key', repo: 'nowhere', reason: 'fixture keys' }] },
      repos: [
        repo('api', {
          provides: [
            { name: 'rest', kind: 'openapi', path: '../outside.yaml' },
            { name: 'pacts', kind: 'pact' },
            { name: 'smoke', kind: 'command', command: 'make smoke', repo: 'ghost' },
            { name: 'wire', kind: 'protobuf', path: 'api.proto', rules: ['file'] },
          ],
        }),
        repo('web', {
          consumes: [{ name: 'rest' }, { name: 'pacts' }, { name: 'wire', uses: [{ operation: 'GET /x' }] }],
        }),
      ],
    });
    const messages = (await issuesOf(loadReposConfig(file))).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      'repos[0].provides[0].path: use a path relative to the repository, without ".."',
      'repos[0].provides[3].rules[0]: use buf rule categories or ids such as FILE, PACKAGE, WIRE_JSON',
    ]);
    const fixed = await write('contracts-2.json', {
      gate: { waive: [{ rule: 'generic-api-key', repo: 'nowhere', reason: 'fixture keys' }] },
      repos: [
        repo('api', {
          provides: [
            { name: 'rest', kind: 'openapi', path: 'openapi.yaml' },
            { name: 'pacts', kind: 'pact' },
            { name: 'smoke', kind: 'command', command: 'make smoke', repo: 'ghost' },
            { name: 'wire', kind: 'protobuf', path: 'api.proto' },
          ],
        }),
        repo('web', {
          consumes: [{ name: 'rest' }, { name: 'pacts' }, { name: 'wire', uses: [{ operation: 'GET /x' }] }],
        }),
      ],
    });
    expect((await issuesOf(loadReposConfig(fixed))).map((i) => `${i.path}: ${i.message}`)).toEqual([
      'repos[0].provides[1].verify: a "pact" contract needs the provider\'s verification command',
      'repos[0].provides[2].repo: unknown repo "ghost"',
      'repos[1].consumes[0]: the consumer of "rest" does not say what it uses',
      'repos[1].consumes[1].path: the consumer of pact contract "pacts" needs the path its tests write the pact file to',
      'repos[1].consumes[2].uses: "uses" applies to openapi contracts; "wire" is protobuf',
      'gate.waive[0].repo: unknown repo "nowhere"',
    ]);
  });

  it('gives the gate every contract a changed repo takes part in, and the repos it needs', async () => {
    const loaded = await loadReposConfig(
      await write('gate.json', {
        repos: [
          repo('api', {
            provides: [
              { name: 'rest', kind: 'openapi', path: 'openapi.yaml' },
              { name: 'smoke', kind: 'command', command: 'make smoke', repo: 'worker' },
            ],
          }),
          repo('web', {
            consumes: [{ name: 'rest', path: 'rest.uses.json' }],
            provides: [{ name: 'events', kind: 'json-schema', path: 'events.json' }],
          }),
          repo('worker'),
        ],
      }),
    );
    const gate = gateInput(
      loaded,
      resolveTasks(loaded, { id: 'g', repos: [{ name: 'api', steps: [{ name: 's', run: 'true' }] }] }),
    );
    expect(gate.contracts.map((c) => [c.name, c.provider, c.runIn, c.consumers.map((u) => u.repo)])).toEqual([
      ['rest', 'api', 'api', ['web']],
      ['smoke', 'api', 'worker', []],
    ]);
    expect(gate.repos.map((r) => [r.repo, r.inChange])).toEqual([
      ['api', true],
      ['web', false],
      ['worker', false],
    ]);
    expect(gate.contracts[0]?.consumers[0]).toEqual({ repo: 'web', path: 'rest.uses.json', uses: null, command: null });
    expect(gate).toMatchObject({ secrets: true, insecure: true, rounds: 2, waive: [] });
  });

  it("a provided contract's audience reaches the gate: public unless declared fleet; any other value is named with the fix", async () => {
    const fleet = (audience?: string) => ({
      repos: [
        repo('api', {
          provides: [{ name: 'rest', kind: 'openapi', path: 'openapi.yaml', ...(audience ? { audience } : {}) }],
        }),
        repo('web', {
          consumes: [{ name: 'rest', uses: [{ operation: 'GET /things', fields: ['id'], sends: ['query:page'] }] }],
        }),
      ],
    });
    const tasks = { id: 'g', repos: [{ name: 'api', steps: [{ name: 's', run: 'true' }] }] };
    const publicByDefault = await loadReposConfig(await write('audience-default.json', fleet()));
    expect(gateInput(publicByDefault, resolveTasks(publicByDefault, tasks)).contracts[0]?.audience).toBe('public');
    const declared = await loadReposConfig(await write('audience-fleet.json', fleet('fleet')));
    const contract = gateInput(declared, resolveTasks(declared, tasks)).contracts[0];
    expect(contract?.audience).toBe('fleet');
    expect(contract?.consumers[0]?.uses).toEqual([{ operation: 'GET /things', fields: ['id'], sends: ['query:page'] }]);
    const issues = await issuesOf(loadReposConfig(await write('audience-bad.json', fleet('internal'))));
    expect(issues.map((i) => i.path)).toEqual(['repos[0].provides[0].audience']);
    expect(issues[0]?.message).toMatch(/public.*fleet/);
  });

  it("a remote forge: defaults, each repo's owner/repo from its URL or forge.repos, one task queue per host and token", async () => {
    const loaded = await loadReposConfig(
      await write('github.json', {
        forge: { type: 'github', baseUrl: 'https://ghe.example.com/api/v3', repos: { api: 'platform/api' } },
        repos: [
          repo('api'),
          { ...repo('web'), url: 'https://ghe.example.com/platform/web.git' },
          { ...repo('worker'), url: 'git@ghe.example.com:platform/worker.git' },
        ],
      }),
    );
    const forge = loaded.config.forge;
    expect(forge).toMatchObject({
      type: 'github',
      tokenEnv: 'GITHUB_TOKEN',
      draft: true,
      minIntervalMs: 1000,
      maxRetries: 3,
      labels: [],
    });
    expect(forge.type !== 'local' && forge.repos).toEqual({
      api: 'platform/api',
      web: 'platform/web',
      worker: 'platform/worker',
    });
    const queue = forgeQueue(forge);
    expect(queue).toMatch(/^lockstep-forge-[0-9a-f]{8}$/);
    expect(forgeQueue({ ...forge, baseUrl: 'https://GHE.example.com/api/v3/' } as typeof forge)).toBe(queue);
    expect(forgeQueue({ ...forge, tokenEnv: 'OTHER_TOKEN' } as typeof forge)).not.toBe(queue);
    expect(forgeQueue({ type: 'local' })).toBeNull();
    const gitlab = await loadReposConfig(
      await write('gitlab.json', {
        forge: { type: 'gitlab' },
        repos: [{ ...repo('api'), url: 'https://gitlab.com/acme/platform/api.git' }],
      }),
    );
    expect(gitlab.config.forge).toMatchObject({
      baseUrl: 'https://gitlab.com',
      tokenEnv: 'GITLAB_TOKEN',
      repos: { api: 'acme/platform/api' },
    });
    const gitea = await loadReposConfig(
      await write('gitea.json', {
        forge: { type: 'gitea', baseUrl: 'https://git.example.com/' },
        repos: [{ ...repo('api'), url: 'https://git.example.com/acme/api.git' }],
      }),
    );
    expect(gitea.config.forge).toMatchObject({
      baseUrl: 'https://git.example.com/',
      tokenEnv: 'GITEA_TOKEN',
      draft: true,
      repos: { api: 'acme/api' },
    });
  });

  it('a Gitea forge needs its server root: missing, or the API URL, is refused saying so', async () => {
    const missing = await issuesOf(
      loadReposConfig(await write('gitea-nourl.json', { forge: { type: 'gitea' }, repos: [repo('api')] })),
    );
    expect(missing.map((i) => i.path)).toContain('forge.baseUrl');
    expect(missing.find((i) => i.path === 'forge.baseUrl')?.message).toMatch(/required: the Gitea server root/);
    const api = await issuesOf(
      loadReposConfig(
        await write('gitea-api.json', {
          forge: { type: 'gitea', baseUrl: 'https://git.example.com/api/v1' },
          repos: [{ ...repo('api'), url: 'https://git.example.com/acme/api.git' }],
        }),
      ),
    );
    expect(api.map((i) => i.path)).toEqual(['forge.baseUrl']);
    expect(api[0]?.message).toMatch(/Lockstep adds \/api\/v1 itself/);
    const unplaced = await issuesOf(
      loadReposConfig(
        await write('gitea-unplaced.json', {
          forge: { type: 'gitea', baseUrl: 'https://git.example.com/' },
          repos: [repo('api')],
        }),
      ),
    );
    expect(unplaced[0]?.message).toContain('cannot tell the Gitea repository (owner/repo) of "api"');
  });

  it('a remote forge refuses repos it cannot place, unknown forge.repos, and tokens in the wrong place', async () => {
    const file = await write('github-bad.json', {
      forge: {
        type: 'github',
        token: 'ghp_x',
        tokenEnv: 'not a name',
        baseUrl: 'ftp://x',
        repos: { nope: 'a/b', web: 'no-slash' },
      },
      repos: [repo('api'), repo('web')],
    });
    const byPath = new Map((await issuesOf(loadReposConfig(file))).map((i) => [i.path, i]));
    expect([...byPath.keys()]).toEqual(
      expect.arrayContaining(['forge', 'forge.tokenEnv', 'forge.baseUrl', 'forge.repos.web']),
    );
    expect(byPath.get('forge')?.message).toContain('"token"');
    const placed = await issuesOf(
      loadReposConfig(
        await write('github-unplaced.json', {
          forge: { type: 'github', repos: { nope: 'a/b' } },
          repos: [repo('api')],
        }),
      ),
    );
    expect(placed.map((i) => i.path)).toEqual(['forge.repos.nope', 'repos[0].url']);
    expect(placed[1]?.message).toContain('cannot tell the GitHub repository (owner/repo) of "api"');
    expect(placed[1]?.fix).toContain('"forge.repos": { "api": "owner/repo" }');
  });

  it('a worker reads only the forge section: no local remotes needed, a bad forge still refused', async () => {
    const gone = { name: 'api', url: 'remotes/not-cloned-yet', sandbox: { test: 'make test' } };
    expect(await loadForgeConfig(await write('worker-local.json', { repos: [gone] }))).toEqual({ type: 'local' });
    expect(
      await loadForgeConfig(await write('worker-github.json', { forge: { type: 'github' }, repos: [gone] })),
    ).toMatchObject({ type: 'github', tokenEnv: 'GITHUB_TOKEN', minIntervalMs: 1000 });
    const bad = await issuesOf(
      loadForgeConfig(await write('worker-bad.json', { forge: { type: 'bitbucket' }, repos: [gone] })),
    );
    expect(bad.map((i) => i.path)).toEqual(['forge.type']);
  });

  it('reports invalid defaults at their own path', async () => {
    const issues = await issuesOf(
      loadReposConfig(
        await write('defaults.json', { defaults: { sandbox: { limits: { pids: 2 } } }, repos: [repo('api')] }),
      ),
    );
    expect(issues.map((i) => i.path)).toContain('defaults.sandbox.limits.pids');
  });

  it('reports syntax errors and missing files with the file name', async () => {
    const syntax = await issuesOf(loadReposConfig(await write('syntax.json', '{ "repos": [ }')));
    expect(syntax[0]?.message).toMatch(/invalid JSON/);
    const missing = await issuesOf(loadReposConfig(join(dir, 'absent.json')));
    expect(missing[0]).toMatchObject({ message: 'file not found', path: '' });
  });

  it('reports a YAML alias bomb as bad input, not an uncaught ReferenceError (found by tests/fuzz)', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcd'[i]}`).join(', ')}]`),
    ].join('\n');
    const issues = await issuesOf(loadReposConfig(await write('bomb.yaml', `${bomb}\n`)));
    expect(issues).toEqual([
      expect.objectContaining({
        path: '',
        message: expect.stringMatching(/^YAML cannot be loaded: .*alias/) as unknown,
      }),
    ]);
  });

  it('a "__proto__" key in a repo sandbox merged with defaults is an unknown field, not the merged sandbox\'s prototype (found by tests/fuzz)', async () => {
    const file = await write(
      'proto.json',
      `{"defaults": {"sandbox": {"image": "x"}}, "repos": [{"name": "api", "url": "remotes/api", "sandbox": {"__proto__": {"test": "make test"}}}]}`,
    );
    const issues = await issuesOf(loadReposConfig(file));
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['repos[0].sandbox.test', 'missing required field (string)'],
      ['repos[0].sandbox', 'unknown field "__proto__"'],
    ]);
  });

  it('the committed JSON Schema matches the zod schema', async () => {
    const committed = JSON.parse(
      await readFile(join(projectRoot, 'schemas', 'repos.config.schema.json'), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(reposConfigJsonSchema());
  });

  it('the project fleet config references the schema and names the demo repos', async () => {
    const raw = JSON.parse(await readFile(join(projectRoot, 'repos.config.json'), 'utf8')) as {
      $schema: string;
      repos: { name: string }[];
    };
    expect(raw.$schema).toBe('./schemas/repos.config.schema.json');
    expect(raw.repos.map((r) => r.name)).toEqual(['catalog', 'storefront', 'billing']);
  });
});

describe('change files', () => {
  let config: Awaited<ReturnType<typeof loadReposConfig>>;
  beforeAll(async () => {
    config = await loadReposConfig(await write('fleet.json', validConfig));
  });

  it('accepts YAML and resolves each target into a repo task on branch lockstep/<id>', async () => {
    const file = await write(
      'change.yaml',
      'id: rename-field\ntitle: Rename a field\nrepos:\n  - name: web\n    steps:\n      - name: edit\n        run: sed -i s/a/b/ x\n        timeoutSeconds: 30\n',
    );
    const change = await loadChange(file, config);
    const [task] = resolveTasks(config, change);
    expect(task).toMatchObject({
      repo: 'web',
      branch: 'lockstep/rename-field',
      baseBranch: 'main',
      consumes: ['api-v1'],
    });
    expect(task?.steps).toEqual([{ name: 'edit', run: 'sed -i s/a/b/ x', timeoutSeconds: 30 }]);
    expect(change.description).toBe('');
  });

  it('accepts JSON change files too', async () => {
    const file = await write('change.json', {
      id: 'j',
      title: 't',
      repos: [{ name: 'api', steps: [{ name: 's', run: 'true' }] }],
    });
    expect((await loadChange(file, config)).repos[0]?.name).toBe('api');
  });

  it('reports bad ids, empty steps, unknown fields, unknown and repeated repos at once', async () => {
    const file = await write(
      'bad-change.yaml',
      'id: Bad_Id\ntitle: t\nextra: 1\nrepos:\n  - name: web\n    steps: []\n  - name: web\n    steps:\n      - name: s\n        run: ""\n',
    );
    const issues = await issuesOf(loadChange(file, config));
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['id', '', 'repos[0].steps', 'repos[1].steps[0].run']),
    );
    const unknown = await write(
      'unknown.yaml',
      'id: x\ntitle: t\nrepos:\n  - name: billing\n    steps: [{ name: s, run: "true" }]\n  - name: web\n    steps: [{ name: s, run: "true" }]\n  - name: web\n    steps: [{ name: s, run: "true" }]\n',
    );
    const second = await issuesOf(loadChange(unknown, config));
    expect(second.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'repos[0].name: unknown repo "billing"',
      'repos[2].name: repo "web" is listed twice',
    ]);
    expect(second[0]?.fix).toContain('use one of: api, web');
  });

  it('reports YAML syntax errors with line and column', async () => {
    const issues = await issuesOf(loadChange(await write('broken.yaml', 'id: x\ntitle: [unclosed\n'), config));
    expect(issues[0]?.message).toMatch(/invalid YAML at line \d+, column \d+/);
  });

  it('the bundled demo change files are valid against the project fleet', async () => {
    // The fleet's remotes exist only after seeding; validate the change against a copy whose
    // urls point at existing folders.
    const fleet = JSON.parse(await readFile(join(projectRoot, 'repos.config.json'), 'utf8')) as {
      repos: { url: string; name: string }[];
    };
    for (const r of fleet.repos) {
      await mkdir(join(dir, 'demo', r.name), { recursive: true });
      r.url = join(dir, 'demo', r.name);
    }
    const loaded = await loadReposConfig(await write('demo.json', { ...fleet, $schema: undefined }));
    for (const name of ['price-cents.yaml', 'price-cents-broken.yaml']) {
      const change = await loadChange(join(projectRoot, 'examples', 'changes', name), loaded);
      expect(change.repos.map((r) => r.name)).toEqual(['catalog', 'storefront', 'billing']);
    }
  });
});
