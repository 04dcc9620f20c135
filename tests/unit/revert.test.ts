/** The pure part of `lockstep revert`: the revert's input (its reversed order: landing-plan.test.ts). */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChange, loadReposConfig } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import type { ChangeInput } from '../../core/change.ts';
import { changeInput, resolveTasks } from '../../core/inputs.ts';
import { revertChangeId } from '../../core/ids.ts';
import type { LandingRepoView, LandingView } from '../../core/landing-plan.ts';
import { revertInput } from '../../core/revert.ts';
import { exampleChange } from '../helpers/fleet.ts';

const exec = promisify(execFile);
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The demo change's input, from the demo fleet's config beside empty bare remotes (they need only exist). */
async function demoInput(): Promise<ChangeInput> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-revert-'));
  dirs.push(dir);
  await copyFile(join(projectRoot, 'repos.config.json'), join(dir, 'repos.config.json'));
  for (const repo of ['catalog', 'storefront', 'billing'])
    await exec('git', ['init', '--quiet', '--bare', join(dir, '.lockstep', 'remotes', `${repo}.git`)]);
  const loaded = await loadReposConfig(join(dir, 'repos.config.json'));
  const change = await loadChange(exampleChange('price-cents.yaml'), loaded);
  return changeInput(loaded, change, resolveTasks(loaded, change));
}

function landed(merged: Record<string, string>, status: LandingView['status'] = 'landed'): LandingView {
  const repo = (name: string, i: number): LandingRepoView => ({
    repo: name,
    number: i + 1,
    step: i === 0 ? 0 : 1,
    state: merged[name] ? 'merged' : 'stopped',
    reason: merged[name] ? null : 'stopped',
    conflicts: [],
    head: 'h'.repeat(40),
    testedHead: null,
    method: 'merge',
    merge: merged[name] ? { sha: merged[name], method: 'merge', at: '2026-12-05T08:00:00.000Z', found: false } : null,
    checksWaitedFor: [],
  });
  return {
    changeId: 'price-cents',
    status,
    summary: status === 'landed' ? 'all merged' : 'storefront stopped',
    startedAt: '2026-12-05T08:00:00.000Z',
    finishedAt: '2026-12-05T08:01:00.000Z',
    steps: [['catalog'], ['storefront', 'billing']],
    repos: ['catalog', 'storefront', 'billing'].map(repo),
    next: null,
  };
}

describe('revertInput', () => {
  it('reverts exactly the merged repos, on a branch of its own, with the real roles and the gate on them', async () => {
    const original = await demoInput();
    const input = revertInput(original, landed({ catalog: 'c'.repeat(40), billing: 'b'.repeat(40) }, 'stopped'));
    if ('refused' in input) throw new Error(input.refused);
    expect(input.changeId).toBe(revertChangeId('price-cents'));
    expect(input.changeId).toBe('price-cents-revert');
    expect(input.repos.map((t) => t.repo)).toEqual(['catalog', 'billing']);
    for (const t of input.repos) {
      expect(t).toMatchObject({ branch: 'lockstep/price-cents-revert', mode: 'steps', steps: [] });
      const before = original.repos.find((o) => o.repo === t.repo);
      expect([t.provides, t.consumes, t.url, t.baseBranch]).toEqual([
        before?.provides,
        before?.consumes,
        before?.url,
        before?.baseBranch,
      ]);
    }
    expect(input.revert).toEqual({
      of: 'price-cents',
      repos: [
        { repo: 'catalog', number: 1, sha: 'c'.repeat(40), method: 'merge' },
        { repo: 'billing', number: 3, sha: 'b'.repeat(40), method: 'merge' },
      ],
    });
    // storefront stays as it is on main: the gate checks it at its base, outside the change.
    expect(input.gate?.repos.map((r) => [r.repo, r.inChange])).toEqual(
      original.gate?.repos.map((r) => [r.repo, r.repo !== 'storefront']),
    );
    expect(input.gate?.contracts).toEqual(original.gate?.contracts);
    expect(input.title).toBe(`Revert "${original.title}"`);
    expect(input.description).toContain(`catalog #1 (merged at ${'c'.repeat(12)}, merge)`);
    expect(input).not.toHaveProperty('landing');
  });

  it('refuses a change that never landed, one landing now, one that merged nothing, and a revert', async () => {
    const original = await demoInput();
    expect(revertInput(original, null)).toEqual({
      refused: 'change price-cents never landed, so nothing of it merged to revert',
      fix: 'land it first ("lockstep land price-cents"), or take back its open pull requests with "lockstep close price-cents"',
    });
    expect(revertInput(original, 'landing')).toMatchObject({ refused: 'change price-cents is landing right now' });
    expect(revertInput(original, landed({}, 'stopped'))).toMatchObject({
      refused: expect.stringContaining('no pull request of change price-cents merged') as string,
      fix: 'take back its open pull requests with "lockstep close price-cents"',
    });
    const revert = revertInput(original, landed({ catalog: 'c'.repeat(40) }));
    if ('refused' in revert) throw new Error(revert.refused);
    expect(revertInput(revert, landed({ catalog: 'd'.repeat(40) }))).toMatchObject({
      refused: 'change price-cents-revert is itself the revert of price-cents',
    });
  });
});
