/**
 * A Go fleet of real-world shape, end to end through Temporal, Docker and git: greeter (a gRPC
 * service over google.golang.org/grpc v1.81.1 with gRPC's health service, logging with logrus)
 * and gateway (its client), each with a real go.sum, both on Go 1.26 from the example recipe
 * examples/images/go1.26 built by `sandbox.build` from the Go module proxy's toolchain module.
 * Setup downloads the modules through the egress proxy from the Go module proxy this machine's
 * go uses (read from `go env`; the test writes its host into the fleet's allowlist); the tests
 * start a server on loopback and call it, offline. This is what a gRPC bump runs on.
 *
 * The runs build on each other: the first change fills each repo's cache (cold), the second
 * installs from it.
 */
import Docker from 'dockerode';
import { writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import type { ChangeResult } from '../../core/change.ts';
import { watchSandboxes, type SandboxWatch } from '../helpers/compliance.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { goProxyHost, goToolchainVersion, placeGoRecipe } from '../helpers/go-fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { fleetReaders, lines, repoOf, setupOf } from '../helpers/remotes.ts';

let h: Harness;
const { git, egressLog } = fleetReaders(() => h);
let proxyHost = '';
let goVersion = '';
let watch: SandboxWatch;
/** Figures for the closing note, printed once at the end. */
const figures: Record<string, unknown> = {};

type Step = { name: string; run: string };
/** Fails the repo unless the sandbox's go is the recipe's (Debian's Go 1.19 cannot build gRPC 1.81). */
const checkToolchain = (): Step => ({
  name: 'check the toolchain',
  run: `test "$(go env GOVERSION)" = go${goVersion}`,
});
const greeterEdit: Step[] = [
  { name: 'greet shorter', run: `sed -i 's/Greeting = "Hello, "/Greeting = "Hi, "/' server.go` },
];
const gatewayEdit: Step[] = [
  {
    name: 'allow slower calls',
    run: "sed -i 's/CallTimeout = 5 \\* time.Second/CallTimeout = 10 * time.Second/' client.go",
  },
];

async function change(id: string, repos: { name: string; steps: Step[] }[]): Promise<ChangeResult> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(file, stringify({ id, title: `gRPC fleet: ${id}`, description: 'grpc fleet fixture change', repos }));
  return h.run(await h.changeInput(file));
}

beforeAll(async () => {
  h = await startHarness('grpc-fleet', { fleet: fixtureFleet('grpc-fleet') });
  proxyHost = goProxyHost();
  goVersion = await goToolchainVersion();
  const placing = Date.now();
  await placeGoRecipe(h.fleet.root);
  await allowEgress(h.fleet.configFile, [proxyHost]);
  // As `lockstep run` does before it starts: the recipe's image, once per engine (content-hash tag).
  const building = Date.now();
  const loaded = await loadReposConfig(h.fleet.configFile);
  const built = await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    h.fleet.stateDir,
    () => undefined,
  );
  figures.image = {
    tag: loaded.config.repos[0]?.sandbox.image,
    built: built.length > 0,
    placeSeconds: (building - placing) / 1000,
    buildSeconds: (Date.now() - building) / 1000,
  };
  watch = await watchSandboxes(new Docker(), (workspace) => workspace.startsWith(h.fleet.stateDir + sep), {
    probeLoopback: true,
  });
}, 600_000);

afterAll(async () => {
  console.log(`grpc-fleet figures: ${JSON.stringify(figures, null, 2)}`);
  await h?.close();
});

