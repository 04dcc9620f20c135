/**
 * Preflight on real images: what an image lacks for a sandbox (sh, sleep, mkdir) and for the
 * first command of the repo's setup and tests, each named with the config field to fix.
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageLacks } from '../../client/machine/preflight.ts';
import { SandboxConfig } from '../../config/repos.ts';

const docker = new Docker();
const sandbox = (fields: Record<string, unknown>) => SandboxConfig.parse({ test: 'true', ...fields });

describe('what an image lacks', () => {
  it('finds nothing missing when the image has the commands setup and tests start with', async () => {
    expect(await imageLacks(docker, sandbox({ setup: 'go mod download', test: 'node test.js' }))).toEqual([]);
  });

  it("names each missing first command with its field; one on the repo's own PATH into the work tree is not asked for", async () => {
    expect(await imageLacks(docker, sandbox({ setup: 'pnpm install --frozen-lockfile', test: 'jest --ci' }))).toEqual([
      {
        field: 'setup',
        message: 'image "lockstep-sandbox:latest" has no "pnpm", the first command of sandbox.setup',
        fix: 'install pnpm in the image, or name an image that has it in sandbox.image',
      },
      {
        field: 'test',
        message: 'image "lockstep-sandbox:latest" has no "jest", the first command of sandbox.test',
        fix: 'install jest in the image, or name an image that has it in sandbox.image',
      },
    ]);
    expect(
      await imageLacks(
        docker,
        sandbox({ test: 'jest --ci', env: { PATH: '/workspace/node_modules/.bin:/usr/bin:/bin' } }),
      ),
    ).toEqual([]);
  });

  it('says when the image has no shell at all', async () => {
    // An image with one file and nothing else, built without network in about a second, removed after.
    const context = await mkdtemp(join(tmpdir(), 'lockstep-noshell-'));
    const image = `lockstep-test-noshell:${process.pid}`;
    try {
      await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY README /README\n');
      await writeFile(join(context, 'README'), 'nothing to run here\n');
      execFileSync('docker', ['build', '--quiet', '--network', 'none', '--tag', image, context], { stdio: 'ignore' });
      expect(await imageLacks(docker, sandbox({ image }))).toEqual([
        {
          field: 'image',
          message: `image "${image}" has no sh: Lockstep runs every command through it`,
          fix: 'use an image with a POSIX shell at sh on its PATH (see docs/environments.md)',
        },
      ]);
    } finally {
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
      await rm(context, { recursive: true, force: true });
    }
  });
});
