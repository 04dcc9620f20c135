/**
 * The contract activity reading OpenAPI documents from real git repositories: `$ref`s into other
 * files of the provider's repository are read from git at the same revision (base with base,
 * head with head), a `$ref` leaving the repository is refused, and a document too large for the
 * gate is a clear problem instead of an activity error. No sandbox is needed for these checks.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContractActivities } from '../../activities/gate/contract.ts';
import { MAX_DOCUMENT_BYTES, type GateDeps } from '../../activities/gate/work.ts';
import { git } from '../../activities/git/workspace.ts';
import { SandboxConfig } from '../../config/repos.ts';
import type { CheckContractInput, ContractVerdict } from '../../core/gate.ts';

let root = '';
let deps: GateDeps;
let seeds = 0;

const OPENAPI = `openapi: 3.0.3
info: { title: pets, version: '1' }
paths:
  /pets/{id}:
    get:
      responses:
        '200':
          description: a pet
          content:
            application/json:
              schema:
                $ref: './schemas/pet.yaml#/Pet'
`;
const PET = `Pet:
  type: object
  required: [id]
  properties:
    id: { type: string }
    name: { type: string }
`;

/** A bare remote of `pets` whose main holds `base` and whose change commit holds `head` (null: delete). */
async function seed(
  base: Record<string, string>,
  head: Record<string, string | null>,
): Promise<{ url: string; base: string; head: string }> {
  const work = join(root, 'seeds', `pets-${seeds++}`);
  const write = async (files: Record<string, string | null>) => {
    for (const [path, text] of Object.entries(files)) {
      if (text === null) await rm(join(work, path), { force: true });
      else {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), text);
      }
    }
  };
  await mkdir(work, { recursive: true });
  const g = git(work);
  await g.raw(['init', '--quiet', '--initial-branch', 'main']);
  await write(base);
  await g.raw(['add', '--all']);
  await g.raw(['commit', '--quiet', '--no-verify', '-m', 'base']);
  const baseSha = (await g.revparse(['HEAD'])).trim();
  await write(head);
  await g.raw(['add', '--all']);
  await g.raw(['commit', '--quiet', '--no-verify', '--allow-empty', '-m', 'change']);
  const headSha = (await g.revparse(['HEAD'])).trim();
  const url = join(root, 'remotes', `pets-${seeds}.git`);
  await git(undefined).raw(['clone', '--quiet', '--bare', '--no-hardlinks', work, url]);
  return { url, base: baseSha, head: headSha };
}

/** A matcher for text that contains `part` (typed, so it can sit inside object matchers). */
const containing = (part: string): unknown => expect.stringContaining(part);

async function check(base: Record<string, string>, head: Record<string, string | null>): Promise<ContractVerdict> {
  const remote = await seed(base, head);
  const input: CheckContractInput = {
    changeId: `contract-documents-${process.pid}`,
    round: seeds,
    contract: {
      name: 'pets-api',
      kind: 'openapi',
      provider: 'pets',
      path: 'api/openapi.yaml',
      command: null,
      runIn: 'pets',
      rules: [],
      verify: null,
      pactEnv: 'PACT_FILE',
      consumers: [
        {
          repo: 'storefront',
          path: null,
          command: null,
          uses: [{ operation: 'GET /pets/{id}', fields: ['id', 'name'] }],
        },
      ],
    },
    repos: [
      {
        repo: 'pets',
        url: remote.url,
        baseBranch: 'main',
        sandbox: SandboxConfig.parse({ test: 'true' }),
        inChange: true,
      },
      {
        repo: 'storefront',
        url: remote.url,
        baseBranch: 'main',
        sandbox: SandboxConfig.parse({ test: 'true' }),
        inChange: false,
      },
    ],
    revisions: [{ repo: 'pets', base: remote.base, head: remote.head }],
  };
  const activities = createContractActivities(deps);
  return new MockActivityEnvironment().run((i: CheckContractInput) => activities.checkContract(i), input);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-contract-documents-'));
  const stateDir = join(root, 'state');
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  const docker = new Docker();
  // No sandbox is created by these checks: a sandbox call would fail on this owner-less config.
  deps = {
    stateDir,
    docker,
    sandbox: { docker, user: '1000:1000', owner: `test:${process.pid}`, workerEnv: {}, logDir: join(stateDir, 'logs') },
    workspaceOwner: null,
  };
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('checkContract on OpenAPI documents split across files', () => {
  it("reads a $ref'd file at each revision: a property removed there is a breaking change, located at the $ref line", async () => {
    const files = { 'api/openapi.yaml': OPENAPI, 'api/schemas/pet.yaml': PET };
    const verdict = await check(files, { 'api/schemas/pet.yaml': PET.replace('    name: { type: string }\n', '') });
    expect(verdict.status).toBe('breaking');
    expect(verdict.problems).toEqual([
      expect.objectContaining({
        kind: 'breaking',
        rule: 'response-property-removed',
        file: 'api/openapi.yaml',
        location: '/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/properties/name',
        line: 12,
        message: 'GET /pets/{id} 200 response: property "name" removed (api/openapi.yaml line 12)',
      }),
      expect.objectContaining({ rule: 'consumer-not-in-change', consumer: 'storefront' }),
      // storefront reads name: the field is gone from what it reads, at the line of the $ref.
      expect.objectContaining({
        kind: 'mismatch',
        rule: 'response-field-missing',
        consumer: 'storefront',
        message: containing('(api/openapi.yaml line 12 in pets)'),
      }),
    ]);
    expect((await check(files, { 'api/schemas/pet.yaml': `${PET}    tag: { type: string }\n` })).status).toBe('passed');
  });

  it('refuses a $ref leaving the repository, and names a referenced file missing at the head', async () => {
    const files = { 'api/openapi.yaml': OPENAPI, 'api/schemas/pet.yaml': PET };
    const outside = await check(files, {
      'api/openapi.yaml': OPENAPI.replace('./schemas/pet.yaml', '../../../etc/passwd'),
    });
    expect(outside.status).toBe('failed');
    expect(outside.problems).toEqual([
      expect.objectContaining({
        kind: 'invalid',
        rule: 'ref-outside-repo',
        file: 'api/openapi.yaml',
        repo: 'pets',
        line: 12,
      }),
    ]);
    const missing = await check(files, { 'api/schemas/pet.yaml': null });
    expect(missing.problems).toEqual([
      expect.objectContaining({
        rule: 'ref-unresolved',
        file: 'api/schemas/pet.yaml',
        message:
          'api/schemas/pet.yaml, which a $ref of api/openapi.yaml names, does not exist at this revision of the repository',
      }),
    ]);
  });

  it("a document over the gate's limit is an invalid problem naming its size and the fix", async () => {
    const huge = `${OPENAPI}x-padding: "${'x'.repeat(MAX_DOCUMENT_BYTES)}"\n`;
    const verdict = await check(
      { 'api/openapi.yaml': OPENAPI, 'api/schemas/pet.yaml': PET },
      { 'api/openapi.yaml': huge },
    );
    expect(verdict.status).toBe('failed');
    expect(verdict.problems).toEqual([
      expect.objectContaining({
        kind: 'invalid',
        rule: 'document-too-large',
        file: 'api/openapi.yaml',
        message: expect.stringContaining('split it into files joined by relative $refs') as unknown,
      }),
    ]);
  });
});
