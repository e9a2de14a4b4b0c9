/**
 * Retention of dated pin tags (`<YYYYMMDD>_sha256_<hex>`), report-only unless enabled. Selection is pure: a pin tag
 * older than N days goes, unless a non-pin tag still points at its digest, it is among the newest K pin tags of the
 * repository, or ACR protects it. Optionally, manifests this tool created that end up with no tag go too, never one
 * that a kept manifest (an index) still refers to. The executor deletes through the ACR SDK and records every entry.
 */
import { normaliseRegistry } from "../registry/reference";
import type { AcrCatalog, AcrClients, AcrManifest, AcrRepositorySnapshot } from "./catalog";
import type { RetentionRecord } from "../sync/ports";
import { sdkErrorInfo } from "./sdk";

export const PIN_TAG = /^(\d{4})(\d{2})(\d{2})_sha256_([a-f0-9]{64})$/;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionPolicy {
  /** Pin tags dated more than this many days before `now` may go. */
  maxAgeDays: number;
  /** The newest K pin tags of each repository always stay. */
  keepNewest: number;
  /** Also delete manifests this tool created once they have no tag left. */
  deleteUntagged: boolean;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxAgeDays: 90, keepNewest: 5, deleteUntagged: false };

/** The date a pin tag carries (UTC midnight), or undefined when the tag is not a pin tag. */
export function pinTagDate(tag: string): Date | undefined {
  const m = PIN_TAG.exec(tag);
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  // 20250231 is not a date: such a tag is left alone.
  if (date.getUTCFullYear() !== Number(y) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d))
    return undefined;
  return date;
}

export type KeepReason = "mirrored-digest" | "newest" | "young" | "locked";

export type Deletion =
  | { kind: "tag"; repository: string; tag: string; digest: string; reason: string }
  | { kind: "manifest"; repository: string; digest: string; references: string[]; reason: string };

export interface RetentionSelection {
  repository: string;
  /** Tag deletions first, then manifests, parents before the children they refer to. */
  delete: Deletion[];
  /** Pin tags kept, and why. */
  keep: Array<{ tag: string; digest: string; reason: KeepReason }>;
}

export interface RetentionInput {
  snapshot: Pick<AcrRepositorySnapshot, "repository" | "manifests">;
  policy: RetentionPolicy;
  now: Date;
  /** Digests this tool wrote (root manifests, from its results); only these and their children may go untagged. */
  ownedDigests?: ReadonlySet<string>;
}

