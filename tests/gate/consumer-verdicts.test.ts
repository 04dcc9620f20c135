/**
 * Per-consumer verdicts on real material: two published versions of GitHub's own description
 * (@octokit/openapi 19.1.0 → 20.0.0: a property changed from string to object, paths and
 * operations removed, secrets dropped from the app responses), findings of real buf for proto
 * copies, and the demo's catalog-only change checked by the gate activity on real git remotes.
 * A consumer is named only when something it uses broke.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  checkOpenApiConsumer,
  diffJsonSchema,
  diffOpenApi,
  protoHandle,
  usageOfCopy,
  usageOfPact,
  usageOfProtoCopy,
  usageOfUses,
  type DeclaredUsage,
} from '../../core/contracts/index.ts';
import { gateSection } from '../../activities/forges/body.ts';
import { contractVerdict, createContractActivities, type Found } from '../../activities/gate/contract.ts';
import { verdictDetails } from '../../cli/audit/contracts.ts';
import { gateLines } from '../../cli/progress.ts';
import { gateInput } from '../../core/inputs.ts';
import { loadReposConfig } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import type { OperationUse } from '../../core/contracts/types.ts';
import type { ContractAudience, ContractProblem, ContractSpec, ContractVerdict } from '../../core/gate.ts';
import type { RepoTask } from '../../core/repo.ts';
import { exampleChange, seedTestFleet, type TestFleet } from '../helpers/fleet.ts';

const exec = promisify(execFile);

/** Installed by scripts/reference-specs.sh: GitHub's description as published in @octokit/openapi. */
function githubDescription(version: string): unknown {
  const file = join(projectRoot, '.tools', 'reference', 'octokit-openapi', `${version}.json.gz`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run scripts/reference-specs.sh`);
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
}

const FILE = 'api.github.com.json';

/** Typed matchers, so they can sit inside object matchers. */
const anyOf = (items: unknown[]): unknown => expect.arrayContaining(items);
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);

interface Consumer {
  repo: string;
  uses?: OperationUse[];
  pact?: unknown;
}

/** The gate's openapi check on documents already read: the provider's diff, each consumer's own check and its declared usage. */
function judgeOpenApi(
  base: unknown,
  head: unknown,
  consumers: Consumer[],
  audience: ContractAudience,
  inChange: string[] = ['github'],
): ContractVerdict {
  const spec: ContractSpec = {
    name: 'github-rest',
    kind: 'openapi',
    provider: 'github',
    path: FILE,
    command: null,
    runIn: 'github',
    rules: [],
    verify: null,
    pactEnv: 'PACT_FILE',
    consumers: consumers.map((c) => ({
      repo: c.repo,
      path: c.pact ? 'pacts/github.json' : null,
      uses: c.uses ?? null,
      command: null,
    })),
    audience,
  };
  const found: Found = {
    breaking: diffOpenApi(base, head, FILE).map((p) => ({ ...p, repo: 'github' })),
    mismatches: [],
    failures: [],
    preExisting: [],
    usage: new Map<string, DeclaredUsage>(),
  };
  for (const c of consumers) {
    const usage = c.pact ? ({ form: 'pact', pact: c.pact } as const) : ({ form: 'uses', uses: c.uses ?? [] } as const);
    const own = checkOpenApiConsumer(head, usage, c.repo, {
      provider: FILE,
      consumer: c.pact ? 'pacts/github.json' : 'repos.config.json',
    });
    found.mismatches.push(...own.map((p) => ({ ...p, kind: 'mismatch' as const, repo: c.repo, consumer: c.repo })));
    found.usage.set(c.repo, c.pact ? usageOfPact(c.pact, base, head) : usageOfUses(c.uses ?? [], base, head));
  }
  return contractVerdict(spec, new Set(inChange), found, 0);
}

/** A consumer pact of GET /app that reads the app's id, slug and name (not the secrets 20.0.0 drops). */
const appPact = {
  consumer: { name: 'app-dashboard' },
  provider: { name: 'github' },
  interactions: [
    {
      description: 'the authenticated app',
      request: { method: 'GET', path: '/app', headers: { accept: 'application/vnd.github+json' } },
      response: {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { id: 37, slug: 'probot-owners', name: 'Probot Owners' },
      },
    },
  ],
  metadata: { pactSpecification: { version: '3.0.0' } },
};

/** The same pact, also reading the client secret that 20.0.0 no longer returns. */
const secretPact = structuredClone(appPact);
(secretPact.interactions[0]?.response.body as Record<string, unknown>).client_secret =
  '"1d4b2097ac622ba702d19de498f005747a8b21d3"';

const untouched: Consumer = {
  repo: 'issue-triage',
  uses: [
    {
      operation: 'GET /repos/{owner}/{repo}/issues/{issue_number}',
      fields: ['number', 'title', 'state', 'user.login'],
    },
  ],
};
const teamsReader: Consumer = {
  repo: 'branch-guard',
  uses: [
    {
      operation: 'GET /repos/{owner}/{repo}/branches/{branch}/protection/restrictions',
      fields: ['teams.slug', 'teams.parent'],
    },
  ],
};
const cardsReader: Consumer = {
  repo: 'project-board',
  uses: [{ operation: 'GET /projects/columns/{column_id}/cards', fields: ['id', 'note'] }],
};

describe("per-consumer verdicts on GitHub's description, @octokit/openapi 19.1.0 → 20.0.0", () => {
  const base = githubDescription('19.1.0');
  const head = githubDescription('20.0.0');

  it('names only the consumers whose used fields or operations broke, each with the field and both shapes', () => {
    const v = judgeOpenApi(
      base,
      head,
      [untouched, teamsReader, cardsReader, { repo: 'app-dashboard', pact: appPact }],
      'public',
    );
    expect(v.status).toBe('breaking');
    const named = v.problems.filter((p) => p.rule === 'consumer-not-in-change');
    expect(named.map((p) => p.consumer).sort()).toEqual(['branch-guard', 'project-board']);
    expect(named.find((p) => p.consumer === 'branch-guard')?.message).toContain(
      'GET /repos/{owner}/{repo}/branches/{branch}/protection/restrictions reads "teams.parent" (null|string → null|object) [response-type-changed]',
    );
    expect(named.find((p) => p.consumer === 'project-board')?.message).toContain('/projects/columns/{column_id}/cards');
    expect(named.find((p) => p.consumer === 'project-board')?.message).toContain('removed) [path-removed]');
    // Nothing anywhere in the verdict blames the consumers whose usage is untouched.
    for (const quiet of ['issue-triage', 'app-dashboard']) {
      expect(v.problems.filter((p) => p.consumer === quiet)).toEqual([]);
      expect(JSON.stringify(v.problems)).not.toContain(quiet);
    }
    expect(v.verdicts).toEqual([
      { consumer: 'issue-triage', inChange: false, status: 'fits', why: [] },
      {
        consumer: 'branch-guard',
        inChange: false,
        status: 'breaks',
        why: [expect.stringContaining('"teams.parent" (null|string → null|object)')],
      },
      {
        consumer: 'project-board',
        inChange: false,
        status: 'breaks',
        why: anyOf([
          expect.stringContaining('[path-removed]'),
          expect.stringContaining('GET /projects/columns/{column_id}/cards'),
        ]),
      },
      { consumer: 'app-dashboard', inChange: false, status: 'fits', why: [] },
    ]);
    // What nobody declared still blocks a public contract, and says why.
    expect(v.unused?.length).toBeGreaterThan(10);
    const secret = v.problems.find((p) =>
      p.message.startsWith('GET /app 200 response: property "client_secret" removed'),
    );
    expect(secret?.message).toContain('affects clients outside the fleet');
    expect(v.blame).toEqual(['github']);
  });

  it('a consumer pact that reads a removed field breaks; the one that does not, fits', () => {
    const v = judgeOpenApi(
      base,
      head,
      [
        { repo: 'app-dashboard', pact: appPact },
        { repo: 'secret-rotator', pact: secretPact },
      ],
      'public',
    );
    expect(v.verdicts?.map((c) => [c.consumer, c.status])).toEqual([
      ['app-dashboard', 'fits'],
      ['secret-rotator', 'breaks'],
    ]);
    expect(v.verdicts?.[1]?.why[0]).toBe(
      'GET /app reads "client_secret" (string → removed) [response-property-removed]',
    );
    expect(v.problems.filter((p) => p.rule === 'consumer-not-in-change').map((p) => p.consumer)).toEqual([
      'secret-rotator',
    ]);
  });

  it('an enum that gained a value hits a pact reading the field, unless its regex matcher already allows the value', () => {
    // 20.0.0 adds "duplicate" to an issue's state_reason.
    const issuePact = (name: string, regex: string | null) => ({
      consumer: { name },
      provider: { name: 'github' },
      interactions: [
        {
          description: 'an issue',
          request: { method: 'GET', path: '/repos/octo/hello/issues/7' },
          response: {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: { number: 7, state: 'closed', state_reason: 'completed' },
            ...(regex
              ? { matchingRules: { body: { '$.state_reason': { matchers: [{ match: 'regex', regex }] } } } }
              : {}),
          },
        },
      ],
      metadata: { pactSpecification: { version: '3.0.0' } },
    });
    const v = judgeOpenApi(
      base,
      head,
      [
        { repo: 'open-minded', pact: issuePact('open-minded', 'completed|reopened|not_planned|duplicate') },
        { repo: 'strict', pact: issuePact('strict', 'completed|reopened|not_planned') },
        { repo: 'example-only', pact: issuePact('example-only', null) },
      ],
      'fleet',
    );
    expect(v.verdicts?.map((c) => [c.consumer, c.status])).toEqual([
      ['open-minded', 'fits'],
      ['strict', 'breaks'],
      ['example-only', 'breaks'],
    ]);
    expect(v.verdicts?.[1]?.why).toEqual([
      'GET /repos/{owner}/{repo}/issues/{issue_number} reads "state_reason" (enum "completed", "reopened", "not_planned" → enum "completed", "reopened", "not_planned", "duplicate") [response-enum-value-added]',
    ]);
  });

  it('audience fleet: breaks no declared consumer uses pass, listed as notes', () => {
    const v = judgeOpenApi(base, head, [untouched, { repo: 'app-dashboard', pact: appPact }], 'fleet');
    expect(v.status).toBe('passed');
    expect(v.problems).toEqual([]);
    expect(v.blame).toEqual([]);
    expect(v.verdicts?.every((c) => c.status === 'fits')).toBe(true);
    expect(v.unused?.length).toBeGreaterThan(10);
    expect(
      v.unused?.every((p) => p.message.endsWith('(no declared consumer uses it: a note, the contract is fleet-only)')),
    ).toBe(true);

    // The same change on a public contract blocks: clients nobody declared may use what went.
    const open = judgeOpenApi(base, head, [untouched, { repo: 'app-dashboard', pact: appPact }], 'public');
    expect(open.status).toBe('breaking');
    expect(open.problems.every((p) => p.message.includes('affects clients outside the fleet'))).toBe(true);
  });

  it('audience fleet still blocks a consumer outside the change that uses what broke', () => {
    const v = judgeOpenApi(base, head, [untouched, teamsReader], 'fleet');
    expect(v.status).toBe('breaking');
    expect(v.problems.filter((p) => p.rule === 'consumer-not-in-change').map((p) => p.consumer)).toEqual([
      'branch-guard',
    ]);
    expect(v.problems.some((p) => p.message.includes('outside the fleet'))).toBe(false);
  });

  it('the PR body and the audit show who fits, who breaks and why, and what no declared consumer uses, side by side', () => {
    const v = judgeOpenApi(base, head, [untouched, teamsReader], 'public');
    const report = {
      round: 0,
      passed: false,
      summary: 'gate blocked: contract github-rest breaking',
      contracts: [v],
      findings: [],
      durationMs: 0,
    };
    const body = gateSection(report).join('\n');
    expect(gateLines(report)).toContain(
      `      consumers fits: issue-triage · breaks: branch-guard · ${v.unusedCount} findings no declared consumer uses (blocking: clients outside the fleet)`,
    );
    expect(body).toContain('| github-rest | openapi | github | issue-triage, branch-guard | breaking |');
    expect(body).toContain(
      '- **github-rest** (public):\n  - issue-triage fits: nothing it uses broke\n  - branch-guard **breaks** (not part of this change):\n    - GET /repos/{owner}/{repo}/branches/{branch}/protection/restrictions reads "teams.parent" (null\\|string → null\\|object) [response-type-changed]',
    );
    // Whole operations gone come first; the count is of all of them, not of the ones listed.
    expect(body).toContain(
      `  - ${v.unusedCount} findings no declared consumer uses (blocking: they may affect clients outside the fleet):\n    - \`operation-removed\` GET /orgs/{org}/attestations/{attestation_id} removed\n`,
    );
    expect(body).toContain(
      '    - `path-removed` path /projects/columns/cards/{card_id} removed (with GET, DELETE, PATCH)',
    );
    expect(v.unusedCount).toBeGreaterThan(300);
    expect(verdictDetails(v)).toEqual({
      audience: 'public',
      fits: 'issue-triage',
      breaks:
        'branch-guard: GET /repos/{owner}/{repo}/branches/{branch}/protection/restrictions reads "teams.parent" (null|string → null|object) [response-type-changed]',
      unused: v.unusedCount ?? -1,
      unusedFirst:
        'GET /orgs/{org}/attestations/{attestation_id} removed (no declared consumer uses it: affects clients outside the fleet)',
    });
    // A verdict recorded before per-consumer verdicts renders as before.
    const { verdicts: _v, unused: _u, unusedCount: _n, audience: _a, ...old } = v;
    expect(
      gateSection({ round: 0, passed: false, summary: 'blocked', contracts: [old], findings: [], durationMs: 0 }).join(
        '\n',
      ),
    ).not.toContain('Consumers, judged');
    expect(verdictDetails(old)).toEqual({ audience: null, fits: null, breaks: null, unused: null, unusedFirst: null });
  });

  it('a request field that became required hits the consumers that do not send it, and those that say nothing of what they send', () => {
    const operation = 'POST /orgs/{org}/private-registries';
    const v = judgeOpenApi(
      base,
      head,
      [
        {
          repo: 'registry-sync',
          uses: [{ operation, fields: ['name'], sends: ['registry_type', 'username', 'encrypted_value', 'key_id'] }],
        },
        {
          repo: 'registry-sync-next',
          uses: [
            { operation, fields: ['name'], sends: ['registry_type', 'url', 'username', 'encrypted_value', 'key_id'] },
          ],
        },
        { repo: 'registry-admin', uses: [{ operation, fields: ['name'] }] },
      ],
      'fleet',
    );
    expect(v.verdicts?.map((c) => [c.consumer, c.status])).toEqual([
      ['registry-sync', 'breaks'],
      ['registry-sync-next', 'fits'],
      ['registry-admin', 'breaks'],
    ]);
    expect(v.verdicts?.[0]?.why).toEqual([
      `${operation} sends "url" (absent → required) [request-property-became-required]`,
    ]);
  });

  it('a consumer in the change whose declared usage fits the head is accepted, and says it was updated', () => {
    const updated: Consumer = {
      repo: 'branch-guard',
      uses: [
        {
          operation: 'GET /repos/{owner}/{repo}/branches/{branch}/protection/restrictions',
          fields: ['teams.slug', 'teams.parent.slug'],
        },
      ],
    };
    const v = judgeOpenApi(base, head, [updated], 'fleet', ['github', 'branch-guard']);
    expect(v.status).toBe('passed');
    expect(v.accepted.map((p) => p.rule)).toContain('response-type-changed');
    expect(v.verdicts).toEqual([
      {
        consumer: 'branch-guard',
        inChange: true,
        status: 'fits',
        why: [expect.stringMatching(/^updated in this change for GET .*teams\.parent/)],
      },
    ]);
  });
});

