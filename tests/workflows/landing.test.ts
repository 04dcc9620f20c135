/**
 * The landing workflow on a real Temporal dev server, with the forge activities injected through
 * the interface the real ones implement, as a strict in-memory forge that reports checks the
 * way GitHub and GitLab do: waiting across continue-as-new until a required check passes, a
 * timeout, a consumer's failing check after its provider merged, and a merge whose answer was
 * lost (merged once, recorded as found).
 */
import { describe, expect, it } from 'vitest';
import type { ForgeActivities } from '../../activities/index.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { landingWorkflowId } from '../../core/ids.ts';
import type { LandingCheck, LandingState, MergeOutcome } from '../../core/landing.ts';
import type { LandingInput, LandingView } from '../../core/landing-plan.ts';
import type { landingWorkflow } from '../../workflows/landing.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';
import { workflowWorker } from '../helpers/workflow-worker.ts';

const queue = `landing-wf-${uniqueSuffix()}`;

/** One PR of the in-memory forge: the checks it reports on each look, its merge. */
interface FakePr {
  repo: string;
  head: string;
  /** The required check's state on the n-th look (the last repeats). */
  checks: LandingCheck['state'][];
  looks: number;
  merges: number;
  mergedSha: string | null;
  /** Throw after merging, once: the answer is lost and the activity retried. */
  loseAnswer: boolean;
}

const prs = new Map<string, FakePr>();
const key = (changeId: string, repo: string) => `${changeId}/${repo}`;
/** The forge keys PRs by number; each test's PRs get their own numbers. */
const byNumber = new Map<number, string>();
let nextNumber = 1;

function addPr(changeId: string, repo: string, checks: LandingCheck['state'][], loseAnswer = false): number {
  const number = nextNumber++;
  prs.set(key(changeId, repo), {
    repo,
    head: `${String(number).padStart(2, '0')}${'a'.repeat(38)}`,
    checks,
    looks: 0,
    merges: 0,
    mergedSha: null,
    loseAnswer,
  });
  byNumber.set(number, key(changeId, repo));
  return number;
}

const prOf = (number: number): FakePr => {
  const pr = prs.get(byNumber.get(number) ?? '');
  if (!pr) throw new Error(`the fake forge has no PR #${number}`);
  return pr;
};

const unused = (): Promise<never> => Promise.reject(new Error('not used by landing'));

const forge: ForgeActivities = {
  openPullRequest: unused,
  linkPullRequest: unused,
  pullRequestStatus: unused,
  markPullRequestReady: unused,
  closePullRequest: unused,
  updatePullRequestBranch: unused,
  async landingState({ number }): Promise<LandingState> {
    const pr = prOf(number);
    const state = pr.checks[Math.min(pr.looks, pr.checks.length - 1)] ?? 'pending';
    pr.looks++;
    return {
      pullRequest: {
        number,
        url: `https://forge.test/${pr.repo}/pull/${number}`,
        repo: pr.repo,
        title: 'Integer cents',
        body: '',
        head: 'lockstep/x',
        base: 'main',
        commit: pr.head,
        state: pr.mergedSha ? 'merged' : 'open',
        draft: false,
        createdAt: '2026-01-01T00:00:00Z',
        updatedAt: '2026-01-01T00:00:00Z',
      },
      headAuthor: null,
      // A required check that never reported is named by the protection's rule, as Gitea's globs are.
      checks: [{ name: state === 'missing' ? 'ci*' : 'ci', state, required: true }],
      reviews: { approved: 1, required: 1, changesRequested: [] },
      behind: false,
      mergeable: true,
      conflicts: [],
      mergedSha: pr.mergedSha,
    };
  },
  async mergePullRequest({ number, sha }): Promise<MergeOutcome> {
    const pr = prOf(number);
    if (sha !== pr.head) return { merged: false, kind: 'head-moved', reason: 'Head branch was modified' };
    if (pr.mergedSha) return { merged: true, mergedSha: pr.mergedSha, alreadyMerged: true };
    pr.merges++;
    pr.mergedSha = `${'m'.repeat(38)}${String(number).padStart(2, '0')}`;
    if (pr.loseAnswer) {
      pr.loseAnswer = false;
      throw new Error('worker killed before the answer was recorded');
    }
    return { merged: true, mergedSha: pr.mergedSha, alreadyMerged: false };
  },
};

const server = workflowWorker(queue, forge);

const sandbox = SandboxConfig.parse({ test: 'true' });
const nodes = [
  { repo: 'catalog', provides: ['catalog-api'], consumes: [] },
  { repo: 'storefront', provides: [], consumes: ['catalog-api'] },
];

