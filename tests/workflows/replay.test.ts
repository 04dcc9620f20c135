/**
 * Determinism: the recorded histories in tests/histories (one folder per kind of run, written
 * by scripts/record-histories.ts) replay against today's workflow bundle without a single
 * nondeterminism error. A change to workflow code that would break runs in flight fails here;
 * docs/reliability.md ("Determinism") says what to do then: patched() for in-flight runs, and
 * re-recording the histories.
 *
 * The other tests prove the check has teeth: the same workflow code with two activity calls
 * swapped (under the same workflow type name) must be reported as a DeterminismViolationError,
 * and the same swap guarded by patched(), as the docs show, must replay cleanly.
 */
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.ts';
import { workflowBundle } from '../../workers/worker.ts';

const HISTORIES = join(projectRoot, 'tests', 'histories');
const CASES = ['steps', 'agent', 'gate-failure', 'resume', 'approval', 'pull-requests', 'pages'];

interface Recorded {
  case: string;
  file: string;
  workflowId: string;
  type: string;
  history: temporal.api.history.v1.IHistory;
}

async function recorded(only?: string): Promise<Recorded[]> {
  const out: Recorded[] = [];
  for (const name of (await readdir(HISTORIES)).sort()) {
    if (only && name !== only) continue;
    for (const file of (await readdir(join(HISTORIES, name))).filter((f) => f.endsWith('.json')).sort()) {
      const history = historyFromJSON(JSON.parse(await readFile(join(HISTORIES, name, file), 'utf8')));
      const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
      // historyFileName(): "change__x__repo__y__<runId>.json". Replay needs the real workflow id
      // (children's ids derive from it); these ids hold no "__" of their own.
      const parts = file.replace(/\.json$/, '').split('__');
      out.push({ case: name, file, workflowId: parts.slice(0, -1).join('/'), type, history });
    }
  }
  return out;
}

/** Replays histories against a bundle: each one's error, undefined when it replayed cleanly (in order). */
async function replay(bundle: WorkflowBundle, histories: Recorded[]): Promise<(Error | undefined)[]> {
  const errors: (Error | undefined)[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle },
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  )) {
    errors.push(result.error);
  }
  expect(errors).toHaveLength(histories.length);
  return errors;
}

