/**
 * What the coordinator settles before any repo starts: a bump's version and what each repo
 * declares, and (agent mode) the plan: scout the repos, ask the coordinator model, check its
 * answer, and wait for a person's approval when the change asks for one.
 */
import { isCancellation, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities/index.ts';
import { describe } from './repo.ts';
import type { ChangeState, Ending } from './change-state.ts';
import type { ChangeInput } from '../core/change.ts';
import type { ChangePlan, PlanInput, PlanTurnResult } from '../core/agent.ts';
import type { RepoTask } from '../core/repo.ts';

/** Calls to the model and to package registries: slow, and worth a few patient retries. */
const { resolveBump, bumpManifests, scoutRepo, planChange } = proxyActivities<SharedActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
});

/**
 * A bump resolves its version once, before any repo starts; a resume or rerun brings the
 * version its earlier run resolved (input.bump.version) and never asks the registry again.
 * Runs without a bump (all runs recorded before bumps existed) take no new step here.
 */
export async function resolveBumpOnce(state: ChangeState): Promise<Ending | null> {
  const { input, tasks } = state;
  if (!input.bump) return null;
  state.phase = 'resolving';
  const spec = input.bump;
  try {
    state.bump = spec.version
      ? { ecosystem: spec.ecosystem, package: spec.package, to: spec.to, version: spec.version }
      : await resolveBump(spec);
    upsertMemo({ bump: state.bump });
    const found = await bumpManifests({
      bump: { ecosystem: spec.ecosystem, package: spec.package },
      repos: tasks.map((t) => ({ repo: t.repo, url: t.url, baseBranch: t.baseBranch })),
    });
    for (const m of found) state.declared.set(m.repo, m);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return {
      status: 'failed',
      summary: `bump of ${spec.package} to ${spec.to}: ${describe(err)}; nothing was changed`,
    };
  }
  return null;
}

/** Agent-mode repos without instructions get theirs from the coordinator's plan. */
export async function planRepos(state: ChangeState): Promise<Ending | null> {
  const { input, tasks } = state;
  if (!tasks.some((t) => t.mode === 'agent' && t.instructions === null)) return null;
  state.phase = 'planning';
  const planned = await scoutAndPlan(input, tasks);
  if ('error' in planned) return { status: 'failed', summary: `planning failed: ${planned.error}` };
  state.plan = planned.plan;
  for (const task of tasks) {
    const entry = planned.plan.repos.find((r) => r.repo === task.repo);
    if (!entry || task.mode !== 'agent' || task.instructions !== null) continue;
    task.instructions = entry.task;
    task.expectedFiles = entry.files;
    task.acceptance = entry.acceptance;
  }
  if (input.approvals?.plan) {
    const answer = await state.approval('plan');
    if (!answer) return { status: 'rejected', summary: 'no one approved the plan in time; nothing was changed' };
    if (!answer.approved) return { status: 'rejected', summary: `plan rejected by ${answer.by}: ${answer.reason}` };
  }
  return null;
}

/**
 * Scout the repos to plan (in parallel), then ask the coordinator model for a plan; an answer
 * that does not validate is sent back with its errors, up to `models.planAttempts` times.
 */
async function scoutAndPlan(input: ChangeInput, tasks: RepoTask[]): Promise<{ plan: ChangePlan } | { error: string }> {
  try {
    return await askForPlan(input, tasks);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { error: describe(err) };
  }
}

async function askForPlan(input: ChangeInput, tasks: RepoTask[]): Promise<{ plan: ChangePlan } | { error: string }> {
  const indexes = await Promise.all(
    tasks.map((t) =>
      scoutRepo({
        repo: t.repo,
        url: t.url,
        baseBranch: t.baseBranch,
        testCommand: t.sandbox.test,
        contractPaths: t.contractPaths,
        model: input.models.agent,
      }).catch((err: unknown) => {
        if (isCancellation(err)) throw err;
        return null;
      }),
    ),
  );
  let previous: PlanInput['previous'] = null;
  let errors: string[] = [];
  for (let attempt = 1; attempt <= input.models.planAttempts; attempt++) {
    const answer: PlanTurnResult = await planChange({
      changeId: input.changeId,
      title: input.title,
      description: input.description,
      model: input.models.coordinator,
      timeoutSeconds: input.models.requestTimeoutSeconds,
      repos: tasks.map((t, i) => ({
        repo: t.repo,
        provides: t.provides,
        consumes: t.consumes,
        instructions: t.instructions,
        index: indexes[i] ?? null,
      })),
      previous,
    });
    if (answer.plan) return { plan: answer.plan };
    errors = answer.errors;
    previous = { answer: answer.answer, errors };
  }
  return {
    error: `the coordinator's plan did not validate after ${input.models.planAttempts} attempts: ${errors.slice(0, 5).join('; ')}`,
  };
}
