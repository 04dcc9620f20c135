/**
 * A contract command that could not run is told apart from one that failed on its merits, on
 * real outputs: each fixture was written by the command it is named after, run in the sandbox
 * image without network (tests/fixtures/command-failures).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentFault, setupFault } from '../../activities/gate/environment.ts';
import { projectRoot } from '../../config/paths.ts';

const output = (name: string) =>
  readFile(join(projectRoot, 'tests', 'fixtures', 'command-failures', `${name}.txt`), 'utf8');
const fault = async (name: string, exitCode = 1) =>
  environmentFault({ exitCode, timedOut: false, outputTail: await output(name) });

describe('environment faults of contract commands', () => {
  it.each([
    ['bash-command-not-found', 127, 'the command "pact-verifier" is not installed', 'sandbox.image'],
    ['sh-command-not-found', 127, 'the command "jest" is not installed', 'sandbox.setup'],
    ['node-cannot-find-module', 1, 'the Node module "@pact-foundation/pact" is not installed', 'npm ci'],
    ['node-esm-cannot-find-package', 1, 'the Node module "express" is not installed', 'npm ci'],
    ['python-module-not-found', 1, 'the Python module "pact" is not installed', 'pip install'],
    [
      'go-module-lookup-disabled',
      1,
      'the Go module of "github.com/pact-foundation/pact-go/v2/provider"',
      'go mod download',
    ],
    ['node-dns-failure', 1, 'the name "pact-broker.invalid" did not resolve', 'offline'],
    ['python-dns-failure', 1, 'a host name did not resolve', 'offline'],
    ['node-connection-refused', 1, 'the connection to 127.0.0.1:8081 was refused', 'localhost'],
    ['python-connection-refused', 1, 'the connection to a service was refused', 'localhost'],
  ])('%s: could not run', async (name, exitCode, why, fix) => {
    const f = await fault(name, exitCode);
    expect(f?.why).toContain(why);
    expect(f?.fix).toContain(fix);
  });

  it.each(['node-assertion-failed', 'python-unittest-failed'])(
    '%s: a verdict on the contract, not the environment',
    async (name) => {
      expect(await fault(name)).toBeNull();
    },
  );

  it('takes exit code 127 as a missing command even when the output says nothing', () => {
    expect(environmentFault({ exitCode: 127, timedOut: false, outputTail: '' })?.why).toContain('exit code 127');
    expect(environmentFault({ exitCode: 1, timedOut: false, outputTail: '' })).toBeNull();
    expect(environmentFault({ exitCode: 137, timedOut: true, outputTail: 'sh: 1: jest: not found' })).toBeNull();
  });

  it('names the repo and the cause when setup failed', async () => {
    const f = setupFault('orders', {
      exitCode: 127,
      timedOut: false,
      outputTail: await output('sh-command-not-found'),
    });
    expect(f.why).toBe(
      `orders's sandbox.setup exited with code 127 (the command "jest" is not installed in the sandbox)`,
    );
    expect(setupFault('orders', { exitCode: 2, timedOut: false, outputTail: 'boom' }).fix).toContain(
      "make orders's sandbox.setup pass",
    );
  });
});
