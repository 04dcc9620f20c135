/** The pure decisions of landing: steps of the merge order, and what to do with one PR. */
import { describe, expect, it } from 'vitest';
import { landingDecision, landingSteps, nextPoll } from '../../core/landing-plan.ts';
import { changedOnBothSides, type LandingCheck, type LandingState } from '../../core/landing.ts';
import { mergeOrder } from '../../core/order.ts';

const demo = [
  { repo: 'catalog', provides: ['catalog-api'], consumes: [] },
  { repo: 'storefront', provides: [], consumes: ['catalog-api'] },
  { repo: 'billing', provides: [], consumes: ['catalog-api'] },
];

/** A provider of a provider, and a repo of no contract. */
const chain = [
  { repo: 'gateway', provides: [], consumes: ['orders-api'] },
  { repo: 'orders', provides: ['orders-api'], consumes: ['users-api'] },
  { repo: 'users', provides: ['users-api'], consumes: [] },
  { repo: 'docs', provides: [], consumes: [] },
];

describe('landingSteps', () => {
  it('puts a provider a step before its consumers, and consumers with no order between them in one step', () => {
    expect(landingSteps(mergeOrder(demo), demo)).toEqual([['catalog'], ['storefront', 'billing']]);
  });

  it('chains a provider of a provider into its own step, and repos with no contract into the first', () => {
    expect(landingSteps(mergeOrder(chain), chain)).toEqual([['users', 'docs'], ['orders'], ['gateway']]);
  });

  it('ignores providers outside the set (already on main) and places a cycle one repo per step', () => {
    const outside = [{ repo: 'storefront', provides: [], consumes: ['catalog-api'] }];
    expect(landingSteps(['storefront'], [...outside, demo[0]!])).toEqual([['storefront']]);
    const cycle = [
      { repo: 'a', provides: ['a-api'], consumes: ['b-api'] },
      { repo: 'b', provides: ['b-api'], consumes: ['a-api'] },
    ];
    expect(landingSteps(mergeOrder(cycle), cycle)).toEqual([['a'], ['b']]);
  });
});

describe('reverse merge order', () => {
  it('puts consumers before providers, and their steps backwards', () => {
    const order = mergeOrder(demo, { reverse: true });
    expect(order).toEqual(['billing', 'storefront', 'catalog']);
    expect(landingSteps(order, demo, { reverse: true })).toEqual([['billing', 'storefront'], ['catalog']]);
  });

  it('reverses a chain of providers step by step, with repos of no contract in the last step', () => {
    const order = mergeOrder(chain, { reverse: true });
    expect(order).toEqual(['docs', 'gateway', 'orders', 'users']);
    expect(landingSteps(order, chain, { reverse: true })).toEqual([['gateway'], ['orders'], ['docs', 'users']]);
  });
});

const HEAD = 'a'.repeat(40);

function state(
  overrides: Partial<LandingState> & { commit?: string; prState?: 'open' | 'closed' | 'merged'; draft?: boolean } = {},
): LandingState {
  const { commit, prState, draft, ...rest } = overrides;
  return {
    pullRequest: {
      number: 7,
      url: 'https://forge.example/pr/7',
      repo: 'storefront',
      title: 't',
      body: '',
      head: 'lockstep/price-cents',
      base: 'main',
      commit: commit ?? HEAD,
      state: prState ?? 'open',
      draft: draft ?? false,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    },
    headAuthor: null,
    checks: [],
    reviews: { approved: 0, required: 0, changesRequested: [] },
    behind: false,
    mergeable: true,
    conflicts: [],
    mergedSha: null,
    ...rest,
  };
}

const check = (name: string, s: LandingCheck['state'], required = true): LandingCheck => ({ name, state: s, required });

