/**
 * One sync run: plan → copy what is outdated → record → metrics. One failing image never stops the others; with
 * `reportOnly` nothing is copied and the counts are still recorded. A run lock keeps overlapping runs apart.
 */
import type { RegistryClient } from "../registry/client";
import { KnownBlobs, copyImage, type CopyProgress } from "../registry/copy";
import { mapSettled } from "../registry/limiter";
import { countInto, newTally } from "../registry/transport";
import type { RunLock } from "../store/runLock";
import { newRunId, type ImageStatus, type SyncStore } from "../store/syncStore";
import type { MetricsSink } from "../telemetry/metrics";
import type { SyncConfig } from "./configTypes";
import { RateBudget } from "./rateBudget";
import {
  OUTDATED_STATES,
  countStates,
  outdated,
  type ImageResult,
  type PlanItem,
  type RunRecord,
  type RunTrigger,
} from "./model";
import { planSync } from "./planner";

export interface RunOptions {
  client: RegistryClient;
  config: SyncConfig;
  trigger: RunTrigger;
  reportOnly?: boolean;
  /** HEAD every target tag this run. Absent: decided by `verifyEvery`. */
  verifyTarget?: boolean;
  /**
   * Verify the target (HEAD every tag, trust nothing we wrote) on every Nth run: when none of the last N-1 stored
   * runs did. Needs a store; without one every run verifies, since there is nothing to trust.
   */
  verifyEvery?: number;
  /**
   * Queue mode: outdated items go here (one message each) instead of being copied in this run; each is recorded as
   * `queued`, and the copy function records the copy.
   */
  enqueue?: (items: readonly PlanItem[], runId: string) => Promise<void>;
  /** Per-image copy progress, for the CLI's progress lines. */
  onProgress?: (item: PlanItem, event: CopyProgress) => void;
  /** Upstream pull quota (RateLimit-Remaining) kept in reserve per host. Default 10. */
  rateLimitReserve?: number;
  store?: SyncStore;
  lock?: RunLock;
  metrics?: MetricsSink;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface RunOutcome {
  run: RunRecord;
  results: ImageResult[];
  warnings: string[];
  /** Set when another run holds the lock and this one did nothing. */
  skipped?: string;
}

const LOCK_TTL_MS = 30 * 60 * 1000;
export const DEFAULT_RATE_LIMIT_RESERVE = 10;

async function shouldVerify(options: RunOptions): Promise<boolean> {
  if (options.verifyTarget !== undefined) return options.verifyTarget;
  if (options.verifyEvery === undefined) return false;
  if (!options.store || options.verifyEvery <= 1) return true;
  const recent = await options.store.listRuns(options.verifyEvery - 1);
  return !recent.some((r) => r.verified);
}

export async function runSync(options: RunOptions): Promise<RunOutcome> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const runId = newRunId(started.getTime());
  const lease = options.lock ? await options.lock.acquire("sync", runId, LOCK_TTL_MS) : undefined;
  if (options.lock && !lease) {
    const run = emptyRun(runId, options, started);
    return {
      run: { ...run, status: "failed", errorSummary: "another run holds the lock" },
      results: [],
      warnings: [],
      skipped: "another run holds the lock",
    };
  }
  try {
    const tally = newTally();
    const status = options.store ? await options.store.statusByKey() : undefined;
    const verified = await shouldVerify(options);
    const rateBudget = new RateBudget(
      options.rateLimitReserve ?? DEFAULT_RATE_LIMIT_RESERVE,
      now,
      options.store ? await options.store.limits() : undefined,
    );
    const { results, warnings } = await countInto(tally, async () => {
      const plan = await planSync(options.client, options.config, {
        ...(status ? { status } : {}),
        verifyTarget: verified,
        rateBudget,
        now,
      });
      const knownBlobs = new KnownBlobs();
      const queued = options.enqueue && !options.reportOnly ? plan.items.filter((i) => OUTDATED_STATES.has(i.state)) : [];
      if (queued.length) await options.enqueue!(queued, runId);
      const settled = await mapSettled(plan.items, options.config.defaults.concurrency, (item) =>
        queued.includes(item)
          ? Promise.resolve<ImageResult>({ ...item, action: "queued", stateAfter: item.state, bytes: 0, durationMs: 0 })
          : execute(options, item, knownBlobs),
      );
      return {
        results: settled.map((s, i) => (s.status === "fulfilled" ? s.value : failed(plan.items[i]!, s.reason, 0))),
        warnings: plan.warnings,
      };
    });
    const finished = now();
    const countsBefore = countStates(results);
    const countsAfter = countStates(results.map((r) => ({ state: r.stateAfter })));
    const failures = results.filter((r) => r.action === "failed");
    const run: RunRecord = {
      ...emptyRun(runId, options, started),
      verified,
      finishedAt: finished.toISOString(),
      status:
        failures.length === 0 && countsAfter.error === 0
          ? "succeeded"
          : results.length > failures.length
            ? "partial"
            : "failed",
      countsBefore,
      countsAfter,
      copied: results.filter((r) => r.action === "copied").length,
      failed: failures.length,
      bytes: results.reduce((n, r) => n + r.bytes, 0),
      requests: tally.total,
      durationMs: finished.getTime() - started.getTime(),
      ...(failures.length || countsAfter.error
        ? {
            errorSummary: results
              .filter((r) => r.error || r.state === "error")
              .map((r) => `${r.key}: ${r.error ?? r.reason}`)
              .join("\n"),
          }
        : {}),
    };
    if (options.store) {
      await options.store.saveRun(run);
      await options.store.saveResults(runId, results);
      await options.store.saveStatuses(results.map((r) => statusOf(r, runId, finished, status?.get(r.key))));
      for (const limit of rateBudget.learned()) await options.store.saveLimit(limit);
    }
    emitMetrics(options, run);
    options.log?.(
      `run ${runId}: ${results.length} tags, outdated ${outdated(countsBefore)} → ${outdated(countsAfter)}, copied ${run.copied}, failed ${run.failed}, ${run.requests} requests`,
    );
    return { run, results, warnings };
  } finally {
    if (lease) await options.lock!.release(lease);
  }
}

