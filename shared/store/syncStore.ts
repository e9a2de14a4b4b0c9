/**
 * Runs, per-image results and the latest status per mirrored tag, in Table Storage.
 * - SyncRuns: PK `run`, RK = run id (newest first by construction).
 * - SyncResults: PK = run id, RK = encoded image key; written ≤ 100 per transaction.
 * - ImageStatus: PK = encoded target repository, RK = encoded tag; the source of the API and the outdated count.
 * - RegistryLimits: PK `host`, RK = encoded host; the last rate-limit reading, so the next run can skip early.
 * - SyncRuns also holds the plan cursor: PK `cursor`, RK `sync`; where the next timer run starts when the last one
 *   ran out of its time budget (shared/sync/budget.ts). `listRuns` reads PK `run` only.
 * - Retention: PK = run id, RK = encoded `registry/repository:tag` or `registry/repository@digest`; every pin tag and
 *   manifest retention deleted (or, in report mode, would delete) in that run.
 */
import { odata, type TableEntityResult } from "@azure/data-tables";
import { randomBytes } from "node:crypto";
import type { PlanCursor } from "../sync/budget";
import type { RetentionRecord } from "../sync/ports";
import type { Counts, ImageResult, ImageState, RetentionCounts, RunRecord } from "../sync/model";
import { emptyCounts } from "../sync/model";
import { decodeKey, encodeKey, newestFirstKey, tableKey } from "./keys";
import { TABLES, Tables, int64, toNumber, truncate, upsertBatched } from "./tables";

export interface ImageStatus {
  key: string;
  targetRegistry: string;
  targetRepository: string;
  tag: string;
  source: string;
  sourceDigest?: string;
  targetDigest?: string;
  state: ImageState;
  lastCheckedAt: string;
  lastCopiedAt?: string;
  /** The digest this tool itself last wrote to the tag, so a later run may trust it without a HEAD. */
  writtenDigest?: string;
  /** Signature gate: the source digest last verified, and by which key (`cosign sha256:<fingerprint>`). */
  verifiedDigest?: string;
  signedBy?: string;
  /** Referrers the last copy brought along (`artifactType@digest`, sorted). */
  referrers?: string[];
  lastError?: string;
  lastRunId: string;
  origin: string;
}

export interface RegistryLimit {
  host: string;
  remaining: number;
  resetAt?: string;
  observedAt: string;
}

type Row = TableEntityResult<Record<string, unknown>>;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Rows per Table Storage query page: the service's maximum. */
export const STATUS_PAGE = 1000;

export function newRunId(now = Date.now()): string {
  return `${newestFirstKey(now)}-${randomBytes(4).toString("hex")}`;
}

export class SyncStore {
  constructor(private readonly tables: Tables) {}

  async saveRun(run: RunRecord): Promise<void> {
    await this.tables.ensure();
    await this.tables.client(TABLES.runs).upsertEntity(
      {
        partitionKey: "run",
        rowKey: run.runId,
        trigger: run.trigger,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt ?? "",
        status: run.status,
        reportOnly: run.reportOnly,
        verified: run.verified,
        countsBefore: JSON.stringify(run.countsBefore),
        countsAfter: JSON.stringify(run.countsAfter),
        copied: run.copied,
        failed: run.failed,
        bytes: int64(run.bytes),
        requests: run.requests,
        durationMs: run.durationMs,
        errorSummary: truncate(run.errorSummary ?? ""),
        retention: run.retention ? JSON.stringify(run.retention) : "",
      },
      "Replace",
    );
  }

