/** The one retry policy: exponential backoff with full jitter on network errors, 5xx and 429, honouring Retry-After. */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is returned so the caller can skip the host. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** An outcome worth another attempt; `retryAfterMs` is the server's own wish, when it gave one. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RetryableError";
  }
}

/** RFC 9110 IMF-fixdate, the only HTTP-date form a sender may generate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * RFC 9110 §10.2.3: `Retry-After` is delay-seconds (a non-negative integer) or an HTTP-date. Anything else (`1.5`,
 * `-1`, a date in another form) is ignored, and the backoff decides; Date.parse alone would read `1.5` as a date.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!IMF_FIXDATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/** A connection that failed, was refused or was cut off, named with the request it broke: worth retrying. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetworkError";
  }
}

const NETWORK_CODES =
  /^(?:ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ERR_STREAM_PREMATURE_CLOSE|UND_ERR_\w+|HPE_\w+)$/;

/**
 * Node's fetch reports a refused or reset connection as a TypeError with a cause; node:http (streamed uploads) as an
 * Error with a `code` such as ECONNRESET or EPIPE, or "socket hang up". All are worth retrying.
 */
export function isNetworkError(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof TypeError)
    return /fetch failed|terminated|socket|ECONN|EPIPE|UND_ERR/i.test(`${err.message} ${String(err.cause)}`);
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (typeof code === "string" && NETWORK_CODES.test(code)) || /^socket hang up$/i.test(err.message);
}

/** A short reason for a network error: the socket's code or message, never a URL (which may carry upload state). */
export function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, throws something not retryable, or the attempts run out. `onRetry` sees each
 * retry (for counting); the last error is rethrown as it was.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: { sleep?: (ms: number) => Promise<void>; onRetry?: (err: unknown, delayMs: number) => void } = {},
): Promise<T> {
  const wait = hooks.sleep ?? sleep;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const retryable = err instanceof RetryableError || isNetworkError(err);
      if (!retryable || n >= policy.maxAttempts) throw err;
      const asked = err instanceof RetryableError ? err.retryAfterMs : undefined;
      if (asked !== undefined && asked > policy.maxRetryAfterMs) throw err;
      const delay = asked !== undefined ? asked : backoffDelay(n, policy);
      hooks.onRetry?.(err, delay);
      await wait(delay);
    }
  }
}
