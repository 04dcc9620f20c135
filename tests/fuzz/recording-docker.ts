/**
 * A Docker engine that runs nothing: it records every exec the sandbox layer asks of it (which
 * container, which argument vector) and answers with a scripted exit code. The fuzz suites
 * give it to the agent tools as their executor, so they can assert on what would run and where,
 * for thousands of generated calls, without a shell anywhere.
 */
import type Docker from 'dockerode';
import { PassThrough, type Writable } from 'node:stream';

export interface RecordedExec {
  container: string;
  cmd: string[];
  workingDir: string | undefined;
}

export class RecordingDocker {
  readonly execs: RecordedExec[] = [];
  /** What the next exec exits with and prints. */
  next: { exitCode: number; output: string } = { exitCode: 0, output: '' };

  readonly modem = {
    demuxStream: (stream: PassThrough, stdout: Writable): void => {
      stdout.write(Buffer.from(this.next.output));
      stream.resume();
      stream.end();
    },
  };

  getContainer(name: string) {
    return {
      inspect: () => Promise.resolve({ State: { Running: true }, Config: { Labels: {} } }),
      start: () => Promise.resolve(),
      kill: () => Promise.resolve(),
      exec: (options: { Cmd: string[]; WorkingDir?: string }) => {
        this.execs.push({ container: name, cmd: [...options.Cmd], workingDir: options.WorkingDir });
        const exitCode = this.next.exitCode;
        return Promise.resolve({
          start: () => Promise.resolve(new PassThrough()),
          inspect: () => Promise.resolve({ ExitCode: exitCode, Running: false }),
        });
      },
    };
  }

  /** Typed as the client the sandbox layer expects; it uses only what is above. */
  asDocker(): Docker {
    return this as unknown as Docker;
  }
}
