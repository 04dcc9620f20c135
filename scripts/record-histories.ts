/**
 * Records the workflow histories that tests/workflows/replay.test.ts replays against the
 * current workflow code: one change per kind of run, each on real parts (a Temporal dev server,
 * a Lockstep worker, Docker sandboxes, git remotes, the scripted model endpoint), every workflow
 * of it (coordinator, repos, agents) written as Temporal JSON under tests/histories/<case>/.
 *
 *   node --import tsx scripts/record-histories.ts            # every case
 *   node --import tsx scripts/record-histories.ts steps gate # some cases
 *
 * Run it when a workflow changes on purpose (see docs/reliability.md, "Determinism"); commit
 * the result. Machine-specific strings (temporary folders, this checkout's path, the host name)
 * are replaced in every payload, so the committed files say nothing about where they were made.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { exportHistories, historyFileName } from '../cli/audit/index.ts';
import type { TemporalSession } from '../client/connection.ts';
import { inPages } from '../client/pages.ts';
import { temporalBlobStore } from '../workers/blobs.ts';
import { AgentBudgets, ModelsConfig } from '../config/repos.ts';
import { projectRoot } from '../config/paths.ts';
import type { changeWorkflow } from '../workflows/change.ts';
import { approvalUpdate, changeStatusQuery } from '../core/messages.ts';
import { pullRequestsWorkflowId } from '../core/ids.ts';
import type { pullRequestsWorkflow } from '../workflows/pulls.ts';
import { changeWorkflowId, repoWorkflowId } from '../core/ids.ts';
import type { ChangeInput, ChangeResult } from '../core/change.ts';
import type { RepoResult } from '../core/repo.ts';
import { exampleChange } from '../tests/helpers/fleet.ts';
import { startHarness, type Harness } from '../tests/helpers/harness.ts';
import { plainSettings } from '../config/temporal.ts';

const HISTORIES_DIR = join(projectRoot, 'tests', 'histories');
const CASES = ['steps', 'agent', 'gate-failure', 'resume', 'approval', 'pull-requests', 'pages'] as const;
type Case = (typeof CASES)[number];

/** What stands in for machine-specific strings in recorded histories. */
const PLACEHOLDERS = {
  fleet: '/lockstep-recorded/fleet',
  project: '/lockstep-recorded/project',
  tmp: '/lockstep-recorded/tmp',
  host: 'recorder-host',
};

let h: Harness;
let session: TemporalSession;

/**
 * A steps-mode change on catalog and storefront (and `more` repos): one note each (storefront's
 * may be told to fail).
 */
async function noteChange(
  id: string,
  storefrontStep = 'echo note >> NOTES.md',
  more: string[] = [],
): Promise<ChangeInput> {
  const file = join(h.fleet.root, `${id}.yaml`);
  await writeFile(
    file,
    stringify({
      id,
      title: `Recorded ${id}`,
      description: 'A small change whose history the replay test keeps.',
      repos: [
        { name: 'catalog', steps: [{ name: 'note', run: `echo "${id}" >> NOTES.md` }] },
        { name: 'storefront', steps: [{ name: 'note', run: storefrontStep }] },
        ...more.map((name) => ({ name, steps: [{ name: 'note', run: `echo "${id}" >> NOTES.md` }] })),
      ],
    }),
  );
  return h.changeInput(file);
}

const start = (input: ChangeInput): Promise<WorkflowHandle<typeof changeWorkflow>> =>
  h.env.client.workflow.start<typeof changeWorkflow>('changeWorkflow', {
    workflowId: changeWorkflowId(input.changeId),
    taskQueue: h.queue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });

function expectStatus(result: ChangeResult, status: ChangeResult['status']): void {
  if (result.status !== status)
    throw new Error(`${result.changeId} ended ${result.status}, not ${status}: ${result.summary}`);
}

