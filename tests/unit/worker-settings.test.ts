/** `lockstep worker`'s settings and log lines: flags over the environment, bad values named, JSON lines with their fields. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../config/load.ts';
import { workerSettings } from '../../cli/worker.ts';
import { lineWriter, sdkFields } from '../../workers/log.ts';

const defaults = { metricsHost: '127.0.0.1', shutdownGrace: '60' };

describe('worker settings', () => {
  it('defaults to text logs, no metrics and a 60 s grace', () => {
    expect(workerSettings(defaults, {})).toEqual({ logFormat: 'text', metricsAddress: null, shutdownGraceSeconds: 60 });
  });

  it('takes the environment when no flag is given, and a flag over it', () => {
    const env = { LOCKSTEP_LOG_FORMAT: 'json', LOCKSTEP_METRICS_PORT: '9464' };
    expect(workerSettings(defaults, env)).toMatchObject({ logFormat: 'json', metricsAddress: '127.0.0.1:9464' });
    expect(
      workerSettings({ ...defaults, logFormat: 'text', metricsPort: '9000', metricsHost: '::1' }, env),
    ).toMatchObject({ logFormat: 'text', metricsAddress: '[::1]:9000' });
  });

  it('names every bad value and its fix', () => {
    let error: unknown;
    try {
      workerSettings({ logFormat: 'yaml', metricsPort: '70000', metricsHost: '127.0.0.1', shutdownGrace: '-1' }, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).issues.map((i) => i.path)).toEqual([
      '--log-format',
      '--metrics-port',
      '--shutdown-grace',
    ]);
    expect(() => workerSettings(defaults, { LOCKSTEP_METRICS_PORT: 'nine' })).toThrow(/LOCKSTEP_METRICS_PORT/);
  });
});

describe('worker log lines', () => {
  it('JSON: one object per line on stdout with time, level, msg, the context and the change and repo of a workflow id', () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const write = lineWriter('json', { hostId: 'h1', taskQueue: 'lockstep' }, { stdout, stderr });
    write(
      'WARN',
      'Activity failed',
      sdkFields({
        workflowId: 'change/c-1/repo/billing',
        activityType: 'runInSandbox',
        attempt: 2,
        error: { secret: 'x' },
      }),
      new Date(0),
    );
    const line = JSON.parse(String(stdout.read())) as Record<string, unknown>;
    expect(line).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'Activity failed',
      hostId: 'h1',
      taskQueue: 'lockstep',
      workflowId: 'change/c-1/repo/billing',
      activityType: 'runInSandbox',
      attempt: 2,
      changeId: 'c-1',
      repo: 'billing',
      activity: 'runInSandbox',
    });
    expect(stderr.read()).toBeNull();
  });

  it('text: one line on stderr', () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    lineWriter('text', { hostId: 'h1' }, { stdout, stderr })('INFO', 'worker stopped', {}, new Date(0));
    expect(String(stderr.read())).toBe('1970-01-01T00:00:00.000Z [INFO] worker stopped\n');
    expect(stdout.read()).toBeNull();
  });
});
