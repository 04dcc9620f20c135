/**
 * The builders of workflow inputs from a loaded fleet config and change file: each repo's task,
 * what the gate checks, the coordinator's input. Pure, so the CLI, the bench and the tests build
 * exactly what a run sends.
 */
import { createHash } from 'node:crypto';
import type { Change } from '../config/change.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { ChangeInput } from './change.ts';
import type { ContractSpec, GateInput, GateRepo } from './gate.ts';
import type { EgressAsk } from './commands.ts';
import { changeBranch } from './ids.ts';
import { DEFAULT_LANDING_TIMEOUT_SECONDS } from './landing-plan.ts';
import type { RepoTask } from './repo.ts';

/**
 * The egress phases a change needs from every target repo's fleet config: the one place that
 * decides it (what the change file asks, and whatever else a change's content implies).
 */
export function requiredEgress(change: Partial<Pick<Change, 'egress' | 'bump'>>): { steps: boolean; agent: boolean } {
  // A bump runs the package manager as a command of kind `bump`, under the steps phase's policy.
  return { steps: (change.egress?.steps ?? false) || change.bump !== undefined, agent: change.egress?.agent ?? false };
}

/** The per-repo work of a change, fully resolved (what the coordinator workflow receives). */
export function resolveTasks(
  loaded: LoadedConfig,
  change: Pick<Change, 'id' | 'repos'> & Partial<Pick<Change, 'egress' | 'bump'>>,
): RepoTask[] {
  const needed = requiredEgress(change);
  const byName = new Map(loaded.config.repos.map((r) => [r.name, r]));
  return change.repos.map((target) => {
    const repo = byName.get(target.name);
    if (!repo) throw new Error(`unknown repo ${target.name}`);
    // What the change asked and this repo's fleet config grants (loadChange refused any other ask).
    const egress: EgressAsk = {
      steps: needed.steps && Boolean(repo.sandbox.egress?.steps),
      agent: needed.agent && Boolean(repo.sandbox.egress?.agent),
    };
    const asks = egress.steps || egress.agent;
    const what = {
      url: repo.url,
      baseBranch: repo.baseBranch,
      sandbox: repo.sandbox,
      steps: target.steps ?? [],
      instructions: target.instructions ?? null,
      ...(change.bump ? { bump: change.bump } : {}),
      ...(asks ? { egress } : {}),
    };
    // A bump's repo runs the ecosystem's tool. Its agent fixes failing tests with the repo's
    // instructions; a repo without them is in steps mode, and the agent fixes it with the
    // change's description only when its host has a model (workflows/repo.ts): a bump that
    // passes never needs one.
    const mode = target.steps || (change.bump && !target.instructions) ? 'steps' : 'agent';
    return {
      ...(asks ? { egress } : {}),
      taskHash: createHash('sha256').update(JSON.stringify(what)).digest('hex'),
      repo: repo.name,
      url: repo.url,
      baseBranch: repo.baseBranch,
      branch: changeBranch(change.id),
      sandbox: repo.sandbox,
      mode,
      steps: target.steps ?? [],
      instructions: target.instructions ?? null,
      expectedFiles: [],
      acceptance: null,
      provides: repo.provides.map((c) => c.name),
      consumes: repo.consumes.map((c) => c.name),
      ...(repo.merge !== 'merge' ? { merge: repo.merge } : {}),
      contractPaths: [...repo.provides, ...repo.consumes].flatMap((c) => (c.path ? [c.path] : [])),
    };
  });
}

/**
 * What the gate checks for a change: every declared contract with a provider or a consumer
 * among the changed repos, and every repo those contracts touch (a consumer outside the change
 * is checked at its base branch).
 */
export function gateInput(loaded: LoadedConfig, tasks: readonly RepoTask[]): GateInput {
  const { gate, repos } = loaded.config;
  const changed = new Set(tasks.map((t) => t.repo));
  const contracts: ContractSpec[] = [];
  if (gate.contracts) {
    for (const provider of repos) {
      for (const c of provider.provides) {
        const consumers = repos.flatMap((r) =>
          r.consumes.filter((u) => u.name === c.name).map((u) => ({ repo: r.name, use: u })),
        );
        const involved = [provider.name, ...consumers.map((u) => u.repo), ...(c.repo ? [c.repo] : [])];
        if (!involved.some((r) => changed.has(r))) continue;
        contracts.push({
          name: c.name,
          kind: c.kind,
          provider: provider.name,
          path: c.path ?? null,
          command: c.command ?? null,
          runIn: c.repo ?? provider.name,
          rules: c.rules,
          copyRules: c.copyRules,
          strict: gate.strict,
          verify: c.verify ?? null,
          pactEnv: c.pactEnv,
          consumers: consumers.map(({ repo, use }) => ({
            repo,
            path: use.path ?? null,
            uses: use.uses ?? null,
            command: use.command ?? null,
          })),
          audience: c.audience,
        });
      }
    }
  }
  const names = new Set([
    ...changed,
    ...contracts.flatMap((c) => [c.provider, c.runIn, ...c.consumers.map((u) => u.repo)]),
  ]);
  const gateRepos: GateRepo[] = repos
    .filter((r) => names.has(r.name))
    .map((r) => ({
      repo: r.name,
      url: r.url,
      baseBranch: r.baseBranch,
      sandbox: r.sandbox,
      inChange: changed.has(r.name),
    }));
  return {
    contracts,
    repos: gateRepos,
    secrets: gate.secrets,
    insecure: gate.insecure,
    rounds: gate.rounds,
    waive: gate.waive,
  };
}

/** The coordinator's input for a validated change. */
export function changeInput(
  loaded: LoadedConfig,
  change: {
    id: string;
    title: string;
    description: string;
    bump?: Change['bump'];
    land?: boolean;
    landing?: Change['landing'];
  },
  tasks: RepoTask[],
  overrides: {
    concurrency?: number | undefined;
    approve?: ('plan' | 'publish')[] | undefined;
    waitOnFailureSeconds?: number | undefined;
    /** `run --land`: as if the change file said `land: true`. */
    land?: boolean | undefined;
  } = {},
): ChangeInput {
  const ops = loaded.config.operations;
  const approve = overrides.approve ?? ops.approve;
  return {
    changeId: change.id,
    title: change.title,
    description: change.description,
    forge: loaded.config.forge,
    concurrency: overrides.concurrency ?? loaded.config.concurrency,
    repos: tasks,
    models: loaded.config.models,
    budgets: loaded.config.budgets,
    approvals: {
      plan: approve.includes('plan'),
      publish: approve.includes('publish'),
      timeoutSeconds: ops.approvalTimeoutSeconds,
    },
    decisionTimeoutSeconds: overrides.waitOnFailureSeconds ?? ops.waitOnFailureSeconds,
    pageSize: ops.pageSize,
    gate: gateInput(loaded, tasks),
    ...(overrides.land || change.land || change.landing
      ? {
          landing: {
            land: overrides.land || (change.land ?? false),
            timeoutSeconds: change.landing?.timeout ?? DEFAULT_LANDING_TIMEOUT_SECONDS,
          },
        }
      : {}),
    ...(change.bump
      ? { bump: { ecosystem: change.bump.ecosystem, package: change.bump.package, to: change.bump.to.trim() } }
      : {}),
  };
}
