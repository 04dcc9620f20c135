// The git helper of a Lockstep worker (activities/git/spawner.ts). Plain JavaScript with no
// imports of ours, so it starts without the TypeScript loader and stays small: forking a small
// process to run git is cheap, forking the worker is not.
//
// Messages in: { id, command, args, cwd, env } starts a command; { id, kill } signals it.
// Messages out, per id and in the order they happen: spawn, stdout, stderr, error; then exit and
// close together, once the output has been read to its end.
import { spawn } from 'node:child_process';
import process from 'node:process';

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const children = new Map();

/** @param {Record<string, unknown>} message */
function send(message) {
  if (process.connected) process.send?.(message);
}

/** @param {unknown} err */
function errorOf(err) {
  const e = /** @type {NodeJS.ErrnoException} */ (err);
  return { message: e?.message ?? String(err), code: e?.code, errno: e?.errno, syscall: e?.syscall, path: e?.path };
}

process.on('message', (/** @type {any} */ m) => {
  const id = /** @type {number} */ (m.id);
  if (m.kill) {
    children.get(id)?.kill(m.kill);
    return;
  }
  let child;
  try {
    child = spawn(m.command, m.args, { cwd: m.cwd, env: m.env, windowsHide: true });
  } catch (err) {
    send({ id, event: 'error', error: errorOf(err) });
    send({ id, event: 'close', code: null, signal: null });
    return;
  }
  children.set(id, child);
  send({ id, event: 'spawn', pid: child.pid });
  child.stdout?.on('data', (data) => send({ id, event: 'stdout', data }));
  child.stderr?.on('data', (data) => send({ id, event: 'stderr', data }));
  child.on('error', (err) => send({ id, event: 'error', error: errorOf(err) }));
  // 'exit' goes out with 'close', after the last output: simple-git ends a command 50 ms after
  // its 'exit', and output still on its way from here would be cut off.
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('close', (code, signal) => {
    children.delete(id);
    if (exited) send({ id, event: 'exit', code, signal });
    send({ id, event: 'close', code, signal });
  });
});

// The worker is gone (it stopped, or was killed): its git commands go with it.
process.on('disconnect', () => {
  for (const child of children.values()) child.kill('SIGTERM');
  process.exit(0);
});
