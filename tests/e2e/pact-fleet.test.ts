/**
 * A fleet of real-world shape, end to end through Temporal, Docker and git: catalog (express,
 * jest, the Pact verifier) provides a product API to storefront (vitest, the Pact consumer DSL),
 * both on Node 24 from the example recipe built by `sandbox.build`, each installing its real
 * package-lock.json with `npm ci` through the egress proxy from the registry this machine's npm
 * uses (read from its config; the test writes it into the fleet's allowlist). The pact is the
 * one Pact's own mock server writes, and the provider is judged by Pact's own verifier against
 * the service started on localhost.
 *
 * The runs build on each other, in order: the field added across the pair (cold installs fill
 * each repo's cache), then the consumer-only change and the provider rename, whose setups
 * install from those caches, then a setup that also reaches a host outside the allowlist.
 */
import Docker from 'dockerode';
import { readFile, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { parseManifest } from '../../activities/forges/body.ts';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import type { ChangeResult } from '../../core/change.ts';
import { watchSandboxes, type SandboxWatch } from '../helpers/compliance.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { fleetReaders, lines, repoOf, setupOf } from '../helpers/remotes.ts';
import { npmRegistryHost, placeNode24Recipe } from '../helpers/pact-fleet.ts';

let h: Harness;
const { git, egressLog } = fleetReaders(() => h);
let registry = '';
let watch: SandboxWatch;
/** Figures for the closing note, printed once at the end. */
const figures: Record<string, unknown> = {};

const catalogCurrency = [
  {
    name: 'serve the currency',
    run: `sed -i "s/price: 9.5 }/price: 9.5, currency: 'EUR' }/; s/price: 14 }/price: 14, currency: 'EUR' }/" src/app.js`,
  },
  { name: 'test the currency', run: `sed -i "s/price: 9.5 })/price: 9.5, currency: 'EUR' })/" test/app.test.js` },
];
const storefrontCurrency = [
  { name: 'read the currency', run: "sed -i 's/name, price }/name, price, currency }/g' src/catalog-client.js" },
  {
    name: 'expect the currency',
    run: `sed -i "s/price: decimal(9.5) }/price: decimal(9.5), currency: string('EUR') }/; s/price: 9.5 });/price: 9.5, currency: 'EUR' });/" test/catalog.pact.test.js`,
  },
];
/** A host outside the fleet's allowlist (example.org is reserved for examples: it names no one). */
const UNLISTED_GIT = 'https://git.example.org/shop/design-tokens.git';
const catalogRename = [{ name: 'rename name to title', run: 'sed -i "s/name: /title: /" src/app.js test/app.test.js' }];

async function change(
  id: string,
  repos: { name: string; steps: { name: string; run: string }[] }[],
): Promise<ChangeResult> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(file, stringify({ id, title: `Pact fleet: ${id}`, description: 'pact fleet fixture change', repos }));
  return h.run(await h.changeInput(file));
}

function egressFigures(log: EgressRecord[]): {
  hosts: string[];
  connections: number;
  bytesUp: number;
  bytesDown: number;
} {
  return {
    hosts: [...new Set(log.map((l) => l.host))],
    connections: log.length,
    bytesUp: log.reduce((n, l) => n + l.bytesUp, 0),
    bytesDown: log.reduce((n, l) => n + l.bytesDown, 0),
  };
}

beforeAll(async () => {
  const started = Date.now();
  h = await startHarness('pact-fleet', { fleet: fixtureFleet('pact-fleet') });
  registry = npmRegistryHost();
  await placeNode24Recipe(h.fleet.root);
  await allowEgress(h.fleet.configFile, [registry]);
  // As `lockstep run` does before it starts: the recipe's image, once per engine (content-hash tag).
  const loaded = await loadReposConfig(h.fleet.configFile);
  const built = await buildRecipeImages(
    loaded.config.repos.map((r) => r.sandbox),
    h.fleet.stateDir,
    () => undefined,
  );
  figures.image = {
    tag: loaded.config.repos[0]?.sandbox.image,
    built: built.length > 0,
    seconds: (Date.now() - started) / 1000,
  };
  watch = await watchSandboxes(new Docker(), (workspace) => workspace.startsWith(h.fleet.stateDir + sep), {
    probeLoopback: true,
  });
}, 600_000);

