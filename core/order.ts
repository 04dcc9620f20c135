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

  const order: string[] = [];
  const done = new Set<string>();
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const node of nodes) {
      if (done.has(node.repo) || (inDegree.get(node.repo) ?? 0) > 0) continue;
      done.add(node.repo);
      order.push(node.repo);
      for (const consumer of consumersOf.get(node.repo) ?? [])
        inDegree.set(consumer, (inDegree.get(consumer) ?? 1) - 1);
      progressed = true;
      break;
    }
  }
  for (const node of nodes) if (!done.has(node.repo)) order.push(node.repo);
  return order;
}
