/**
 * Egress beyond setup end to end, through Temporal, Docker, the real forwarder and the Go
 * module proxy this worker uses (its host read from `go env`, then written into the fleet's
 * allow lists; nothing here names it): a step the fleet grants and the change asks downloads a
 * module version setup never fetched, through the TLS-inspecting proxy, and the egress log
 * lists its request paths; a step that POSTs to an allowed host, a step that reaches a host
 * outside the list, a change that asks what the fleet does not grant, and an agent command
 * while agent egress is off are each refused, naming what and where, and nothing is pushed.
 */
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { ModelsConfig } from '../../config/repos.ts';
import type { ChangeResult } from '../../core/change.ts';
import type { ChatRequest, ScriptedTurn } from '../fakes/openai-server.ts';
import { fixtureFleet } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const exec = promisify(execFile);
let h: Harness;
let proxyHost = '';

/** The fleet's config with the ids repo's egress set to `egress`. */
async function fleetEgress(egress: object): Promise<void> {
  const config = JSON.parse(await readFile(h.fleet.configFile, 'utf8')) as {
    repos: { sandbox: Record<string, unknown> }[];
  };
  for (const repo of config.repos) repo.sandbox.egress = egress;
  await writeFile(h.fleet.configFile, JSON.stringify(config, null, 2));
}

async function changeFile(id: string, body: object): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({ id, title: `Egress phases: ${id}`, description: 'egress phases fixture change', ...body }),
  );
  return file;
}

const edit = { name: 'name the order namespace', run: `sed -i 's#orders/1#orders/42#' main.go` };
const python = (code: string): string => `python3 -c '${code}'`;

async function stepsChange(id: string, steps: object[], egress: object = { steps: true }): Promise<ChangeResult> {
  return h.run(
    await h.changeInput(await changeFile(id, { egress, repos: [{ name: 'ids', steps: [...steps, edit] }] })),
  );
}