afterAll(async () => {
  console.log(`pact-fleet figures: ${JSON.stringify(figures, null, 2)}`);
  await h?.close();
});

describe('a Pact fleet of real-world shape, end to end', () => {
  it('adds a field across the pair: the pact passes and linked PRs hold only the intended files', async () => {
    const result = await change('pact-currency', [
      { name: 'catalog', steps: catalogCurrency },
      { name: 'storefront', steps: storefrontCurrency },
    ]);
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.gate?.contracts.map((c) => [c.contract, c.status])).toEqual([['catalog-products', 'passed']]);

    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    const intended: Record<string, string[]> = {
      catalog: ['src/app.js', 'test/app.test.js'],
      storefront: ['src/catalog-client.js', 'test/catalog.pact.test.js'],
    };
    const committed: Record<string, string[]> = {};
    for (const name of ['catalog', 'storefront']) {
      const repo = repoOf(result, name);
      expect(repo?.status).toBe('green');
      expect(repo?.tests?.passed).toBe(true);
      // Exactly the steps' files: no node_modules, no pacts/ the tests wrote, no rewritten lockfile.
      committed[name] = lines(await git(name, 'diff', '--name-only', 'main', 'lockstep/pact-currency'));
      expect(committed[name]).toEqual(intended[name]);
      expect(lines(await git(name, 'ls-tree', '-r', '--name-only', 'lockstep/pact-currency'))).toEqual(
        lines(await git(name, 'ls-tree', '-r', '--name-only', 'main')),
      );
      expect(
        (await git(name, 'ls-tree', '-r', 'lockstep/pact-currency')).split('\n').filter((l) => l.startsWith('120000')),
      ).toEqual([]);
      expect(await git(name, 'show', 'lockstep/pact-currency:package-lock.json')).toBe(
        await readFile(join(fixtureFleet('pact-fleet'), name, 'package-lock.json'), 'utf8'),
      );
      // One PR per repo, each naming both in its manifest.
      const pulls = await forge.listPullRequests(name);
      expect(pulls).toHaveLength(1);
      expect(pulls[0]).toMatchObject({
        head: 'lockstep/pact-currency',
        base: 'main',
        commit: repo?.commit,
        state: 'open',
      });
      expect(
        parseManifest(pulls[0]?.body ?? '')
          ?.repos.map((r) => r.repo)
          .sort(),
      ).toEqual(['catalog', 'storefront']);
    }
    expect(await git('catalog', 'show', 'lockstep/pact-currency:src/app.js')).toContain("currency: 'EUR'");

    // Cold installs: every connection went to the registry, allowed, and brought the tarballs.
    const cold: Record<string, unknown> = {};
    figures.coldRun = cold;
    for (const name of ['catalog', 'storefront']) {
      const log = await egressLog('pact-currency', name);
      expect(log.length).toBeGreaterThan(0);
      expect(log.every((l) => l.host === registry && l.port === 443 && l.allowed)).toBe(true);
      const sum = egressFigures(log);
      expect(sum.bytesDown).toBeGreaterThan(5_000_000);
      // The log and the result agree: every connection counted is in the log.
      expect(setupOf(repoOf(result, name))?.egress).toMatchObject({
        connections: sum.connections,
        bytesDown: sum.bytesDown,
        denied: 0,
        hosts: [registry],
      });
      cold[name] = { ...sum, setupSeconds: (setupOf(repoOf(result, name))?.durationMs ?? 0) / 1000 };
    }
    figures.committed = committed;
  }, 900_000);

  it("blocks the consumer-only change with the verifier's own message about the missing field, and installs from the cache", async () => {
    const result = await change('pact-consumer-only', [{ name: 'storefront', steps: storefrontCurrency }]);
    expect(result.status).toBe('blocked');
    const storefront = repoOf(result, 'storefront');
    // The consumer's own tests pass against Pact's mock server; only the provider lacks the field.
    expect(storefront?.tests?.passed).toBe(true);
    const verdict = result.gate?.contracts.find((c) => c.contract === 'catalog-products');
    expect(verdict?.status).not.toBe('passed');
    expect(verdict?.problems.map((p) => p.rule)).toEqual(['pact-verification-failed']);
    expect(verdict?.problems[0]?.message).toContain('Actual map is missing the following keys: currency');
    expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);

    // The second install of storefront's lockfile: the cache has every tarball, nothing is downloaded
    // (the egress log holds every connection; the first run's held 15 to the registry).
    const log = await egressLog('pact-consumer-only', 'storefront');
    expect(log).toEqual([]);
    expect(setupOf(storefront)?.egress).toMatchObject({ connections: 0, bytesDown: 0 });
    figures.warmRun = {
      storefront: { ...egressFigures(log), setupSeconds: (setupOf(storefront)?.durationMs ?? 0) / 1000 },
    };
  }, 900_000);

  it('blocks a provider rename with the verifier naming the field the consumer still reads', async () => {
    const result = await change('pact-rename', [{ name: 'catalog', steps: catalogRename }]);
    expect(result.status).toBe('blocked');
    const catalog = repoOf(result, 'catalog');
    expect(catalog?.tests?.passed).toBe(true);
    const verdict = result.gate?.contracts.find((c) => c.contract === 'catalog-products');
    expect(verdict?.status).toBe('breaking');
    expect(verdict?.blame).toEqual(['catalog']);
    expect(verdict?.problems[0]?.message).toContain("catalog does not honour storefront's pact");
    expect(verdict?.problems[0]?.message).toContain('Actual map is missing the following keys: name');
    const log = await egressLog('pact-rename', 'catalog');
    expect(log).toEqual([]);
    expect(setupOf(catalog)?.egress).toMatchObject({ connections: 0, bytesDown: 0 });
    (figures.warmRun as Record<string, unknown>).catalog = {
      ...egressFigures(log),
      setupSeconds: (setupOf(catalog)?.durationMs ?? 0) / 1000,
    };
  }, 900_000);

  it('fails a setup that reaches a host outside the allowlist, naming the host and where to add it', async () => {
    // storefront's setup also fetches from a git host nobody allowed (npm's own packages come
    // from the warm cache by now, so the refusal is the only thing that can fail it).
    const original = await readFile(h.fleet.configFile, 'utf8');
    const config = JSON.parse(original) as {
      defaults: { sandbox: { setup: string } };
      repos: { name: string; sandbox?: Record<string, unknown> }[];
    };
    const storefrontConfig = config.repos.find((r) => r.name === 'storefront');
    if (storefrontConfig)
      storefrontConfig.sandbox = { setup: `${config.defaults.sandbox.setup} && git ls-remote ${UNLISTED_GIT}` };
    await writeFile(h.fleet.configFile, JSON.stringify(config, null, 2));
    try {
      const result = await change('pact-denied', [{ name: 'storefront', steps: storefrontCurrency }]);
      const storefront = repoOf(result, 'storefront');
      expect(result.status).toBe('failed');
      expect(storefront?.error?.step).toBe('setup');
      expect(storefront?.error?.message).toBe(
        'exited with code 128 after the egress proxy refused git.example.org:443 (host is not in the allowlist)',
      );
      expect(storefront?.error?.outputTail).toContain(
        'add "git.example.org" to repos[<i>].sandbox.egress.allow in repos.config.json, where repos[<i>].name is "storefront"',
      );
      expect(setupOf(storefront)?.egress).toMatchObject({
        denied: 1,
        deniedHosts: [{ host: 'git.example.org', port: 443, reason: 'host is not in the allowlist' }],
      });
      expect(result.repos.every((r) => r.pullRequest === null)).toBe(true);
      figures.deniedRun = egressFigures(await egressLog('pact-denied', 'storefront'));
    } finally {
      await writeFile(h.fleet.configFile, original);
    }
  }, 600_000);

  it('made only compliant sandboxes: egress mounts read-only, localhost resolving, lo alone', async () => {
    const { checked, compliant, missed, reports } = await watch.stop();
    expect(reports.filter((r) => r.violations.length > 0)).toEqual([]);
    expect(missed).toBe(0);
    expect(checked).toBeGreaterThanOrEqual(8);
    expect(compliant).toBe(checked);
  });
});