/** Pure: what retention would delete in one repository, and why everything else stays. */
export function selectRetention(input: RetentionInput): RetentionSelection {
  const { snapshot, policy, now } = input;
  const repository = snapshot.repository;
  const byDigest = new Map<string, AcrManifest>(snapshot.manifests.map((m) => [m.digest, m]));
  // Digests a non-pin tag (a mirrored tag, or anyone else's) points at: their pin tags are what is running.
  const protectedDigests = new Set<string>();
  const pins: Array<{ tag: string; digest: string; date: Date; named: string }> = [];
  for (const m of snapshot.manifests) {
    for (const tag of m.tags) {
      const date = pinTagDate(tag);
      if (date) pins.push({ tag, digest: m.digest, date, named: `sha256:${PIN_TAG.exec(tag)![4]}` });
      else protectedDigests.add(m.digest);
    }
  }
  pins.sort((a, b) => b.date.getTime() - a.date.getTime() || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const newest = new Set(pins.slice(0, Math.max(0, policy.keepNewest)).map((p) => p.tag));
  const cutoff = now.getTime() - policy.maxAgeDays * DAY_MS;

  const keep: RetentionSelection["keep"] = [];
  const tagDeletions: Deletion[] = [];
  const removedTags = new Map<string, Set<string>>();
  for (const p of pins) {
    const manifest = byDigest.get(p.digest)!;
    let reason: KeepReason | undefined;
    // The digest named in the tag counts too: with platform filtering, the pin names the source digest.
    if (protectedDigests.has(p.digest) || protectedDigests.has(p.named)) reason = "mirrored-digest";
    else if (newest.has(p.tag)) reason = "newest";
    else if (p.date.getTime() >= cutoff) reason = "young";
    else if (!manifest.canDelete || !manifest.canWrite) reason = "locked";
    if (reason) {
      keep.push({ tag: p.tag, digest: p.digest, reason });
      continue;
    }
    const age = Math.floor((now.getTime() - p.date.getTime()) / DAY_MS);
    tagDeletions.push({
      kind: "tag",
      repository,
      tag: p.tag,
      digest: p.digest,
      reason: `pin tag ${age} days old (> ${policy.maxAgeDays}), not among the newest ${policy.keepNewest}, no other tag on its digest`,
    });
    let set = removedTags.get(p.digest);
    if (!set) removedTags.set(p.digest, (set = new Set()));
    set.add(p.tag);
  }

  const manifestDeletions = policy.deleteUntagged
    ? selectUntagged(snapshot.manifests, removedTags, input.ownedDigests ?? new Set(), repository)
    : [];
  return { repository, delete: [...tagDeletions, ...manifestDeletions], keep };
}

/**
 * Manifests with no tag left after the tag deletions that this tool created (owned roots and, through them, their
 * children), and that no remaining manifest refers to. Parents come before their children in the result.
 */
function selectUntagged(
  manifests: readonly AcrManifest[],
  removedTags: Map<string, Set<string>>,
  owned: ReadonlySet<string>,
  repository: string,
): Deletion[] {
  const byDigest = new Map(manifests.map((m) => [m.digest, m]));
  const ownedClosure = new Set<string>();
  const visit = (digest: string) => {
    if (ownedClosure.has(digest)) return;
    ownedClosure.add(digest);
    for (const child of byDigest.get(digest)?.references ?? []) visit(child);
  };
  for (const d of owned) if (byDigest.has(d)) visit(d);

  const tagsLeft = (m: AcrManifest) => m.tags.filter((t) => !removedTags.get(m.digest)?.has(t)).length;
  const deleted = new Set<string>();
  const order: Deletion[] = [];
  // Fixed point: deleting an index frees its children.
  for (let changed = true; changed;) {
    changed = false;
    for (const m of manifests) {
      if (deleted.has(m.digest) || !ownedClosure.has(m.digest) || tagsLeft(m) > 0) continue;
      if (!m.canDelete || !m.canWrite) continue;
      const referenced = manifests.some(
        (other) => other.digest !== m.digest && !deleted.has(other.digest) && other.references.includes(m.digest),
      );
      if (referenced) continue;
      deleted.add(m.digest);
      order.push({
        kind: "manifest",
        repository,
        digest: m.digest,
        references: [...m.references],
        reason: "created by this tool, no tag left, referred to by no remaining manifest",
      });
      changed = true;
    }
  }
  return order;
}

export type RetentionMode = "off" | "report" | "delete";

export type { RetentionRecord } from "../sync/ports";

export interface RetentionDeleter {
  deleteTag(registry: string, repository: string, tag: string, digest: string): Promise<void>;
  deleteManifest(registry: string, repository: string, digest: string): Promise<void>;
}

/** Deletions through the ACR SDK: `DELETE /acr/v1/<name>/_tags/<tag>` and `DELETE /v2/<name>/manifests/<digest>`. */
export function acrDeleter(clients: AcrClients): RetentionDeleter {
  return {
    async deleteTag(registry, repository, tag, digest) {
      // deleteTag goes by tag name; an artifact made from the digest spends no lookup.
      await clients.forRegistry(registry).getRepository(repository).getArtifact(digest).deleteTag(tag);
    },
    async deleteManifest(registry, repository, digest) {
      await clients.forRegistry(registry).getRepository(repository).getArtifact(digest).delete();
    },
  };
}

export interface ApplyRetentionOptions {
  registry: string;
  /** `report` (the default) deletes nothing and records what would go; `delete` deletes. */
  mode: Exclude<RetentionMode, "off">;
  deleter?: RetentionDeleter;
  now?: () => Date;
  /** Called once per entry, as it happens: the caller stores it (every deletion is recorded). */
  record?: (entry: RetentionRecord) => void | Promise<void>;
}

/** Carries out one repository's selection. One failed deletion never stops the others. */
export async function applyRetention(
  selection: RetentionSelection,
  options: ApplyRetentionOptions,
): Promise<RetentionRecord[]> {
  const registry = normaliseRegistry(options.registry);
  const now = options.now ?? (() => new Date());
  if (options.mode === "delete" && !options.deleter) throw new Error("retention mode delete needs a deleter");
  const records: RetentionRecord[] = [];
  const failedDigests = new Set<string>();
  for (const d of selection.delete) {
    const entry: RetentionRecord = {
      registry,
      repository: d.repository,
      kind: d.kind,
      ...(d.kind === "tag" ? { tag: d.tag } : {}),
      digest: d.digest,
      reason: d.reason,
      status: "reported",
      at: now().toISOString(),
    };
    if (options.mode === "delete") {
      try {
        // A manifest whose tag deletion failed still has that tag, and a child of an index that stayed is in use.
        if (d.kind === "manifest" && failedDigests.has(d.digest)) {
          throw new Error("kept: a deletion it depends on failed");
        }
        if (d.kind === "tag") await options.deleter!.deleteTag(registry, d.repository, d.tag, d.digest);
        else await options.deleter!.deleteManifest(registry, d.repository, d.digest);
        entry.status = "deleted";
      } catch (err) {
        const info = sdkErrorInfo(err);
        entry.status = "failed";
        entry.error = `${info.status ? `${info.status} ` : ""}${info.code ? `${info.code}: ` : ""}${info.message}`;
        failedDigests.add(d.digest);
        // An index that stays keeps its children.
        if (d.kind === "manifest") for (const child of d.references) failedDigests.add(child);
      }
    }
    records.push(entry);
    await options.record?.(entry);
  }
  return records;
}

export interface RunRetentionOptions extends Omit<ApplyRetentionOptions, "deleter"> {
  catalog: AcrCatalog;
  /** Target repositories to look at (the sync config's targets). */
  repositories: readonly string[];
  policy: RetentionPolicy;
  ownedDigests?: ReadonlySet<string>;
  /** Default: deletions through the catalog's SDK clients. */
  deleter?: RetentionDeleter;
}

export interface RetentionRun {
  selections: RetentionSelection[];
  records: RetentionRecord[];
  /** Repositories that could not be listed; retention skipped them. */
  errors: Array<{ repository: string; error: string }>;
}

/** Retention over several repositories of one registry: list (one snapshot each), select, apply, record. */
export async function runRetention(options: RunRetentionOptions): Promise<RetentionRun> {
  const deleter = options.deleter ?? acrDeleter(options.catalog.clients);
  const now = options.now ?? (() => new Date());
  const out: RetentionRun = { selections: [], records: [], errors: [] };
  for (const repository of [...new Set(options.repositories)]) {
    let snapshot: AcrRepositorySnapshot;
    try {
      snapshot = await options.catalog.snapshot(options.registry, repository);
    } catch (err) {
      out.errors.push({ repository, error: sdkErrorInfo(err).message });
      continue;
    }
    if (!snapshot.exists) continue;
    const selection = selectRetention({
      snapshot,
      policy: options.policy,
      now: now(),
      ...(options.ownedDigests ? { ownedDigests: options.ownedDigests } : {}),
    });
    out.selections.push(selection);
    out.records.push(...(await applyRetention(selection, { ...options, deleter, now })));
    // What was deleted is gone from the registry; the snapshot no longer says so.
    if (options.mode === "delete" && selection.delete.length > 0)
      options.catalog.invalidate(options.registry, repository);
  }
  return out;
}
