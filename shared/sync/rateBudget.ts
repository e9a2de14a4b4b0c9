/**
 * Keeps a reserve of each upstream registry's pull quota. Docker Hub (and others) report `RateLimit-Remaining` on
 * the HEADs the planner makes anyway; once a host's remaining count reaches the reserve, the run stops asking that
 * host and reports its images as skipped, so a timer run never burns the quota the platform's own pulls need. The
 * last figure per host is stored, so the next run can skip early instead of spending a HEAD to learn it.
 */
import type { RateLimit } from "../registry/client";
import type { RegistryLimit } from "../store/syncStore";

export class RateLimitReserveError extends Error {
  constructor(
    readonly host: string,
    readonly remaining: number,
    readonly resetAt: string | undefined,
  ) {
    super(
      `skipped: ${host} has ${remaining} pulls left, at or below the reserve` +
        (resetAt ? ` (window resets by ${resetAt})` : ""),
    );
    this.name = "RateLimitReserveError";
  }
}

export class RateBudget {
  private readonly observed = new Map<string, RegistryLimit>();
  private readonly thisRun = new Map<string, RegistryLimit>();

  constructor(
    private readonly reserve: number,
    private readonly now: () => Date,
    /** Limits stored by earlier runs. */
    previous: ReadonlyMap<string, RegistryLimit> = new Map(),
  ) {
    for (const [host, limit] of previous) {
      // A stored figure only counts while its window has not reset.
      if (limit.resetAt && Date.parse(limit.resetAt) > now().getTime()) this.observed.set(host, limit);
    }
  }

  /** Throws when `host` is at or below the reserve. */
  check(host: string): void {
    const limit = this.observed.get(host);
    if (limit && limit.remaining <= this.reserve) throw new RateLimitReserveError(host, limit.remaining, limit.resetAt);
  }

  observe(host: string, rateLimit: RateLimit | undefined): void {
    if (rateLimit?.remaining === undefined) return;
    const previous = this.thisRun.get(host);
    // Concurrent HEADs answer out of order; within one run the smallest count is the freshest.
    if (previous && previous.remaining <= rateLimit.remaining) return;
    const at = this.now();
    const limit: RegistryLimit = {
      host,
      remaining: rateLimit.remaining,
      observedAt: at.toISOString(),
      // Docker Hub's window slides: the whole quota is back at the latest one window from now.
      ...(rateLimit.windowSeconds !== undefined
        ? { resetAt: new Date(at.getTime() + rateLimit.windowSeconds * 1000).toISOString() }
        : {}),
    };
    this.thisRun.set(host, limit);
    this.observed.set(host, limit);
  }

  /** What this run learned, for the store. */
  learned(): RegistryLimit[] {
    return [...this.thisRun.values()];
  }
}
