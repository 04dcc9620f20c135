/**
 * Operating changes through the CLI, on real parts: resume redoes only what failed; a live
 * failure waits for `retry`; `approve` and `reject` at the publish gate; `cancel` removes every
 * sandbox; `list --status --repo` filters through Temporal visibility.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalForge } from '../../activities/forges/local/index.ts';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import { changeStatusQuery } from '../../core/messages.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { exampleChange } from '../helpers/fleet.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { watchCreations, type CreationWatch } from '../helpers/sandboxes.ts';

const docker = new Docker();
let h: Harness;

/** A change on catalog (a harmless note) and storefront (the given step). */
async function writeChange(id: string, storefrontStep: string): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: `Operate ${id}`,
      description: 'A small documented change.',
      repos: [
        { name: 'catalog', steps: [{ name: 'note', run: `echo "${id}" >> NOTES.md` }] },
        { name: 'storefront', steps: [{ name: 'note', run: storefrontStep }] },
      ],
    }),
  );
  return file;
}

async function gitOut(remote: string, ...args: string[]): Promise<string> {
  return (await promisify(execFile)('git', ['--git-dir', remote, ...args])).stdout.trim();
}

async function waitForAwaiting(changeId: string, kind: 'decision' | 'approval') {
  const handle = h.env.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId(changeId));
  for (let i = 0; i < 300; i++) {
    const view = await handle.query(changeStatusQuery).catch(() => null);
    if (view?.awaiting?.kind === kind) return view;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${changeId} never waited for a ${kind}`);
}

beforeAll(async () => {
  h = await startHarness('operate');
});

afterAll(async () => {
  await h?.close();
});

const watches: CreationWatch[] = [];
const watch = async (changeId: string): Promise<CreationWatch> => {
  const w = await watchCreations(changeId, docker);
  watches.push(w);
  return w;
};
afterAll(() => {
  for (const w of watches) w.stop();
});

describe('operating changes from the CLI', () => {
  it('resume after a repo failed redoes only that repo, refuses a silent mix, and publishes once', async () => {
    const file = await writeChange('resume-me', 'echo note >> NOTES.md && test "$LOCKSTEP_TEST_BROKEN" != 1');
    const created = await watch('resume-me');
    // First run: storefront's sandbox gets LOCKSTEP_TEST_BROKEN=1 from a config copy, so its step fails.
    const read = async (f: string) =>
      JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(f, 'utf8'))) as {
        repos: { name: string; sandbox: Record<string, unknown> }[];
      };
    const broken = await read(h.fleet.configFile);
    for (const r of broken.repos)
      if (r.name === 'storefront') r.sandbox = { ...r.sandbox, env: { LOCKSTEP_TEST_BROKEN: '1' } };
    const brokenConfig = join(h.fleet.root, 'broken.config.json');
    await writeFile(brokenConfig, JSON.stringify(broken));
    const first = await h.cli(['run', file, '-c', brokenConfig, '--json', '--no-worker']);
    expect(first.code).toBe(1);
    expect(
      (JSON.parse(first.stdout) as { repos: { repo: string; status: string }[] }).repos.map((r) => [r.repo, r.status]),
    ).toEqual([
      ['catalog', 'green'],
      ['storefront', 'failed'],
    ]);
    // A change file that now asks something else of catalog, which already finished green, is refused.
    const changed = join(h.fleet.root, 'resume-me-changed.yaml');
    const original = await import('node:fs/promises').then((fs) => fs.readFile(file, 'utf8'));
    expect(original).toContain('echo "resume-me" >> NOTES.md');
    await writeFile(changed, original.replace('echo "resume-me" >> NOTES.md', 'echo "resume-me" >> CHANGELOG.md'));
    // The change file of another change: bad input (exit 2) naming the file's id field; nothing resumed.
    const other = join(h.fleet.root, 'resume-other.yaml');
    await writeFile(other, original.replace(/^id: resume-me$/m, 'id: resume-other'));
    const wrongId = await h.cli(['resume', 'resume-me', '--change', other, '--no-worker']);
    expect(wrongId.code, wrongId.stderr).toBe(2);
    expect(wrongId.stderr).toMatch(/resume-other\.yaml: id: this file is change "resume-other", not "resume-me"/);
    const refused = await h.cli(['resume', 'resume-me', '--change', changed, '--no-worker']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/changed for catalog, which already finished green/);
    // With storefront's config fixed and catalog's task the same, only storefront runs again.
    const resumed = await h.cli(['resume', 'resume-me', '--change', file, '--json', '--no-worker']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const doc = JSON.parse(resumed.stdout) as {
      status: string;
      repos: { repo: string; status: string; pullRequest: { number: number } | null }[];
    };
    expect(doc.status).toBe('succeeded');
    expect(doc.repos.every((r) => r.pullRequest !== null)).toBe(true);
    expect(await created.counts()).toEqual({ catalog: 1, storefront: 2 });
    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    for (const repo of ['catalog', 'storefront'])
      expect((await forge.listPullRequests(repo)).filter((p) => p.head === 'lockstep/resume-me')).toHaveLength(1);
  });

  it('resume after a contract block redoes only the repo the gate blamed', async () => {
    // The demo change, except that storefront forgets to declare it now reads price_cents.
    type Repo = { name: string; steps: { name: string; run: string }[] };
    const demo = parse(await readFile(exampleChange('price-cents.yaml'), 'utf8')) as { repos: Repo[] };
    const file = join(h.fleet.root, 'resume-block.yaml');
    const write = (repos: Repo[]) =>
      writeFile(
        file,
        stringify({ id: 'resume-block', title: 'Integer cents', description: 'Prices as integer cents.', repos }),
      );
    const forgetful = demo.repos.map((r) =>
      r.name === 'storefront' ? { ...r, steps: r.steps.filter((s) => !s.run.includes('catalog-api.uses.json')) } : r,
    );
    expect(forgetful.find((r) => r.name === 'storefront')?.steps.length).toBeLessThan(
      demo.repos.find((r) => r.name === 'storefront')?.steps.length ?? 0,
    );
    await write(forgetful);
    const created = await watch('resume-block');

    const first = await h.cli(['run', file, '--json', '--no-worker']);
    const blocked = JSON.parse(first.stdout) as {
      status: string;
      gate: { contracts: { contract: string; status: string; blame: string[] }[] };
    };
    expect(first.code).not.toBe(0);
    expect(blocked.status).toBe('blocked');
    expect(blocked.gate.contracts.find((c) => c.contract === 'catalog-api')).toMatchObject({
      status: 'mismatch',
      blame: ['storefront'],
    });

    await write(demo.repos);
    const resumed = await h.cli([
      'resume',
      'resume-block',
      '--change',
      file,
      '--redo-changed',
      '--json',
      '--no-worker',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const doc = JSON.parse(resumed.stdout) as {
      status: string;
      repos: { repo: string; pullRequest: { number: number } | null }[];
    };
    expect(doc.status).toBe('succeeded');
    expect(await created.counts()).toEqual({ catalog: 1, storefront: 2, billing: 1 });
    const forge = new LocalForge(join(h.fleet.stateDir, 'forge', 'local'));
    for (const repo of ['catalog', 'storefront', 'billing'])
      expect((await forge.listPullRequests(repo)).filter((p) => p.head === 'lockstep/resume-block')).toHaveLength(1);
  });

  it('resume without changes keeps the green repo without a new sandbox', async () => {
    const file = await writeChange('resume-plain', 'echo note >> NOTES.md && test -f /tmp/never-there');
    const created = await watch('resume-plain');
    const first = await h.cli(['run', file, '--json', '--no-worker']);
    expect(first.code).toBe(1);
    const resumed = await h.cli(['resume', 'resume-plain', '--json', '--no-worker']);
    const doc = JSON.parse(resumed.stdout) as { repos: { repo: string; status: string; reused?: boolean }[] };
    expect(doc.repos.find((r) => r.repo === 'catalog')).toMatchObject({ status: 'green' });
    expect(doc.repos.find((r) => r.repo === 'storefront')?.status).toBe('failed');
    const creations = await created.counts();
    expect(creations).toEqual({ catalog: 1, storefront: 2 });
  });

  it('"approve" at the publish gate opens the PRs, recording who and why', async () => {
    const file = await writeChange('live', 'echo note >> NOTES.md');
    const started = h.cli(['run', file, '--wait-on-failure', '120', '--approve', 'publish', '--json', '--no-worker']);
    const view = await waitForAwaiting('live', 'approval');
    expect(view.awaiting).toMatchObject({ kind: 'approval', gate: 'publish' });
    const shown = await h.cli(['status', 'live']);
    expect(shown.stdout).toMatch(/waiting .* for publish approval: lockstep approve live/);
    expect(shown.stdout).toMatch(/catalog: 1 files changed \(NOTES\.md\), tests passed/);
    const wrongGate = await h.cli(['approve', 'live', '--gate', 'plan']);
    expect(wrongGate.code).not.toBe(0);
    expect(wrongGate.stderr).toMatch(/not waiting for a plan approval/);
    const approved = await h.cli(['approve', 'live', '--reason', 'reviewed the diff']);
    expect(approved.code, approved.stderr).toBe(0);
    const result = await started;
    expect(result.code, result.stderr).toBe(0);
    const status = await h.env.client.workflow
      .getHandle<typeof changeWorkflow>(changeWorkflowId('live'))
      .query(changeStatusQuery);
    expect(status.humans).toEqual([
      expect.objectContaining({ gate: 'publish', approved: true, reason: 'reviewed the diff' }),
    ]);
    expect(status.humans[0]).toHaveProperty('by', expect.stringContaining('@'));
  });

  it('"retry" runs a failed repo again while the change waits', async () => {
    const created = await watch('live-retry');
    const file = await writeChange(
      'live-retry',
      'echo note >> NOTES.md && test "$(cat /workspace/NOTES.md | wc -l)" -gt 99',
    );
    const started = h.cli(['run', file, '--wait-on-failure', '120', '--json', '--no-worker']);
    const view = await waitForAwaiting('live-retry', 'decision');
    expect((await h.cli(['status', 'live-retry'])).stdout).toMatch(
      /waiting .* for a decision on storefront: lockstep retry\|skip live-retry <repo>/,
    );
    expect(view.awaiting).toMatchObject({ kind: 'decision', repos: ['storefront'] });
    const notFailed = await h.cli(['retry', 'live-retry', 'catalog']);
    expect(notFailed.code).not.toBe(0);
    expect(notFailed.stderr).toMatch(/repo "catalog" is not waiting for a decision/);
    expect((await h.cli(['retry', 'live-retry', 'storefront', '--reason', 'try again'])).code).toBe(0);
    await waitForAwaiting('live-retry', 'decision');
    expect((await h.cli(['skip', 'live-retry', 'storefront', '--reason', 'ship catalog alone'])).code).toBe(0);
    const result = await started;
    const doc = JSON.parse(result.stdout) as {
      status: string;
      summary: string;
      repos: { repo: string; status: string; pullRequest: unknown }[];
    };
    expect(doc.status).toBe('succeeded');
    expect(doc.summary).toContain('skipped: storefront');
    expect(doc.repos.find((r) => r.repo === 'storefront')).toMatchObject({ status: 'skipped', pullRequest: null });
    // Retried once: two sandboxes for storefront, one for catalog.
    expect(await created.counts()).toEqual({ catalog: 1, storefront: 2 });
  });

  it('"reject" at the publish gate ends the change with its branches kept', async () => {
    const file = await writeChange('rejected', 'echo note >> NOTES.md');
    const started = h.cli(['run', file, '--approve', 'publish', '--json', '--no-worker']);
    await waitForAwaiting('rejected', 'approval');
    expect((await h.cli(['reject', 'rejected', '--reason', 'not this week'])).code).toBe(0);
    const result = await started;
    expect(result.code).toBe(1);
    expect((JSON.parse(result.stdout) as { status: string }).status).toBe('rejected');
    const { stdout } = await new Promise<{ stdout: string }>((resolve) =>
      execFile('git', ['--git-dir', h.fleet.remote('catalog'), 'branch', '--list', 'lockstep/rejected'], (_e, out) =>
        resolve({ stdout: out }),
      ),
    );
    expect(stdout).toContain('lockstep/rejected');
  });

  it('"cancel" ends a running change, removes its sandboxes and, on request, its branches', async () => {
    const file = await writeChange('cancel-me', 'sleep 120');
    const started = h.cli(['run', file, '--json', '--no-worker']);
    for (let i = 0; i < 300; i++) {
      const left = await docker.listContainers({
        filters: { label: [`${LABEL_CHANGE}=cancel-me`, 'lockstep.repo=storefront'] },
      });
      if (left.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // Each repo's branch is on its remote (storefront never pushed: it sleeps), so there is one
    // to delete in every repo, whenever catalog finishes.
    const branchOf = (repo: string) => gitOut(h.fleet.remote(repo), 'branch', '--list', 'lockstep/cancel-me');
    for (const repo of ['catalog', 'storefront'])
      await gitOut(h.fleet.remote(repo), 'update-ref', 'refs/heads/lockstep/cancel-me', 'refs/heads/main');
    const cancelled = await h.cli(['cancel', 'cancel-me', '--yes', '--delete-branches']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stderr).toContain('deleted lockstep/cancel-me in catalog, storefront');
    for (const repo of ['catalog', 'storefront']) expect(await branchOf(repo)).toBe('');
    // A worker deleted them (the pulls workflow, with its forge credentials), not the CLI itself.
    const deletions = async (): Promise<string[]> => {
      const ids: string[] = [];
      for await (const wf of h.env.client.workflow.list({ query: `WorkflowType = 'pullRequestsWorkflow'` }))
        ids.push(wf.workflowId);
      return ids.filter((id) => id.startsWith('change/cancel-me/pulls/delete-branches/'));
    };
    for (let i = 0; i < 50 && (await deletions()).length === 0; i++) await new Promise((r) => setTimeout(r, 200));
    expect(await deletions()).toHaveLength(1);
    await started;
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=cancel-me`] } });
    expect(left).toEqual([]);
    const description = await h.env.client.workflow.getHandle(changeWorkflowId('cancel-me')).describe();
    expect(description.status.name).toBe('CANCELLED');
    const noConfirm = await h.cli(['cancel', 'cancel-me']);
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.stderr).toContain('add --yes');
  });

  it('a mistyped change id exits 2, naming the id and where the changes are listed', async () => {
    const commands = [
      ['status', 'cancel-mee'],
      ['retry', 'cancel-mee', 'catalog'],
      ['approve', 'cancel-mee'],
      ['cancel', 'cancel-mee', '--yes'],
      ['audit', 'cancel-mee'],
    ];
    for (const args of commands) {
      const { code, stderr } = await h.cli(args);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(2);
      expect(stderr).toMatch(/no change "cancel-mee" on \S+ \(see "lockstep list" for the changes there\)/);
      expect(stderr).not.toMatch(/bug in Lockstep/);
    }
  });

  it('"list --status --repo" filters through visibility', async () => {
    for (let i = 0; i < 50; i++) {
      const { stdout } = await h.cli(['list', '--json', '--status', 'rejected', '--repo', 'catalog']);
      const changes = JSON.parse(stdout) as { changeId: string }[];
      if (changes.length > 0) {
        expect(changes.map((c) => c.changeId)).toEqual(['rejected']);
        const none = JSON.parse(
          (await h.cli(['list', '--json', '--status', 'rejected', '--repo', 'billing'])).stdout,
        ) as unknown[];
        expect(none).toEqual([]);
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('visibility never listed the rejected change');
  });
});
