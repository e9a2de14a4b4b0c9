/**
 * Rebuild eligibility, as a pure function of facts and a clock: a managed image is stale when a base now resolves to
 * a digest other than the one it was built from, and eligible for a rebuild once the delay has passed since the
 * base first moved on (at once for a critical base). The delay counts from the first newer digest, not the newest:
 * a base that is republished daily would otherwise never be old enough.
 */
import type { DigestSighting } from "../store/baseStore";

/** How we know which base digest an image was built from, strongest first. */
export type Evidence =
  /** `org.opencontainers.image.base.digest` on the image (a config label or a manifest annotation). */
  | { kind: "label"; digest: string; from: "label" | "annotation" }
  /**
   * The image's layers start with the base's layers at `digest` (the current digest or an earlier one); without a
   * digest, they match no digest of the base we know.
   */
  | { kind: "layers"; matchesCurrent: boolean; digest?: string }
  /** The Dockerfile pins the digest (`FROM node:20@sha256:…`). */
  | { kind: "dockerfile-pin"; digest: string }
  /** `builtFrom` in the enrollment file. */
  | { kind: "enrollment"; digest: string }
  /** The digest that was current when the image was enrolled as managed (or when the base joined its Dockerfile). */
  | { kind: "baseline"; digest: string; at: string };

export type EvidenceKind = Evidence["kind"];

export interface EdgeFacts {
  base: string;
  critical: boolean;
  /** A digest pinned in the Dockerfile: a rebuild uses it, so a newer base needs a Dockerfile change instead. */
  pinned?: string;
  /** What the base resolves to now, and since when. */
  current?: { digest: string; since: string };
  /** Why the current digest is unknown. */
  currentError?: string;
  /** Other digests that are the current base too (the platform manifests of its index). */
  currentAliases?: readonly string[];
  /** Every digest the base has resolved to, oldest first. */
  history: readonly DigestSighting[];
  evidence?: Evidence;
}

export interface ImageFacts {
  name: string;
  delayMs: number;
  /** The image config's `created`, used to place an unknown built-from digest in the base's history. */
  builtAt?: string;
  edges: readonly EdgeFacts[];
  /** Set when the image cannot be judged or rebuilt (a dependency cycle, an unreadable Dockerfile). */
  blocked?: string;
}

export type BaseState = "current" | "stale" | "unknown";

export interface BaseVerdict {
  base: string;
  state: BaseState;
  critical: boolean;
  builtFrom?: string;
  evidence?: EvidenceKind;
  current?: string;
  currentSince?: string;
  staleSince?: string;
  /** When a rebuild becomes worthwhile for this base: `staleSince` plus the delay (none when critical). */
  eligibleAt?: string;
  /** False when the Dockerfile pins an older digest: only a Dockerfile change picks up the new base. */
  rebuildHelps: boolean;
  reason: string;
}

export interface ImageVerdict {
  name: string;
  state: BaseState;
  stale: boolean;
  eligible: boolean;
  staleSince?: string;
  eligibleAt?: string;
  bases: BaseVerdict[];
  reasons: string[];
}

/** When the base first resolved to something other than `builtFrom` after the image was built. */
export function staleSince(
  history: readonly DigestSighting[],
  current: { digest: string; since: string },
  builtFrom: string | undefined,
  builtAt: string | undefined,
): string {
  if (builtFrom !== undefined) {
    const at = history.map((h) => h.digest).lastIndexOf(builtFrom);
    if (at >= 0) return (history[at + 1] ?? current).since;
  }
  const others = history.filter((h) => h.digest !== builtFrom);
  if (builtAt !== undefined) {
    const after = others.find((h) => h.since >= builtAt);
    // Built after every change we saw, yet not from the current digest (a cached or pinned older base): stale
    // from the moment it was built.
    return after?.since ?? builtAt;
  }
  return others[0]?.since ?? current.since;
}

function builtFromOf(evidence: Evidence | undefined): string | undefined {
  return evidence?.digest;
}

function judgeEdge(edge: EdgeFacts, image: ImageFacts): BaseVerdict {
  const base = { base: edge.base, critical: edge.critical };
  const evidence = edge.evidence;
  const builtFrom = builtFromOf(evidence);
  const known = {
    ...(builtFrom !== undefined ? { builtFrom } : {}),
    ...(evidence ? { evidence: evidence.kind } : {}),
    ...(edge.current ? { current: edge.current.digest, currentSince: edge.current.since } : {}),
  };
  if (!edge.current) {
    return {
      ...base,
      ...known,
      state: "unknown",
      rebuildHelps: false,
      reason: edge.currentError ?? "current digest unknown",
    };
  }
  if (!evidence) {
    return {
      ...base,
      ...known,
      state: "unknown",
      rebuildHelps: false,
      reason: "no evidence of the digest the image was built from",
    };
  }
  const current = edge.current;
  const matches =
    evidence.kind === "layers"
      ? evidence.matchesCurrent
      : builtFrom === current.digest || (edge.currentAliases ?? []).includes(builtFrom!);
  const rebuildHelps = edge.pinned === undefined || edge.pinned === current.digest;
  if (matches)
    return {
      ...base,
      ...known,
      state: "current",
      rebuildHelps,
      reason: `built from the current digest (${evidence.kind})`,
    };
  const since = staleSince(edge.history, current, builtFrom, image.builtAt);
  const delay = edge.critical ? 0 : image.delayMs;
  const eligibleAt = new Date(Date.parse(since) + delay).toISOString();
  const reason = rebuildHelps
    ? `base moved on since ${since} (${evidence.kind})`
    : `the Dockerfile pins ${edge.pinned}; update the pin to ${current.digest}`;
  return { ...base, ...known, state: "stale", staleSince: since, eligibleAt, rebuildHelps, reason };
}

function earliest(values: readonly (string | undefined)[]): string | undefined {
  const defined = values.filter((v): v is string => v !== undefined).sort();
  return defined[0];
}

export function judgeImage(image: ImageFacts, now: Date): ImageVerdict {
  const bases = image.edges.map((edge) => judgeEdge(edge, image));
  const stale = bases.filter((b) => b.state === "stale");
  const worth = stale.filter((b) => b.rebuildHelps);
  const state: BaseState =
    stale.length > 0 ? "stale" : image.blocked || bases.some((b) => b.state === "unknown") ? "unknown" : "current";
  const since = earliest(stale.map((b) => b.staleSince));
  const eligibleAt = earliest(worth.map((b) => b.eligibleAt));
  const eligible = !image.blocked && eligibleAt !== undefined && Date.parse(eligibleAt) <= now.getTime();
  const reasons = [
    ...(image.blocked ? [image.blocked] : []),
    ...bases.filter((b) => b.state !== "current").map((b) => `${b.base}: ${b.reason}`),
  ];
  return {
    name: image.name,
    state,
    stale: stale.length > 0,
    eligible,
    ...(since !== undefined ? { staleSince: since } : {}),
    ...(eligibleAt !== undefined ? { eligibleAt } : {}),
    bases,
    reasons,
  };
}
