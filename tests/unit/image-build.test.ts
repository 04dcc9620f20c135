/**
 * `sandbox.build` on a real engine: the config names the image by the recipe's content hash, the
 * run builds it once with its output as progress, reuses it while the recipe is unchanged, and a
 * bad recipe path is an input error naming the field.
 */
import Docker from 'dockerode';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecipeImages } from '../../client/machine/images.ts';
import { InputError, loadReposConfig } from '../../config/load.ts';

const docker = new Docker();
let root: string;
const tags = new Set<string>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-build-'));
  await mkdir(join(root, 'remote.git'));
  await mkdir(join(root, 'images', 'tool'), { recursive: true });
  // No download: the RUN step only checks what COPY brought in (about a second to build).
  await writeFile(
    join(root, 'images', 'tool', 'Dockerfile'),
    'FROM lockstep-sandbox:latest\nCOPY greeting.txt /etc/lockstep-greeting\nRUN test -s /etc/lockstep-greeting\n',
  );
  await writeFile(join(root, 'images', 'tool', 'greeting.txt'), 'hello\n');
});
afterAll(async () => {
  for (const tag of tags)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function inputError(build: Record<string, string>): Promise<InputError> {
  try {
    await config(build);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

async function config(build: Record<string, string>) {
  const file = join(root, 'repos.config.json');
  await writeFile(
    file,
    JSON.stringify({ repos: [{ name: 'tool', url: 'remote.git', sandbox: { test: 'true', build } }] }),
  );
  return loadReposConfig(file);
}

describe('images built from a recipe', () => {
  it('are tagged by the content hash, built once with progress, and rebuilt when the recipe changes', async () => {
    const first = (await config({ dockerfile: 'images/tool/Dockerfile' })).config.repos[0]?.sandbox;
    if (!first) throw new Error('no repo');
    expect(first.image).toMatch(/^lockstep-build:[0-9a-f]{16}$/);
    expect(first.build?.context).toBe(join(root, 'images', 'tool'));
    tags.add(first.image);
    const lines: string[] = [];
    expect(await buildRecipeImages([first, first], join(root, 'state'), (l) => lines.push(l), docker)).toEqual([
      first.image,
    ]);
    expect(lines.some((l) => l.includes('COPY greeting.txt /etc/lockstep-greeting'))).toBe(true);
    expect((await docker.getImage(first.image).inspect()).Id).toMatch(/^sha256:/);
    expect(await buildRecipeImages([first], join(root, 'state'), () => undefined, docker)).toEqual([]);

    await writeFile(join(root, 'images', 'tool', 'greeting.txt'), 'hello again\n');
    const second = (await config({ dockerfile: 'images/tool/Dockerfile', context: 'images/tool' })).config.repos[0]
      ?.sandbox;
    expect(second?.image).not.toBe(first.image);
  });

  it('reports a Dockerfile that is not there, or outside its context, at the field to fix', async () => {
    const missing = await inputError({ dockerfile: 'images/none/Dockerfile' });
    expect(missing.issues.map((i) => i.path)).toEqual(['repos[0].sandbox.build.dockerfile']);
    await mkdir(join(root, 'state'), { recursive: true });
    const outside = await inputError({ dockerfile: 'images/tool/Dockerfile', context: 'state' });
    expect(outside.issues.map((i) => [i.path, i.fix])).toEqual([
      ['repos[0].sandbox.build.context', expect.stringContaining('the Dockerfile must be inside it')],
    ]);
  });
});
