/**
 * One sync run: plan → copy what is outdated → retention → record → metrics. One failing image never stops the
 * others; with `reportOnly` nothing is copied (nor deleted) and the counts are still recorded. A run lock keeps
 * overlapping runs apart. With `ports` (shared/sync/ports.ts; ACR implements them, built per run by the runtime)
 * targets are listed in bulk, copied by stream or import, guarded against moving a locked tag, and pruned of old pin
 * tags.
 */
import type { RegistryClient } from "../registry/client";
import type { Manifest } from "../registry/client";
import { KnownBlobs, copyImage, type CopyProgress } from "../registry/copy";
import { mapSettled } from "../registry/limiter";
import { countInto, newTally } from "../registry/transport";
import type { RunLock } from "../store/runLock";
import { newRunId, type ImageStatus, type SyncStore } from "../store/syncStore";
import type { MetricsSink } from "../telemetry/metrics";
import type { SyncConfig } from "./configTypes";
import { RateBudget } from "./rateBudget";
import {
  NOT_COPIED,
  OUTDATED_STATES,
  countStates,
  outdated,
  type ImageResult,
  type PlanItem,
  type RunRecord,
  type RunTrigger,
} from "./model";
import { allEntries, entryIdentity, resumeEntry } from "./budget";
import { planSync } from "./planner";
import { TagLockedError, type RetentionRecord, type SyncPorts } from "./ports";
import { bringReferrers } from "./referrersStep";
import type { TrustResolver } from "../supply/trust";
import { retain } from "./retentionStep";

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
  /** Keys for `verify` policies; built by the runtime with its SecretProvider for Key Vault keys. */
  trust?: TrustResolver;
  /** Per-image copy progress, for the CLI's progress lines. */
  onProgress?: (item: PlanItem, event: CopyProgress) => void;
  /** The run lock's lease and how often it is renewed (tests shorten both). */
  lockTtlMs?: number;
  lockRenewMs?: number;
  /** Upstream pull quota (RateLimit-Remaining) kept in reserve per host. Default 10. */
  rateLimitReserve?: number;
  store?: SyncStore;
  lock?: RunLock;
  metrics?: MetricsSink;
  now?: () => Date;
  log?: (line: string) => void;
  /** Vendor capabilities for this run (ACR's, one catalog per run); absent: HEADs, streamed copies, no locks or retention. */
  ports?: SyncPorts;
  /**
   * The config is the whole sync config (not narrowed to one image): stored rows of target repositories no entry
   * writes any more are marked `removed`.
   */
  markRemoved?: boolean;
  /**
   * The time budget in ms (SYNC_BUDGET_SECONDS): no entry is planned and no copy started after it, what was not
   * reached is recorded as a cursor (with a store) and the next run starts there. Absent: no limit.
   */
  budgetMs?: number;
}

export interface RunOutcome {
  run: RunRecord;
  results: ImageResult[];
  warnings: string[];
  /** What retention deleted, or would delete in report mode, in this run's ACR targets. */
  retention?: RetentionRecord[];
  /** Set when another run holds the lock and this one did nothing. */
  skipped?: string;
}

/**
 * The run lock is a short lease renewed while the run lives: a run that dies (a crash, a killed instance) blocks the
 * next one for at most this long, and a long run never loses its lease to a second one.
 */
