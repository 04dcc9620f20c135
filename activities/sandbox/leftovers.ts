/**
 * What a sandbox command leaves behind when it returns: background jobs, detached forks, a
 * daemon it started. Everything but the container's init (PID 1) and its main process is
 * killed before the next command runs, so no command sees another's processes and a fork bomb
 * that detaches and exits ends with the command that started it.
 */
import type Docker from 'dockerode';

/**
 * Runs in the sandbox as the sandbox user (every process there has that uid, so it may signal
 * them all), with POSIX sh builtins only: it must not fork while a fork bomb holds the pids
 * limit, and the image may have no bash or procps. The main process (`sleep infinity`) is the
 * oldest one after init (field 22 of /proc/<pid>/stat, the start time). Kills in passes until
 * a pass finds nothing alive, since a fork may have been made between two reads of /proc;
 * zombies are skipped (init reaps them). Prints `lockstep-leftovers <killed> <still alive>`.
 */
export const KILL_LEFTOVERS_SCRIPT = `
self=$$; main=; oldest=
for d in /proc/[0-9]*; do
  p=\${d#/proc/}
  [ "$p" = 1 ] || [ "$p" = "$self" ] && continue
  read -r s < "$d/stat" 2>/dev/null || continue
  set -- \${s##*) }
  shift 19
  if [ -z "$oldest" ] || [ "$1" -lt "$oldest" ]; then oldest=$1; main=$p; fi
done
seen=' '; killed=0; alive=0; pass=0
while [ $pass -lt 100 ]; do
  pass=$((pass + 1)); alive=0
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    case $p in 1|"$self"|"$main") continue ;; esac
    read -r s < "$d/stat" 2>/dev/null || continue
    set -- \${s##*) }
    case $1 in Z|X|x) continue ;; esac
    kill -9 "$p" 2>/dev/null || continue
    alive=$((alive + 1))
    case $seen in *" $p "*) ;; *) seen="$seen$p "; killed=$((killed + 1)) ;; esac
  done
  [ $alive -eq 0 ] && break
done
echo "lockstep-leftovers $killed $alive"
`;

export interface Leftovers {
  /** Processes killed (0: the command left nothing behind). */
  killed: number;
  /** Whether the container had to be killed too (the sweep could not run or did not finish). */
  containerKilled: boolean;
}

/**
 * Kills what is left in the sandbox after a command returned. When the sweep cannot run (the
 * pids limit refuses even its exec) or does not finish, the container is killed: that ends
 * every process in it, and the next command starts it again.
 */
export async function killLeftovers(docker: Docker, container: Docker.Container): Promise<Leftovers> {
  let out = '';
  try {
    const exec = await container.exec({
      Cmd: ['sh', '-c', KILL_LEFTOVERS_SCRIPT],
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const sink = {
      write: (chunk: Buffer): boolean => ((out += chunk.toString('utf8')), true),
    } as unknown as NodeJS.WritableStream;
    docker.modem.demuxStream(stream, sink, sink);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (stream.destroy(), resolve()), 30_000);
      const done = (): void => (clearTimeout(timer), resolve());
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });
  } catch {
    // Refused (no pids left) or the container stopped: the kill below settles it either way.
  }
  const match = /lockstep-leftovers (\d+) (\d+)/.exec(out);
  if (match && match[2] === '0') return { killed: Number(match[1]), containerKilled: false };
  const info = await container.inspect().catch(() => null);
  if (!info?.State.Running) return { killed: Number(match?.[1] ?? 0), containerKilled: false };
  await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  return { killed: Math.max(1, Number(match?.[1] ?? 0)), containerKilled: true };
}

/** The note a command's log and output tail carry when its leftovers were killed. */
export function leftoversNote(l: Leftovers): string | null {
  if (l.killed === 0 && !l.containerKilled) return null;
  const what = l.containerKilled
    ? `what it left behind was killed with the sandbox's container`
    : `${l.killed} process${l.killed === 1 ? '' : 'es'} it left behind ${l.killed === 1 ? 'was' : 'were'} killed`;
  return `the command returned; ${what}`;
}