function input(changeId: string, numbers: Record<string, number>, extra: Partial<LandingInput> = {}): LandingInput {
  return {
    changeId,
    // The forge activities then run on the workflow's own queue, where this file's fake forge serves them.
    forge: { type: 'local' },
    order: ['catalog', 'storefront'],
    nodes,
    targets: Object.entries(numbers).map(([repo, number]) => ({
      repo,
      number,
      url: `https://forge.test/${repo}.git`,
      head: 'lockstep/x',
      base: 'main',
      commit: prOf(number).head,
      method: 'merge' as const,
      sandbox,
    })),
    timeoutSeconds: 3600,
    pollSeconds: { first: 1, max: 1 },
    ...extra,
  };
}

async function land(args: LandingInput): Promise<LandingView> {
  return server().client.workflow.execute<typeof landingWorkflow>('landingWorkflow', {
    workflowId: landingWorkflowId(args.changeId),
    taskQueue: queue,
    args: [args],
  });
}

describe('landingWorkflow', () => {
  it('waits on a pending required check across continue-as-new, then merges the provider before the consumer', async () => {
    const id = `wait-${uniqueSuffix()}`;
    const catalog = addPr(id, 'catalog', ['pending', 'pending', 'pending', 'pending', 'success']);
    const storefront = addPr(id, 'storefront', ['success']);
    const view = await land(input(id, { catalog, storefront }, { historyEvents: 20 }));
    expect(view.status).toBe('landed');
    expect(view.repos.map((r) => [r.repo, r.state, r.merge?.found, r.checksWaitedFor])).toEqual([
      ['catalog', 'merged', false, ['ci']],
      ['storefront', 'merged', false, ['ci']],
    ]);
    expect(prOf(catalog).looks).toBe(5);
    // The consumer was looked at only once its provider had merged.
    expect(prOf(storefront).looks).toBe(1);
    expect([prOf(catalog).merges, prOf(storefront).merges]).toEqual([1, 1]);
    // The wait continued as new: the run that answered was continued from an earlier one.
    const history = await server().client.workflow.getHandle(landingWorkflowId(id)).fetchHistory();
    expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId).toBeTruthy();
  });

  it('lists as waited for the checks that reported, not the rule a missing one was named by', async () => {
    const id = `missing-${uniqueSuffix()}`;
    const catalog = addPr(id, 'catalog', ['missing', 'pending', 'success']);
    const view = await land(input(id, { catalog }, { order: ['catalog'] }));
    expect(view.status).toBe('landed');
    expect(view.repos[0]).toMatchObject({ state: 'merged', checksWaitedFor: ['ci'] });
    expect(prOf(catalog).looks).toBe(3);
  });

  it('stops at its timeout before the consumer merges, saying what it waited for', async () => {
    const id = `timeout-${uniqueSuffix()}`;
    const catalog = addPr(id, 'catalog', ['pending']);
    const storefront = addPr(id, 'storefront', ['success']);
    const view = await land(input(id, { catalog, storefront }, { timeoutSeconds: 3 }));
    expect(view.status).toBe('stopped');
    expect(view.repos.find((r) => r.repo === 'catalog')?.reason).toBe('timed out: waiting on checks of catalog: ci');
    expect(view.repos.find((r) => r.repo === 'storefront')?.state).toBe('queued');
    expect(prOf(storefront).looks).toBe(0);
    expect(view.summary).toMatch(/nothing merged; not merged: storefront/);
  });

  it("keeps the provider merged when the consumer's required check fails, and says why", async () => {
    const id = `failing-${uniqueSuffix()}`;
    const catalog = addPr(id, 'catalog', ['success']);
    const storefront = addPr(id, 'storefront', ['pending', 'failure']);
    const view = await land(input(id, { catalog, storefront }));
    expect(view.status).toBe('stopped');
    expect(view.repos.map((r) => [r.repo, r.state])).toEqual([
      ['catalog', 'merged'],
      ['storefront', 'stopped'],
    ]);
    expect(view.repos[1]?.reason).toBe(`required check ci failed on storefront #${storefront}`);
    expect(view.summary).toMatch(/merged and staying merged: catalog/);
    expect(prOf(storefront).merges).toBe(0);
  });

  it('records a merge whose answer was lost as found merged, merged once', async () => {
    const id = `lost-${uniqueSuffix()}`;
    const catalog = addPr(id, 'catalog', ['success'], true);
    const storefront = addPr(id, 'storefront', ['success']);
    const view = await land(input(id, { catalog, storefront }));
    expect(view.status).toBe('landed');
    expect(view.repos[0]?.merge).toMatchObject({ sha: prOf(catalog).mergedSha, found: true });
    expect(prOf(catalog).merges).toBe(1);
  });
});
