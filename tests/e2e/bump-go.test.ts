/**
 * A Go dependency bump across the gRPC fleet (tests/fixtures/grpc-fleet), end to end through
 * Temporal, Docker and git: the change `bump: { ecosystem: go, package: google.golang.org/grpc,
 * to: v1.85.0 }` moves greeter and gateway from v1.81.1 to v1.85.0 (`go get` then `go mod tidy`,
 * through the egress proxy to the Go module proxy this machine's go uses), both go green with
 * their tests offline, each commit holds go.mod and go.sum only, and the bump's egress (its
 * connections and bytes to the module proxy) is logged.
 *
 * The bump command runs under the steps phase's egress: the proxy opens TLS, so the log names
 * every request go made (method, path, status), the new module archives among them.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { buildRecipeImages } from '../../cli/images.ts';
import { loadReposConfig } from '../../config/load.ts';
import type { ChangeResult } from '../../workflows/types.ts';
import { allowEgress, fixtureFleet } from '../helpers/fleet.ts';
import { goProxyHost, placeGoRecipe } from '../helpers/go-fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const exec = promisify(execFile);
const GRPC = 'google.golang.org/grpc';
const FROM = 'v1.81.1';
const TO = 'v1.85.0';
const REPOS = ['gateway', 'greeter'];
let h: Harness;
let proxyHost = '';
/** Figures for the closing note, printed once at the end. */
const figures: Record<string, unknown> = {};


const git = async (repo: string, ...args: string[]): Promise<string> => (await exec('git', ['--git-dir', h.fleet.remote(repo), ...args])).stdout;
const lines = (text: string): string[] => text.split('\n').filter(Boolean).sort();

async function egressLog(changeId: string, repo: string): Promise<EgressRecord[]> {
  const text = await readFile(join(h.fleet.stateDir, 'logs', changeId, repo, 'egress.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EgressRecord);
}

beforeAll(async () => {
  h = await startHarness('bump-go', { fleet: fixtureFleet('grpc-fleet') });
  proxyHost = goProxyHost();
  await placeGoRecipe(h.fleet.root);
  // The bump runs go under the steps phase (GET, HEAD, OPTIONS to the proxy host), setup under its own.
  await allowEgress(h.fleet.configFile, [proxyHost], { steps: {} });
  const loaded = await loadReposConfig(h.fleet.configFile);
  await buildRecipeImages(loaded.config.repos.map((r) => r.sandbox), h.fleet.stateDir, () => undefined);
}, 600_000);
afterAll(async () => {
  console.log(`bump-go figures: ${JSON.stringify(figures, null, 2)}`);
  await h?.close();
});

describe('a gRPC bump across the Go fleet', () => {
  it(`moves both services from ${FROM} to ${TO}: green offline, go.mod and go.sum alone committed, the bump's downloads logged`, async () => {
    for (const repo of REPOS) expect(await git(repo, 'show', 'main:go.mod')).toContain(`${GRPC} ${FROM}`);
    const file = join(h.fleet.root, 'bump-grpc.yaml');
    await writeFile(file, stringify({ id: 'bump-grpc', title: `Bump gRPC to ${TO}`, description: 'bump fixture change', bump: { ecosystem: 'go', package: GRPC, to: TO } }));
    const result: ChangeResult = await h.run(await h.changeInput(file));
    expect(result.status, result.summary).toBe('succeeded');
    expect(result.repos.map((r) => r.repo).sort()).toEqual(REPOS);
    for (const repo of REPOS) {
      const outcome = result.repos.find((r) => r.repo === repo);
      expect({ status: outcome?.status, error: outcome?.error }).toEqual({ status: 'green', error: null });
      expect(outcome?.tests?.passed).toBe(true);
      expect(outcome?.tests?.outputTail).toMatch(new RegExp(`^ok\\s+example\\.com/${repo}\\s`, 'm'));
      expect(lines(await git(repo, 'diff', '--name-only', 'main', 'lockstep/bump-grpc'))).toEqual(['go.mod', 'go.sum']);
      const goMod = await git(repo, 'show', 'lockstep/bump-grpc:go.mod');
      expect(goMod).toContain(`${GRPC} ${TO}`);
      expect(await git(repo, 'show', 'lockstep/bump-grpc:go.sum')).toContain(`${GRPC} ${TO} h1:`);

      // The bump reached the module proxy, and only it, through the egress: the new modules' archives.
      const bump = outcome?.steps.find((st) => st.kind === 'bump');
      expect(bump?.exitCode).toBe(0);
      expect(bump?.egress).toMatchObject({ phase: 'steps', denied: 0, hosts: [proxyHost] });
      expect(bump?.egress?.bytesDown).toBeGreaterThan(1_000_000);
      const log = await egressLog('bump-grpc', repo);
      expect(log.length).toBeGreaterThan(0);
      expect(log.every((l) => l.host === proxyHost && l.allowed)).toBe(true);
      const requests = log.filter((l) => l.phase === 'steps' && l.path !== undefined);
      expect(requests.length).toBe(bump?.egress?.requests);
      // go asks for module paths that are not modules (the proxy's 404s are answers, not refusals).
      expect(requests.every((l) => l.method === 'GET' && l.allowed)).toBe(true);
      expect(requests.find((l) => l.path === `/${GRPC}/@v/${TO}.zip`)?.status).toBe(200);
      figures[`${repo} archives`] = requests.filter((l) => l.path?.endsWith('.zip')).map((l) => `${l.method} ${l.path} ${l.status} ${l.bytesDown} B`);
      figures[repo] = { bump: bump?.egress, bumpSeconds: (bump?.durationMs ?? 0) / 1000, testSeconds: (outcome?.tests?.durationMs ?? 0) / 1000 };
    }
  }, 900_000);
});
