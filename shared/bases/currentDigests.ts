/**
 * What each base resolves to now, and since when. The sync's ImageStatus rows answer for mirrored bases without a
 * request (the sync already HEADs them every run); anything else costs one HEAD. Each answer is recorded in the
 * BaseStore, which turns a series of answers into the history that says when a base moved on.
 */
import type { RegistryClient } from "../registry/client";
import type { BaseStore, DigestSighting } from "../store/baseStore";
import type { ImageStatus } from "../store/syncStore";
import type { ImageEntry } from "../sync/configTypes";
import type { BaseGraph, GraphBase } from "./graph";
import { statusKeyOf } from "./syncEntries";

export interface Location {
  registry: string;
  repository: string;
}

export type CurrentDigest =
  | {
      ok: true;
      digest: string;
      since: string;
      via: "status" | "registry" | "digest";
      history: DigestSighting[];
      /** Where that digest can be read: the mirror once the sync copied it (no upstream pull quota), else the base. */
      readFrom: Location;
    }
  | { ok: false; error: string };

export interface CurrentDeps {
  client: RegistryClient;
  store: BaseStore;
  /** Latest sync status per `registry/repository:tag`. */
  statuses: ReadonlyMap<string, ImageStatus>;
  /** The entries the sync runs with (its own and the enrollment's), to find a base's status row. */
  entries: readonly ImageEntry[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One HEAD per reference per report, however many images share it. */
export class HeadCache {
  private readonly heads = new Map<string, Promise<string | null>>();

  constructor(private readonly client: RegistryClient) {}

  digest(registry: string, repository: string, tag: string): Promise<string | null> {
    const key = `${registry}/${repository}:${tag}`;
    let head = this.heads.get(key);
    if (!head) {
      head = this.client.manifestHead(registry, repository, tag).then((h) => h?.digest ?? null);
      this.heads.set(key, head);
    }
    return head;
  }
}

async function resolve(
  base: GraphBase,
  deps: CurrentDeps,
  heads: HeadCache,
): Promise<
  { digest: string; via: "status" | "registry" | "digest"; readFrom: Location; evidence?: Date } | { error: string }
> {
  const own = { registry: base.registry, repository: base.repository };
  if (base.tag === undefined) return { digest: base.digest!, via: "digest", readFrom: own };
  const statusKey = statusKeyOf(base, deps.entries);
  const status = statusKey ? deps.statuses.get(statusKey) : undefined;
  if (status?.sourceDigest) {
    // The sync copies a tag only when its digest changed, so the copy time is when the new digest arrived.
    const copied =
      status.lastCopiedAt && status.writtenDigest === status.sourceDigest ? new Date(status.lastCopiedAt) : undefined;
    const mirrored = status.targetDigest === status.sourceDigest;
    return {
      digest: status.sourceDigest,
      via: "status",
      readFrom: mirrored ? { registry: status.targetRegistry, repository: status.targetRepository } : own,
      ...(copied && !Number.isNaN(copied.getTime()) ? { evidence: copied } : {}),
    };
  }
  try {
    const digest = await heads.digest(base.registry, base.repository, base.tag);
    return digest ? { digest, via: "registry", readFrom: own } : { error: `${base.key} not found` };
  } catch (err) {
    return { error: `${base.key}: ${message(err)}` };
  }
}

/** The current digest of every base in the graph, recorded in the store (one failing base never stops the rest). */
export async function currentDigests(
  graph: BaseGraph,
  deps: CurrentDeps,
  heads: HeadCache,
  now: Date,
): Promise<Map<string, CurrentDigest>> {
  const out = new Map<string, CurrentDigest>();
  for (const base of graph.bases.values()) {
    const found = await resolve(base, deps, heads);
    if ("error" in found) {
      out.set(base.key, { ok: false, error: found.error });
      continue;
    }
    const history = await deps.store.recordDigest(base.key, found.digest, now, found.evidence);
    const since = history.findLast((h) => h.digest === found.digest)?.since ?? now.toISOString();
    out.set(base.key, { ok: true, digest: found.digest, since, via: found.via, history, readFrom: found.readFrom });
  }
  return out;
}
