import type { Platform } from "./configTypes";

/** What a sync decides and does, per image and per run: the vocabulary shared by planner, executor, store and API. */

/**
 * - `in-sync`: the target tag holds the source digest.
 * - `missing`: the target tag does not exist.
 * - `drifted`: the target tag holds another digest.
 * - `newer-available`: the rule picks a tag not mirrored yet while older ones are (counted as outdated).
 * - `source-missing`: the upstream tag is gone; reported, not counted as outdated.
 * - `error`: auth, rate limit, network: we could not tell.
 * - `unverified`: the entry requires a signature (`verify`) and the source digest has none that verifies; not copied,
 *   counted as outdated (the mirror lags the source until someone signs it or changes the policy).
 * - `removed`: a stored row whose target repository no entry of the sync config writes any more. Kept for history,
 *   never counted as outdated or in error, never planned.
 */
export type ImageState =
  "in-sync" | "missing" | "drifted" | "newer-available" | "source-missing" | "error" | "removed" | "unverified";
export const IMAGE_STATES: readonly ImageState[] = [
  "in-sync",
  "missing",
  "drifted",
  "newer-available",
  "source-missing",
  "error",
  "removed",
  "unverified",
];
/** Counted as outdated (alert, `?state=outdated`). `unverified` is outdated but never copied (see NOT_COPIED). */
export const OUTDATED_STATES: ReadonlySet<ImageState> = new Set([
  "missing",
  "drifted",
  "newer-available",
  "unverified",
]);
/** Outdated states a run does not copy: the signature gate holds them back. */
export const NOT_COPIED: ReadonlySet<ImageState> = new Set(["unverified"]);

export interface PlanItem {
  /** `target-registry/repository:tag`: one row of ImageStatus. */
  key: string;
  source: { registry: string; repository: string; tag?: string };
  /** The digest the source has now (unknown when the source could not be read). */
  sourceDigest?: string;
  target: { registry: string; repository: string; tag: string };
  targetDigest?: string;
  /** The digest the target should hold when it differs from the source's: a platform-filtered index. */
  wantDigest?: string;
  /** The platforms copied, when not the whole index. */
  platforms?: readonly Platform[];
  state: ImageState;
  /** Why: the error text for `error`, the rule's note otherwise. */
  reason?: string;
  /** The dated pin tag to write next to the tag, when the entry asks for one. */
  pinTag?: string;
  /** Where the entry came from in the sync config. */
  origin: string;
  /** The target tag sits on a write-protected (locked) ACR manifest: drift is reported, never forced. */
  locked?: true;
  /** The entry's referrer policy: when set, the copy brings the referrer graph along. */
  referrers?: { artifactTypes?: readonly string[] };
  /** Referrers of the source digest found at plan time (`artifactType@digest`, sorted), when the entry copies them. */
  referrersUpstream?: string[];
  /** In sync by digest, outdated only because referrers are new upstream: the copy moves just those. */
  referrersOnly?: true;
  /** Who signed the source digest, when the entry requires a signature: `cosign sha256:<key fingerprint>`. */
  signedBy?: string;
  /** The plan listed the target repository and found no tag in it: the copy need not ask what is there. */
  targetRepositoryEmpty?: true;
}

export type Counts = Record<ImageState, number>;

export function emptyCounts(): Counts {
  return {
    "in-sync": 0,
    missing: 0,
    drifted: 0,
    "newer-available": 0,
    "source-missing": 0,
    error: 0,
    removed: 0,
    unverified: 0,
  };
}

export function countStates(items: readonly { state: ImageState }[]): Counts {
  const counts = emptyCounts();
  for (const item of items) counts[item.state]++;
  return counts;
}

export function outdated(counts: Counts): number {
  return counts.missing + counts.drifted + counts["newer-available"] + counts.unverified;
}

/** `queued`: handed to the copy queue (SYNC_MODE=queue); the queue function records the copy itself. */
export type ResultAction = "copied" | "unchanged" | "failed" | "reported" | "skipped" | "queued";

export interface ImageResult extends PlanItem {
  action: ResultAction;
  /** State after this run: `in-sync` once copied, the planned state otherwise. */
  stateAfter: ImageState;
  bytes: number;
  durationMs: number;
  error?: string;
  /** How a copied image got there: streamed through this process, or imported by ACR itself. */
  via?: "stream" | "import";
  /** Set when an import was refused and the image was streamed instead: why. */
  fallback?: string;
  /** Set when locking the copied manifest (LOCK_IMAGES) failed; the copy itself stands. */
  lockError?: string;
  /** The referrers now at the target (`artifactType@digest`, sorted), when the entry copies them. */
  referrersCopied?: string[];
}

export type RunTrigger = "timer" | "manual" | "queue" | "cli";

export interface RunRecord {
  runId: string;
  trigger: RunTrigger;
  startedAt: string;
  finishedAt?: string;
  status: "running" | "succeeded" | "partial" | "failed";
  reportOnly: boolean;
  countsBefore: Counts;
  countsAfter: Counts;
  copied: number;
  failed: number;
  bytes: number;
  requests: number;
  durationMs: number;
  /** Whether this run HEADed every target tag instead of trusting what it wrote before. */
  verified: boolean;
  errorSummary?: string;
  /** Pin-tag retention in ACR targets (RETENTION_MODE): entries reported, deleted, and deletions that failed. */
  retention?: RetentionCounts;
}

export interface RetentionCounts {
  mode: "report" | "delete";
  reported: number;
  deleted: number;
  failed: number;
}
