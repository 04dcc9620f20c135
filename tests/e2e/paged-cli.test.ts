/**
 * The CLI on a change in pages, on real parts (a Temporal dev server, Docker sandboxes, git
 * remotes, the local forge): the demo fleet's three repos with `operations.pageSize: 2` run as
 * two pages. `run`'s progress, `status` (with `--repo`, `--failed`), `list`, `prs` and `audit`
 * read counts and pages instead of a list of repos; `retry` says a change in pages does not wait;
 * `cancel --delete-branches` reads the repos from the task pages.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { LABEL_CHANGE } from '../../activities/sandbox/docker.ts';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveStatus } from '../../client/live-status.ts';
import type { ChangeStatusView } from '../../core/change.ts';
import { changeWorkflowId } from '../../core/ids.ts';
import { changeStatusQuery } from '../../core/messages.ts';
import type { changeWorkflow } from '../../workflows/change.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const docker = new Docker();
const git = async (remote: string, ...args: string[]): Promise<string> =>
  (await promisify(execFile)('git', ['--git-dir', remote, ...args])).stdout.trim();

/** A change on the three demo repos: a note each; storefront's step as given. */
async function writeChange(id: string, storefrontStep: string): Promise<string> {
  const file = join(h.fleet.root, `${id}.yaml`);
  const note = { name: 'note', run: `echo "${id}" >> NOTES.md` };
  await writeFile(
    file,
    stringify({
      id,
      title: `Paged ${id}`,
      description: 'A small documented change, in pages.',
      repos: [
        { name: 'catalog', steps: [note] },
        { name: 'storefront', steps: [{ name: 'note', run: storefrontStep }] },
        { name: 'billing', steps: [note] },
      ],
    }),
  );
  return file;
}

beforeAll(async () => {
  h = await startHarness('pagedcli');
  // Two repos to a page: the three demo repos run in two pages.
  const config = JSON.parse(await readFile(h.fleet.configFile, 'utf8')) as Record<string, unknown>;
  await writeFile(h.fleet.configFile, JSON.stringify({ ...config, operations: { pageSize: 2 } }));
});

afterAll(async () => {
  await h?.close();
});

