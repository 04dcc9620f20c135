/**
 * Pacing of the requests to one forge budget (host + token) in this process: content-creating
 * requests (every method but GET and HEAD) go one at a time, each at least `minIntervalMs`
 * after the previous one finished, and a `Retry-After` from the forge holds back every request
 * until it has passed. It wraps `fetch`, so retries made by the clients' own plugins are paced too.
 */

const MAX_RETRY_AFTER_MS = 120_000;

/** Milliseconds since the epoch, sub-millisecond and never stepping back (Date.now floors and follows clock changes). */
const monotonicEpochMs = (): number => performance.timeOrigin + performance.now();

export class Pacer {
  private lastWriteEnd = 0;
  private notBefore = 0;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly minIntervalMs: number,
    private readonly now: () => number = monotonicEpochMs,
  ) {}

  /** Runs `send` when the budget allows; content-creating sends are serialised. */
  async run<T extends { headers: { get(name: string): string | null }; status: number }>(
    contentCreating: boolean,
    send: () => Promise<T>,
  ): Promise<T> {
    if (!contentCreating) {
      await this.waitUntil(this.notBefore);
      return this.observe(await send());
    }
    const previous = this.writes;
    let release = (): void => undefined;
    this.writes = new Promise<void>((r) => (release = r));
    try {
      await previous;
      await this.waitUntil(Math.max(this.notBefore, this.lastWriteEnd + this.minIntervalMs));
      try {
        return this.observe(await send());
      } finally {
        this.lastWriteEnd = this.now();
      }
    } finally {
      release();
    }
  }

  private observe<T extends { headers: { get(name: string): string | null }; status: number }>(response: T): T {
    if (response.status === 429 || response.status === 403 || response.status >= 500) {
      const after = retryAfterMs(response.headers.get('retry-after'), this.now());
      if (after !== null) this.notBefore = Math.max(this.notBefore, this.now() + Math.min(after, MAX_RETRY_AFTER_MS));
    }
    return response;
  }

  /** Node's timers may fire a few milliseconds early (they count from the loop's cached time): wait again. */
  private async waitUntil(at: number): Promise<void> {
    for (let wait = at - this.now(); wait > 0; wait = at - this.now()) {
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
  }
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date; null when absent or bad. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const pacers = new Map<string, Pacer>();

/** The one pacer of a budget in this process (every client of the same host + token shares it). */
export function pacerFor(budget: string, minIntervalMs: number): Pacer {
  let pacer = pacers.get(budget);
  if (!pacer || pacer.minIntervalMs !== minIntervalMs) {
    pacer = new Pacer(minIntervalMs);
    pacers.set(budget, pacer);
  }
  return pacer;
}

export const isContentCreating = (method: string | undefined): boolean =>
  !['GET', 'HEAD', 'OPTIONS'].includes((method ?? 'GET').toUpperCase());

/**
 * Sends one request through the pacer, and again after a 429, a 5xx or a lost connection
 * (waiting out `Retry-After`, else `baseMs` doubled per attempt), at most `maxRetries` times.
 * Returns the last answer, or null and why none came.
 */
export async function sendWithRetries(
  pacer: Pacer,
  method: string,
  send: () => Promise<Response>,
  retries: { maxRetries: number; baseMs: number },
): Promise<{ response: Response | null; lost: string }> {
  for (let attempt = 0; ; attempt++) {
    let response: Response | null = null;
    let lost = '';
    try {
      response = await pacer.run(isContentCreating(method), send);
    } catch (err) {
      lost = err instanceof Error ? err.message : String(err);
    }
    const status = response?.status ?? 0;
    const retryable = status === 0 || status === 429 || status >= 500;
    if (response?.ok || !retryable || attempt >= retries.maxRetries) return { response, lost };
    const after = retryAfterMs(response?.headers.get('retry-after') ?? null, Date.now());
    await new Promise((r) => setTimeout(r, after ?? retries.baseMs * 2 ** attempt));
  }
}

/** A `fetch` that goes through the pacer. */
export function pacedFetch(pacer: Pacer, inner: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    return pacer.run(isContentCreating(method), () => inner(input, init));
  };
}

/** Removes a secret from a text (error messages of clients quote requests and responses). */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}
