/**
 * A bump that breaks the code, fixed by the agent, end to end: real Temporal, Docker, git and
 * the real npm registry (its host read from npm's own settings; the fleet's setup egress allows
 * it), with only the model replaced by the strict local OpenAI-compatible server.
 *
 * The bump-agent-fleet's `ids` service loads uuid 3 the old way, `require('uuid/v4')`, with a
 * real package-lock.json at 3.4.0; uuid 8 removed the deep requires, so after the bump to 9.0.1
 * its tests fail with ERR_PACKAGE_PATH_NOT_EXPORTED. In order: the repo's instructions get the
 * agent, which reads the failure, fixes the code and ends green with the manifests, the lockfile
 * and the fix in one commit; a change with only a description gets the agent too, and its fix
 * that moves uuid back in package.json fails the repo instead of shipping a non-bump; with no
 * model on the workers, the repo fails with the test output and says how to ask for a fix.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import { AgentBudgets, ModelsConfig } from '../../config/repos.ts';
import type { ChangeInput, ChangeResult } from '../../core/change.ts';
import type { RepoOutcome } from '../../core/repo.ts';
import type { ChatRequest, FakeOpenAI, ScriptedTurn } from '../fakes/openai-server.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { npmRegistryHost, placeNode24Recipe } from '../helpers/pact-fleet.ts';

const exec = promisify(execFile);
const PLANTED_SECRET = `planted-bump-secret-${process.pid}`;
const BUMP = { ecosystem: 'npm', package: 'uuid', to: '9.0.1' };
let h: Harness;
let fake: FakeOpenAI;

const call = (name: string, args: object): ScriptedTurn => ({
  reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
  usage: { prompt_tokens: 1000, completion_tokens: 50 },
});

const text = (content: unknown): string => (typeof content === 'string' ? content : JSON.stringify(content));

/** A turn that first checks what the previous tool call returned. */
const after = (pattern: RegExp, turn: ScriptedTurn): ScriptedTurn => ({
  ...turn,
  expect: (request) => {
    const last = request.messages.at(-1);
    const result = last?.role === 'tool' ? text(last.content) : '';
    if (!pattern.test(result))
      throw new Error(`tool result ${JSON.stringify(result.slice(0, 300))} does not match ${String(pattern)}`);
  },
});

/** The agent's task (its first user message) must carry all of `parts`. */
const taskHolds =
  (parts: string[]) =>
  (request: ChatRequest): void => {
    const task = text(request.messages[1]?.content ?? '');
    const missing = parts.filter((p) => !task.includes(p));
    if (missing.length > 0) throw new Error(`the agent's task lacks ${JSON.stringify(missing)}: ${task.slice(0, 600)}`);
  };

/** The fix that uuid 8+ asks for: the v4 function from the package's root. */
const fixIds = call('edit_file', { path: 'ids.js', old_text: "require('uuid/v4')", new_text: "require('uuid').v4" });

async function changeFile(id: string, body: object): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(file, stringify({ id, title: `Bump uuid: ${id}`, bump: BUMP, ...body }));
  return file;
}

/** The coordinator input as `lockstep run` builds it, with the scripted model's name. */
async function changeInput(file: string, agentModel: string): Promise<ChangeInput> {
  const input = await h.changeInput(file, { concurrency: 1 });
  return {
    ...input,
    models: ModelsConfig.parse({ agent: agentModel, coordinator: 'coordinator' }),
    budgets: AgentBudgets.parse({}),
  };
}

const show = async (ref: string, path: string): Promise<string> =>
  (await exec('git', ['--git-dir', h.fleet.remote('ids'), 'show', `${ref}:${path}`])).stdout;
