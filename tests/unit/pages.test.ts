/**
 * Changes in pages, the pure parts (core/pages.ts) and the client's paging of a change's input
 * (client/pages.ts inPages) with an in-process blob store: pages in merge order, the gate kept
 * to its contract repos, and the refusals (a plan, a landing) before anything is stored.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AgentBudgets, ModelsConfig, SandboxConfig } from '../../config/repos.ts';
import type { BlobRef, BlobStore } from '../../core/blobs.ts';
import type { ChangeInput } from '../../core/change.ts';
import type { ContractSpec, GateInput } from '../../core/gate.ts';
import { fromSmall, pageLanes, pagesOf, runsInPages, smallResult } from '../../core/pages.ts';
import type { RepoResult, RepoTask } from '../../core/repo.ts';
import { inPages } from '../../client/pages.ts';
import { repoTask } from '../helpers/tasks.ts';

function memoryStore(): BlobStore & { stored: Map<string, string> } {
  const stored = new Map<string, string>();
  return {
    stored,
    put(value: unknown): Promise<BlobRef> {
      const text = JSON.stringify(value);
      const sha256 = createHash('sha256').update(text).digest('hex');
      stored.set(sha256, text);
      return Promise.resolve({ sha256, bytes: text.length });
    },
    get<T>(ref: BlobRef): Promise<T> {
      return Promise.resolve(JSON.parse(stored.get(ref.sha256) ?? 'null') as T);
    },
  };
}

const task = repoTask;

const gate = (repos: string[], contracts: GateInput['contracts'] = []): GateInput => ({
  contracts,
  repos: repos.map((repo) => ({
    repo,
    url: `/remotes/${repo}.git`,
    baseBranch: 'main',
    sandbox: SandboxConfig.parse({ test: 'true' }),
    inChange: true,
  })),
  secrets: true,
  insecure: false,
  rounds: 0,
  waive: [],
});

const input = (tasks: RepoTask[], extra: Partial<ChangeInput> = {}): ChangeInput => ({
  changeId: 'big',
  title: 'Big',
  description: 'why',
  forge: { type: 'local' },
  concurrency: 8,
  repos: tasks,
  models: ModelsConfig.parse({}),
  budgets: AgentBudgets.parse({}),
  pageSize: 4,
  ...extra,
});

describe('pages', () => {
  it('splits in order and shares the concurrency among the pages running at once', () => {
    expect(pagesOf([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(runsInPages(100)).toBe(false);
    expect(runsInPages(101)).toBe(true);
    expect(pageLanes(4, 10)).toEqual({ pages: 2, lanes: 2 });
    expect(pageLanes(64, 100)).toEqual({ pages: 8, lanes: 8 });
    expect(pageLanes(8, 1)).toEqual({ pages: 1, lanes: 8 });
  });

  it('keeps what a resume and publishing need of a result, and shortens the error', () => {
    const r: RepoResult = {
      repo: 'a',
      status: 'failed',
      branch: 'lockstep/x',
      baseCommit: 'b'.repeat(40),
      commit: null,
      changedFiles: ['x'],
      steps: [],
      tests: null,
      error: { step: 'tests', message: 'm'.repeat(1000), outputTail: 'long tail' },
      attempts: 2,
      durationMs: 5,
      taskHash: 'h',
    };
    const small = smallResult(r);
    expect(small.error?.message).toHaveLength(300);
    expect(JSON.stringify(small).length).toBeLessThan(600);
    expect(fromSmall(small)).toMatchObject({ repo: 'a', status: 'failed', taskHash: 'h', error: { step: 'tests' } });
  });
});

describe('inPages', () => {
  it('leaves a change of one page as it is', async () => {
    const store = memoryStore();
    const one = input([task('a'), task('b')]);
    expect(await inPages(store, one)).toBe(one);
    expect(store.stored.size).toBe(0);
  });

  it('stores the tasks in pages of merge order, the shared change once, and keeps the gate to its contract repos', async () => {
    const store = memoryStore();
    const tasks = [
      ...Array.from({ length: 8 }, (_, i) => task(`web-${i}`, { consumes: ['api'] })),
      task('api', { provides: ['api'] }),
    ];
    const contract: ContractSpec = {
      name: 'api',
      kind: 'openapi',
      provider: 'api',
      path: 'openapi.yaml',
      command: null,
      runIn: 'api',
      rules: [],
      verify: null,
      pactEnv: 'PACT_FILE',
      consumers: [{ repo: 'web-3', path: null, uses: null, command: null }],
    };
    const paged = await inPages(
      store,
      input(tasks, {
        gate: gate(
          tasks.map((t) => t.repo),
          [contract],
        ),
        previous: { a: {} as RepoResult },
      }),
    );
    expect(paged.repos).toEqual([]);
    expect(paged.previous).toBeNull();
    expect(paged.pages?.total).toBe(9);
    expect(paged.pages?.pages.map((p) => p.repos)).toEqual([4, 4, 1]);
    // The provider first: merge order.
    expect(paged.pages?.pages[0]?.first).toBe('api');
    const first = await store.get<RepoTask[]>(paged.pages?.pages[0]?.tasks ?? { sha256: '', bytes: 0 });
    expect(first.map((t) => t.repo)).toEqual(['api', 'web-0', 'web-1', 'web-2']);
    const shared = await store.get<Record<string, unknown>>(paged.pages?.shared ?? { sha256: '', bytes: 0 });
    expect(shared).toMatchObject({ changeId: 'big', description: 'why' });
    expect(shared).not.toHaveProperty('repos');
    expect(shared).not.toHaveProperty('gate');
    expect(paged.gate?.repos.map((r) => r.repo).sort()).toEqual(['api', 'web-3']);
    expect(store.stored.size).toBe(4);
  });

  it('refuses a change in pages that needs a plan or a landing, storing nothing', async () => {
    const store = memoryStore();
    const tasks = Array.from({ length: 5 }, (_, i) => task(`svc-${i}`, { mode: 'agent' }));
    await expect(inPages(store, input(tasks), 'changes/big.yaml')).rejects.toThrow(
      /^changes\/big\.yaml: change .* more than a page .*have no instructions.*targets\.instructions/,
    );
    const steps = Array.from({ length: 5 }, (_, i) => task(`svc-${i}`));
    await expect(inPages(store, input(steps, { landing: { land: true, timeoutSeconds: 60 } }))).rejects.toThrow(
      /drop `land: true`/,
    );
    expect(store.stored.size).toBe(0);
  });
});
