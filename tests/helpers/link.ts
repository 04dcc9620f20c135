/**
 * A byte forwarder for a test host's only link to the cluster: it accepts connections on one
 * side and opens one to the target for each, copying bytes both ways (TLS passes through
 * untouched). When either side of a pair goes, the other is reset rather than closed, so a
 * peer sees a link that vanished, never a polite goodbye; `cut()` does that to every open pair
 * and stops accepting.
 *
 * Run as a script (`node --import tsx link.ts <port> <unix-socket>`), it is the end inside a
 * network namespace: a TCP listener on 127.0.0.1:<port> forwarding to a unix socket on the
 * filesystem, which is reachable from every namespace. It prints `listening` once it accepts.
 */
import { connect, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

export interface Forwarder {
  /** Pairs open now. */
  open(): number;
  /** Pairs opened since the start. */
  opened(): number;
  /** Stops accepting and resets every open pair on both sides. */
  cut(): Promise<void>;
}

export type ListenOn = { port: number; host: '127.0.0.1' } | { path: string };

/** Resets a TCP socket (RST); a unix socket has no reset, so it is destroyed. */
function abort(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export async function startForwarder(listen: ListenOn, target: NetConnectOpts): Promise<Forwarder> {
  const pairs = new Set<Socket>();
  let opened = 0;
  const server: Server = createServer((inbound) => {
    opened++;
    const outbound = connect(target);
    pairs.add(inbound);
    pairs.add(outbound);
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      from.pipe(to);
      from.on('error', () => abort(to));
      from.on('close', () => {
        pairs.delete(from);
        abort(to);
      });
    }
  });
  if ('path' in listen) await rm(listen.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen, () => resolve());
  });
  return {
    open: () => pairs.size / 2,
    opened: () => opened,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of pairs) abort(socket);
      pairs.clear();
      await closed;
      if ('path' in listen) await rm(listen.path, { force: true });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, path] = process.argv.slice(2);
  if (!port || !path) {
    process.stderr.write('usage: link.ts <port> <unix-socket>\n');
    process.exit(2);
  }
  await startForwarder({ port: Number(port), host: '127.0.0.1' }, { path });
  process.stdout.write('listening\n');
}