async function egressLog(changeId: string): Promise<EgressRecord[]> {
  return (await readFile(join(h.fleet.stateDir, 'logs', changeId, 'ids', 'egress.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EgressRecord);
}

async function pushed(changeId: string): Promise<string> {
  return (
    await exec('git', ['--git-dir', h.fleet.remote('ids'), 'branch', '--list', `lockstep/${changeId}`])
  ).stdout.trim();
}

beforeAll(async () => {
  h = await startHarness('egress-phases', { fleet: fixtureFleet('egress-fleet'), fakeModel: true });
  const goproxy = execFileSync('go', ['env', 'GOPROXY'], { encoding: 'utf8' }).trim();
  proxyHost = new URL(goproxy.split(/[,|]/)[0] ?? '').hostname;
}, 120_000);
afterAll(async () => h?.close());

describe('steps egress, granted and asked, end to end', () => {
  it('downloads a module version setup did not fetch through the inspecting proxy, and the log lists its request paths', async () => {
    await fleetEgress({ allow: [proxyHost], steps: {} });
    const result = await stepsChange('phases-download', [
      { name: 'fetch the older uuid', run: 'go mod download -json github.com/google/uuid@v1.5.0' },
    ]);
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect({ status: ids?.status, error: ids?.error }).toEqual({ status: 'green', error: null });
    const step = ids?.steps.find((s) => s.name === 'fetch the older uuid');
    expect(step?.egress).toMatchObject({
      phase: 'steps',
      denied: 0,
      hosts: [proxyHost],
      log: join('phases-download', 'ids', 'egress.jsonl'),
    });
    expect(step?.egress?.requests).toBeGreaterThan(0);
    // Every step of the change runs in the steps phase; the edit went nowhere.
    expect(ids?.steps.find((s) => s.name === edit.name)?.egress).toMatchObject({
      phase: 'steps',
      connections: 0,
      requests: 0,
      denied: 0,
    });
    // Tests never have a route.
    expect(ids?.steps.filter((s) => s.kind === 'test').map((s) => s.egress)).toEqual([undefined]);

    const lines = (await egressLog('phases-download')).filter((l) => l.phase === 'steps');
    expect(lines.length).toBe(step?.egress?.requests);
    expect(lines.every((l) => l.host === proxyHost && l.method === 'GET' && l.allowed && l.status === 200)).toBe(true);
    expect(lines.map((l) => l.path)).toContain('/github.com/google/uuid/@v/v1.5.0.zip');
    expect(lines.find((l) => l.path === '/github.com/google/uuid/@v/v1.5.0.zip')?.bytesDown).toBeGreaterThan(1000);
    // `lockstep audit --egress ids` lists the requests, in JSON and as text.
    const listed = await h.cli(['audit', 'phases-download', '--egress', 'ids', '--json']);
    expect(listed.code).toBe(0);
    expect(
      (JSON.parse(listed.stdout) as { repo: string; phase: string; path?: string }[])
        .filter((l) => l.phase === 'steps')
        .map((l) => l.path),
    ).toContain('/github.com/google/uuid/@v/v1.5.0.zip');
    const text = await h.cli(['audit', 'phases-download', '--egress']);
    expect(text.stdout).toMatch(
      new RegExp(
        `ids  steps  200  GET ${proxyHost.replace(/\./g, '\\.')}/github\\.com/google/uuid/@v/v1\\.5\\.0\\.zip`,
      ),
    );
    // Setup's lines are per connection, and say so.
    expect(
      (await egressLog('phases-download')).filter((l) => l.phase === 'setup').every((l) => l.method === 'CONNECT'),
    ).toBe(true);
  }, 300_000);

  it('refuses a POST to an allowed host with its method, host and path, and pushes nothing', async () => {
    const result = await stepsChange('phases-post', [
      {
        name: 'post to the registry',
        run: python(
          `import urllib.request; urllib.request.urlopen(urllib.request.Request("https://${proxyHost}/upload/evidence", data=b"secret", method="POST"))`,
        ),
      },
    ]);
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect(ids?.status).toBe('failed');
    expect(ids?.error?.step).toBe('post to the registry');
    expect(ids?.error?.message).toMatch(
      new RegExp(
        `^exited with code 1 after the egress proxy refused POST ${proxyHost.replace(/\./g, '\\.')}:443/upload/evidence \\(method POST is not allowed for steps`,
      ),
    );
    expect(ids?.error?.outputTail).toMatch(/HTTP Error 403/);
    expect(ids?.error?.outputTail).toContain(`the step was refused POST ${proxyHost}:443/upload/evidence`);
    expect(await egressLog('phases-post')).toContainEqual(
      expect.objectContaining({
        phase: 'steps',
        method: 'POST',
        host: proxyHost,
        path: '/upload/evidence',
        status: 403,
        allowed: false,
      }),
    );
    expect(await pushed('phases-post')).toBe('');
  }, 300_000);

  it('refuses a host outside the steps list, naming the key to add it to', async () => {
    const result = await stepsChange('phases-outside', [
      {
        name: 'reach elsewhere',
        run: python('import urllib.request; urllib.request.urlopen("https://not-allowed.example.org/x")'),
      },
    ]);
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect(ids?.status).toBe('failed');
    expect(ids?.error?.message).toBe(
      'exited with code 1 after the egress proxy refused not-allowed.example.org:443 (host is not in the allowlist)',
    );
    expect(ids?.error?.outputTail).toContain(
      'add "not-allowed.example.org" to repos[<i>].sandbox.egress.steps.allow in repos.config.json, where repos[<i>].name is "ids"',
    );
    expect(await pushed('phases-outside')).toBe('');
  }, 300_000);

  it('rejects a change that asks for step egress the fleet does not grant before any repo starts (exit 2)', async () => {
    await fleetEgress({ allow: [proxyHost] });
    const file = await changeFile('phases-ungranted', {
      egress: { steps: true },
      repos: [{ name: 'ids', steps: [edit] }],
    });
    const run = await h.cli(['run', file, '--no-worker']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'phases-ungranted.yaml: egress.steps: the change asks for steps egress, but the fleet does not grant it to repo "ids"',
    );
    expect(run.stderr).toMatch(
      /fix: set repos\[0\]\.sandbox\.egress\.steps in .*repos\.config\.json, where repos\[0\]\.name is "ids"/,
    );
    await expect(h.env.client.workflow.getHandle('change/phases-ungranted').describe()).rejects.toThrow(/not found/i);
    expect(await pushed('phases-ungranted')).toBe('');
  }, 120_000);
});

describe('agent egress off', () => {
  it("refuses the agent's network command, names the keys in the tool result, and the agent goes on", async () => {
    const fake = h.fake;
    if (!fake) throw new Error('the harness has no model endpoint');
    await fleetEgress({ allow: [proxyHost], steps: {} });
    const call = (name: string, args: object): ScriptedTurn => ({
      reply: { tool_calls: [{ name, arguments: JSON.stringify(args) }] },
      usage: { prompt_tokens: 100, completion_tokens: 10 },
    });
    const lastTool = (request: ChatRequest): string => {
      const last = request.messages.at(-1);
      return typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
    };
    let refusal = '';
    fake.script('phases-agent', [
      call('run_command', {
        command: python(
          `import urllib.request; print(urllib.request.urlopen("https://${proxyHost}/github.com/google/uuid/@v/list").read())`,
        ),
      }),
      { ...call('run_command', { command: edit.run }), expect: (request) => void (refusal = lastTool(request)) },
      call('run_tests', {}),
      call('finish', { summary: 'Order ids use namespace 42.' }),
    ]);
    const input = await h.changeInput(
      await changeFile('phases-agent', {
        repos: [{ name: 'ids', instructions: 'Use orders/42 in the order id namespace.' }],
      }),
    );
    const result = await h.run({
      ...input,
      models: ModelsConfig.parse({ agent: 'phases-agent', coordinator: 'coordinator' }),
    });
    expect(fake.violations).toEqual([]);
    expect(refusal).toMatch(/^exit code 1\n/);
    expect(refusal).toContain(
      `the agent's command was refused egress to ${proxyHost}:443: egress for agent is off: the fleet does not grant it (set repos[<i>].sandbox.egress.agent in repos.config.json, where repos[<i>].name is "ids") and the change must ask with "egress: { agent: true }"`,
    );
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect(ids).toMatchObject({ status: 'green', mode: 'agent' });
    const lines = await egressLog('phases-agent');
    expect(lines).toContainEqual(
      expect.objectContaining({ phase: 'agent', method: 'CONNECT', host: proxyHost, allowed: false }),
    );
    expect(lines.filter((l) => l.phase === 'agent' && l.allowed)).toEqual([]);
  }, 300_000);
});
