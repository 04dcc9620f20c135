/**
 * cli/errors.ts, the one place where errors become exit codes: each kind the CLI knows keeps its
 * code, and anything else is reported as a bug in Lockstep with its trace and exit 70.
 */
import { CancelledFailure } from '@temporalio/common';
import { ServiceError, WorkflowFailedError } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ChangeNotFoundError, ChangeRefusedError, EnvironmentError, InterruptedError } from '../../client/errors.ts';
import { InputError } from '../../config/load.ts';
import { EXIT, exitCodeFor, renderError } from '../../cli/errors.ts';
import { TemporalUnavailableError } from '../../workers/dev-server.ts';
import { TemporalSettingsError } from '../../config/temporal.ts';

describe('exit codes', () => {
  it('a change id the server does not know is bad input (2), naming the id and "lockstep list"', () => {
    const err = new ChangeNotFoundError('pric-cents', '127.0.0.1:7233');
    expect(exitCodeFor(err)).toBe(EXIT.badInput);
    expect(renderError(err)).toBe(
      'lockstep: no change "pric-cents" on 127.0.0.1:7233 (see "lockstep list" for the changes there)',
    );
  });

  it('keeps the codes of the errors the CLI knows', async () => {
    const missingFile = await readFile('/nonexistent/lockstep.html').catch((err: unknown) => err);
    const cases: [unknown, number][] = [
      [new InputError([{ file: 'change.yaml', path: 'id', message: 'is empty', fix: 'name the change' }]), 2],
      [new EnvironmentError('no Docker engine answers'), 3],
      [new TemporalUnavailableError('no Temporal server answers at 127.0.0.1:1'), 3],
      [new TemporalSettingsError('TEMPORAL_TLS_CLIENT_CERT_PATH: the client certificate expired'), 3],
      [
        new ServiceError('Failed to query Workflow', {
          cause: Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }),
        }),
        3,
      ],
      [missingFile, 3],
      [new ChangeRefusedError('change live refused: repo "catalog" is not waiting for a decision'), 1],
      [
        new WorkflowFailedError(
          'Workflow execution cancelled',
          new CancelledFailure('cancelled'),
          'NON_RETRYABLE_FAILURE',
        ),
        1,
      ],
      [new InterruptedError('the worker stopped'), 130],
    ];
    expect(cases.map(([err]) => exitCodeFor(err))).toEqual(cases.map(([, code]) => code));
    for (const [err] of cases) expect(renderError(err)).not.toMatch(/bug in Lockstep/);
  });

  it('an error the CLI does not know is a bug: exit 70, its message, its trace and where to report it', () => {
    const unexpected = (value: { repos?: string[] } | null): number => (value as { repos: string[] }).repos.length;
    let err: unknown;
    try {
      unexpected(null);
    } catch (caught) {
      err = caught;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect(exitCodeFor(err)).toBe(EXIT.internal);
    expect(EXIT.internal).toBe(70);
    const text = renderError(err);
    expect(text).toMatch(/^lockstep: internal error: Cannot read properties of null/);
    expect(text).toContain('This is a bug in Lockstep');
    expect(text).toContain("Lockstep's issue tracker");
    expect(text).toContain('cli-errors.test.ts');
    expect(exitCodeFor('a thrown string')).toBe(EXIT.internal);
    expect(renderError('a thrown string')).toContain('a thrown string');
  });
});
