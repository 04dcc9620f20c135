/**
 * Model access through the `openai` package: any OpenAI-compatible endpoint (OpenAI, Azure,
 * vLLM, Ollama, llama.cpp) via OPENAI_BASE_URL and OPENAI_API_KEY. The key stays in the
 * worker's memory: never logged, never in workflow history, never in an error message.
 */
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';

export interface ModelClientOptions {
  apiKey: string;
  baseURL?: string | undefined;
  timeoutMs?: number;
  /** Retries inside one activity attempt (429 and 5xx, honouring Retry-After); Temporal retries the activity after that. */
  maxRetries?: number;
}

/** The client, or null when no key is configured (steps-mode changes need none). */
export function modelClientFromEnv(env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): OpenAI | null {
  const apiKey = env.OPENAI_API_KEY;
  if (!apiKey) return null;
  return createModelClient({ apiKey, baseURL: env.OPENAI_BASE_URL, timeoutMs });
}

export function createModelClient(options: ModelClientOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    timeout: options.timeoutMs ?? 120_000,
    maxRetries: options.maxRetries ?? 2,
  });
}

export function modelNotConfigured(): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'ModelNotConfigured',
    message:
      'no model endpoint is configured on this worker: set OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI endpoint) and restart it',
    nonRetryable: true,
  });
}

/**
 * Maps a failed model call to what Temporal should do: 400/401/403/404/422 will fail the same way
 * again (non-retryable, with the API's own message); 408, 409, 429, 5xx and connection errors are
 * retried with backoff by the activity's retry policy.
 */
export function classifyModelError(err: unknown): Error {
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    const message = `model request failed with HTTP ${status}: ${redact(err.message)}`;
    if (!retryable) return ApplicationFailure.create({ type: 'ModelRequestRejected', message, nonRetryable: true });
    return ApplicationFailure.create({ type: 'ModelUnavailable', message });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return ApplicationFailure.create({
      type: 'ModelUnavailable',
      message: `model endpoint unreachable: ${redact(err.message)}`,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Keys that an endpoint echoes back (e.g. "Incorrect API key provided: sk-...") never travel on. */
export function redact(text: string): string {
  return text
    .replace(/\b(sk|rk|pk)-[A-Za-z0-9_-]{6,}/g, '$1-[redacted]')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, '$1[redacted]');
}