describe('per-consumer verdicts on proto copies (findings as real buf reports them)', () => {
  // buf breaking's annotations for: Order.status deleted, Order.total_cents int64 → int32,
  // Order.Line.qty deleted, State.STATE_OPEN deleted, rpc Orders.Ship deleted.
  const bufFindings = [
    {
      rule: 'FIELD_NO_DELETE',
      location: '3:1',
      message: 'Previously present field "2" with name "status" on message "Order" was deleted.',
    },
    {
      rule: 'FIELD_SAME_TYPE',
      location: '5:3',
      message: 'Field "3" with name "total_cents" on message "Order" changed type from "int64" to "int32".',
    },
    {
      rule: 'FIELD_NO_DELETE',
      location: '6:3',
      message: 'Previously present field "2" with name "qty" on message "Line" was deleted.',
    },
  ];
  const breaking: ContractProblem[] = bufFindings.map((f) => {
    const handle = protoHandle(f);
    return { kind: 'breaking', file: 'proto/orders.proto', repo: 'orders', ...f, ...(handle ? { handle } : {}) };
  });
  const spec: ContractSpec = {
    name: 'orders-proto',
    kind: 'protobuf',
    provider: 'orders',
    path: 'proto/orders.proto',
    command: null,
    runIn: 'orders',
    rules: ['WIRE_JSON'],
    verify: null,
    pactEnv: 'PACT_FILE',
    consumers: [
      { repo: 'shipping', path: 'proto/orders.proto', uses: null, command: null },
      { repo: 'ledger', path: 'proto/orders.proto', uses: null, command: null },
    ],
  };
  const shippingCopy =
    'syntax = "proto3";\npackage orders.v1;\n// only what shipping reads\nmessage Shipment {\n  string id = 1;\n  string order_id = 2;\n}\n';
  const ledgerCopy =
    'syntax = "proto3";\npackage orders.v1;\nmessage Order {\n  string id = 1;\n  string status = 2;\n  int64 total_cents = 3;\n  message Line { string sku = 1; int32 qty = 2; }\n  repeated Line lines = 4;\n}\n';

  it('a copy that does not declare the changed message fits; one that does breaks, naming message, field and types', () => {
    const usage = new Map<string, DeclaredUsage>([
      ['shipping', usageOfProtoCopy(shippingCopy)],
      ['ledger', usageOfProtoCopy(ledgerCopy)],
    ]);
    const v = contractVerdict(
      spec,
      new Set(['orders']),
      { breaking, mismatches: [], failures: [], preExisting: [], usage },
      0,
    );
    expect(v.status).toBe('breaking');
    expect(v.verdicts?.map((c) => [c.consumer, c.status])).toEqual([
      ['shipping', 'fits'],
      ['ledger', 'breaks'],
    ]);
    expect(v.verdicts?.[1]?.why).toEqual([
      'Order reads "status" (? → removed) [FIELD_NO_DELETE]',
      'Order reads "total_cents" (int64 → int32) [FIELD_SAME_TYPE]',
      'Line reads "qty" (? → removed) [FIELD_NO_DELETE]',
    ]);
    expect(v.problems.filter((p) => p.rule === 'consumer-not-in-change').map((p) => p.consumer)).toEqual(['ledger']);
    expect(v.unused).toEqual([]);
  });

  it('a consumer without a copy declares nothing the gate can read: every finding counts against it', () => {
    const v = contractVerdict(
      { ...spec, consumers: [{ repo: 'shipping', path: null, uses: null, command: null }] },
      new Set(['orders']),
      { breaking, mismatches: [], failures: [], preExisting: [], usage: new Map() },
      0,
    );
    expect(v.verdicts?.[0]?.status).toBe('breaks');
    expect(v.verdicts?.[0]?.why).toHaveLength(3);
  });
});

