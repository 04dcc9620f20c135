/** Drift that predates a change: the same problem at base and head, line numbers aside. */
import { describe, expect, it } from 'vitest';
import { problemIdentity, splitPreExisting } from '../../core/contracts/drift.ts';

const problem = (
  over: Partial<{ rule: string; file: string; location: string; message: string; consumer: string }> = {},
) => ({
  rule: 'FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED',
  file: 'protos/demo.proto',
  location: 'L40',
  message:
    'cart\'s copy protos/demo.proto:40 no longer fits shop\'s demo.proto:38:1: Previously present field "9" with name "legacy_note" on message "Product" was deleted.',
  consumer: 'cart',
  ...over,
});

describe('problemIdentity', () => {
  it('ignores where lines moved to, not what the problem is about', () => {
    const moved = problem({
      location: 'L52',
      message: problem().message.replace(':40', ':52').replace(':38:1', ':50:1'),
    });
    expect(problemIdentity(moved)).toBe(problemIdentity(problem()));
    expect(problemIdentity(problem({ message: problem().message.replace('"9"', '"8"') }))).not.toBe(
      problemIdentity(problem()),
    );
    expect(problemIdentity(problem({ consumer: 'checkout' }))).not.toBe(problemIdentity(problem()));
    expect(problemIdentity(problem({ location: '/paths/~1orders/get/responses/200' }))).not.toBe(
      problemIdentity(problem({ location: '/paths/~1orders/get/responses/201' })),
    );
  });
});

describe('splitPreExisting', () => {
  it('keeps what base already had as pre-existing and what the change added as introduced, counting repeats', () => {
    const old = problem();
    const added = problem({ message: problem().message.replace('legacy_note', 'currency_code').replace('"9"', '"3"') });
    expect(splitPreExisting([old, added], [problem({ location: 'L41' })])).toEqual({
      introduced: [added],
      preExisting: [old],
    });
    expect(splitPreExisting([old, old], [old])).toEqual({ introduced: [old], preExisting: [old] });
    expect(splitPreExisting([old], [])).toEqual({ introduced: [old], preExisting: [] });
  });
});
