/**
 * Caches of facts that never change, in Table Storage:
 * - Labels: PK = encoded digest, RK = the child-selection policy. The labels of a digest are fixed by its content.
 * - Traces: PK = encoded `<service>@<full commit>`, RK = encoded `<cloud|*>/<environment>/<region|->/<fingerprint>`.
 *   A trace of a full commit id is fixed too, as long as what shaped it is the same: the fingerprint covers the
 *   service definition, the component catalogue, the registry map and the response format.
 * Values are JSON split over several properties: one string property holds at most 64 KiB (32,000 characters were
 * accepted in tests, 40,000 refused), an entity at most 1 MiB.
 */
import type { TableEntityResult } from "@azure/data-tables";
import { encodeKey } from "./keys";
import { TABLES, type Tables } from "./tables";

/** What a trace keeps of one image (see shared/trace/labels.ts). */
export interface LabelRecord {
  /** The digest asked for (an index or an image). */
  digest: string;
  /** The image manifest whose config was read: the digest itself, or the chosen child of an index. */
  manifestDigest: string;
  /** The chosen child's platform, e.g. `linux/amd64`; null for a single image. */
  platform: string | null;
  configDigest: string;
  labels: Record<string, string>;
  /** The config's `created` time, as the build wrote it. */
  created: string | null;
  /** Whether the digest had a signature where it was read (shared/supply/signatureProbe); absent: not probed. */
  signed?: boolean;
}

export interface TraceKey {
  service: string;
  /** Always a full 40-hex commit id: an abbreviation or a ref may point elsewhere tomorrow. */
  commit: string;
  /** Null when the caller let the environment pick its cloud. */
  cloud: string | null;
  environment: string;
  region: string | null;
  fingerprint: string;
}

const PART_CHARS = 30_000;
const MAX_PARTS = 15; // 450,000 UTF-16 characters: well inside the 1 MiB entity limit
// Bump when the child-selection rule in labels.ts changes: rows written under the old rule are then not read.
export const LABEL_POLICY = "linux-amd64.v1";

type Row = TableEntityResult<Record<string, unknown>>;

export class TraceStore {
  constructor(private readonly tables: Tables) {}

  async getLabels(digest: string): Promise<LabelRecord | undefined> {
    const value = await this.read(TABLES.labels, encodeKey(digest), LABEL_POLICY);
    return isLabelRecord(value) && value.digest === digest ? value : undefined;
  }

  async saveLabels(record: LabelRecord): Promise<boolean> {
    return this.write(TABLES.labels, encodeKey(record.digest), LABEL_POLICY, record, {});
  }

  /** The stored trace, parsed; the caller checks its shape. */
  async getTrace(key: TraceKey): Promise<unknown> {
    return this.read(TABLES.traces, ...traceKeys(key));
  }

  /** Stores a trace; false (and nothing written) when it is too large for one entity. */
  async saveTrace(key: TraceKey, value: unknown): Promise<boolean> {
    return this.write(TABLES.traces, ...traceKeys(key), value, {
      commit: key.commit,
      environment: key.environment,
      cloud: key.cloud ?? "",
      region: key.region ?? "",
    });
  }

  private async read(table: (typeof TABLES)["labels" | "traces"], pk: string, rk: string): Promise<unknown> {
    await this.tables.ensure();
    let row: Row;
    try {
      row = await this.tables.client(table).getEntity<Record<string, unknown>>(pk, rk);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
    const parts = Number(row.parts);
    if (!Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) return undefined;
    let json = "";
    for (let i = 0; i < parts; i++) {
      const part = row[`json${i}`];
      if (typeof part !== "string") return undefined;
      json += part;
    }
    try {
      return JSON.parse(json) as unknown;
    } catch {
      return undefined; // a damaged row is a miss, and the next save replaces it
    }
  }

  private async write(
    table: (typeof TABLES)["labels" | "traces"],
    pk: string,
    rk: string,
    value: unknown,
    extra: Record<string, string>,
  ): Promise<boolean> {
    const json = JSON.stringify(value);
    const parts = Math.max(1, Math.ceil(json.length / PART_CHARS));
    if (parts > MAX_PARTS) return false;
    const entity: Record<string, unknown> = {
      partitionKey: pk,
      rowKey: rk,
      parts,
      savedAt: new Date().toISOString(),
      ...extra,
    };
    for (let i = 0; i < parts; i++) entity[`json${i}`] = json.slice(i * PART_CHARS, (i + 1) * PART_CHARS);
    await this.tables.ensure();
    await this.tables.client(table).upsertEntity(entity as { partitionKey: string; rowKey: string }, "Replace");
    return true;
  }
}

function traceKeys(key: TraceKey): [string, string] {
  return [
    encodeKey(`${key.service}@${key.commit}`),
    encodeKey(`${key.cloud ?? "*"}/${key.environment}/${key.region ?? "-"}/${key.fingerprint}`),
  ];
}

function isLabelRecord(value: unknown): value is LabelRecord {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const nullableString = (x: unknown) => x === null || typeof x === "string";
  return (
    typeof v.digest === "string" &&
    typeof v.manifestDigest === "string" &&
    typeof v.configDigest === "string" &&
    nullableString(v.platform) &&
    nullableString(v.created) &&
    typeof v.labels === "object" &&
    v.labels !== null &&
    Object.values(v.labels).every((l) => typeof l === "string")
  );
}
