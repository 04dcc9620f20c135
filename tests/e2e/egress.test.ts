/**
 * Setup's egress end to end, through Temporal and Docker: a Go repo whose setup downloads its
 * module dependency through the GOPROXY this worker uses (its host is read from `go env`, then
 * written into the fleet's sandbox.egress.allow; nothing here names it) makes its change, and
 * the setup's egress reaches the repo's result, `lockstep audit` and the egress log; a setup
 * whose allowlist lacks the proxy fails with the host and the config key named.
 */
import Docker from 'dockerode';
import { readFile, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import type { ChangeResult } from '../../core/change.ts';
import { watchSandboxes, type SandboxWatch } from '../helpers/compliance.ts';
import { fixtureFleet } from '../helpers/fleet.ts';
import { goProxyHost } from '../helpers/go-fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
let proxyHost = '';
let watch: SandboxWatch;

/** The fleet's config with the ids repo's egress allowlist set to `allow`. */
async function allowOnly(allow: string[], cache: { enabled?: boolean } = {}): Promise<void> {
  const config = JSON.parse(await readFile(h.fleet.configFile, 'utf8')) as {
    repos: { sandbox: Record<string, unknown> }[];
  };
  for (const repo of config.repos) {
    repo.sandbox.egress = { allow };
    repo.sandbox.cache = cache;
  }
  await writeFile(h.fleet.configFile, JSON.stringify(config, null, 2));
}

async function change(id: string): Promise<ChangeResult> {
  const file = join(h.fleet.root, `${id}.yaml`);
  const steps = [{ name: 'name the order namespace', run: `sed -i 's#orders/1#orders/42#' main.go` }];
  await writeFile(
    file,
    stringify({ id, title: `Egress: ${id}`, description: 'egress fixture change', repos: [{ name: 'ids', steps }] }),
  );
  return h.run(await h.changeInput(file));
}

beforeAll(async () => {
  h = await startHarness('egress', { fleet: fixtureFleet('egress-fleet') });
  proxyHost = goProxyHost();
  watch = await watchSandboxes(new Docker(), (workspace) => workspace.startsWith(h.fleet.stateDir + sep), {
    probeLoopback: true,
  });
}, 120_000);
afterAll(async () => h?.close());

describe('setup through the egress, end to end', () => {
  it("downloads the repo's module through the proxy, passes, and the audit shows the connections", async () => {
    await allowOnly([proxyHost]);
    const result = await change('egress-ok');
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect({ status: ids?.status, error: ids?.error }).toEqual({ status: 'green', error: null });
    expect(ids?.changedFiles).toEqual(['main.go']);
    const setup = ids?.steps.find((s) => s.kind === 'setup');
    expect(setup?.egress).toMatchObject({
      denied: 0,
      hosts: [proxyHost],
      log: join('egress-ok', 'ids', 'egress.jsonl'),
    });
    expect(setup?.egress?.connections).toBeGreaterThan(0);

    const lines = (await readFile(join(h.fleet.stateDir, 'logs', 'egress-ok', 'ids', 'egress.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EgressRecord);
    expect(lines.length).toBe(setup?.egress?.connections);
    expect(lines.every((l) => l.host === proxyHost && l.allowed && l.bytesDown > 0)).toBe(true);

    const audit = await h.cli(['audit', 'egress-ok', '--json']);
    expect(audit.code).toBe(0);
    const entries = (JSON.parse(audit.stdout) as { entries: { title: string; details: Record<string, unknown> }[] })
      .entries;
    const setupEntry = entries.find((e) => e.details.commandKind === 'setup');
    expect(setupEntry?.title).toMatch(
      new RegExp(`setup "setup": exit 0 — egress \\d+ connections? to ${proxyHost.replace(/\./g, '\\.')}`),
    );
    expect(setupEntry?.details).toMatchObject({
      egressHosts: proxyHost,
      egressDenied: 0,
      egressLog: join('egress-ok', 'ids', 'egress.jsonl'),
    });
    // Only setup had egress: the steps' and tests' entries carry none.
    expect(entries.filter((e) => e.details.egressHosts !== undefined).length).toBe(1);
  }, 240_000);

  it('fails a setup refused its proxy host, naming the host and the key to add it to', async () => {
    // Without the cache: the first change's cache already holds the modules, so setup would not ask
    // (a new cache key starts as a copy of the repo's newest one).
    await allowOnly(['unused.example.org'], { enabled: false });
    const result = await change('egress-denied');
    const ids = result.repos.find((r) => r.repo === 'ids');
    expect(ids?.status).toBe('failed');
    expect(ids?.error?.step).toBe('setup');
    expect(ids?.error?.message).toBe(
      `exited with code 1 after the egress proxy refused ${proxyHost}:443 (host is not in the allowlist)`,
    );
    expect(ids?.error?.outputTail).toContain(
      `add "${proxyHost}" to repos[<i>].sandbox.egress.allow in repos.config.json, where repos[<i>].name is "ids"`,
    );
    expect(ids?.steps.find((s) => s.kind === 'setup')?.egress).toMatchObject({
      connections: 0,
      deniedHosts: [{ host: proxyHost, port: 443 }],
    });
  }, 240_000);

  it('made only compliant sandboxes: egress mounts read-only, localhost resolving, lo alone', async () => {
    const { checked, compliant, missed, probed, reports } = await watch.stop();
    expect(reports.filter((r) => r.violations.length > 0)).toEqual([]);
    expect(missed).toBe(0);
    expect(checked).toBeGreaterThanOrEqual(2);
    expect(probed).toBeGreaterThanOrEqual(1);
    expect(compliant).toBe(checked);
  });
});
