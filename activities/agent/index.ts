/**
 * Agent activities. Each model call is one activity (so a crash never pays for a finished call
 * twice) and each tool call is one activity in the repo's sandbox host. The conversation stays
 * in the transcript on that host; history carries only short summaries.
 */
import { Context } from '@temporalio/activity';
import type OpenAI from 'openai';
import { createHash } from 'node:crypto';
import type {
  AgentToolInput,
  AgentToolResult,
  AppendUserMessageInput,
  ModelTurnInput,
  ModelTurnResult,
  PlanInput,
  PlanTurnResult,
  RepoIndex,
  StartTranscriptInput,
} from '../../core/agent.ts';
import type { SandboxDeps } from '../sandbox/docker.ts';
import { modelTokens } from '../../core/metrics.ts';
import { heartbeating } from '../heartbeat.ts';
import { classifyModelError, modelNotConfigured } from '../llm/client.ts';
import { planTurn } from './plan.ts';
import { AGENT_SYSTEM_PROMPT, agentTaskMessage } from './prompts.ts';
import { scoutRepo, type ScoutInput } from './scout.ts';
import { executeTool, toolDefinitions } from './tools/index.ts';
import { Transcript } from './transcript.ts';

export interface AgentActivityDeps {
  stateDir: string;
  /** Null when no endpoint is configured; model activities then fail with a clear message. */
  openai: OpenAI | null;
  sandbox: Omit<SandboxDeps, 'heartbeat'>;
  workspaceOwner: { uid: number; gid: number } | null;
}

const CONTENT_PREVIEW = 500;
const ARGS_PREVIEW = 160;

/** Activities that need the repo's host: its transcript, workspace and sandbox. */
export function createAgentHostActivities(deps: AgentActivityDeps) {
  const transcript = (i: { changeId: string; repo: string; attempt: number }) =>
    Transcript.at(deps.stateDir, i.changeId, i.repo, i.attempt);
  return {
    /** Whether this host can run an agent: it has a model endpoint (the agent's model calls run here). */
    modelConfigured(): Promise<boolean> {
      return Promise.resolve(deps.openai !== null);
    },

    async startTranscript(input: StartTranscriptInput): Promise<void> {
      await transcript(input).writeTurn(0, [
        { role: 'system', content: AGENT_SYSTEM_PROMPT },
        { role: 'user', content: agentTaskMessage(input) },
      ]);
    },

    async modelTurn(input: ModelTurnInput): Promise<ModelTurnResult> {
      const { openai } = deps;
      if (!openai) throw modelNotConfigured();
      const t = transcript(input);
      const messages = await t.messages(input.turn);
      const promptHash = createHash('sha256').update(JSON.stringify(messages)).digest('hex');
      const started = Date.now();
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      const ctx = Context.current();
      try {
        completion = await heartbeating(
          ctx,
          () =>
            openai.chat.completions.create(
              {
                model: input.model,
                messages,
                tools: toolDefinitions(),
                tool_choice: 'auto',
                parallel_tool_calls: false,
              },
              { signal: ctx.cancellationSignal, timeout: input.timeoutSeconds * 1000 },
            ),
          { details: () => ({ waitingMs: Date.now() - started }) },
        );
      } catch (err) {
        throw classifyModelError(err);
      }
      modelTokens(
        ctx.metricMeter,
        completion.model,
        completion.usage?.prompt_tokens ?? 0,
        completion.usage?.completion_tokens ?? 0,
      );
      const message = completion.choices[0]?.message;
      const calls = (message?.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [c] : []));
      await t.writeTurn(input.turn, [
        {
          role: 'assistant',
          content: message?.content ?? null,
          ...(calls.length > 0
            ? {
                tool_calls: calls.map((c) => ({
                  id: c.id,
                  type: 'function' as const,
                  function: { name: c.function.name, arguments: c.function.arguments },
                })),
              }
            : {}),
        },
      ]);
      return {
        toolCalls: calls.map((c) => ({
          id: c.id,
          name: c.function.name.slice(0, 64),
          preview: c.function.arguments.slice(0, ARGS_PREVIEW),
        })),
        content: (message?.content ?? '').slice(0, CONTENT_PREVIEW),
        finishReason: completion.choices[0]?.finish_reason ?? 'unknown',
        usage: { prompt: completion.usage?.prompt_tokens ?? 0, completion: completion.usage?.completion_tokens ?? 0 },
        model: completion.model,
        durationMs: Date.now() - started,
        promptHash,
      };
    },

    async runAgentTool(input: AgentToolInput): Promise<AgentToolResult> {
      const ctx = Context.current();
      const t = transcript(input);
      const call = (await t.calls(input.turn)).find((c) => c.id === input.callId);
      if (!call) throw new Error(`tool call ${input.callId} of turn ${input.turn} is not in the transcript`);
      let index = input.commandIndex;
      const outcome = await executeTool(
        {
          workspace: input.workspace,
          sandbox: { ...deps.sandbox, heartbeat: ctx },
          ref: { changeId: input.changeId, repo: input.repo },
          testCommand: input.testCommand,
          commandTimeoutSeconds: input.commandTimeoutSeconds,
          testTimeoutSeconds: input.testTimeoutSeconds,
          outputBytes: input.outputBytes,
          nextIndex: () => index++,
          ...(input.egress ? { egress: input.egress } : {}),
          owner: deps.workspaceOwner,
          signal: ctx.cancellationSignal,
        },
        call.name,
        call.arguments,
      );
      await t.writeToolResult(input.turn, input.callId, outcome.content);
      return {
        ok: outcome.ok,
        summary: outcome.summary.slice(0, 200),
        exitCode: outcome.exitCode ?? null,
        tests: outcome.tests ?? null,
        finished: outcome.finished ?? null,
      };
    },

    async appendUserMessage(input: AppendUserMessageInput): Promise<void> {
      await transcript(input).writeUserMessage(input.turn, input.text);
    },
  };
}

/** Activities that need no particular host: planning and scouting. */
export function createAgentSharedActivities(deps: Pick<AgentActivityDeps, 'stateDir' | 'openai'>) {
  return {
    async planChange(input: PlanInput): Promise<PlanTurnResult> {
      if (!deps.openai) throw modelNotConfigured();
      return planTurn(deps.openai, input);
    },

    async scoutRepo(input: ScoutInput): Promise<RepoIndex> {
      return scoutRepo(deps.stateDir, input, deps.openai);
    },
  };
}

export type AgentHostActivities = ReturnType<typeof createAgentHostActivities>;
export type AgentSharedActivities = ReturnType<typeof createAgentSharedActivities>;
