/**
 * One describer per activity: what was asked and what came back, as an entry's kind, a line and
 * a few fields. The table is keyed by the activities' own names and typed by their inputs and
 * results, so an activity added or renamed without a describer fails typecheck. Names it does not
 * know (activities of older versions, in their recorded histories) are described generically.
 */
import type { ForgeActivities, HostActivities, SharedActivities } from '../../activities/index.ts';
import { egressGlance } from '../progress.ts';
import { verdictDetails } from './contracts.ts';
import type { LoadedRun } from '../../client/histories.ts';
import { num, obj, ofRevert, repoOfWorkflow, str, type ActivityRecord, type Context } from './records.ts';
import { PREVIEW_CHARS, short, type AuditKind, type AuditValue } from './report.ts';

type Activities = SharedActivities & HostActivities & ForgeActivities;
export type ActivityName = keyof Activities;
/** An activity's input as history holds it: decoded JSON, where a run of an older version may lack fields. */
type InputOf<K extends ActivityName> =
  Parameters<Activities[K]> extends [infer I, ...unknown[]] ? Partial<I> : Record<string, never>;
type ResultOf<K extends ActivityName> = Awaited<ReturnType<Activities[K]>>;

export interface Described {
  kind: AuditKind;
  title: string;
  details: Record<string, AuditValue>;
  repo?: string | null;
}

interface CallBase {
  record: ActivityRecord;
  run: LoadedRun;
  ctx: Context;
  /** The input's `repo`, whichever activity it is. */
  inputRepo: string | null;
}

interface Call<K extends ActivityName> extends CallBase {
  input: InputOf<K>;
  /** Set when the activity completed. */
  result: ResultOf<K> | undefined;
}

type Describer<K extends ActivityName> = (call: Call<K>) => Described;

/** An activity by its name and outcome only: those without a line of their own, and names of older versions. */
const generic = ({ record: r, run, ctx, inputRepo }: CallBase): Described => ({
  kind: repoOfWorkflow(ctx.changeId, run.workflowId) || inputRepo ? 'repo' : 'change',
  title: short(`${r.type}: ${r.outcome}`),
  details: {},
});

/** A fresh clone, alone (prepareWorkspace, runs from before `lean-repo-workflow`) or with its sandbox (openWorkspace). */
const workspace =
  (made: string, verb: string) =>
  ({ input, result: res, record: r }: Call<'prepareWorkspace' | 'openWorkspace'>): Described => ({
    kind: 'repo',
    title: short(res ? `${made} at ${res.baseCommit.slice(0, 12)}` : `${verb} workspace: ${r.outcome}`),
    details: {
      baseBranch: str(input.baseBranch),
      branch: str(input.branch),
      baseCommit: res ? res.baseCommit.slice(0, 12) : null,
      hostQueue: res ? short(res.hostQueue, 80) : null,
    },
  });

const removed =
  (what: string) =>
  ({ record: r }: CallBase): Described => ({
    kind: 'repo',
    title: `${what} removed${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`,
    details: {},
  });

