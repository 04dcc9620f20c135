/**
 * The guardrail scan activity (`scanRepo`) when scans overlap, on real git remotes and real
 * sandboxes. The workflow scans several repos of a round at once, and the server may retry an
 * attempt that is still running on its worker. Each scan must keep its own checkout and sandbox:
 * once, a finished scan removed the folder shared by the round's scans, and the others' semgrep
 * died on a vanished working directory ("<ERROR: missing output>").
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardrailActivities } from '../../activities/gate/guardrails.ts';
import type { GateDeps } from '../../activities/gate/work.ts';
import { git } from '../../activities/git/workspace.ts';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import { SandboxConfig } from '../../config/repos.ts';
import type { GuardrailFinding, ScanRepoInput } from '../../core/gate.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';

const docker = new Docker();
const changeId = `scan-overlap-${process.pid}`;
let root = '';
let deps: GateDeps;

/** SQL built from strings on line 3: our semgrep rules must report it. */
const UNSAFE =
  'def find(db, name):\n    # look the user up\n    return db.execute("SELECT * FROM users WHERE name = \'" + name + "\'")\n';

/** A bare remote whose main has a README and whose change branch adds `db.py`. */
async function seedRemote(name: string): Promise<{ url: string; base: string; head: string }> {
  const work = join(root, 'seeds', name);
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'README.md'), `# ${name}\n`);
  const g = git(work);
  await g.raw(['init', '--quiet', '--initial-branch', 'main']);
  await g.raw(['add', '--all']);
  await g.raw(['commit', '--quiet', '--no-verify', '-m', 'base']);
  const base = (await g.revparse(['HEAD'])).trim();
  await writeFile(join(work, 'db.py'), UNSAFE);
  await g.raw(['add', '--all']);
  await g.raw(['commit', '--quiet', '--no-verify', '-m', 'change']);
  const head = (await g.revparse(['HEAD'])).trim();
  const url = join(root, 'remotes', `${name}.git`);
  await git(undefined).raw(['clone', '--quiet', '--bare', '--no-hardlinks', work, url]);
  return { url, base, head };
}

async function scanInput(name: string): Promise<ScanRepoInput> {
  const { url, base, head } = await seedRemote(name);
  return {
    changeId,
    round: 1,
    repo: { repo: name, url, baseBranch: 'main', sandbox: SandboxConfig.parse({ test: 'true' }), inChange: true },
    base,
    head,
    secrets: true,
    insecure: true,
  };
}

type Found = Omit<GuardrailFinding, 'waived'>[];

/** Runs `scanRepo` as the given attempt of the activity. */
function scan(input: ScanRepoInput, attempt = 1): Promise<Found> {
  const activities = createGuardrailActivities(deps);
  return new MockActivityEnvironment({ attempt }).run((i: ScanRepoInput) => activities.scanRepo(i), input);
}

async function ourContainers(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  return list.map((c) => c.Names.join(','));
}

/** Resolves once a sandbox of this change whose name contains `part` is running. */
async function sandboxUp(part: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await ourContainers()).some((n) => n.includes(part))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no sandbox named like ${part} came up`);
}

const sqlFinding = (repo: string): unknown =>
  expect.objectContaining({
    repo,
    tool: 'semgrep',
    file: 'db.py',
    line: 3,
    rule: expect.stringContaining('sql') as unknown,
  });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lockstep-scan-overlap-'));
  const stateDir = join(root, 'state');
  await mkdir(join(stateDir, 'logs'), { recursive: true });
  deps = {
    stateDir,
    docker,
    // `host:pid`: a worker starting beside this test (its sweep) sees the owner alive.
    sandbox: {
      docker,
      user: `${SANDBOX_UID}:${SANDBOX_UID}`,
      owner: `test:${process.pid}`,
      workerEnv: {},
      logDir: join(stateDir, 'logs'),
    },
    workspaceOwner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
  };
});

afterAll(async () => {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
  if (root) await rm(root, { recursive: true, force: true });
});

describe('scanRepo when scans overlap', () => {
  it('two repos of one round scanned at once: the first to finish leaves the other its checkout', async () => {
    const [a, b] = await Promise.all([scanInput('alpha'), scanInput('beta')]);
    const slow = scan(b);
    slow.catch(() => undefined); // awaited below; a failure must not surface as unhandled first
    await sandboxUp('beta');
    // beta is scanning in its sandbox; alpha, a repo the change left as it was, has nothing to
    // scan: it clones, finds no added line and disposes of what it made, while beta still scans.
    expect(await scan({ ...a, head: a.base })).toEqual([]);
    expect(await slow).toEqual([sqlFinding('beta')]);
    expect(await ourContainers()).toEqual([]);
    expect(await readdir(join(deps.stateDir, 'gate', changeId))).toEqual([]);
  });

  it('a retry beside the attempt the server gave up on: neither deletes the other', async () => {
    const input = await scanInput('gamma');
    const first = scan(input, 1);
    first.catch(() => undefined); // awaited below
    await sandboxUp('gamma');
    expect(await scan(input, 2)).toEqual([sqlFinding('gamma')]);
    expect(await first).toEqual([sqlFinding('gamma')]);
    expect(await ourContainers()).toEqual([]);
  });
});
