/**
 * The Temporal core runtime of this process, installed once: where the SDK's logs go and, for a
 * `lockstep worker` with `--metrics-port`, the Prometheus endpoint that serves the SDK's metrics
 * and Lockstep's own (they are recorded through the runtime's metric meter, core/metrics.ts).
 *
 * The SDK creates a default runtime the first time a worker or connection needs one, and refuses
 * `Runtime.install` after that; so the first call here wins and later ones change nothing (the
 * CLI's in-process workers and the tests call it without options).
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { lineWriter, sdkEntry, type LineWriter } from './log.ts';

// The host queue's worker has no workflows by design; its start-up notice is not a warning.
const QUIET = /No workflows registered/;

export interface RuntimeOptions {
  /** Where the SDK's lines go (default: text on stderr). */
  write?: LineWriter;
  /** The lowest SDK level written (default WARN). */
  level?: LogLevel;
  /** `host:port` of the Prometheus endpoint (`/metrics`); none when absent. */
  metricsAddress?: string;
}

let installed = false;

export function installRuntime(options: RuntimeOptions = {}): void {
  if (installed) return;
  installed = true;
  const write = options.write ?? lineWriter('text', {});
  Runtime.install({
    logger: new DefaultLogger(options.level ?? 'WARN', (entry) => {
      if (QUIET.test(entry.message)) return;
      sdkEntry(write, entry);
    }),
    ...(options.metricsAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: options.metricsAddress,
                // Prometheus' own conventions: counters end in _total, durations in seconds.
                countersTotalSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });
}