export const LOCK_TTL_MS = 5 * 60 * 1000;
const LOCK_RENEW_MS = 60 * 1000;
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
  const ttl = options.lockTtlMs ?? LOCK_TTL_MS;
  const lease = options.lock ? await options.lock.acquire("sync", runId, ttl) : undefined;
  if (options.lock && !lease) {
    const run = emptyRun(runId, options, started);
    return {
      run: { ...run, status: "failed", errorSummary: "another run holds the lock" },
      results: [],
      warnings: [],
      skipped: "another run holds the lock",
    };
  }
  const heartbeat = lease
    ? setInterval(() => {
        void options.lock!.acquire("sync", runId, ttl).then(
          (renewed) => {
            if (!renewed) options.log?.(`run ${runId}: the run lock was taken over by another run`);
          },
          (err: unknown) =>
            options.log?.(
              `run ${runId}: renewing the run lock failed: ${err instanceof Error ? err.message : String(err)}`,
            ),
        );
      }, options.lockRenewMs ?? LOCK_RENEW_MS)
    : undefined;
  heartbeat?.unref();
  // The lease was taken from a run that died mid-run: what it left at the target is asked for, never assumed absent.
  const recovering = lease?.tookOver === true;
  if (recovering) options.log?.(`run ${runId}: the previous run did not finish; asking the target before sending`);
  try {
    const tally = newTally();
    const status = options.store ? await options.store.statusByKey() : undefined;
    const verified = await shouldVerify(options);
    const rateBudget = new RateBudget(
      options.rateLimitReserve ?? DEFAULT_RATE_LIMIT_RESERVE,
      now,
      options.store ? await options.store.limits() : undefined,
    );
    const entries = allEntries(options.config);
    const budgeted = options.budgetMs !== undefined;
    const deadline = budgeted ? started.getTime() + options.budgetMs! : undefined;
    const cursor = budgeted && options.store ? await options.store.getCursor() : undefined;
    const startEntry = resumeEntry(cursor, entries);
    let nextEntry = startEntry;
    let notReached = 0;
    const { results, warnings, retention } = await countInto(tally, async () => {
      const locks = options.ports?.locks;
      const plan = await planSync(options.client, options.config, {
        ...(status ? { status } : {}),
        verifyTarget: verified,
        rateBudget,
        now,
        ...(options.ports?.lister ? { lister: options.ports.lister } : {}),
        ...(locks ? { locks } : {}),
        ...(options.trust ? { trust: options.trust } : {}),
        ...(budgeted ? { startEntry, deadline: deadline! } : {}),
        ...(recovering ? { recovering } : {}),
        ...(!options.reportOnly && !options.enqueue ? { prefetchMissing: true } : {}),
      });
      nextEntry = plan.nextEntry;
      notReached = plan.notReached;
      const knownBlobs = new KnownBlobs();
      const queued =
        options.enqueue && !options.reportOnly
          ? plan.items.filter((i) => OUTDATED_STATES.has(i.state) && !NOT_COPIED.has(i.state) && !i.locked)
          : [];
      if (queued.length) await options.enqueue!(queued, runId);
      // A set, not the array: a run that queues 10,000 items would otherwise scan it once per item.
      const queuedSet = new Set<PlanItem>(queued);
      // Tags of one image (same content, same target repository) are copied one after another: the first moves the
      // content, the next only writes its tag. Side by side they would write the same manifests twice at once.
      const sameContent = new Map<string, Promise<unknown>>();
      const deferred = new Set<number>();
      const settled = await mapSettled(plan.items, options.config.defaults.concurrency, (item, i) => {
        if (
          deadline !== undefined &&
          !queuedSet.has(item) &&
          OUTDATED_STATES.has(item.state) &&
          !item.locked &&
          !options.reportOnly &&
          plan.entryOfItem[i] !== plan.reached[0] &&
          now().getTime() >= deadline
        ) {
          // Out of time before this copy started: left outdated, and the cursor goes back to its entry. The first
          // entry's copies always run, so every run makes progress and the cursor never sticks.
          deferred.add(i);
          return Promise.resolve<ImageResult>({
            ...item,
            action: "skipped",
            stateAfter: item.state,
            reason: "time budget reached before the copy started; the next run starts here",
            bytes: 0,
            durationMs: 0,
          });
        }
        if (queuedSet.has(item)) {
          return Promise.resolve<ImageResult>({
            ...item,
            action: "queued",
            stateAfter: item.state,
            bytes: 0,
            durationMs: 0,
          });
        }
        const key = `${item.target.registry}/${item.target.repository}@${item.sourceDigest}|${JSON.stringify(item.platforms ?? "all")}`;
        const before = sameContent.get(key);
        // Behind a copy of the same content, the repository is no longer what the plan listed: its hint is dropped,
        // and this copy finds the manifest there and writes only its tag.
        const { targetRepositoryEmpty: _listedEmpty, ...behind } = item;
        const done = (before ?? Promise.resolve()).then(() =>
          execute(options, before ? behind : item, knownBlobs, {
            recovering,
            sourceManifest: plan.prefetched.get(item),
          }),
        );
        sameContent.set(
          key,
          done.catch(() => undefined),
        );
        return done;
      });
      const results = settled.map((s, i) => (s.status === "fulfilled" ? s.value : failed(plan.items[i]!, s.reason, 0)));
      const warnings = [...plan.warnings];
      if (deferred.size) {
        // The next run starts at the earliest entry (in this run's order) with a deferred copy.
        const firstDeferred = new Set([...deferred].map((i) => plan.entryOfItem[i]!));
        nextEntry = plan.reached.find((e) => firstDeferred.has(e)) ?? nextEntry;
      }
      const cutShort = plan.notReached > 0 || deferred.size > 0;
      if (cutShort) {
        const at = entries[nextEntry];
        warnings.push(
          `time budget of ${Math.round(options.budgetMs! / 1000)} s reached: ${plan.notReached} of ${entries.length} entries not planned, ` +
            `${deferred.size} copies deferred; the next run starts at ${at ? entryIdentity(at) : `entry ${nextEntry}`}` +
            (options.ports?.retention ? "; retention skipped in this run" : ""),
        );
      }
      // Retention judges a repository by the whole run's results: a run cut short has not seen them all.
      const retention = cutShort
        ? undefined
        : await retain(
            {
              retention: options.ports?.retention,
              config: options.config,
              reportOnly: options.reportOnly ?? false,
              store: options.store,
            },
            results,
            status,
            runId,
            now,
            warnings,
          );
      return { results, warnings, retention };
    });
    const finished = now();
    const countsBefore = countStates(results);
    const countsAfter = countStates(results.map((r) => ({ state: r.stateAfter })));
    const failures = results.filter((r) => r.action === "failed" || r.stateAfter === "error");
    const fine = results.filter((r) => r.action !== "failed" && r.stateAfter !== "error").length;
    const run: RunRecord = {
      ...emptyRun(runId, options, started),
      verified,
      finishedAt: finished.toISOString(),
      status: fine === results.length ? "succeeded" : fine === 0 ? "failed" : "partial",
      countsBefore,
      countsAfter,
      copied: results.filter((r) => r.action === "copied").length,
      failed: failures.length,
      bytes: results.reduce((n, r) => n + r.bytes, 0),
      requests: tally.total,
      durationMs: finished.getTime() - started.getTime(),
      ...(failures.length
        ? {
            errorSummary: results
              .filter((r) => r.error || r.state === "error")
              .map((r) => `${r.key}: ${r.error ?? r.reason}`)
              .join("\n"),
          }
        : {}),
      ...(retention ? { retention: retention.counts } : {}),
    };
    if (options.store) {
      // The run row last: a run that is listed always has its results and statuses (a crash in between leaves
      // results without a run row, which no reader lists, rather than a finished-looking run with nothing in it).
      await options.store.saveResults(runId, results);
      await options.store.saveStatuses(results.map((r) => statusOf(r, runId, finished, status?.get(r.key))));
      if (options.markRemoved && status) {
        await options.store.saveStatuses(removedStatuses(options.config, status.values(), runId, finished));
      }
      for (const limit of rateBudget.learned()) await options.store.saveLimit(limit);
      if (budgeted && entries.length && (cursor?.entry !== nextEntry || notReached > 0 || cursor.notReached > 0)) {
        await options.store.saveCursor({
          entry: nextEntry,
          entryKey: entryIdentity(entries[nextEntry]!),
          total: entries.length,
          notReached,
          runId,
          at: finished.toISOString(),
        });
      }
      if (retention?.records.length) await options.store.saveRetention(runId, retention.records);
      await options.store.saveRun(run);
    }
    emitMetrics(options, run);
    options.log?.(
      `run ${runId}: ${results.length} tags, outdated ${outdated(countsBefore)} → ${outdated(countsAfter)}, copied ${run.copied}, failed ${run.failed}, ${run.requests} requests` +
        (retention
          ? `, retention (${retention.counts.mode}) ${retention.counts.reported} reported, ${retention.counts.deleted} deleted, ${retention.counts.failed} failed`
          : ""),
    );
    return { run, results, warnings, ...(retention ? { retention: retention.records } : {}) };
  } finally {
    clearInterval(heartbeat);
    if (lease) await options.lock!.release(lease);
  }
}