  /** The plan cursor the last budgeted run left, if any. */
  async getCursor(): Promise<PlanCursor | undefined> {
    await this.tables.ensure();
    try {
      const row = await this.tables.client(TABLES.runs).getEntity<Record<string, unknown>>("cursor", "sync");
      return {
        entry: toNumber(row.entry),
        entryKey: String(row.entryKey ?? ""),
        total: toNumber(row.total),
        notReached: toNumber(row.notReached),
        runId: String(row.runId ?? ""),
        at: String(row.at ?? ""),
      };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async saveCursor(cursor: PlanCursor): Promise<void> {
    await this.tables.ensure();
    await this.tables
      .client(TABLES.runs)
      .upsertEntity(
        { partitionKey: "cursor", rowKey: "sync", ...cursor, entryKey: truncate(cursor.entryKey, 4000) },
        "Replace",
      );
  }

  async listRuns(limit = 20): Promise<RunRecord[]> {
    await this.tables.ensure();
    const out: RunRecord[] = [];
    const pages = this.tables
      .client(TABLES.runs)
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq 'run'` } })
      .byPage({ maxPageSize: Math.min(limit, 1000) });
    for await (const page of pages) {
      for (const row of page) {
        out.push(runFrom(row));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    await this.tables.ensure();
    try {
      return runFrom(await this.tables.client(TABLES.runs).getEntity<Record<string, unknown>>("run", runId));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async saveResults(runId: string, results: readonly ImageResult[]): Promise<void> {
    await this.tables.ensure();
    await upsertBatched(
      this.tables.client(TABLES.results),
      results.map((r) => ({
        partitionKey: runId,
        rowKey: tableKey(r.key),
        key: r.key,
        origin: r.origin,
        source: `${r.source.registry}/${r.source.repository}${r.source.tag ? `:${r.source.tag}` : ""}`,
        sourceDigest: r.sourceDigest ?? "",
        target: `${r.target.registry}/${r.target.repository}:${r.target.tag}`,
        targetDigest: r.targetDigest ?? "",
        state: r.state,
        stateAfter: r.stateAfter,
        action: r.action,
        bytes: int64(r.bytes),
        durationMs: r.durationMs,
        pinTag: r.pinTag ?? "",
        reason: truncate(r.reason ?? "", 4000),
        error: truncate(r.error ?? "", 8000),
        via: r.via ?? "",
        fallback: truncate(r.fallback ?? "", 4000),
        lockError: truncate(r.lockError ?? "", 4000),
        locked: r.locked === true,
      })),
    );
  }

  async listResults(runId: string): Promise<Array<Record<string, unknown>>> {
    await this.tables.ensure();
    const out: Array<Record<string, unknown>> = [];
    const rows = this.tables
      .client(TABLES.results)
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${runId}` } });
    for await (const row of rows) {
      out.push({
        key: str(row.key) ?? decodeKey(row.rowKey ?? ""),
        origin: row.origin,
        source: row.source,
        sourceDigest: str(row.sourceDigest),
        target: row.target,
        targetDigest: str(row.targetDigest),
        state: row.state,
        stateAfter: row.stateAfter,
        action: row.action,
        bytes: toNumber(row.bytes),
        durationMs: toNumber(row.durationMs),
        pinTag: str(row.pinTag),
        reason: str(row.reason),
        error: str(row.error),
        ...(str(row.via) ? { via: str(row.via) } : {}),
        ...(str(row.fallback) ? { fallback: str(row.fallback) } : {}),
        ...(str(row.lockError) ? { lockError: str(row.lockError) } : {}),
        ...(row.locked === true ? { locked: true } : {}),
      });
    }
    return out;
  }

  /** Retention entries of one run, upserted (a deletion may be written as it happens and again with the run). */
  async saveRetention(runId: string, records: readonly RetentionRecord[]): Promise<void> {
    await this.tables.ensure();
    await upsertBatched(
      this.tables.client(TABLES.retention),
      records.map((r) => ({
        partitionKey: runId,
        rowKey: tableKey(
          r.kind === "tag" ? `${r.registry}/${r.repository}:${r.tag}` : `${r.registry}/${r.repository}@${r.digest}`,
        ),
        registry: r.registry,
        repository: r.repository,
        kind: r.kind,
        tag: r.tag ?? "",
        digest: r.digest,
        reason: truncate(r.reason, 4000),
        status: r.status,
        error: truncate(r.error ?? "", 4000),
        at: r.at,
      })),
    );
  }

  async listRetention(runId: string): Promise<RetentionRecord[]> {
    await this.tables.ensure();
    const out: RetentionRecord[] = [];
    const rows = this.tables
      .client(TABLES.retention)
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${runId}` } });
    for await (const row of rows) {
      const tag = str(row.tag);
      const error = str(row.error);
      out.push({
        registry: String(row.registry),
        repository: String(row.repository),
        kind: row.kind === "manifest" ? "manifest" : "tag",
        ...(tag ? { tag } : {}),
        digest: String(row.digest),
        reason: String(row.reason ?? ""),
        status: row.status as RetentionRecord["status"],
        ...(error ? { error } : {}),
        at: String(row.at),
      });
    }
    // In the order they happened.
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  async saveStatuses(statuses: readonly ImageStatus[]): Promise<void> {
    await this.tables.ensure();
    await upsertBatched(
      this.tables.client(TABLES.status),
      statuses.map((s) => ({
        partitionKey: tableKey(`${s.targetRegistry}/${s.targetRepository}`),
        rowKey: tableKey(s.tag),
        key: s.key,
        targetRegistry: s.targetRegistry,
        targetRepository: s.targetRepository,
        tag: s.tag,
        source: s.source,
        sourceDigest: s.sourceDigest ?? "",
        targetDigest: s.targetDigest ?? "",
        state: s.state,
        lastCheckedAt: s.lastCheckedAt,
        lastCopiedAt: s.lastCopiedAt ?? "",
        writtenDigest: s.writtenDigest ?? "",
        verifiedDigest: s.verifiedDigest ?? "",
        signedBy: s.signedBy ?? "",
        referrers: referrersColumn(s.referrers),
        lastError: truncate(s.lastError ?? "", 4000),
        lastRunId: s.lastRunId,
        origin: s.origin,
      })),
    );
  }

  async listStatuses(filter: { state?: ImageState | "outdated"; limit?: number } = {}): Promise<ImageStatus[]> {
    const out: ImageStatus[] = [];
    const limit = filter.limit ?? 1000;
    for await (const page of this.statusPages(filter.state, limit)) {
      for (const s of page) {
        out.push(s);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /**
   * Status rows page by page (at most STATUS_PAGE rows each, Table Storage's most per response), so a caller that
   * only counts or looks up holds one page at a time; `limit` asks for no more rows than it needs.
   */
  async *statusPages(state?: ImageState | "outdated", limit = Number.MAX_SAFE_INTEGER): AsyncGenerator<ImageStatus[]> {
    await this.tables.ensure();
    const query =
      state === "outdated"
        ? odata`state eq 'missing' or state eq 'drifted' or state eq 'newer-available'`
        : state
          ? odata`state eq ${state}`
          : undefined;
    const pages = this.tables
      .client(TABLES.status)
      .listEntities<Record<string, unknown>>(query ? { queryOptions: { filter: query } } : {})
      .byPage({ maxPageSize: Math.max(1, Math.min(STATUS_PAGE, limit)) });
    let read = 0;
    for await (const page of pages) {
      const rows = page.map(statusFrom);
      read += rows.length;
      yield rows;
      if (read >= limit) return;
    }
  }

  /** One tag's latest status: a point read. */
  async getStatus(target: { registry: string; repository: string; tag: string }): Promise<ImageStatus | undefined> {
    await this.tables.ensure();
    try {
      const row = await this.tables
        .client(TABLES.status)
        .getEntity<Record<string, unknown>>(tableKey(`${target.registry}/${target.repository}`), tableKey(target.tag));
      return statusFrom(row);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /** The latest status of every tag, keyed by `registry/repository:tag`, for the planner's trust-what-we-wrote path. */
  async statusByKey(): Promise<Map<string, ImageStatus>> {
    const map = new Map<string, ImageStatus>();
    for await (const page of this.statusPages()) for (const s of page) map.set(s.key, s);
    return map;
  }

  /** Counts by state, one page in memory at a time. */
  async countStatuses(): Promise<Counts> {
    const counts = emptyCounts();
    for await (const page of this.statusPages()) for (const s of page) counts[s.state]++;
    return counts;
  }

  async saveLimit(limit: RegistryLimit): Promise<void> {
    await this.tables.ensure();
    await this.tables.client(TABLES.limits).upsertEntity(
      {
        partitionKey: "host",
        rowKey: encodeKey(limit.host),
        remaining: limit.remaining,
        resetAt: limit.resetAt ?? "",
        observedAt: limit.observedAt,
      },
      "Replace",
    );
  }

  /**
   * Takes `pulls` from a host's stored quota, shared by every process that writes this table (the timer, each queue
   * worker on each instance): an ETag-conditional update, retried when another writer got there first, so two
   * instances never spend the same pull. `unknown` when no reading is stored or its window has reset (nothing to
   * share: the next response tells); `refused` when taking would leave less than `reserve`.
   */
  async takeFromLimit(
    host: string,
    pulls: number,
    reserve: number,
    now: Date,
  ): Promise<{ outcome: "taken" | "unknown" } | { outcome: "refused"; limit: RegistryLimit }> {
    await this.tables.ensure();
    const client = this.tables.client(TABLES.limits);
    for (let attempt = 0; attempt < 50; attempt++) {
      let row: Row;
      try {
        row = await client.getEntity<Record<string, unknown>>("host", encodeKey(host));
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return { outcome: "unknown" };
        throw err;
      }
      const resetAt = str(row.resetAt);
      if (!resetAt || Date.parse(resetAt) <= now.getTime()) return { outcome: "unknown" };
      const remaining = toNumber(row.remaining);
      if (remaining - pulls < reserve) {
        return {
          outcome: "refused",
          limit: { host, remaining, resetAt, observedAt: String(row.observedAt) },
        };
      }
      try {
        await client.updateEntity(
          { partitionKey: "host", rowKey: encodeKey(host), remaining: remaining - pulls },
          "Merge",
          { etag: row.etag },
        );
        return { outcome: "taken" };
      } catch (err) {
        // 412: another writer took from it first; read again.
        if ((err as { statusCode?: number }).statusCode !== 412) throw err;
      }
    }
    throw new Error(`rate-limit budget of ${host}: too much contention, gave up after 50 attempts`);
  }

  async limits(): Promise<Map<string, RegistryLimit>> {
    await this.tables.ensure();
    const map = new Map<string, RegistryLimit>();
    for await (const row of this.tables.client(TABLES.limits).listEntities<Record<string, unknown>>()) {
      const host = decodeKey(row.rowKey ?? "");
      const resetAt = str(row.resetAt);
      map.set(host, {
        host,
        remaining: toNumber(row.remaining),
        observedAt: String(row.observedAt),
        ...(resetAt ? { resetAt } : {}),
      });
    }
    return map;
  }
}

function runFrom(row: Row): RunRecord {
  const parse = (v: unknown): Counts => {
    try {
      return { ...emptyCounts(), ...(JSON.parse(String(v)) as Counts) };
    } catch {
      return emptyCounts();
    }
  };
  const finishedAt = str(row.finishedAt);
  const errorSummary = str(row.errorSummary);
  let retention: RetentionCounts | undefined;
  try {
    retention = str(row.retention) ? (JSON.parse(String(row.retention)) as RetentionCounts) : undefined;
  } catch {
    retention = undefined;
  }
  return {
    runId: row.rowKey ?? "",
    trigger: row.trigger as RunRecord["trigger"],
    startedAt: String(row.startedAt),
    ...(finishedAt ? { finishedAt } : {}),
    status: row.status as RunRecord["status"],
    reportOnly: row.reportOnly === true,
    verified: row.verified === true,
    countsBefore: parse(row.countsBefore),
    countsAfter: parse(row.countsAfter),
    copied: toNumber(row.copied),
    failed: toNumber(row.failed),
    bytes: toNumber(row.bytes),
    requests: toNumber(row.requests),
    durationMs: toNumber(row.durationMs),
    ...(errorSummary ? { errorSummary } : {}),
    ...(retention ? { retention } : {}),
  };
}

function statusFrom(row: Row): ImageStatus {
  const opt = (name: string) => str(row[name]);
  return {
    key: String(row.key),
    targetRegistry: String(row.targetRegistry),
    targetRepository: String(row.targetRepository),
    tag: String(row.tag),
    source: String(row.source),
    state: row.state as ImageState,
    lastCheckedAt: String(row.lastCheckedAt),
    lastRunId: String(row.lastRunId),
    origin: String(row.origin ?? ""),
    ...(opt("sourceDigest") ? { sourceDigest: opt("sourceDigest")! } : {}),
    ...(opt("targetDigest") ? { targetDigest: opt("targetDigest")! } : {}),
    ...(opt("lastCopiedAt") ? { lastCopiedAt: opt("lastCopiedAt")! } : {}),
    ...(opt("writtenDigest") ? { writtenDigest: opt("writtenDigest")! } : {}),
    ...(opt("lastError") ? { lastError: opt("lastError")! } : {}),
    ...(opt("verifiedDigest") ? { verifiedDigest: opt("verifiedDigest")! } : {}),
    ...(opt("signedBy") ? { signedBy: opt("signedBy")! } : {}),
    ...(opt("referrers") ? { referrers: referrersFrom(opt("referrers")!) } : {}),
  };
}

/** Table properties hold 64 KiB of text; a list that does not fit is cut to whole entries (it is a summary). */
const MAX_REFERRERS_COLUMN = 30_000;

function referrersColumn(list: readonly string[] | undefined): string {
  if (!list?.length) return "";
  const kept: string[] = [];
  let length = 2;
  for (const r of list) {
    length += r.length + 3;
    if (length > MAX_REFERRERS_COLUMN) break;
    kept.push(r);
  }
  return JSON.stringify(kept);
}

function referrersFrom(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