describe('landingDecision', () => {
  it('merges a PR whose required checks pass, approvals are met and head is the checked one', () => {
    expect(
      landingDecision(
        state({
          checks: [check('ci', 'success'), check('lint', 'failure', false)],
          reviews: { approved: 1, required: 1, changesRequested: [] },
        }),
        HEAD,
      ),
    ).toEqual({ action: 'merge' });
  });

  it('sees a merged PR merged (a lost answer, or someone else), whatever its head', () => {
    expect(
      landingDecision(state({ prState: 'merged', mergedSha: 'b'.repeat(40), commit: 'c'.repeat(40) }), HEAD),
    ).toEqual({
      action: 'merged',
      mergedSha: 'b'.repeat(40),
    });
  });

  it('stops on a head someone else pushed, naming them and both commits', () => {
    const d = landingDecision(state({ commit: 'c'.repeat(40), headAuthor: 'Mallory <m@example.com>' }), HEAD);
    expect(d.action).toBe('stop');
    expect(d.action === 'stop' && d.reason).toMatch(
      /^Mallory <m@example.com> pushed cccccccccccc to lockstep\/price-cents of storefront after the gate checked aaaaaaaaaaaa/,
    );
  });

  it('stops on a closed PR, changes requested, or a failing required check', () => {
    expect(landingDecision(state({ prState: 'closed' }), HEAD)).toMatchObject({
      action: 'stop',
      reason: 'PR #7 of storefront was closed without merging',
    });
    expect(
      landingDecision(state({ reviews: { approved: 2, required: 1, changesRequested: ['octocat'] } }), HEAD),
    ).toMatchObject({ action: 'stop', reason: 'octocat requested changes on storefront #7' });
    expect(landingDecision(state({ checks: [check('ci', 'failure'), check('e2e', 'pending')] }), HEAD)).toMatchObject({
      action: 'stop',
      reason: 'required check ci failed on storefront #7',
    });
  });

  it('marks a draft ready before anything else is waited for, but never a head someone else pushed', () => {
    expect(landingDecision(state({ draft: true, checks: [check('ci', 'pending')] }), HEAD)).toEqual({
      action: 'ready',
    });
    expect(landingDecision(state({ draft: true, commit: 'c'.repeat(40) }), HEAD).action).toBe('stop');
  });

  it('brings a PR behind its base up to date before anything else is waited for', () => {
    expect(landingDecision(state({ behind: true, checks: [check('ci', 'pending')] }), HEAD)).toEqual({
      action: 'update',
    });
  });

  it('stops on a conflict with its base, naming the files', () => {
    expect(landingDecision(state({ mergeable: false, conflicts: ['src/price.js'] }), HEAD)).toEqual({
      action: 'stop',
      reason: 'storefront #7 does not merge into main: conflict in src/price.js',
      files: ['src/price.js'],
    });
  });

  it('waits on pending or missing required checks, then on approvals, then on mergeability', () => {
    expect(landingDecision(state({ checks: [check('ci', 'pending'), check('deploy', 'missing')] }), HEAD)).toEqual({
      action: 'wait',
      reason: 'waiting on checks of storefront: ci, deploy',
      checks: ['ci', 'deploy'],
    });
    expect(landingDecision(state({ reviews: { approved: 0, required: 2, changesRequested: [] } }), HEAD)).toMatchObject(
      {
        action: 'wait',
        reason: 'waiting on approvals of storefront: 0 of 2',
      },
    );
    expect(landingDecision(state({ mergeable: null }), HEAD)).toMatchObject({ action: 'wait' });
  });
});

describe('changedOnBothSides', () => {
  it('names the files both sides changed, once each, sorted', () => {
    expect(changedOnBothSides(['b.txt', 'a.txt', 'ours.txt', 'a.txt'], ['theirs.txt', 'a.txt', 'b.txt'])).toEqual([
      'a.txt',
      'b.txt',
    ]);
    expect(changedOnBothSides(['ours.txt'], ['theirs.txt'])).toEqual([]);
  });
});

describe('nextPoll', () => {
  it('doubles from the first wait up to the cap', () => {
    const waits: number[] = [];
    let w: number | null = null;
    for (let i = 0; i < 8; i++) waits.push((w = nextPoll(w, 30, 900)));
    expect(waits).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
  });
});