async function execute(
  options: RunOptions,
  item: PlanItem,
  knownBlobs: KnownBlobs,
  run: { recovering: boolean; sourceManifest: Manifest | undefined },
): Promise<ImageResult> {
  if (item.state === "error") return { ...item, action: "skipped", stateAfter: item.state, bytes: 0, durationMs: 0 };
  // Held back by the signature gate: reported (outdated), never copied.
  if (NOT_COPIED.has(item.state))
    return { ...item, action: "skipped", stateAfter: item.state, bytes: 0, durationMs: 0 };
  if (!OUTDATED_STATES.has(item.state))
    return { ...item, action: "unchanged", stateAfter: item.state, bytes: 0, durationMs: 0 };
  if (options.reportOnly) return { ...item, action: "reported", stateAfter: item.state, bytes: 0, durationMs: 0 };
  // Locked in ACR: the drift is the report; the tag is not touched.
  if (item.locked) return { ...item, action: "skipped", stateAfter: item.state, bytes: 0, durationMs: 0 };
  return copyPlanItem(
    options.client,
    item,
    knownBlobs,
    options.onProgress && ((e) => options.onProgress!(item, e)),
    options.ports,
    {
      planIsFresh: true,
      askFirst: run.recovering,
      ...(run.sourceManifest ? { sourceManifest: run.sourceManifest } : {}),
    },
  );
}