describe("the demo's catalog-only change, checked by the gate activity on real git remotes", () => {
  let fleet: TestFleet;
  let work: string;

  beforeAll(async () => {
    fleet = await seedTestFleet();
    work = await mkdtemp(join(tmpdir(), 'lockstep-verdicts-'));
  });
  afterAll(async () => {
    await fleet?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Clones a remote, runs `edit` in it, pushes the commit to the change's branch: the base and head commits. */
  async function pushChange(
    repo: string,
    changeId: string,
    edit: (dir: string) => Promise<void>,
  ): Promise<{ base: string; head: string }> {
    const clone = join(work, `${changeId}-${repo}`);
    const git = (...args: string[]) =>
      exec('git', ['-C', clone, '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args]);
    await exec('git', ['clone', '--quiet', fleet.remote(repo), clone]);
    const base = (await git('rev-parse', 'HEAD')).stdout.trim();
    await edit(clone);
    await git('commit', '--quiet', '-am', changeId);
    await git('push', '--quiet', 'origin', `HEAD:refs/heads/lockstep/${changeId}`);
    return { base, head: (await git('rev-parse', 'HEAD')).stdout.trim() };
  }

  /** The change's own step that declares price_cents in catalog's openapi.json. */
  async function declarePriceCents(dir: string): Promise<void> {
    const change = parse(await readFile(exampleChange('price-cents-catalog-only.yaml'), 'utf8')) as {
      repos: { name: string; steps: { name: string; run: string }[] }[];
    };
    const step = change.repos[0]?.steps.find((s) => s.name.includes('openapi.json'));
    if (!step) throw new Error('the catalog-only change has no openapi.json step');
    await exec('bash', ['-c', step.run], { cwd: dir });
  }

  /** The gate's check of catalog-api, as the workflow asks for it, for the repos a change touched. */
  async function checkCatalog(
    changeId: string,
    changed: Record<string, { base: string; head: string }>,
  ): Promise<ContractVerdict> {
    const loaded = await loadReposConfig(fleet.configFile);
    const input = gateInput(
      loaded,
      Object.keys(changed).map((repo) => ({ repo }) as RepoTask),
    );
    const contract = input.contracts.find((c) => c.name === 'catalog-api');
    if (!contract) throw new Error('no catalog-api contract in the gate input');
    // The demo fleet declares every consumer of its catalog.
    expect(contract.audience).toBe('fleet');
    const activities = createContractActivities({
      stateDir: fleet.stateDir,
      docker: new Docker(),
      sandbox: { docker: new Docker(), user: '10001:10001', owner: 'test', workerEnv: {}, logDir: join(work, 'logs') },
      workspaceOwner: null,
    });
    return activities.checkContract({
      changeId,
      round: 0,
      contract,
      repos: input.repos,
      revisions: input.repos.map((r) => ({
        repo: r.repo,
        base: changed[r.repo]?.base ?? null,
        head: changed[r.repo]?.head ?? null,
      })),
    });
  }

  it('ends blocked, naming storefront and billing with the field they read', async () => {
    const verdict = await checkCatalog('price-cents-catalog-only', {
      catalog: await pushChange('catalog', 'price-cents-catalog-only', declarePriceCents),
    });
    expect(verdict.status).toBe('breaking');
    expect(verdict.blame).toEqual(['catalog']);
    const named = verdict.problems.filter((p) => p.rule === 'consumer-not-in-change');
    expect(named.map((p) => p.consumer)).toEqual(['storefront', 'billing']);
    for (const p of named)
      expect(p.message).toContain(
        'GET /products reads "products.price" (number → removed) [response-property-removed]',
      );
    expect(verdict.verdicts?.map((c) => [c.consumer, c.status])).toEqual([
      ['storefront', 'breaks'],
      ['billing', 'breaks'],
    ]);
    // GET /products/{id} lost its price too, but no declared consumer calls it: a note.
    expect(verdict.unused).toEqual([
      expect.objectContaining({
        rule: 'response-property-removed',
        message: matching(
          /^GET \/products\/\{id\} 200 response: property "price" removed \(openapi\.json line \d+ at the base\) \(no declared consumer uses it: a note/,
        ),
      }),
    ]);
  });

  it('passes once storefront and billing follow in the same change: judged by what they read before it', async () => {
    const readCents = async (dir: string) => {
      const file = join(dir, 'catalog-api.uses.json');
      await writeFile(file, (await readFile(file, 'utf8')).replace('"products.price"', '"products.price_cents"'));
    };
    const id = 'price-cents-followed';
    const verdict = await checkCatalog(id, {
      catalog: await pushChange('catalog', id, declarePriceCents),
      storefront: await pushChange('storefront', id, readCents),
      billing: await pushChange('billing', id, readCents),
    });
    expect(verdict.status).toBe('passed');
    expect(verdict.problems).toEqual([]);
    expect(verdict.accepted.map((p) => p.message)).toEqual([
      matching(
        /^GET \/products 200 response: property "products\[\]\.price" removed \(openapi\.json line \d+ at the base\)$/,
      ),
    ]);
    expect(verdict.verdicts).toEqual([
      {
        consumer: 'storefront',
        inChange: true,
        status: 'fits',
        why: [
          'updated in this change for GET /products reads "products.price" (number → removed) [response-property-removed]',
        ],
      },
      {
        consumer: 'billing',
        inChange: true,
        status: 'fits',
        why: [
          'updated in this change for GET /products reads "products.price" (number → removed) [response-property-removed]',
        ],
      },
    ]);
    expect(verdict.unused?.map((p) => p.handle?.operation)).toEqual(['GET /products/{id}']);
  });
});

describe('per-consumer verdicts for JSON Schema copies and Pact contracts', () => {
  const event = (props: Record<string, unknown>, required: string[]) => ({
    type: 'object',
    required,
    properties: props,
  });
  const base = event(
    { id: { type: 'string' }, total: { type: 'integer' }, channel: { type: 'string' }, note: { type: 'string' } },
    ['id', 'total'],
  );
  const head = event({ id: { type: 'string' }, total: { type: 'integer' }, channel: { type: 'integer' } }, [
    'id',
    'total',
  ]);
  const spec = (kind: 'json-schema' | 'pact', consumers: string[]): ContractSpec => ({
    name: 'order-created',
    kind,
    provider: 'orders',
    path: kind === 'pact' ? null : 'schemas/order-created.json',
    command: null,
    runIn: 'orders',
    rules: [],
    verify: kind === 'pact' ? 'python3 verify_pact.py' : null,
    pactEnv: 'PACT_FILE',
    consumers: consumers.map((repo) => ({ repo, path: 'schemas/order-created.json', uses: null, command: null })),
  });

  it('a schema copy that leaves out the changed properties fits; the copy that keeps them breaks', () => {
    const breaking = diffJsonSchema(base, head, 'schemas/order-created.json').map((p) => ({ ...p, repo: 'orders' }));
    expect(breaking.map((p) => p.rule).sort()).toEqual(['property-removed', 'type-changed']);
    const copies: Record<string, unknown> = {
      archive: event({ id: { type: 'string' }, total: { type: 'integer' } }, ['id', 'total']),
      ledger: base,
    };
    const usage = new Map(
      Object.entries(copies).map(([repo, copy]) => [
        repo,
        usageOfCopy(diffJsonSchema(copy, head, 'schemas/order-created.json')),
      ]),
    );
    const v = contractVerdict(
      spec('json-schema', ['archive', 'ledger']),
      new Set(['orders']),
      { breaking, mismatches: [], failures: [], preExisting: [], usage },
      0,
    );
    expect(v.verdicts).toEqual([
      { consumer: 'archive', inChange: false, status: 'fits', why: [] },
      {
        consumer: 'ledger',
        inChange: false,
        status: 'breaks',
        why: [
          'reads "channel" (string → integer) [type-changed]',
          'reads "note" (string → removed) [property-removed]',
        ],
      },
    ]);
    expect(v.problems.filter((p) => p.rule === 'consumer-not-in-change').map((p) => p.consumer)).toEqual(['ledger']);
  });

  it('a pact the provider still honours fits; the one it fails breaks, and nothing is left for nobody', () => {
    const failed: ContractProblem = {
      kind: 'breaking',
      rule: 'pact-verification-failed',
      file: 'pacts/shipping.json',
      location: 'python3 verify_pact.py',
      message: "orders does not honour shipping's pact: exited with code 1: response has no field 'total_cents'",
      repo: 'orders',
      consumer: 'shipping',
    };
    const v = contractVerdict(
      spec('pact', ['shipping', 'invoicing']),
      new Set(['orders']),
      { breaking: [failed], mismatches: [], failures: [], preExisting: [], usage: new Map() },
      0,
    );
    expect(v.status).toBe('breaking');
    expect(v.problems).toEqual([failed]);
    expect(v.verdicts).toEqual([
      {
        consumer: 'shipping',
        inChange: false,
        status: 'breaks',
        why: [`${failed.message} [pact-verification-failed]`],
      },
      { consumer: 'invoicing', inChange: false, status: 'fits', why: [] },
    ]);
    expect(v.unused).toEqual([]);
  });
});
