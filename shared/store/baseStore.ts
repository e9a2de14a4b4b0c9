/**
 * What the bases feature must remember between runs, in the BaseImages table:
 * - PK `digest|<base>`, RK = digest: when each digest of a base became current (`since`). Written only when the
 *   digest a base resolves to changes, so a report that finds nothing new writes nothing.
 * - PK `enrolled`, RK = image name: whether the image is managed or external and since when, the base digests
 *   recorded when it became managed (the fallback for "built from"), and the last rebuild trigger.
 * - PK `facts`, RK = sha256 of an image identity: facts read from a manifest and config (labels, layers), which never
 *   change for a digest, so each is read from the registry once.
 */
import { createHash } from "node:crypto";
import { odata, type TableClient } from "@azure/data-tables";
import { decodeKey, encodeKey } from "./keys";
import { TABLES, truncate, type Tables } from "./tables";

export interface DigestSighting {
  digest: string;
  /** When this digest became the one the base resolves to (the latest time, if it was current before). */
  since: string;
}

export interface BaselineDigest {
  digest: string;
  /** When it was recorded. */
  at: string;
}

export interface TriggerRecord {
  /** What the rebuild was for: the base digests it should pick up, so the same staleness triggers once. */
  fingerprint: string;
  at: string;
  status: "sent" | "failed";
  detail?: string;
}

export interface EnrollmentRecord {
  name: string;
  kind: "managed" | "external";
  /** When the image took this kind. */
  since: string;
  /** The image as enrolled, for people reading the table. */
  image: string;
  /** Managed only: base digests current when the image became managed (or when the base first appeared in it). */
  baseline: Record<string, BaselineDigest>;
  lastTrigger?: TriggerRecord;
}

const ENROLLED = "enrolled";
const FACTS = "facts";

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

function isConflict(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 409;
}

function parseJson<T>(value: unknown, fallback: T): T {
  if (typeof value !== "string" || value === "") return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

function digestPartition(baseKey: string): string {
  return `digest|${encodeKey(baseKey)}`;
}

function factsKey(identity: string): string {
  return createHash("sha256").update(identity).digest("hex");
}

export class BaseStore {
  constructor(private readonly tables: Tables) {}

  private async table(): Promise<TableClient> {
    await this.tables.ensure();
    return this.tables.client(TABLES.bases);
  }

  /** Every digest the base has resolved to, oldest `since` first. */
  async digestHistory(baseKey: string): Promise<DigestSighting[]> {
    const table = await this.table();
    const out: DigestSighting[] = [];
    const rows = table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${digestPartition(baseKey)}` },
    });
    for await (const row of rows) out.push({ digest: decodeKey(row.rowKey ?? ""), since: String(row.since) });
    return out.sort((a, b) => a.since.localeCompare(b.since) || a.digest.localeCompare(b.digest));
  }

  /**
   * Records that the base resolves to `digest` at `seenAt` and returns the history. `since` is the earlier of
   * `seenAt` and `evidence` (e.g. when the sync copied that digest), so a base first looked at days after the sync
   * mirrored it still says when it really changed. A digest that is already the newest is not written again.
   */
  async recordDigest(baseKey: string, digest: string, seenAt: Date, evidence?: Date): Promise<DigestSighting[]> {
    const history = await this.digestHistory(baseKey);
    if (history.at(-1)?.digest === digest) return history;
    const since = evidence && evidence < seenAt ? evidence : seenAt;
    // Never before the newest sighting of another digest: a base cannot have changed to this one before that.
    const floor = history.at(-1)?.since;
    const sinceText = floor && since.toISOString() < floor ? seenAt.toISOString() : since.toISOString();
    const table = await this.table();
    await table.upsertEntity(
      { partitionKey: digestPartition(baseKey), rowKey: encodeKey(digest), since: sinceText },
      "Replace",
    );
    const rest = history.filter((h) => h.digest !== digest);
    return [...rest, { digest, since: sinceText }];
  }

  async listEnrollments(): Promise<Map<string, EnrollmentRecord>> {
    const table = await this.table();
    const out = new Map<string, EnrollmentRecord>();
    const rows = table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${ENROLLED}` },
    });
    for await (const row of rows) {
      const name = decodeKey(row.rowKey ?? "");
      const lastTrigger = parseJson<TriggerRecord | undefined>(row.lastTrigger, undefined);
      out.set(name, {
        name,
        kind: row.kind === "managed" ? "managed" : "external",
        since: String(row.since),
        image: String(row.image ?? ""),
        baseline: parseJson<Record<string, BaselineDigest>>(row.baseline, {}),
        ...(lastTrigger ? { lastTrigger } : {}),
      });
    }
    return out;
  }

  async saveEnrollment(record: EnrollmentRecord): Promise<void> {
    const table = await this.table();
    await table.upsertEntity(
      {
        partitionKey: ENROLLED,
        rowKey: encodeKey(record.name),
        kind: record.kind,
        since: record.since,
        image: record.image,
        // A few dozen bases at ~120 characters each; far below the 64 KiB property limit.
        baseline: JSON.stringify(record.baseline),
        lastTrigger: record.lastTrigger
          ? JSON.stringify({ ...record.lastTrigger, detail: truncate(record.lastTrigger.detail ?? "", 2000) })
          : "",
      },
      "Replace",
    );
  }

  async deleteEnrollment(name: string): Promise<void> {
    const table = await this.table();
    try {
      await table.deleteEntity(ENROLLED, encodeKey(name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Facts cached for an immutable identity (a digest and what was read from it). */
  async getFacts<T>(identity: string): Promise<T | undefined> {
    const table = await this.table();
    try {
      const row = await table.getEntity<Record<string, unknown>>(FACTS, factsKey(identity));
      return row.identity === identity ? parseJson<T | undefined>(row.value, undefined) : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async saveFacts(identity: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    // Facts too big for one property (an image with thousands of layers) are simply read again next time.
    if (text.length > 30_000) return;
    const table = await this.table();
    try {
      await table.createEntity({ partitionKey: FACTS, rowKey: factsKey(identity), identity, value: text });
    } catch (err) {
      // Another report wrote the same facts first; they are identical by construction.
      if (!isConflict(err)) throw err;
    }
  }
}