describe('the CLI on a change in pages', () => {
  it('run, status, list, prs and audit show counts and pages; --repo finds one repo', async () => {
    const file = await writeChange('paged-ok', 'echo "paged-ok" >> NOTES.md');
    const running = h.cli(['run', file, '--no-worker']);
    // While it runs, the live status names the repos running in the running pages (the
    // coordinator's own view lists none).
    const handle = h.env.client.workflow.getHandle<typeof changeWorkflow>(changeWorkflowId('paged-ok'));
    let live: ChangeStatusView | null = null;
    for (let i = 0; i < 600 && !live; i++) {
      const view = await liveStatus(handle).catch(() => null);
      if (view?.paged && view.repos.some((r) => r.status === 'running')) live = view;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(live?.paged?.running.length).toBeGreaterThan(0);
    expect(live?.repos.every((r) => ['catalog', 'storefront', 'billing'].includes(r.repo))).toBe(true);
    expect((await handle.query(changeStatusQuery)).repos).toEqual([]);
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    // The progress off a terminal: pages and counts, no line per repo step.
    expect(run.stderr).toMatch(/running: 3 repos in 2 pages/);
    expect(run.stderr).toMatch(/pages 2\/2 done: 3 green/);
    expect(run.stderr).not.toMatch(/▸ catalog/);
    expect(run.stderr).toContain('3 repos in 2 pages: 3 green');

    const status = await h.cli(['status', 'paged-ok']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('paged-ok: succeeded — 3 linked pull requests open across 2 pages');
    expect(status.stdout).toContain('3 pull requests open: lockstep prs paged-ok');
    const json = JSON.parse((await h.cli(['status', 'paged-ok', '--json'])).stdout) as {
      repos: unknown[];
      pages: { index: number; counts: Record<string, number> }[];
    };
    expect(json.repos).toEqual([]);
    expect(json.pages.map((p) => [p.index, p.counts.green])).toEqual([
      [0, 2],
      [1, 1],
    ]);

    const one = await h.cli(['status', 'paged-ok', '--repo', 'storefront', '--json']);
    expect(one.code, one.stderr).toBe(0);
    const repo = JSON.parse(one.stdout) as {
      page: number;
      result: { status: string; commit: string };
      pullRequest: { number: number } | null;
      workflow: { workflowId: string; status: string; result: { commit: string } };
    };
    expect(repo.result.status).toBe('green');
    expect(repo.pullRequest?.number).toBeGreaterThan(0);
    expect(repo.workflow).toMatchObject({ workflowId: 'change/paged-ok/repo/storefront', status: 'completed' });
    expect(repo.workflow.result.commit).toBe(repo.result.commit);
    const unknown = await h.cli(['status', 'paged-ok', '--repo', 'nowhere']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('change paged-ok has no repo "nowhere" that ran in its 2 finished pages');

    const list = await h.cli(['list']);
    expect(list.stdout).toMatch(/^paged-ok\s+succeeded\s+\S+\s+3 repos\s+Paged paged-ok$/m);

    const prs = await h.cli(['prs', 'paged-ok', '--no-worker']);
    expect(prs.code, prs.stderr).toBe(0);
    expect(prs.stdout).toContain('paged-ok: 3 pull requests, 3 open');
    for (const name of ['catalog', 'storefront', 'billing']) expect(prs.stdout).toMatch(new RegExp(`\\. ${name}\\s+#`));
    const prsJson = JSON.parse((await h.cli(['prs', 'paged-ok', '--json', '--no-worker'])).stdout) as {
      pullRequests: { repo: string; state: string }[];
      mergeOrder: string[];
    };
    expect(prsJson.pullRequests.map((p) => p.repo).sort()).toEqual(['billing', 'catalog', 'storefront']);
    expect(prsJson.mergeOrder).toHaveLength(3);

    // The audit reads the coordinator and its pages; a repo's runs on request.
    const audit = await h.cli(['audit', 'paged-ok']);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/page 0 of 2 \(run\): 2 repos: 2 green/);
    expect(audit.stdout).toMatch(/page 1 of 2 \(publish\): 1 pull requests opened/);
    expect(audit.stdout).toContain('3 repo workflow runs of its pages not read');
    const repoAudit = JSON.parse((await h.cli(['audit', 'paged-ok', '--repo', 'catalog', '--json'])).stdout) as {
      workflows: { workflowId: string }[];
      unread?: number;
    };
    expect(repoAudit.workflows.map((w) => w.workflowId)).toContain('change/paged-ok/repo/catalog');
    expect(repoAudit.workflows.map((w) => w.workflowId)).not.toContain('change/paged-ok/repo/billing');
    expect(repoAudit.unread).toBe(2);
  });

  it('a failure shows first, --failed lists it, and retry says a change in pages does not wait', async () => {
    const file = await writeChange('paged-bad', 'echo "paged-bad" >> NOTES.md && exit 3');
    const run = await h.cli(['run', file, '--no-worker']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✖ storefront failed at note/);

    const status = await h.cli(['status', 'paged-bad']);
    expect(status.code).toBe(1);
    const lines = status.stdout.split('\n');
    expect(lines[1]).toBe('  3 repos in 2 pages: 1 failed · 2 green');
    expect(lines[2]).toBe('  failures (1):');
    expect(lines[3]).toMatch(/^ {4}✖ storefront failed at note: /);

    const failed = await h.cli(['status', 'paged-bad', '--failed', '--json']);
    expect(failed.code).toBe(1);
    expect((JSON.parse(failed.stdout) as { failed: { repo: string }[] }).failed.map((f) => f.repo)).toEqual([
      'storefront',
    ]);

    const retry = await h.cli(['retry', 'paged-bad', 'storefront']);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain(
      'change paged-bad runs in pages (3 repos): failed repos do not wait for a decision; `lockstep resume paged-bad` redoes only them',
    );
  });

  it('cancel stops every page, removes the sandboxes and deletes the branches read from the task pages', async () => {
    const file = await writeChange('paged-cancel', 'sleep 120');
    const started = h.cli(['run', file, '--json', '--no-worker']);
    for (let i = 0; i < 300; i++) {
      const sleeping = await docker.listContainers({
        filters: { label: [`${LABEL_CHANGE}=paged-cancel`, 'lockstep.repo=storefront'] },
      });
      if (sleeping.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // Every repo has the branch on its remote (storefront never pushes: it sleeps).
    const repos = ['catalog', 'storefront', 'billing'];
    for (const repo of repos)
      await git(h.fleet.remote(repo), 'update-ref', 'refs/heads/lockstep/paged-cancel', 'refs/heads/main');
    const cancelled = await h.cli(['cancel', 'paged-cancel', '--yes', '--delete-branches']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stderr).toContain('cancelled paged-cancel; its sandboxes were removed');
    expect(cancelled.stderr).toContain('deleted lockstep/paged-cancel in');
    for (const repo of repos)
      expect(await git(h.fleet.remote(repo), 'branch', '--list', 'lockstep/paged-cancel')).toBe('');
    await started;
    // The repos' sandboxes are gone when cancel returns. A page that was scanning its green repos
    // (the gate's guardrails) removes that sandbox when its scan activity hears of the cancel:
    // the workflow does not wait for its activities' cleanup, so that one may go a moment later.
    const left = () => docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=paged-cancel`] } });
    const repoSandboxes = (await left()).filter((c) => repos.includes(c.Labels['lockstep.repo'] ?? ''));
    expect(repoSandboxes).toEqual([]);
    for (let i = 0; i < 300 && (await left()).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    expect(await left()).toEqual([]);
  });
});
