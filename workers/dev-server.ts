/**
 * The embedded default Temporal server: `temporal server start-dev` with its SQLite file in the
 * state folder, so runs survive restarts. Started only when nothing answers at the address.
 */
import { Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setupCommand, toolsDir } from '../config/paths.ts';

export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

export function temporalBinary(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.LOCKSTEP_TEMPORAL_CLI ?? join(toolsDir(env), 'bin', 'temporal');
  if (!existsSync(path)) {
    throw new TemporalUnavailableError(`the Temporal CLI is not installed at ${path}; run "${setupCommand()}"`);
  }
  return path;
}

/** True when a Temporal frontend answers at `address` within `timeoutMs`. */
export async function temporalAnswers(address: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

export interface DevServerOptions {
  stateDir: string;
  /** host:port the frontend listens on (loopback only). */
  address: string;
  /** In-memory when null (tests); otherwise the SQLite file. */
  dbFile: string | null;
  uiPort?: number | null;
  namespace?: string;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  logFile: string;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const [host = '127.0.0.1', portText = '7233'] = options.address.split(':');
  const ip = host === 'localhost' ? '127.0.0.1' : host;
  const port = Number(portText);
  const logDir = join(options.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `temporal-${port}.log`);
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--log-level',
    'warn',
    '--namespace',
    options.namespace ?? 'default',
  ];
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  // Lockstep's own search attributes, so `lockstep list --status --repo` filters through visibility.
  args.push(
    '--search-attribute',
    'LockstepChangeId=Keyword',
    '--search-attribute',
    'LockstepStatus=Keyword',
    '--search-attribute',
    'LockstepRepos=KeywordList',
  );
  const uiPort = options.uiPort === undefined ? port + 1000 : options.uiPort;
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-ip', ip);

  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(temporalBinary(), args, { stdio: ['ignore', fd, fd], detached: false });
  } finally {
    closeSync(fd);
  }
  const state: { exited: string | null } = { exited: null };
  child.on('exit', (code, signal) => {
    state.exited = `exited with ${signal ?? `code ${String(code)}`}`;
  });
  const address = `${ip}:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await temporalAnswers(address, 1000))) {
    if (state.exited) throw new TemporalUnavailableError(`temporal server ${state.exited}; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new TemporalUnavailableError(`temporal server did not answer at ${address} within 60 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    uiUrl: uiPort === null ? null : `http://${ip}:${uiPort}`,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** A free TCP port on loopback (for tests and side-by-side servers). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}