/**
 * Copies one outdated plan item (its tag and pin tag) by digest; a failure is the item's result, never a throw.
 * Without a copier port it streams through copyImage; with one (ACR's), the copier decides stream or import and
 * guards locks.
 */
export async function copyPlanItem(
  client: RegistryClient,
  item: PlanItem,
  knownBlobs: KnownBlobs = new KnownBlobs(),
  onProgress?: (event: CopyProgress) => void,
  ports?: SyncPorts,
  run: {
    /** The item comes from this run's plan, which has just read its target tag: the copy need not read it again. */
    planIsFresh: boolean;
    /** This run follows one that died mid-run: ask about every blob before sending it. */
    askFirst: boolean;
    /** The source manifest, read by the plan. */
    sourceManifest?: Manifest;
  } = { planIsFresh: false, askFirst: true },
): Promise<ImageResult> {
  const started = Date.now();
  if (item.referrersOnly && item.referrers && item.targetDigest) {
    // The image is in sync; only referrers are new upstream. No image copy (and no ACR import) for them.
    try {
      const referrersCopied = await bringReferrers(client, item, item.targetDigest, knownBlobs);
      return {
        ...item,
        action: "copied",
        stateAfter: "in-sync",
        bytes: 0,
        durationMs: Date.now() - started,
        referrersCopied,
      };
    } catch (err) {
      return failed(item, err, Date.now() - started);
    }
  }
  // The pin tag first: if the floating tag is written, its pin is already there, so a run that trusts the tag
  // never leaves the pin missing.
  const tags = [...(item.pinTag ? [item.pinTag] : []), item.target.tag];
  const source = { registry: item.source.registry, repository: item.source.repository, digest: item.sourceDigest! };
  const streamOptions = {
    knownBlobs,
    ...(run.planIsFresh ? { knownTargetTags: new Map([[item.target.tag, item.targetDigest]]) } : {}),
    ...(run.planIsFresh && item.targetRepositoryEmpty ? { targetRepositoryEmpty: true } : {}),
    ...(run.askFirst ? { askFirst: true } : {}),
    ...(run.sourceManifest ? { sourceManifest: run.sourceManifest } : {}),
    ...(item.platforms ? { platforms: item.platforms } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
  try {
    if (!ports?.copier) {
      const result = await copyImage(client, source, item.target, tags, streamOptions);
      const referrersCopied = item.referrers && (await bringReferrers(client, item, result.digest, knownBlobs));
      return {
        ...item,
        action: "copied",
        stateAfter: "in-sync",
        targetDigest: result.digest,
        bytes: result.bytes,
        durationMs: Date.now() - started,
        ...(referrersCopied ? { referrersCopied } : {}),
      };
    }
    const copier = ports.copier(async (job) => {
      const r = await copyImage(client, job.source, job.target, job.tags, streamOptions);
      return { digest: r.digest, bytes: r.bytes };
    });
    const out = await copier({
      source,
      target: { registry: item.target.registry, repository: item.target.repository },
      tags,
      ...(item.platforms ? { platforms: item.platforms } : {}),
    });
    const referrersCopied = item.referrers && (await bringReferrers(client, item, out.digest, knownBlobs));
    return {
      ...item,
      action: "copied",
      stateAfter: "in-sync",
      targetDigest: out.digest,
      bytes: out.bytes,
      durationMs: Date.now() - started,
      ...(referrersCopied ? { referrersCopied } : {}),
      via: out.via,
      ...(out.fallback ? { fallback: out.fallback } : {}),
      ...(out.lockError ? { lockError: out.lockError } : {}),
    };
  } catch (err) {
    if (err instanceof TagLockedError) {
      // Found locked at copy time (the plan did not know): reported as drift, never forced, not a failure.
      return {
        ...item,
        action: "skipped",
        stateAfter: item.state,
        ...(err.tag === item.target.tag ? { targetDigest: err.lockedDigest } : {}),
        locked: true,
        bytes: 0,
        durationMs: Date.now() - started,
        error: err.message,
      };
    }
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

/** Rows whose target repository no entry of `config` writes: kept for history, marked `removed`. */
export function removedStatuses(
  config: SyncConfig,
  statuses: Iterable<ImageStatus>,
  runId: string,
  at: Date,
): ImageStatus[] {
  const written = new Set(
    [...config.images, ...config.serviceConfigs].map((e) => `${e.target.registry}/${e.target.repository}`),
  );
  const out: ImageStatus[] = [];
  for (const s of statuses) {
    if (s.state === "removed" || written.has(`${s.targetRegistry}/${s.targetRepository}`)) continue;
    out.push({ ...s, state: "removed", lastCheckedAt: at.toISOString(), lastRunId: runId });
  }
  return out;
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
    ...supplyColumns(r, previous),
  };
}

/** Provenance of the row: who signed the source digest (kept while it is the same digest), what referrers came along. */
function supplyColumns(r: ImageResult, previous: ImageStatus | undefined): Partial<ImageStatus> {
  const out: Partial<ImageStatus> = {};
  if (r.signedBy && r.sourceDigest && r.stateAfter !== "unverified") {
    out.signedBy = r.signedBy;
    out.verifiedDigest = r.sourceDigest;
  }
  if (r.stateAfter === "unverified") out.lastError = r.reason ?? "unverified";
  const referrers = r.referrersCopied ?? (previous?.sourceDigest === r.sourceDigest ? previous?.referrers : undefined);
  if (referrers?.length && r.referrers) out.referrers = referrers;
  return out;
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
