/**
 * Platform filtering of an index. Copying a subset rewrites the index, so the mirrored digest differs from the
 * upstream one; the rewrite is deterministic (same upstream bytes → same filtered bytes), which lets the planner
 * predict the digest a filtered copy will have and compare it with the target tag by digest all the same.
 */
import type { Manifest } from "./client";
import { sha256Digest } from "./digest";
import { isIndexType, parseManifest, type Platform } from "./manifest";

export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  return want.variant === undefined || want.variant === have.variant;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

export class PlatformFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformFilterError";
  }
}

/**
 * The index with only the children whose platform matches one of `platforms`; every other field is kept as
 * written. A single-platform image is returned unchanged: there is nothing to filter, and rewriting it would only
 * change its digest.
 */
export function filterIndex(root: Manifest, platforms: readonly Platform[]): Manifest {
  if (!isIndexType(root.mediaType)) return root;
  const doc = JSON.parse(root.bytes.toString("utf8")) as { manifests?: Array<{ platform?: Platform }> };
  const kept = (doc.manifests ?? []).filter((m) => platforms.some((p) => platformMatches(p, m.platform)));
  if (kept.length === 0) {
    throw new PlatformFilterError(`no child of ${root.digest} matches ${platforms.map(formatPlatform).join(", ")}`);
  }
  if (kept.length === (doc.manifests ?? []).length) return root;
  const bytes = Buffer.from(JSON.stringify({ ...doc, manifests: kept }), "utf8");
  return {
    digest: sha256Digest(bytes),
    mediaType: root.mediaType,
    bytes,
    parsed: parseManifest(bytes, root.mediaType),
  };
}
