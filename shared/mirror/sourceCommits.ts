/**
 * The source commit (`vcs-ref`, else `org.opencontainers.image.revision`...) of mirrored digests, for status rows and
 * `GET /api/images?source_sha=`. Read through the tracer's label reader: once per digest per call, and once per
 * digest ever when the Labels table is there (a digest's labels never change). The mirrored copy is read (the
 * target holds what the row says), through the registry map when there is one.
 */
import type { RegistryClient } from "../registry/client";
import { mapSettled } from "../registry/limiter";
import type { ImageStatus } from "../store/syncStore";
import type { TraceStore } from "../store/traceStore";
import { LabelReader } from "../trace/labelReader";
import { sourceCommitOf } from "../trace/labels";
import type { RegistryMap } from "../trace/registryMap";

export interface SourceCommitOptions {
  client: RegistryClient;
  store?: TraceStore | undefined;
  registryMap?: RegistryMap | undefined;
  concurrency?: number;
}

/** Row key → source commit (null when the image names none or cannot be read). */
export type SourceCommitLookup = (rows: readonly ImageStatus[]) => Promise<Map<string, string | null>>;

export function sourceCommitLookup(options: SourceCommitOptions): SourceCommitLookup {
  return async (rows) => {
    // A reader per call: its in-memory cache must not keep a failure (an image not mirrored yet) for ever.
    const reader = new LabelReader(options.client, { store: options.store, registryMap: options.registryMap });
    const out = new Map<string, string | null>();
    const settled = await mapSettled(rows, options.concurrency ?? 8, async (row) => {
      const digest = row.targetDigest ?? row.writtenDigest;
      if (!digest) return null;
      const outcome = await reader.read(row.targetRegistry, row.targetRepository, digest);
      return outcome.ok ? (sourceCommitOf(outcome.record.labels, row.tag)?.sha ?? null) : null;
    });
    settled.forEach((s, i) => out.set(rows[i]!.key, s.status === "fulfilled" ? s.value : null));
    return out;
  };
}
