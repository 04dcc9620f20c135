/**
 * The merge order (core/order.ts) is computed inside workflows, so it must never change for a
 * given input: the heap-based order is checked against the plain definition (repeatedly take
 * the first repo, in input order, whose providers are all placed; cycles last, in input order)
 * on random fleets, and it stays fast at fleet scale.
 */
import { describe, expect, it } from 'vitest';
import { mergeOrder, type OrderNode } from '../../core/order.ts';

/** The definition, written the slow and obvious way. */
function byDefinition(nodes: readonly OrderNode[]): string[] {
  const providerOf = new Map<string, string>();
  for (const n of nodes) for (const c of n.provides) providerOf.set(c, n.repo);
  const needs = new Map(
    nodes.map((n) => [
      n.repo,
      new Set(n.consumes.map((c) => providerOf.get(c)).filter((p): p is string => p !== undefined && p !== n.repo)),
    ]),
  );
  const order: string[] = [];
  const placed = new Set<string>();
  for (;;) {
    const next = nodes.find((n) => !placed.has(n.repo) && [...(needs.get(n.repo) ?? [])].every((p) => placed.has(p)));
    if (!next) break;
    placed.add(next.repo);
    order.push(next.repo);
  }
  return [...order, ...nodes.filter((n) => !placed.has(n.repo)).map((n) => n.repo)];
}

/** A small deterministic generator, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function fleet(seed: number, size: number): OrderNode[] {
  const next = random(seed);
  const contracts = Math.max(1, Math.floor(size / 3));
  return Array.from({ length: size }, (_, i) => ({
    repo: `r${i}`,
    provides: next() < 0.3 ? [`c${Math.floor(next() * contracts)}`] : [],
    consumes: Array.from({ length: Math.floor(next() * 3) }, () => `c${Math.floor(next() * contracts)}`),
  }));
}

describe('mergeOrder', () => {
  it('matches the definition on random fleets, cycles included', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const nodes = fleet(seed, 2 + (seed % 25));
      expect(mergeOrder(nodes), `seed ${seed}`).toEqual(byDefinition(nodes));
      expect(mergeOrder(nodes, { reverse: true })).toEqual(byDefinition(nodes).reverse());
    }
  });

  it('orders 10,000 repos, providers first', () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => ({
      repo: `svc-${i}`,
      provides: i % 100 === 99 ? [`c${i}`] : [],
      consumes: i % 100 === 99 ? [] : [`c${i - (i % 100) + 99}`],
    }));
    const order = mergeOrder(nodes);
    expect(order).toHaveLength(10_000);
    expect(order.slice(0, 2)).toEqual(['svc-99', 'svc-0']);
    expect(order.indexOf('svc-199')).toBeLessThan(order.indexOf('svc-100'));
  });
});