const DESCRIBERS: { [K in ActivityName]: Describer<K> } = {
  modelTurn: ({ input: i, result: res, record: r, run, ctx }) => {
    const calls = res?.toolCalls ?? [];
    for (const c of calls)
      ctx.calls.set(`${run.workflowId}|${i.turn ?? ''}|${c.id}`, { name: c.name, preview: c.preview });
    return {
      kind: 'model',
      title: short(
        `turn ${i.turn ?? '?'}: ${res ? (calls.length > 0 ? calls.map((c) => c.name).join(', ') : 'no tool call') : r.outcome}`,
      ),
      details: {
        model: short(res?.model ?? i.model ?? ''),
        turn: i.turn ?? null,
        promptTokens: res?.usage.prompt ?? null,
        completionTokens: res?.usage.completion ?? null,
        modelMs: res?.durationMs ?? null,
        promptHash: res?.promptHash ? res.promptHash.slice(0, 16) : null,
        finishReason: res ? short(res.finishReason, 40) : null,
        toolCalls: res ? calls.length : null,
        content: res?.content ? short(res.content) : null,
      },
    };
  },
  planChange: ({ input: i, result: res, record: r, run, ctx }) => {
    const attempt = (ctx.planAttempts.get(run.workflowId) ?? 0) + 1;
    ctx.planAttempts.set(run.workflowId, attempt);
    const verdict = !res
      ? r.outcome
      : res.plan
        ? `valid — ${res.plan.summary}`
        : `invalid (${res.errors.length} error${res.errors.length === 1 ? '' : 's'})`;
    return {
      kind: 'plan',
      title: short(`plan attempt ${attempt}: ${verdict}`),
      details: {
        model: short(i.model ?? ''),
        planAttempt: attempt,
        repos: i.repos?.length ?? null,
        promptTokens: res?.usage.prompt ?? null,
        completionTokens: res?.usage.completion ?? null,
        summary: res?.plan ? short(res.plan.summary) : null,
        order: res?.plan ? short(res.plan.order.join(' → ')) : null,
        errors: res && res.errors.length > 0 ? short(res.errors.join('; ')) : null,
      },
    };
  },
  scoutRepo: ({ input, result: res, record: r, inputRepo }) => ({
    kind: 'model',
    title: short(
      `scout ${inputRepo ?? '?'}${res ? `: ${res.files} files, ${res.summaries.length} summaries` : `: ${r.outcome}`}`,
    ),
    details: {
      model: str(input.model) ? short(String(input.model)) : null,
      commit: res ? res.commit.slice(0, 12) : null,
      files: res?.files ?? null,
      summaries: res?.summaries.length ?? null,
      promptTokens: null,
      completionTokens: null,
    },
  }),
  runAgentTool: ({ input: i, result: res, record: r, run, ctx }) => {
    const call = ctx.calls.get(`${run.workflowId}|${i.turn ?? ''}|${i.callId ?? ''}`);
    const name = call?.name ?? 'unknown tool';
    const verdict = res ? (res.ok ? 'ok' : 'failed') : r.outcome;
    return {
      kind: 'tool',
      title: short(`${name}${call?.preview ? ` ${call.preview}` : ''} → ${verdict}`),
      details: {
        tool: short(name, 64),
        // The preview as the model sent it (already cut by the activity), not reflowed.
        args: call ? call.preview.slice(0, PREVIEW_CHARS) : null,
        ok: res ? res.ok : null,
        exitCode: res?.exitCode ?? res?.tests?.exitCode ?? null,
        testsPassed: res?.tests ? res.tests.passed : null,
        summary: res ? short(res.summary) : null,
        turn: i.turn ?? null,
        callId: i.callId ? short(i.callId, 64) : null,
      },
    };
  },
  runInSandbox: ({ input: i, result: res, record: r }) => {
    const kind = i.kind === 'test' ? 'test' : 'command';
    const verdict = res
      ? (res.timedOut ? 'timed out' : `exit ${res.exitCode}`) +
        (res.leftovers ? `, ${res.leftovers} leftover process${res.leftovers === 1 ? '' : 'es'} killed` : '')
      : r.outcome;
    const egress = res?.egress;
    return {
      kind,
      title: short(
        `${i.kind ?? 'command'} "${i.name ?? '?'}": ${verdict}${egress ? ` — ${egressGlance(egress)}` : ''}`,
      ),
      details: {
        commandKind: i.kind ?? null,
        name: short(i.name ?? ''),
        exitCode: res?.exitCode ?? null,
        timedOut: res?.timedOut ?? null,
        leftovers: res?.leftovers ?? 0,
        commandMs: res?.durationMs ?? null,
        outputBytes: res?.outputBytes ?? null,
        log: res?.log ? res.log.sha256.slice(0, 12) : null,
        // The command's egress (the JSON lines stay in the worker's log folder: `audit --egress`).
        ...(egress
          ? {
              egressPhase: egress.phase ?? 'setup',
              egressConnections: egress.connections,
              ...(egress.requests !== undefined ? { egressRequests: egress.requests } : {}),
              egressDenied: egress.denied,
              egressBytesDown: egress.bytesDown,
              egressBytesUp: egress.bytesUp,
              egressHosts: short(egress.hosts.join(', ')),
              egressDeniedHosts: egress.deniedHosts.length
                ? short(
                    egress.deniedHosts
                      .map(
                        (d) =>
                          `${d.method ? `${d.method} ${d.host}:${d.port}${d.path ?? ''}` : `${d.host}:${d.port}`} (${d.reason})`,
                      )
                      .join('; '),
                  )
                : null,
              egressLog: short(egress.log),
            }
          : {}),
      },
    };
  },
  checkContract: ({ input: i, result: res, record: r }) => {
    const first = res?.problems[0];
    return {
      kind: 'gate',
      title: short(
        `contract ${i.contract?.name ?? '?'} (${i.contract?.kind ?? '?'}, round ${i.round ?? 0}): ${res ? res.status : r.outcome}${first ? ` — ${first.message}` : ''}`,
      ),
      details: {
        contract: short(i.contract?.name ?? ''),
        kind: i.contract?.kind ?? null,
        provider: i.contract ? short(i.contract.provider) : null,
        verdict: res?.status ?? null,
        problems: res?.problems.length ?? null,
        accepted: res?.accepted.length ?? null,
        round: num(i.round),
        ...verdictDetails(res),
      },
    };
  },
  scanRepo: ({ input: i, result: res, record: r }) => ({
    kind: 'gate',
    title: short(
      `guardrails ${i.repo?.repo ?? '?'} (round ${i.round ?? 0}): ${res ? `${res.length} finding${res.length === 1 ? '' : 's'}${res[0] ? ` — ${res[0].rule} at ${res[0].file}:${res[0].line}` : ''}` : r.outcome}`,
    ),
    details: {
      findings: res?.length ?? null,
      rules: res ? short([...new Set(res.map((f) => f.rule))].join(', ')) : null,
      round: num(i.round),
    },
  }),
  openPullRequest: ({ input, result: res, record: r }) => ({
    kind: 'forge',
    title: short(res ? `pull request #${res.number} opened (or found)` : `open pull request: ${r.outcome}`),
    details: {
      number: res?.number ?? null,
      url: res ? short(res.url) : null,
      head: str(input.head) ? short(String(input.head)) : null,
    },
  }),
  linkPullRequest: ({ input: i, record: r }) => ({
    kind: 'forge',
    title: short(
      `pull request #${i.pullRequest?.number ?? '?'} linked in the set of ${i.siblings?.length ?? 0} PR${i.siblings?.length === 1 ? '' : 's'}${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`,
    ),
    details: {
      number: i.pullRequest?.number ?? null,
      url: i.pullRequest ? short(i.pullRequest.url) : null,
      setSize: i.siblings?.length ?? null,
    },
  }),
  prepareWorkspace: workspace('workspace cloned', 'prepare'),
  openWorkspace: workspace('workspace cloned and sandbox created', 'open'),
  createSandbox: ({ result, record: r }) => ({
    kind: 'repo',
    title: `sandbox created${r.outcome === 'completed' ? '' : `: ${r.outcome}`}`,
    details: { container: typeof result === 'string' ? short(result, 80) : null },
  }),
  commitAndPush: ({ input, result: res, record: r }) => ({
    kind: 'repo',
    title: short(
      res
        ? res.commit
          ? `pushed ${str(input.branch) ?? ''}@${res.commit.slice(0, 12)} (${res.changedFiles.length} files)`
          : 'nothing to commit'
        : `commit and push: ${r.outcome}`,
    ),
    details: { commit: res?.commit ? res.commit.slice(0, 12) : null, changedFiles: res?.changedFiles.length ?? null },
  }),
  revertMerged: ({ input, result: res, record: r }) => {
    const sha = input.revert?.sha?.slice(0, 12) ?? '?';
    const what = `${input.revert?.repo ?? ''} #${num(input.revert?.number) ?? '?'} of ${str(input.of) ?? '?'}`;
    return {
      kind: 'repo',
      title: short(
        !res
          ? `revert of ${sha}: ${r.outcome}`
          : res.reverted.length > 0
            ? `reverted ${sha} (${what}, ${input.revert?.method ?? '?'}) on the current base`
            : res.conflicts.length > 0
              ? `revert of ${sha} (${what}) conflicts in ${res.conflicts.join(', ')}`
              : `revert of ${sha} (${what}) did not apply: ${res.problem ?? ''}`,
      ),
      details: {
        revertedSha: sha,
        method: input.revert?.method ?? null,
        commits: res ? res.reverted.length : null,
        conflicts: res ? res.conflicts.join(', ') || null : null,
      },
    };
  },
  removeSandbox: removed('sandbox'),
  removeWorkspace: removed('workspace'),
  closeWorkspace: removed('sandbox and workspace'),
  startTranscript: ({ input }) => ({
    kind: 'repo',
    title: `agent transcript started (attempt ${num(input.attempt) ?? '?'})`,
    details: { attempt: num(input.attempt) },
  }),
  appendUserMessage: ({ input }) => ({
    kind: 'repo',
    title: short(`note to the agent: ${str(input.text) ?? ''}`),
    details: { turn: num(input.turn) },
  }),
  modelConfigured: generic,
  bumpDeclaration: generic,
  resolveBump: generic,
  bumpManifests: generic,
  readPage: generic,
  storeBlob: generic,
  branchAt: generic,
  branchesAt: generic,
  deleteBranch: generic,
  pullRequestStatus: generic,
  markPullRequestReady: generic,
  closePullRequest: generic,
  landingState: generic,
  mergePullRequest: ({ input, result: res, record: r, inputRepo, run, ctx }) => ({
    kind: 'forge',
    repo: inputRepo,
    title: short(
      res?.merged
        ? `${res.alreadyMerged ? 'found merged' : 'merged'} ${ofRevert(ctx.changeId, run.workflowId) ? 'the revert of ' : ''}${inputRepo ?? ''} #${num(input.number) ?? '?'} at ${res.mergedSha.slice(0, 12)} (${str(input.method) ?? '?'})`
        : res
          ? `merge of ${inputRepo ?? ''} #${num(input.number) ?? '?'} refused (${res.kind}): ${res.reason}`
          : `merge of ${inputRepo ?? ''} #${num(input.number) ?? '?'}: ${r.outcome}`,
    ),
    details: {
      head: str(input.sha)?.slice(0, 12) ?? null,
      method: str(input.method),
      mergedSha: res?.merged ? res.mergedSha.slice(0, 12) : null,
      alreadyMerged: res?.merged ? res.alreadyMerged : null,
      checksWaitedFor: Array.isArray(input.checksWaitedFor) ? input.checksWaitedFor.join(', ') || 'none' : null,
      revert: ofRevert(ctx.changeId, run.workflowId),
    },
  }),
  updatePullRequestBranch: ({ result: res, record: r, inputRepo }) => ({
    kind: 'forge',
    repo: inputRepo,
    title: short(
      res
        ? res.updated
          ? `brought ${inputRepo ?? ''} up to date with its base at ${res.headSha.slice(0, 12)}`
          : `could not bring ${inputRepo ?? ''} up to date: ${res.reason}`
        : `update of ${inputRepo ?? ''}: ${r.outcome}`,
    ),
    details: { conflicts: res && !res.updated ? res.conflicts.join(', ') : null },
  }),
};

const isActivityName = (name: string): name is ActivityName => Object.hasOwn(DESCRIBERS, name);

/** One activity as an entry: what was asked and what came back, in a line and a few fields. */
export function describeActivity(r: ActivityRecord, run: LoadedRun, ctx: Context): Described {
  const input = obj(r.input);
  const call: CallBase = { record: r, run, ctx, inputRepo: str(input.repo) };
  if (!isActivityName(r.type)) return generic(call);
  return describeAs(r.type, call, input, r.outcome === 'completed' ? r.result : undefined);
}

/**
 * Where decoded JSON becomes the activity's own input and result types, once: history holds what
 * the activity was given (by a workflow typed with the same interfaces) and what it returned.
 */
function describeAs<K extends ActivityName>(
  name: K,
  call: CallBase,
  input: Record<string, unknown>,
  result: unknown,
): Described {
  return DESCRIBERS[name]({ ...call, input: input as InputOf<K>, result: result as ResultOf<K> | undefined });
}