async function execute(options: RunOptions, item: PlanItem, knownBlobs: KnownBlobs): Promise<ImageResult> {
  if (item.state === "error") return { ...item, action: "skipped", stateAfter: item.state, bytes: 0, durationMs: 0 };
  if (!OUTDATED_STATES.has(item.state))
    return { ...item, action: "unchanged", stateAfter: item.state, bytes: 0, durationMs: 0 };
  if (options.reportOnly) return { ...item, action: "reported", stateAfter: item.state, bytes: 0, durationMs: 0 };
  return copyPlanItem(options.client, item, knownBlobs, options.onProgress && ((e) => options.onProgress!(item, e)));
}

/** Copies one outdated plan item (its tag and pin tag) by digest; a failure is the item's result, never a throw. */
export async function copyPlanItem(
  client: RegistryClient,
  item: PlanItem,
  knownBlobs: KnownBlobs = new KnownBlobs(),
  onProgress?: (event: CopyProgress) => void,
): Promise<ImageResult> {
  const started = Date.now();
  try {
    const tags = [item.target.tag, ...(item.pinTag ? [item.pinTag] : [])];
    const result = await copyImage(
      client,
      { registry: item.source.registry, repository: item.source.repository, digest: item.sourceDigest! },
      item.target,
      tags,
      { knownBlobs, ...(item.platforms ? { platforms: item.platforms } : {}), ...(onProgress ? { onProgress } : {}) },
    );
    return {
      ...item,
      action: "copied",
      stateAfter: "in-sync",
      targetDigest: result.digest,
      bytes: result.bytes,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    return failed(item, err, Date.now() - started);
  }
}

function failed(item: PlanItem, err: unknown, durationMs: number): ImageResult {
  return {
    ...item,
    action: "failed",
    stateAfter: item.state,
    bytes: 0,
    durationMs,
    error: err instanceof Error ? err.message : String(err),
  };
}

function emptyRun(runId: string, options: RunOptions, started: Date): RunRecord {
  const zero = countStates([]);
  return {
    runId,
    trigger: options.trigger,
    startedAt: started.toISOString(),
    status: "running",
    reportOnly: options.reportOnly ?? false,
    verified: false,
    countsBefore: zero,
    countsAfter: zero,
    copied: 0,
    failed: 0,
    bytes: 0,
    requests: 0,
    durationMs: 0,
  };
}

export function statusOf(r: ImageResult, runId: string, at: Date, previous: ImageStatus | undefined): ImageStatus {
  const copied = r.action === "copied";
  // What we wrote stays trusted while the tag still holds it.
  const written = copied
    ? r.targetDigest
    : previous?.writtenDigest === r.targetDigest
      ? previous?.writtenDigest
      : undefined;
  const source = `${r.source.registry}/${r.source.repository}${r.source.tag ? `:${r.source.tag}` : ""}`;
  const targetDigest = r.targetDigest;
  return {
    key: r.key,
    targetRegistry: r.target.registry,
    targetRepository: r.target.repository,
    tag: r.target.tag,
    source,
    state: r.stateAfter,
    lastCheckedAt: at.toISOString(),
    lastRunId: runId,
    origin: r.origin,
    ...(r.sourceDigest ? { sourceDigest: r.sourceDigest } : {}),
    ...(targetDigest ? { targetDigest } : {}),
    ...(copied
      ? { lastCopiedAt: at.toISOString() }
      : previous?.lastCopiedAt
        ? { lastCopiedAt: previous.lastCopiedAt }
        : {}),
    ...(written ? { writtenDigest: written } : {}),
    ...(r.error || r.state === "error" ? { lastError: r.error ?? r.reason ?? "" } : {}),
  };
}

function emitMetrics(options: RunOptions, run: RunRecord): void {
  const m = options.metrics;
  if (!m) return;
  const dims = { targetRegistry: options.config.target.registry, trigger: run.trigger };
  m.emit("outdated_images", outdated(run.countsAfter), dims);
  m.emit("outdated_before_sync", outdated(run.countsBefore), dims);
  m.emit("synced", run.copied, dims);
  m.emit("failed", run.failed, dims);
  m.emit("source_missing", run.countsAfter["source-missing"], dims);
  m.emit("sync_runs", 1, dims);
}
