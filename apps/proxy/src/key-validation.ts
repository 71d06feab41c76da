// --api-key-validation-urls: a client's `Authorization: Bearer KEY` is valid when one of the URLs answers
// 200 to a GET carrying it, as vllm-router checks. Answers are cached per key for
// --api-key-validation-cache-secs (vllm-router caches valid keys for the life of the process, so a
// revoked key kept working until a restart); a URL that cannot be reached is not an answer and is not cached.
import { createHash } from 'node:crypto';
import { RouterError } from '@pdrouter/core';

export interface KeyValidatorOptions {
  readonly urls: readonly string[];
  readonly cacheMs: number;
  readonly timeoutMs: number;
  readonly nowMs?: () => number;
  readonly fetch?: typeof fetch;
}

interface Verdict {
  readonly valid: boolean;
  readonly untilMs: number;
}

/** Entries kept at most; the oldest go first (a client sending random keys cannot grow it without bound). */
export const KEY_CACHE_MAX_ENTRIES = 10_000;

export class KeyValidator {
  private readonly cache = new Map<string, Verdict>();
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly o: KeyValidatorOptions;
  private readonly now: () => number;
  private readonly get: typeof fetch;

  constructor(options: KeyValidatorOptions) {
    this.o = options;
    this.now = options.nowMs ?? (() => Date.now());
    this.get = options.fetch ?? fetch;
  }

  /** Throws 401 when the header carries no key or no URL accepts it, 503 when none could be asked. */
  async check(authorization: string | undefined): Promise<void> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new RouterError('unauthorized', 'missing API key: send Authorization: Bearer <key>');
    const key = match[1] as string;
    // Keys are cached by digest, never kept in memory as given.
    const id = createHash('sha256').update(key).digest('hex');
    const hit = this.cache.get(id);
    if (hit && hit.untilMs > this.now()) {
      if (!hit.valid) throw new RouterError('unauthorized', 'invalid API key');
      return;
    }
    let asking = this.pending.get(id);
    if (!asking) {
      asking = this.ask(key).finally(() => this.pending.delete(id));
      this.pending.set(id, asking);
    }
    const valid = await asking;
    this.remember(id, valid);
    if (!valid) throw new RouterError('unauthorized', 'invalid API key');
  }

  private remember(id: string, valid: boolean): void {
    this.cache.delete(id);
    this.cache.set(id, { valid, untilMs: this.now() + this.o.cacheMs });
    if (this.cache.size > KEY_CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }

  private async ask(key: string): Promise<boolean> {
    let answered = false;
    for (const url of this.o.urls) {
      try {
        const res = await this.get(url, {
          headers: { authorization: `Bearer ${key}` },
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        await res.body?.cancel();
        answered = true;
        if (res.status === 200) return true;
      } catch {
        // Unreachable or timed out: ask the next URL.
      }
    }
    if (!answered)
      throw new RouterError('upstream_error', 'no API key validation URL could be reached', { status: 503 });
    return false;
  }
}
