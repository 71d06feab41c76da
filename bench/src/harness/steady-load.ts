import { request } from 'undici';

/** Deadline of one request of the steady load (short answers; generous for a loaded 2-core machine). */
export const STEADY_LOAD_REQUEST_TIMEOUT_MS = 30_000;

export interface SteadyLoadOptions {
  /** Base URLs the workers take in turn (e.g. every proxy replica). */
  readonly urls: readonly string[];
  readonly concurrency: number;
  readonly model: string;
  readonly maxTokens: number;
}

export interface SteadyLoadResult {
  readonly ok: number;
  readonly failed: number;
  /** The first failures with their cause (status and body head, or the error). */
  readonly failures: readonly string[];
  readonly durationS: number;
  readonly perUrl: Record<string, { ok: number; failed: number }>;
}

const KEPT_FAILURES = 20;

/**
 * Constant load until stopped: `concurrency` workers, each sending one streamed completion after another, round
 * robin over the URLs, with a rotating session key so requests spread over the ring. A request counts as ok only
 * with HTTP 200 and a stream that ends with `[DONE]`; anything else is a failure with its cause.
 */
export class SteadyLoad {
  readonly #options: SteadyLoadOptions;
  readonly #workers: Promise<void>[] = [];
  readonly #startedMs = performance.now();
  #stopped = false;
  #ok = 0;
  #failed = 0;
  readonly #failures: string[] = [];
  readonly #perUrl: Record<string, { ok: number; failed: number }> = {};

  constructor(options: SteadyLoadOptions) {
    if (options.urls.length === 0) throw new Error('steady load needs at least one URL');
    this.#options = options;
    for (const url of options.urls) this.#perUrl[url] = { ok: 0, failed: 0 };
    for (let w = 0; w < options.concurrency; w++) this.#workers.push(this.#worker(w));
  }

  get ok(): number {
    return this.#ok;
  }

  get failed(): number {
    return this.#failed;
  }

  async #worker(w: number): Promise<void> {
    const { urls, model, maxTokens } = this.#options;
    for (let i = 0; !this.#stopped; i++) {
      const url = urls[(w + i) % urls.length] as string;
      const cause = await this.#one(url, `steady-${w}-${i % 64}`, model, maxTokens);
      const counts = this.#perUrl[url] as { ok: number; failed: number };
      if (cause === undefined) {
        this.#ok++;
        counts.ok++;
      } else {
        this.#failed++;
        counts.failed++;
        if (this.#failures.length < KEPT_FAILURES) this.#failures.push(`${url}: ${cause}`);
      }
    }
  }

  /** undefined when the request succeeded, else why it failed. */
  async #one(url: string, key: string, model: string, maxTokens: number): Promise<string | undefined> {
    try {
      const res = await request(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-session-id': key },
        body: JSON.stringify({ model, prompt: `steady load from ${key}`, max_tokens: maxTokens, stream: true }),
        signal: AbortSignal.timeout(STEADY_LOAD_REQUEST_TIMEOUT_MS),
      });
      const body = await res.body.text();
      if (res.statusCode !== 200) return `HTTP ${res.statusCode} ${body.slice(0, 200)}`;
      if (!body.includes('data: [DONE]')) return `stream ended without [DONE]: ...${body.slice(-200)}`;
      return undefined;
    } catch (err) {
      return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  }

  async stop(): Promise<SteadyLoadResult> {
    this.#stopped = true;
    await Promise.all(this.#workers);
    return {
      ok: this.#ok,
      failed: this.#failed,
      failures: [...this.#failures],
      durationS: (performance.now() - this.#startedMs) / 1000,
      perUrl: this.#perUrl,
    };
  }
}
