/**
 * The ports of the sync engine: what a run may ask of a registry vendor beyond the OCI distribution API. The sync
 * owns these interfaces; a vendor module implements them (shared/acr does for Azure Container Registry, wired by the
 * composition root). Absent, the engine uses one HEAD per tag, streamed copies, no locks and no retention, so the
 * generic path never depends on a vendor. `shared/sync` imports nothing from `shared/acr`
 * (test/sync/architecture.test.ts keeps it so).
 */
import type { Platform } from "../registry/manifest";
import type { RepositoryRef } from "./configTypes";
import type { ImageResult, RetentionCounts } from "./model";

/** Bulk tag → digest listings: one request per page of a repository instead of one HEAD per tag. */
export interface TagDigestLister {
  /**
   * Every tag of the repository with the digest it points at. The map is complete: a tag absent from it is absent
   * from the repository (an empty map: the repository has no tags or does not exist). `undefined`: this lister cannot
   * tell for this registry or repository; HEAD the tags instead.
   */
  list(registry: string, repository: string): Promise<Map<string, string> | undefined>;
}

/** Write protection of target tags (ACR locks). */
export interface LockState {
  /** The digest a tag points at, when that manifest is write-protected; undefined when the tag is free (or absent). */
  lockedDigest(registry: string, repository: string, tag: string): Promise<string | undefined>;
}

/** A copy refused because a target tag sits on a write-protected manifest. Report it as drift; do not retry it. */
export class TagLockedError extends Error {
  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tag: string,
    readonly lockedDigest: string,
  ) {
    super(
      `${registry}/${repository}:${tag} is locked in ACR at ${lockedDigest}: drift reported, not forced (unlock it to update)`,
    );
    this.name = "TagLockedError";
  }
}

export interface CopyJob {
  source: { registry: string; repository: string; digest: string };
  target: { registry: string; repository: string };
  /** Tags set on the copied digest: the mirrored tag, then the pin tag. */
  tags: readonly string[];
  /** Only these platforms (the index is rewritten); absent: the whole index, byte for byte. */
  platforms?: readonly Platform[];
  /** This image's mode, over the global one. */
  mode?: "stream" | "import" | "auto";
}

export interface CopyOutcome {
  /** The digest the target tags now hold. */
  digest: string;
  /** Bytes that passed through this process (0 for a server-side import). */
  bytes: number;
  via: "stream" | "import";
  durationMs: number;
  /** Set when an import was tried, refused, and the image was streamed instead. */
  fallback?: string;
  /** Set by a lock guard: true once the manifest is write/delete protected; the error when locking failed. */
  locked?: boolean;
  lockError?: string;
}

export type ImageCopier = (job: CopyJob) => Promise<CopyOutcome>;

/** The streaming path: the executor's `copyImage` call, reduced to what a copier reports. */
export type StreamCopy = (job: CopyJob) => Promise<{ digest: string; bytes: number }>;

/** One tag or manifest retention deleted (or, in report mode, would delete). */
export interface RetentionRecord {
  registry: string;
  repository: string;
  kind: "tag" | "manifest";
  tag?: string;
  digest: string;
  reason: string;
  /** `reported`: report-only mode; `deleted`; `failed` with the error. */
  status: "reported" | "deleted" | "failed";
  error?: string;
  at: string;
}

export interface RetentionRequest {
  /** Every target repository of the run's config (the port picks the ones it manages). */
  targets: readonly RepositoryRef[];
  results: readonly ImageResult[];
  /** Digests this tool wrote before this run (from the stored status). */
  writtenBefore: ReadonlySet<string>;
  reportOnly: boolean;
  now: () => Date;
  /** Called for each deletion the moment it happens, so a crash loses no record. */
  recordNow?: (entry: RetentionRecord) => Promise<void>;
  warnings: string[];
}

export interface RetentionOutcome {
  records: RetentionRecord[];
  counts: RetentionCounts;
}

/** Pruning of old pin tags after the copies; never fails the run (trouble is a warning). */
export interface RetentionPort {
  retain(request: RetentionRequest): Promise<RetentionOutcome | undefined>;
}

/** What one run (or one queued copy) gets from a vendor; every field optional. */
export interface SyncPorts {
  lister?: TagDigestLister;
  /** Read by the planner: a drifted target tag on a locked manifest is marked and never copied. */
  locks?: LockState;
  /** Wraps the stream copy (mode decision, server-side import, lock guard); absent: stream. */
  copier?: (stream: StreamCopy) => ImageCopier;
  retention?: RetentionPort;
}