const branchExists = (branch: string): Promise<boolean> =>
  exec('git', ['--git-dir', h.fleet.remote('ids'), 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(
    () => true,
    () => false,
  );
const idsOf = (result: ChangeResult): RepoOutcome | undefined => result.repos.find((r) => r.repo === 'ids');

beforeAll(async () => {
  // A secret in the worker's environment: it must never reach the model.
  process.env.LOCKSTEP_BUMP_AGENT_SECRET = PLANTED_SECRET;
  h = await startHarness('bump-agent', { fleet: fixtureFleet('bump-agent-fleet'), fakeModel: true });
  if (!h.fake) throw new Error('the harness has no model endpoint');
  fake = h.fake;
  await placeNode24Recipe(h.fleet.root);
  // The bump runs npm under the steps phase: the fleet grants it (the registry, GET/HEAD/OPTIONS).
  await allowEgress(h.fleet.configFile, [npmRegistryHost()], { steps: {} });
  const loaded = await loadReposConfig(h.fleet.configFile);
  await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    h.fleet.stateDir,
    () => undefined,
  );
}, 900_000);
afterAll(async () => h?.close());

describe('the agent fixes what a bump breaks', () => {
  it('with the repo instructions: reads the failure, fixes the code, and the commit holds the manifests, the lockfile and the fix', async () => {
    const instructions = 'Keep order ids as prefixed v4 uuids.';
    fake.script('bump-fix', [
      {
        ...call('read_file', { path: 'ids.js', start_line: null, end_line: null }),
        expect: taskHolds([
          'uuid',
          'from 3.4.0',
          'to 9.0.1',
          'npm test',
          'ERR_PACKAGE_PATH_NOT_EXPORTED',
          "Package subpath './v4'",
          instructions,
        ]),
      },
      after(/require\('uuid\/v4'\)/, fixIds),
      after(/Edited ids\.js/, call('run_tests', {})),
      after(
        /ids: uuid 9\.0\.1 ok/,
        call('finish', { summary: "uuid 8 removed the deep require: ids.js takes v4 from require('uuid')." }),
      ),
    ]);
    const file = await changeFile('uuid-fix', {
      description: 'Move the services to uuid 9.',
      repos: [{ name: 'ids', instructions }],
    });
    const result = await h.run(await changeInput(file, 'bump-fix'));
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('bump-fix')).toBe(0);
    expect(result.status).toBe('succeeded');
    const ids = idsOf(result);
    expect({
      status: ids?.status,
      error: ids?.error,
      bump: ids?.bump,
      files: [...(ids?.changedFiles ?? [])].sort(),
    }).toEqual({
      status: 'green',
      error: null,
      bump: { package: 'uuid', version: '9.0.1', from: '3.4.0', outcome: 'bumped' },
      files: ['ids.js', 'package-lock.json', 'package.json'],
    });
    expect(ids?.steps.map((s) => `${s.kind}:${s.name}:${s.exitCode}`)).toEqual([
      'setup:setup:0',
      'bump:uuid@9.0.1:0',
      'setup:setup again:0',
      'test:tests:1',
    ]);
    expect(ids?.agent).toMatchObject({ resolved: true, reason: 'finished', turns: 4, testIterations: 2 });
    expect(ids?.tests?.passed).toBe(true);
    expect(ids?.tests?.outputTail).toContain('ids: uuid 9.0.1 ok');
    expect(ids?.pullRequest).not.toBeNull();
    // The commit: the bump's manifests, the lockfile at exactly the version, and the agent's fix.
    expect(await show('lockstep/uuid-fix', 'ids.js')).toContain("const uuidv4 = require('uuid').v4;");
    expect(
      (JSON.parse(await show('lockstep/uuid-fix', 'package.json')) as { dependencies: Record<string, string> })
        .dependencies,
    ).toEqual({ uuid: '^9.0.1' });
    const lock = JSON.parse(await show('lockstep/uuid-fix', 'package-lock.json')) as {
      packages: Record<string, { version?: string }>;
    };
    expect(lock.packages['node_modules/uuid']?.version).toBe('9.0.1');
    // Nothing secret reached the model: not the key, not the worker's environment.
    const sent = JSON.stringify(fake.requests);
    expect(sent).not.toContain(fake.apiKey);
    expect(sent).not.toContain(PLANTED_SECRET);
  }, 600_000);

  it("with the change's description as the task: a fix that moves uuid back fails the repo and nothing is pushed", async () => {
    const description = 'Move the services to uuid 9 and keep them working.';
    fake.script('bump-undo', [
      {
        ...fixIds,
        expect: taskHolds([
          'from 3.4.0',
          'to 9.0.1',
          'ERR_PACKAGE_PATH_NOT_EXPORTED',
          `What the change asks (its description):\n${description}`,
        ]),
      },
      after(
        /Edited ids\.js/,
        call('edit_file', { path: 'package.json', old_text: '"uuid": "^9.0.1"', new_text: '"uuid": "^3.4.0"' }),
      ),
      after(/Edited package\.json/, call('run_tests', {})),
      after(/ids: uuid 9\.0\.1 ok/, call('finish', { summary: 'Fixed, and uuid is back on 3.' })),
    ]);
    const file = await changeFile('uuid-undo', { description });
    const result = await h.run(await changeInput(file, 'bump-undo'));
    expect(fake.violations).toEqual([]);
    expect(fake.remaining('bump-undo')).toBe(0);
    expect(result.status).toBe('failed');
    const ids = idsOf(result);
    expect(ids?.agent).toMatchObject({ resolved: true, reason: 'finished' });
    expect({ status: ids?.status, step: ids?.error?.step, commit: ids?.commit, outcome: ids?.bump?.outcome }).toEqual({
      status: 'failed',
      step: 'agent',
      commit: null,
      outcome: 'failed',
    });
    expect(ids?.error?.message).toBe(
      'the agent changed the bump: uuid must stay at 9.0.1, but package.json (dependencies) "^9.0.1" → "^3.4.0"; ' +
        "a bump's fix changes the code, not the version, so nothing was committed",
    );
    expect(await branchExists('lockstep/uuid-undo')).toBe(false);
    expect(JSON.stringify(fake.requests)).not.toContain(PLANTED_SECRET);
  }, 600_000);

  it('with no instructions and no model on the workers: the repo fails with the test output and says how to ask for a fix', async () => {
    const file = await changeFile('uuid-no-model', { description: 'Move the services to uuid 9.' });
    // A queue no worker polls: `lockstep run` starts its own worker, which has no model endpoint.
    const out = await h.cli(['run', file, '--json'], {
      LOCKSTEP_TASK_QUEUE: `${h.queue}-no-model`,
      OPENAI_API_KEY: '',
    });
    if (!out.stdout.trim().startsWith('{'))
      throw new Error(`lockstep run printed no result (exit ${out.code}):\n${out.stderr.slice(-3000)}`);
    const result = JSON.parse(out.stdout) as ChangeResult;
    expect(out.code).not.toBe(0);
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('ids failed at tests; no pull request opened');
    const ids = idsOf(result);
    expect({
      status: ids?.status,
      step: ids?.error?.step,
      agent: ids?.agent,
      commit: ids?.commit,
      bump: ids?.bump,
    }).toEqual({
      status: 'failed',
      step: 'tests',
      agent: null,
      commit: null,
      bump: { package: 'uuid', version: '9.0.1', from: '3.4.0', outcome: 'failed' },
    });
    expect(ids?.error?.message).toBe(
      'the tests (npm test) fail with uuid 9.0.1 in place (exited with code 1). ' +
        "No agent ran: no model is configured on the workers, so the change's description could not be its task. " +
        'To ask for a fix, give instructions on this repo\'s entry in the change file (repos: [{ name: ids, instructions: "…" }]) ' +
        'and run the workers with a model (OPENAI_API_KEY; docs/bumps.md)',
    );
    expect(ids?.error?.outputTail).toContain('Package subpath \'./v4\' is not defined by "exports"');
    expect(await branchExists('lockstep/uuid-no-model')).toBe(false);
  }, 600_000);
});
