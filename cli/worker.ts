/** The `lockstep worker` command's settings: flags first, then the environment, checked before anything starts. */
import { InputError, type InputIssue } from '../config/load.ts';
import { logFormat, LOG_FORMATS, type LogFormat } from '../workers/log.ts';

export interface WorkerSettings {
  logFormat: LogFormat;
  /** `host:port` of the Prometheus endpoint, or null when metrics are off. */
  metricsAddress: string | null;
  shutdownGraceSeconds: number;
}

export function workerSettings(
  opts: { logFormat?: string; metricsPort?: string; metricsHost: string; shutdownGrace: string },
  env: NodeJS.ProcessEnv = process.env,
): WorkerSettings {
  const issues: InputIssue[] = [];
  const issue = (path: string, message: string, fix: string) =>
    issues.push({ file: 'command line', path, message, fix });
  const format = logFormat(opts.logFormat, env);
  if (!format)
    issue(
      opts.logFormat === undefined ? 'LOCKSTEP_LOG_FORMAT' : '--log-format',
      `unknown log format "${opts.logFormat ?? env.LOCKSTEP_LOG_FORMAT}"`,
      `use ${LOG_FORMATS.join(' or ')}`,
    );
  const rawPort = opts.metricsPort ?? (env.LOCKSTEP_METRICS_PORT || undefined);
  const port = rawPort === undefined ? null : Number(rawPort);
  if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536))
    issue(
      opts.metricsPort === undefined ? 'LOCKSTEP_METRICS_PORT' : '--metrics-port',
      `"${rawPort}" is not a port`,
      'give a port number from 1 to 65535, or leave it unset to serve no metrics',
    );
  const grace = Number(opts.shutdownGrace);
  if (!Number.isFinite(grace) || grace < 0)
    issue('--shutdown-grace', `"${opts.shutdownGrace}" is not a number of seconds`, 'give 0 or more seconds');
  if (issues.length > 0) throw new InputError(issues);
  // An IPv6 literal needs brackets in a socket address.
  const host = opts.metricsHost.includes(':') ? `[${opts.metricsHost}]` : opts.metricsHost;
  return {
    logFormat: format ?? 'text',
    metricsAddress: port === null ? null : `${host}:${port}`,
    shutdownGraceSeconds: grace,
  };
}