describe('a gRPC fleet on Go 1.26, end to end', () => {
  it('edits both services: setup fetches the modules through the egress, the tests pass offline, each commit holds the edited file', async () => {
    const result = await change('grpc-edit', [
      { name: 'greeter', steps: [checkToolchain(), ...greeterEdit] },
      { name: 'gateway', steps: [checkToolchain(), ...gatewayEdit] },
    ]);
    expect(result.status, result.summary).toBe('succeeded');
    const intended: Record<string, string[]> = { greeter: ['server.go'], gateway: ['client.go'] };
    const run: Record<string, unknown> = {};
    figures.cold = run;
    for (const name of ['greeter', 'gateway']) {
      const repo = repoOf(result, name);
      expect({ status: repo?.status, error: repo?.error }).toEqual({ status: 'green', error: null });
      expect(repo?.tests?.passed).toBe(true);
      // go test's own verdict for the package that starts a server on loopback and calls it.
      expect(repo?.tests?.outputTail).toMatch(new RegExp(`^ok\\s+example\\.com/${name}\\s`, 'm'));
      expect(repo?.changedFiles).toEqual(intended[name]);
      // The branch holds the edited file only: no module cache, no go.sum rewritten by setup.
      expect(lines(await git(name, 'diff', '--name-only', 'main', 'lockstep/grpc-edit'))).toEqual(intended[name]);

      // Setup reached the module proxy, and only it, through the egress proxy; every connection is logged.
      const setup = setupOf(repo);
      expect(setup?.exitCode).toBe(0);
      expect(setup?.egress).toMatchObject({
        denied: 0,
        hosts: [proxyHost],
        log: join('grpc-edit', name, 'egress.jsonl'),
      });
      const log = await egressLog('grpc-edit', name);
      expect(log.length).toBe(setup?.egress?.connections);
      expect(log.length).toBeGreaterThan(0);
      expect(log.every((l) => l.host === proxyHost && l.port === 443 && l.allowed)).toBe(true);
      const bytesDown = log.reduce((n, l) => n + l.bytesDown, 0);
      // grpc, protobuf, x/net and the rest: megabytes of module zips.
      expect(bytesDown).toBeGreaterThan(5_000_000);
      run[name] = {
        connections: log.length,
        bytesDown,
        setupSeconds: (setup?.durationMs ?? 0) / 1000,
        testSeconds: (repo?.tests?.durationMs ?? 0) / 1000,
        repoSeconds: (repo?.durationMs ?? 0) / 1000,
      };
    }
    expect(await git('greeter', 'show', 'lockstep/grpc-edit:server.go')).toContain('Greeting = "Hi, "');

    // Only setup had egress: the audit's steps and tests entries carry none.
    const audit = await h.cli(['audit', 'grpc-edit', '--json']);
    expect(audit.code).toBe(0);
    const entries = (JSON.parse(audit.stdout) as { entries: { details: Record<string, unknown> }[] }).entries;
    const withEgress = entries.filter((e) => e.details.egressHosts !== undefined);
    expect(withEgress.map((e) => [e.details.commandKind, e.details.egressHosts])).toEqual([
      ['setup', proxyHost],
      ['setup', proxyHost],
    ]);
    expect(entries.filter((e) => e.details.commandKind === 'test').length).toBeGreaterThanOrEqual(2);
  }, 900_000);

  it('installs from the cache the first change filled: setup downloads nothing', async () => {
    const result = await change('grpc-warm', [
      {
        name: 'greeter',
        steps: [{ name: 'greet warmly', run: `sed -i 's/Greeting = "Hello, "/Greeting = "Welcome, "/' server.go` }],
      },
    ]);
    expect(result.status, result.summary).toBe('succeeded');
    const greeter = repoOf(result, 'greeter');
    expect(greeter?.changedFiles).toEqual(['server.go']);
    expect(greeter?.tests?.passed).toBe(true);
    expect(await egressLog('grpc-warm', 'greeter')).toEqual([]);
    expect(setupOf(greeter)?.egress).toMatchObject({ connections: 0, bytesDown: 0, denied: 0 });
    figures.warm = {
      greeter: {
        setupSeconds: (setupOf(greeter)?.durationMs ?? 0) / 1000,
        testSeconds: (greeter?.tests?.durationMs ?? 0) / 1000,
        repoSeconds: (greeter?.durationMs ?? 0) / 1000,
      },
    };
  }, 600_000);

  it('made only compliant sandboxes: egress mounts read-only, localhost resolving, lo alone', async () => {
    const { checked, compliant, missed, probed, reports } = await watch.stop();
    expect(reports.filter((r) => r.violations.length > 0)).toEqual([]);
    expect(missed).toBe(0);
    expect(checked).toBeGreaterThanOrEqual(3);
    expect(probed).toBeGreaterThanOrEqual(1);
    expect(compliant).toBe(checked);
  });
});
