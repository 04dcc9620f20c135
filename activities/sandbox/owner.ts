/**
 * Who owns a sandbox, a gate checkout or a cache lock: a worker process, named `host:pid` in
 * labels and owner files. Only a process of this host can be asked whether it still runs.
 */

/** Whether the process `pid` of this host still runs (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the worker that owns a container (label `host:pid`) is still running here. */
export function ownerAlive(owner: string): boolean {
  return pidAlive(Number(owner.split(':')[1]));
}