/** Each case runs its change(s) and returns the change id to export (every run of it is kept). */
const RECORDERS: Record<Case, (dir: string) => Promise<void>> = {
  async steps(dir) {
    const input = await noteChange('recorded-steps');
    expectStatus(await h.run(input), 'succeeded');
    await exportTo(dir, input.changeId);
  },

  async agent(dir) {
    const model = 'recorded-agent-model';
    const call = (id: string, name: string, args: object) => ({
      reply: { tool_calls: [{ id, name, arguments: JSON.stringify(args) }] },
      usage: { prompt_tokens: 800, completion_tokens: 40 },
    });
    h.fake?.script(model, [
      call('call_list', 'list_directory', { path: '.' }),
      call('call_write', 'write_file', {
        path: 'NOTES.md',
        content: 'Prices stay as they are; this note was written by the agent.\n',
      }),
      call('call_tests', 'run_tests', {}),
      call('call_finish', 'finish', { summary: 'Added a note; the tests pass.' }),
    ]);
    const file = join(h.fleet.root, 'recorded-agent.json');
    await writeFile(
      file,
      JSON.stringify({
        id: 'recorded-agent',
        title: 'Recorded agent run',
        description: 'An agent adds a note.',
        repos: [{ name: 'catalog', instructions: 'Add a note to NOTES.md.' }],
      }),
    );
    const input: ChangeInput = {
      ...(await h.changeInput(file, { concurrency: 1 })),
      models: ModelsConfig.parse({ agent: model, coordinator: model }),
      budgets: AgentBudgets.parse({}),
    };
    expectStatus(await h.run(input), 'succeeded');
    if ((h.fake?.violations.length ?? 0) > 0)
      throw new Error(`the model endpoint saw bad requests: ${JSON.stringify(h.fake?.violations)}`);
    await exportTo(dir, input.changeId);
  },

  async 'gate-failure'(dir) {
    // catalog renames price alone; storefront and billing still read it: the gate blocks.
    const input = await h.changeInput(exampleChange('price-cents-catalog-only.yaml'));
    expectStatus(await h.run(input), 'blocked');
    await exportTo(dir, input.changeId);
  },

  async resume(dir) {
    const input = await noteChange('recorded-resume', 'echo note >> NOTES.md && test "$LOCKSTEP_TEST_BROKEN" != 1');
    // First run: storefront's sandbox says it is broken, so its step fails and the change fails.
    const broken: ChangeInput = {
      ...input,
      repos: input.repos.map((t) =>
        t.repo === 'storefront' ? { ...t, sandbox: { ...t.sandbox, env: { LOCKSTEP_TEST_BROKEN: '1' } } } : t,
      ),
    };
    expectStatus(await h.run(broken), 'failed');
    await exportTo(dir, input.changeId);
    // Resume as "lockstep resume" does: the green repo's result is reused, storefront runs again.
    const previous: Record<string, RepoResult> = {};
    for (const task of input.repos) {
      const handle = h.env.client.workflow.getHandle(repoWorkflowId(input.changeId, task.repo));
      if ((await handle.describe()).status.name === 'COMPLETED')
        previous[task.repo] = (await handle.result()) as RepoResult;
    }
    const resumed = await h.run({ ...input, previous });
    expectStatus(resumed, 'succeeded');
    if (!resumed.repos.find((r) => r.repo === 'catalog')?.reused)
      throw new Error('the resumed run did not reuse catalog');
    await exportTo(dir, input.changeId);
  },

  async approval(dir) {
    const input: ChangeInput = {
      ...(await noteChange('recorded-approval')),
      approvals: { plan: false, publish: true, timeoutSeconds: 600 },
    };
    const handle = await start(input);
    for (let i = 0; ; i++) {
      const view = await handle.query(changeStatusQuery);
      if (view.awaiting?.kind === 'approval') break;
      if (view.status !== 'running' || i > 600) throw new Error(`never waited for approval: ${view.status}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await handle.executeUpdate(approvalUpdate, {
      args: [{ gate: 'publish', approved: true, by: 'recorder', reason: 'recorded approval' }],
    });
    expectStatus(await handle.result(), 'succeeded');
    await exportTo(dir, input.changeId);
  },

  async 'pull-requests'(dir) {
    // The PR set of a finished change, read back as "lockstep prs" does.
    const input = await noteChange('recorded-prs');
    const result = await h.run(input);
    expectStatus(result, 'succeeded');
    const targets = result.repos.flatMap((r) =>
      r.pullRequest
        ? [
            {
              repo: r.repo,
              number: r.pullRequest.number,
              url: input.repos.find((t) => t.repo === r.repo)?.url ?? '',
              branch: r.branch,
            },
          ]
        : [],
    );
    const workflowId = pullRequestsWorkflowId(input.changeId, 'status', 'recorded');
    await h.env.client.workflow.execute<typeof pullRequestsWorkflow>('pullRequestsWorkflow', {
      workflowId,
      taskQueue: h.queue,
      args: [{ changeId: input.changeId, forge: input.forge, action: 'status', targets }],
    });
    const handle = h.env.client.workflow.getHandle(workflowId);
    const history = await handle.fetchHistory();
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, historyFileName(workflowId, (await handle.describe()).runId)),
      `${historyToJSON(history)}\n`,
    );
  },

  async pages(dir) {
    // The three demo repos in pages of two: two run pages, two publish pages, tasks by reference.
    const id = 'recorded-pages';
    const input = await inPages(temporalBlobStore(h.env.client, h.queue), {
      ...(await noteChange(id, undefined, ['billing'])),
      pageSize: 2,
    });
    if (input.pages?.pages.length !== 2) throw new Error(`${id} did not run in two pages`);
    expectStatus(await h.run(input), 'succeeded');
    await exportTo(dir, id);
  },
};

async function exportTo(dir: string, changeId: string): Promise<void> {
  await exportHistories(session, changeId, dir);
}

/** Replaces machine-specific strings in a text. */
function scrub(text: string): string {
  const replacements: [string, string][] = [
    [h.fleet.root, PLACEHOLDERS.fleet],
    [projectRoot.replace(/\/$/, ''), PLACEHOLDERS.project],
    [tmpdir(), PLACEHOLDERS.tmp],
    [hostname(), PLACEHOLDERS.host],
  ];
  let out = text;
  for (const [from, to] of replacements) if (from.length > 1) out = out.split(from).join(to);
  return out;
}

const JSON_PLAIN = Buffer.from('json/plain').toString('base64');

/** Scrubs every string of a history, payloads (base64 JSON) included. */
function scrubValue(value: unknown): unknown {
  if (typeof value === 'string') return scrub(value);
  if (Array.isArray(value)) return value.map(scrubValue);
  if (typeof value !== 'object' || value === null) return value;
  const node = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(node)) out[key] = key === 'metadata' ? v : scrubValue(v);
  const metadata = node.metadata as Record<string, unknown> | undefined;
  if (typeof node.data === 'string' && metadata?.encoding === JSON_PLAIN) {
    out.data = Buffer.from(scrub(Buffer.from(node.data, 'base64').toString('utf8')), 'utf8').toString('base64');
  }
  return out;
}

/** Scrubs the files of a case folder and checks nothing machine-specific is left. */
async function scrubFolder(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  for (const name of files) {
    const path = join(dir, name);
    const scrubbed = scrubValue(JSON.parse(await readFile(path, 'utf8')));
    const text = `${JSON.stringify(scrubbed)}\n`;
    historyFromJSON(JSON.parse(text)); // still a history
    const texts: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') texts.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (typeof v === 'object' && v !== null) {
        for (const [key, x] of Object.entries(v)) {
          if (key === 'data' && typeof x === 'string') texts.push(Buffer.from(x, 'base64').toString('utf8'));
          collect(x);
        }
      }
    };
    collect(scrubbed);
    for (const leak of [h.fleet.root, projectRoot.replace(/\/$/, ''), tmpdir(), hostname()]) {
      if (leak.length > 1 && texts.some((t) => t.includes(leak))) throw new Error(`${name} still contains ${leak}`);
    }
    await writeFile(path, text);
  }
  return files;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((c) => !(CASES as readonly string[]).includes(c));
  if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(', ')}; the cases are: ${CASES.join(', ')}`);
  const cases = wanted.length > 0 ? (wanted as Case[]) : [...CASES];
  h = await startHarness('record', { fakeModel: true });
  session = {
    client: h.env.client,
    address: h.env.address,
    namespace: 'default',
    settings: plainSettings(h.env.address),
    devServer: null,
    close: () => Promise.resolve(),
  };
  try {
    for (const name of cases) {
      const dir = join(HISTORIES_DIR, name);
      const fresh = join(h.fleet.root, 'histories', name);
      const started = Date.now();
      await RECORDERS[name](fresh);
      const files = await scrubFolder(fresh);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      for (const file of files) await writeFile(join(dir, file), await readFile(join(fresh, file)));
      console.log(
        `${name}: ${files.length} histories in ${((Date.now() - started) / 1000).toFixed(1)}s -> tests/histories/${name}/`,
      );
    }
  } finally {
    await h.close();
  }
}

await main();
