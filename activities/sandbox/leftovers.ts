/**
 * What a sandbox command leaves behind when it returns: background jobs, detached forks, a
 * daemon it started. Everything but the container's init (PID 1) and its main process is
 * killed before the next command runs, so no command sees another's processes and a fork bomb
 * that detaches and exits ends with the command that started it.
 */
import type Docker from 'dockerode';
import { Writable } from 'node:stream';

/**
 * Runs in the sandbox as the sandbox user (every process there has that uid, so it may signal
 * them all), with POSIX sh builtins only: it must not fork while a fork bomb holds the pids
 * limit, and the image may have no bash or procps. The main process (`sleep infinity`) is the
 * oldest one after init (field 22 of /proc/<pid>/stat, the start time). Kills in passes until
 * a pass finds nothing alive, since a fork may have been made between two reads of /proc;
 * zombies are skipped (init reaps them). Spares init, the main process and the shell running
 * it; leaves the counts in `killed` and `alive`.
 */
const SWEEP = `
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
`;

/** The sweep on its own, in an exec of its own: prints `lockstep-leftovers <killed> <still alive>`. */
export const KILL_LEFTOVERS_SCRIPT = `${SWEEP}echo "lockstep-leftovers $killed $alive"
`;

const REPORT_TAG = '\0lockstep-swept ';
const REPORT = /^\0lockstep-swept (\d{1,3}) (\d{1,9}) (\d{1,9})\n$/;
const REPORT_MAX = 64;

/**
 * The end of a command's own shell (docker.ts `shellArgv`), after the command returned with its
 * status in `rc`: the sweep, in the same exec, so a command costs one exec instead of two; then
 * its report, last on stderr, and exit 0. The sweep's own complaints (a process that ended
 * while it read /proc) go nowhere: the stderr is the command's. The report counts only from a
 * wrapper that exited 0:
 * a command that kills its shell ends it by a signal, and its imitation of the report is not
 * believed (the sweep then runs in an exec of its own).
 */
export const SWEPT_SCRIPT = `{${SWEEP}} 2>/dev/null
printf '\\000lockstep-swept %d %d %d\\n' "$rc" "$killed" "$alive" >&2
exit 0
`;

export interface SweptReport {
  /** The command's own exit code. */
  exitCode: number;
  killed: number;
  alive: number;
}

/**
 * The stderr of a command whose shell sweeps: every byte goes on to `out` except the report,
 * which starts with a NUL byte. From a NUL on, bytes are held only while they can still be
 * (the start of) a report, so the command's output is neither lost nor held up.
 */
export class SweptStderr {
  private held: Buffer = Buffer.alloc(0);

  constructor(private readonly out: (chunk: Buffer) => void) {}

  sink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.write(chunk);
        done();
      },
    });
  }

  /**
   * The report, when the stream ended with one; anything else held goes out. Not `believe`d (its
   * shell did not exit 0), a report is the command's imitation and goes out as output too.
   */
  end(believe = true): SweptReport | null {
    const match = believe ? REPORT.exec(this.held.toString('latin1')) : null;
    if (!match) {
      if (this.held.length > 0) this.out(this.held);
      this.held = Buffer.alloc(0);
      return null;
    }
    this.held = Buffer.alloc(0);
    return { exitCode: Number(match[1]), killed: Number(match[2]), alive: Number(match[3]) };
  }

  /** Takes the next bytes of stderr. */
  write(chunk: Buffer): void {
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    for (;;) {
      const nul = data.indexOf(0);
      if (nul < 0) return this.out(data);
      if (nul > 0) this.out(data.subarray(0, nul));
      data = data.subarray(nul);
      if (mayBeReport(data)) {
        this.held = Buffer.from(data);
        return;
      }
      this.out(data.subarray(0, 1));
      data = data.subarray(1);
    }
  }
}

function mayBeReport(data: Buffer): boolean {
  if (data.length > REPORT_MAX) return false;
  const text = data.toString('latin1');
  if (text.length <= REPORT_TAG.length) return REPORT_TAG.startsWith(text);
  if (!text.startsWith(REPORT_TAG)) return false;
  const rest = text.slice(REPORT_TAG.length);
  const newline = rest.indexOf('\n');
  return /^[\d ]*$/.test(newline < 0 ? rest : rest.slice(0, newline)) && (newline < 0 || newline === rest.length - 1);
}

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
  return settleLeftovers(container, Number(match?.[1] ?? 0), match ? Number(match[2]) : null);
}

/**
 * What a sweep left: done when nothing is alive; otherwise (or when it did not say) the
 * container is killed, which ends every process in it, and the next command starts it again.
 */
export async function settleLeftovers(
  container: Docker.Container,
  killed: number,
  alive: number | null,
): Promise<Leftovers> {
  if (alive === 0) return { killed, containerKilled: false };
  const info = await container.inspect().catch(() => null);
  if (!info?.State.Running) return { killed, containerKilled: false };
  await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  return { killed: Math.max(1, killed), containerKilled: true };
}

/** The note a command's log and output tail carry when its leftovers were killed. */
export function leftoversNote(l: Leftovers): string | null {
  if (l.killed === 0 && !l.containerKilled) return null;
  const what = l.containerKilled
    ? `what it left behind was killed with the sandbox's container`
    : `${l.killed} process${l.killed === 1 ? '' : 'es'} it left behind ${l.killed === 1 ? 'was' : 'were'} killed`;
  return `the command returned; ${what}`;
}
