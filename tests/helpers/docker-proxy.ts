/**
 * A loopback unix-socket proxy in front of the real Docker engine socket, which a test can
 * freeze: while frozen it still accepts connections and reads requests, but forwards nothing
 * either way, so every call of a client pointed at it (DOCKER_HOST=unix://<socket>) hangs, as
 * with a daemon that stopped answering. `resume()` forwards what was held, in order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DockerProxy {
  /** The socket to point DOCKER_HOST at: `unix://${socketPath}`. */
  socketPath: string;
  dockerHost: string;
  freeze(): void;
  resume(): void;
  /** Requests (chunks from clients) held while frozen so far. */
  held(): number;
  close(): Promise<void>;
}

/** The engine's own socket: DOCKER_HOST when it names a unix socket, else the default. */
export function engineSocket(): string {
  const host = process.env.DOCKER_HOST ?? '';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

export async function startDockerProxy(upstream = engineSocket()): Promise<DockerProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-docker-proxy-'));
  const socketPath = join(dir, 'docker.sock');
  let frozen = false;
  let heldChunks = 0;
  const queues: (() => void)[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const engine = createConnection(upstream);
    sockets.add(client);
    sockets.add(engine);
    const forward = (from: Socket, to: Socket, counts: boolean) => {
      from.on('data', (chunk: Buffer) => {
        if (!frozen) {
          to.write(chunk);
          return;
        }
        if (counts) heldChunks++;
        queues.push(() => to.write(chunk));
      });
    };
    forward(client, engine, true);
    forward(engine, client, false);
    const end = () => {
      client.destroy();
      engine.destroy();
      sockets.delete(client);
      sockets.delete(engine);
    };
    // A side that closes while frozen closes when the proxy resumes, after what was held.
    const closeLater = () => (frozen ? queues.push(end) : end());
    client.on('close', closeLater);
    engine.on('close', closeLater);
    client.on('error', () => undefined);
    engine.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));

  return {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    freeze: () => {
      frozen = true;
    },
    resume: () => {
      frozen = false;
      for (const send of queues.splice(0)) send();
    },
    held: () => heldChunks,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
