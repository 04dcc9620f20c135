/**
 * Merge order: a repo that provides a contract comes before every repo that consumes it.
 * Pure and deterministic, so workflows, the CLI and the PR bodies all agree on it.
 */
export interface OrderNode {
  repo: string;
  provides: string[];
  consumes: string[];
}

/**
 * Stable topological order (Kahn's algorithm, ties broken by input order). Repos caught in a
 * provider cycle keep their input order at the end, rather than failing the change. `reverse`
 * (a revert): the same order backwards, consumers before providers.
 */
export function mergeOrder(nodes: readonly OrderNode[], options: { reverse?: boolean } = {}): string[] {
  const order = forwardOrder(nodes);
  return options.reverse ? order.reverse() : order;
}

function forwardOrder(nodes: readonly OrderNode[]): string[] {
  const providerOf = new Map<string, string>();
  for (const node of nodes) for (const contract of node.provides) providerOf.set(contract, node.repo);

  const inDegree = new Map<string, number>(nodes.map((n) => [n.repo, 0]));
  const consumersOf = new Map<string, string[]>(nodes.map((n) => [n.repo, []]));
  for (const node of nodes) {
    const providers = new Set(
      node.consumes.map((c) => providerOf.get(c)).filter((p): p is string => p !== undefined && p !== node.repo),
    );
    for (const provider of providers) {
      consumersOf.get(provider)?.push(node.repo);
      inDegree.set(node.repo, (inDegree.get(node.repo) ?? 0) + 1);
    }
  }

  // Always the first ready repo in input order: a heap of input positions, so 10,000 repos take
  // milliseconds (a scan from the start for each pick took seconds; the order is the same).
  const position = new Map(nodes.map((n, i) => [n.repo, i]));
  const ready = new MinHeap();
  nodes.forEach((n, i) => {
    if ((inDegree.get(n.repo) ?? 0) === 0) ready.push(i);
  });
  const order: string[] = [];
  const done = new Set<string>();
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    const node = nodes[i];
    if (!node || done.has(node.repo)) continue;
    done.add(node.repo);
    order.push(node.repo);
    for (const consumer of consumersOf.get(node.repo) ?? []) {
      const left = (inDegree.get(consumer) ?? 1) - 1;
      inDegree.set(consumer, left);
      const at = position.get(consumer);
      if (left === 0 && at !== undefined) ready.push(at);
    }
  }
  for (const node of nodes) if (!done.has(node.repo)) order.push(node.repo);
  return order;
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  push(value: number): void {
    const items = this.items;
    items.push(value);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if ((items[parent] ?? 0) <= value) break;
      items[i] = items[parent] ?? 0;
      items[parent] = value;
      i = parent;
    }
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && (items[l] ?? 0) < (items[least] ?? 0)) least = l;
      if (r < items.length && (items[r] ?? 0) < (items[least] ?? 0)) least = r;
      if (least === i) break;
      const t = items[i] ?? 0;
      items[i] = items[least] ?? 0;
      items[least] = t;
      i = least;
    }
    return top;
  }
}
