/** The Temporal core runtime of this process, installed once, logging warnings and errors only. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

// The host queue's worker has no workflows by design; its start-up notice is not a warning.
const QUIET = /No workflows registered/;

let installed = false;

export function installRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (QUIET.test(entry.message)) return;
      const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      process.stderr.write(`${at} [${entry.level}] ${entry.message}\n`);
    }),
  });
}
