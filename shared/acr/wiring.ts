/**
 * What one sync run (or one queued copy) gets from the ACR-native paths, built per run by the composition root
 * (shared/runtime.ts) and handed to the planner and executor: the repository catalog the listings, locks and
 * retention share, the bulk lister, the lock state, the copy mode and importer, and the retention policy. Everything
 * here applies to ACR targets only (`isAcr`); any other registry is listed, copied and left alone as before.
 */
import type { TagDigestLister } from "./bulkDigests";
import { isAcrHost, type AcrCatalog } from "./catalog";
import {
  createImageCopier,
  type CopyJob,
  type CopyMode,
  type ImageCopier,
  type ModeDecision,
  type StreamCopy,
} from "./copier";
import type { AcrImporter } from "./importer";
import { withLockGuard, type LockState } from "./locks";
import type { RetentionDeleter, RetentionMode, RetentionPolicy } from "./retention";
import { acrRetentionPort } from "./retentionPort";
import type { SyncPorts } from "../sync/ports";

export interface Lockable extends LockState {
  lock(registry: string, repository: string, digest: string): Promise<void>;
}

export interface AcrRunWiring {
  /** Which registries are ACRs: locks, import and retention apply to these only. Default `*.azurecr.io` and kin. */
  isAcr?: (registry: string) => boolean;
  /** One per run: the listing each ACR repository costs is shared by the planner, the lock guard and retention. */
  catalog?: AcrCatalog;
  /** Bulk tag → digest listings (ACR_BULK_LISTING); absent: one HEAD per tag. */
  lister?: TagDigestLister;
  /** ACR locks: read for the planner and the guard; `lock` used after each copy with `lockImages`. */
  locks?: Lockable;
  /** COPY_MODE; default `stream`. */
  copyMode?: CopyMode;
  importer?: AcrImporter;
  /** LOCK_IMAGES: write/delete-protect each manifest after copying it. */
  lockImages?: boolean;
  /** Which sources ACR can reach (auto mode); default not loopback or private. A test names its stand-in. */
  reachable?: (registry: string) => boolean;
  retention?: { mode: RetentionMode; policy: RetentionPolicy; deleter?: RetentionDeleter };
  /** Told each mode decision and each fallback from import to stream. */
  onDecision?: (job: CopyJob, decision: ModeDecision | { use: "stream"; reason: string; fallback: true }) => void;
}

/** The ACR predicate of a wiring. */
export function acrPredicate(wiring: AcrRunWiring | undefined): (registry: string) => boolean {
  return wiring?.isAcr ?? isAcrHost;
}

/**
 * The lock state the planner and guard read: only for ACRs, and a lock state that cannot be read counts as no lock
 * (ACR itself refuses a write to a locked tag, with 409, so nothing is overwritten on a guess).
 */
export function scopedLocks(wiring: AcrRunWiring | undefined): LockState | undefined {
  const locks = wiring?.locks;
  if (!locks) return undefined;
  const isAcr = acrPredicate(wiring);
  return {
    lockedDigest: async (registry, repository, tag) =>
      isAcr(registry) ? locks.lockedDigest(registry, repository, tag).catch(() => undefined) : undefined,
  };
}

/**
 * The copier for one job: the mode decision (stream, import, auto with its fallback) behind the lock guard, which
 * refuses to move a locked tag and, with `lockImages`, locks what it copied. `stream` is the executor's copyImage call.
 */
export function runCopier(wiring: AcrRunWiring, stream: StreamCopy): ImageCopier {
  const isAcr = acrPredicate(wiring);
  const copier = createImageCopier({
    mode: wiring.copyMode ?? "stream",
    stream,
    isAcr,
    ...(wiring.importer ? { importer: wiring.importer } : {}),
    ...(wiring.reachable ? { reachable: wiring.reachable } : {}),
    ...(wiring.onDecision ? { onDecision: wiring.onDecision } : {}),
  });
  const locks = scopedLocks(wiring);
  if (!locks) return copier;
  return withLockGuard(copier, locks, {
    appliesTo: isAcr,
    ...(wiring.lockImages && wiring.locks ? { lockAfterCopy: wiring.locks } : {}),
  });
}

/**
 * The sync's ports (shared/sync/ports.ts) from one run's ACR wiring: the bulk lister, the lock state scoped to ACRs,
 * the copier (mode decision, import, lock guard) and retention of pin tags. This is the only place the sync engine
 * meets ACR.
 */
export function syncPortsOf(wiring: AcrRunWiring | undefined): SyncPorts {
  if (!wiring) return {};
  const locks = scopedLocks(wiring);
  const retention = wiring.retention;
  return {
    ...(wiring.lister ? { lister: wiring.lister } : {}),
    ...(locks ? { locks } : {}),
    copier: (stream) => runCopier(wiring, stream),
    ...(wiring.catalog && retention && retention.mode !== "off"
      ? {
          retention: acrRetentionPort({
            catalog: wiring.catalog,
            isAcr: acrPredicate(wiring),
            mode: retention.mode,
            policy: retention.policy,
            ...(retention.deleter ? { deleter: retention.deleter } : {}),
          }),
        }
      : {}),
  };
}
