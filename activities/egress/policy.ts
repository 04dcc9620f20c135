/**
 * What a setup command may reach: the allowlist of `sandbox.egress`, and the address ranges no
 * allowlist can open (the worker's own loopback services, private networks, link-local
 * metadata endpoints). Pure functions, so the rules are tested without a socket.
 */
import { BlockList, isIP } from 'node:net';

export interface EgressPolicy {
  /** `host`, `*.suffix` (any subdomain, not the bare suffix), each optionally `:port`. */
  allow: readonly string[];
  /** Ports an `allow` entry without its own port opens. */
  ports: readonly number[];
  /** Bytes (up + down) all connections of one setup may move together. */
  maxBytes: number;
  /** Connections (tunnels and plain requests) one setup may open. */
  maxConnections: number;
  /**
   * The methods a request may use; the proxy then opens TLS to see each request (steps, agent).
   * Absent: tunnels are judged by their target alone (setup).
   */
  methods?: readonly string[];
}

/** Lowercase, without the trailing dot of a fully qualified name. */
export const normalHost = (host: string): string => host.toLowerCase().replace(/\.$/, '');

/** Why `host:port` is refused by the allowlist, or null when an entry allows it. */
export function allowlistRefusal(
  policy: Pick<EgressPolicy, 'allow' | 'ports'>,
  rawHost: string,
  port: number,
): string | null {
  const host = normalHost(rawHost.replace(/^\[|\]$/g, ''));
  if (isIP(host)) return 'an IP address, not a host name (allow host names only)';
  if (!/^[a-z0-9.-]+$/.test(host) || host.startsWith('.') || host.includes('..')) return 'not a valid host name';
  let hostListed = false;
  for (const entry of policy.allow) {
    const { pattern, port: entryPort } = parseAllowEntry(entry);
    const matches = pattern.startsWith('*.')
      ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
      : host === pattern;
    if (!matches) continue;
    hostListed = true;
    if (entryPort === null ? policy.ports.includes(port) : entryPort === port) return null;
  }
  return hostListed ? `port ${port} is not allowed for this host` : 'host is not in the allowlist';
}

export function parseAllowEntry(entry: string): { pattern: string; port: number | null } {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(entry.trim());
  return { pattern: normalHost(m?.[1] ?? entry), port: m?.[2] === undefined ? null : Number(m[2]) };
}

/**
 * Whether every host and port `entry` opens is opened by `allow` too (with the same `ports`):
 * a phase's list may narrow the setup list, never widen it.
 */
export function allowCovered(entry: string, allow: readonly string[], ports: readonly number[]): boolean {
  const inner = parseAllowEntry(entry);
  const innerPorts = inner.port === null ? ports : [inner.port];
  return innerPorts.every((port) =>
    allow.some((a) => {
      const outer = parseAllowEntry(a);
      if (!(outer.port === null ? ports.includes(port) : outer.port === port)) return false;
      if (!outer.pattern.startsWith('*.')) return outer.pattern === inner.pattern;
      const suffix = outer.pattern.slice(1);
      const name = inner.pattern.startsWith('*.') ? inner.pattern.slice(1) : inner.pattern;
      return name.endsWith(suffix) && (inner.pattern.startsWith('*.') || name.length > suffix.length);
    }),
  );
}

/** Longest request target the proxy forwards. */
const PATH_MAX = 8192;

/**
 * Why a request inside an inspected tunnel (or a plain one) of a phase with a method policy is
 * refused, or null: its method, its Host against the host the proxy admitted, its path.
 */
export function requestRefusal(
  policy: Pick<EgressPolicy, 'methods'>,
  phase: string,
  request: { method: string; path: string; hostHeader: { host: string; port: number } | null },
  admitted: { host: string; port: number },
): string | null {
  // Setup has no method policy (its tunnels are never opened); an inspected phase always has one.
  const methods = policy.methods;
  if (methods && !methods.includes(request.method)) {
    return `method ${request.method} is not allowed for ${phase} (allowed: ${methods.join(', ')}; the fleet sets them in repos[<i>].sandbox.egress.${phase}.methods)`;
  }
  const claimed = request.hostHeader;
  if (!claimed || claimed.host !== admitted.host || claimed.port !== admitted.port) {
    return `the Host header names ${claimed ? `${claimed.host}:${claimed.port}` : 'nothing'}, not ${admitted.host}:${admitted.port}, where the connection was admitted`;
  }
  if (
    !request.path.startsWith('/') ||
    request.path.length > PATH_MAX ||
    [...request.path].some((c) => c <= ' ' || c === '\u007f')
  ) {
    return `the request target is not a path of at most ${PATH_MAX} printable characters starting with "/"`;
  }
  return null;
}

/** A valid allow entry, or the reason it is not (for the config's error message). */
export function allowEntryProblem(entry: string): string | null {
  const { pattern, port } = parseAllowEntry(entry);
  if (port !== null && (port < 1 || port > 65_535)) return 'the port must be 1-65535';
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  if (isIP(name.replace(/^\[|\]$/g, ''))) return 'IP addresses are never allowed; name the host';
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name))
    return 'use a host name or "*.suffix", optionally with ":port"';
  if (pattern.startsWith('*.') && !name.includes('.'))
    return 'a "*." suffix must have at least two labels (e.g. "*.example.org")';
  return null;
}

// Every range where the worker's own or its network's services live: loopback (Temporal,
// Docker's TCP socket if any), private and shared address space, link-local (cloud metadata
// endpoints), multicast and reserved. The documentation and benchmarking ranges (192.0.2/24,
// 198.51.100/24, 203.0.113/24, 198.18/15) stay reachable on purpose: no host's own service sits
// there, and DNS-based egress gateways (fake-IP resolvers, TLS-inspecting egresses like this
// project's own machines) answer registry names with addresses from them.
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:10::', 28],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  NON_PUBLIC.addSubnet(net, bits, 'ipv6');

/** Whether an address is outside the public internet; IPv4-mapped IPv6 is judged as IPv4. */
export function isNonPublic(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return NON_PUBLIC.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