describe('recorded workflow histories', () => {
  it('cover every kind of run and every workflow type, and replay against the current bundle without nondeterminism', async () => {
    const histories = await recorded();
    // Extra folders are welcome (e.g. runs recorded before a patch, kept until deprecatePatch).
    expect([...new Set(histories.map((h) => h.case))]).toEqual(expect.arrayContaining(CASES));
    expect([...new Set(histories.map((h) => h.type))].sort()).toEqual([
      'agentWorkflow',
      'changeWorkflow',
      'pageWorkflow',
      'pullRequestsWorkflow',
      'repoWorkflow',
    ]);
    // The resume case carries the coordinator's patch marker: patched() code paths replay too.
    const markers = histories
      .filter((h) => h.case === 'resume')
      .flatMap((h) => h.history.events ?? [])
      .filter((e) => e.markerRecordedEventAttributes);
    expect(markers.length).toBeGreaterThan(0);
    // Repo runs of both paths are covered: one activity opening the workspace and sandbox, and
    // (recorded before that patch) the separate steps.
    const activities = (name: string) =>
      new Set(
        histories
          .filter((h) => h.case === name && h.type === 'repoWorkflow')
          .flatMap((h) =>
            (h.history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
          ),
      );
    expect([...activities('steps')]).toEqual(expect.arrayContaining(['openWorkspace', 'closeWorkspace']));
    expect([...activities('steps-before-lean-repo-workflow')]).toEqual(
      expect.arrayContaining(['prepareWorkspace', 'createSandbox', 'removeSandbox', 'removeWorkspace']),
    );

    const errors = await replay(await workflowBundle(), histories);
    const failed = histories.flatMap((h, i) =>
      errors[i] ? [`${h.case}/${h.file}: ${errors[i].name}: ${errors[i].message}`] : [],
    );
    expect(
      failed,
      'run "node --import tsx scripts/record-histories.ts" only when the change is meant to break old runs; see docs/reliability.md',
    ).toEqual([]);
  });
});

describe('the replay check', () => {
  let scratch = '';
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  // The variants edit the cleanup of repo runs recorded before patched('lean-repo-workflow'):
  // that path still schedules two cleanup activities, and those histories take it.
  const BEFORE_LEAN = 'steps-before-lean-repo-workflow';
  // Whitespace-tolerant: the formatter may break the array over lines.
  const CLEANUP =
    /\[\s*cleanup\.removeSandbox\(sandboxRef\),\s*cleanup\.removeWorkspace\(\{ workspace: ws\.workspace \}\),?\s*\]/;
  const SWAPPED = '[cleanup.removeWorkspace({ workspace: ws.workspace }), cleanup.removeSandbox(sandboxRef)]';

  /** The workflow code as it is, except for repoWorkflow's cleanup call, replaced by `cleanup`. */
  async function variantBundle(name: string, cleanup: string, usesPatched = false): Promise<WorkflowBundle> {
    scratch ||= await mkdtemp(join(tmpdir(), 'lockstep-variants-'));
    const dir = join(scratch, name, 'workflows');
    await mkdir(dir, { recursive: true });
    for (const file of await readdir(join(projectRoot, 'workflows')))
      await copyFile(join(projectRoot, 'workflows', file), join(dir, file));
    // What workflows import from core/ comes along unchanged (type imports are erased).
    await cp(join(projectRoot, 'core'), join(scratch, name, 'core'), { recursive: true });
    const original = await readFile(join(dir, 'repo.ts'), 'utf8');
    expect(original, 'repoWorkflow no longer cleans up this way: update the variants in this test').toMatch(CLEANUP);
    // repo.ts may already import patched for a patch of its own: then it is not imported twice.
    const header =
      usesPatched && !/^\s+patched,$/m.test(original) ? "import { patched } from '@temporalio/workflow';\n" : '';
    await writeFile(join(dir, 'repo.ts'), `${header}${original.replace(CLEANUP, cleanup)}`);
    return bundleWorkflowCode({
      workflowsPath: join(dir, 'index.ts'),
      // The copy lives outside the project: packages still come from the project's node_modules.
      webpackConfigHook: (config) => ({
        ...config,
        resolve: {
          ...config.resolve,
          modules: [...(config.resolve?.modules ?? []), join(projectRoot, 'node_modules')],
        },
      }),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m), log() {} },
    });
  }

  /** Two activity calls swapped, workflow type names unchanged. */
  const reorderedBundle = () => variantBundle('reordered', SWAPPED);

  it('reports a DeterminismViolationError for a workflow whose activity calls were swapped', async () => {
    const histories = await recorded(BEFORE_LEAN);
    const errors = await replay(await reorderedBundle(), histories);
    expect(histories.filter((h) => h.type === 'repoWorkflow').length).toBeGreaterThan(0);
    histories.forEach((h, i) => {
      if (h.type === 'repoWorkflow') {
        expect(errors[i], h.file).toBeInstanceOf(DeterminismViolationError);
        expect(errors[i]?.message).toMatch(/removeSandbox|removeWorkspace/);
      } else {
        // The coordinator's code did not change: its history still replays.
        expect(errors[i], h.file).toBeUndefined();
      }
    });
  });

  it('replays the same swap cleanly once it is guarded by patched(), as docs/reliability.md shows', async () => {
    const histories = await recorded(BEFORE_LEAN);
    const guarded = `(patched('cleanup-workspace-first') ? ${SWAPPED} : [cleanup.removeSandbox(sandboxRef), cleanup.removeWorkspace({ workspace: ws.workspace })])`;
    const bundle = await variantBundle('patched', guarded, true);
    const errors = await replay(bundle, histories);
    expect(errors.map((e, i) => (e ? `${histories[i]?.file}: ${e.message}` : null)).filter(Boolean)).toEqual([]);
  });
});
