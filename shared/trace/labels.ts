/**
 * An image's labels read over the registry HTTP API, never by pulling: the manifest (for an index, one child's), then
 * the config blob, whose `config.Labels` the build wrote. Two or three small GETs per image, no layer is touched.
 */
import type { RegistryClient } from "../registry/client";
import { DigestMismatchError, SizeMismatchError } from "../registry/digest";
import { type Descriptor, isImageType, isIndexType, platformString } from "../registry/manifest";
import type { LabelRecord } from "../store/traceStore";
import { normaliseRepoUrl } from "./links";

/** What a trace needs from one image; the same shape is cached in the Labels table (labels of a digest never change). */
export type ImageLabels = LabelRecord;

/** Image configs are a few KiB; one of megabytes is a broken or hostile image, refused before it is read. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export type LabelErrorKind = "too-large" | "invalid-image";

/** The image exists but cannot be read as an image with labels. Permanent: the digest fixes the content. */
export class LabelReadError extends Error {
  constructor(
    readonly kind: LabelErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "LabelReadError";
  }
}

export interface LabelReadOptions {
  maxConfigBytes?: number;
}

// Index children that are not runnable images: BuildKit attestations (`unknown/unknown`, or the reference annotation).
function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
    (d.platform?.os === "unknown" && d.platform.architecture === "unknown")
  );
}

/**
 * The child of an index whose labels stand for the image: linux/amd64 (what ARO-HCP runs), else the first runnable
 * child. Multi-arch builds set the same labels on every child, so "any" is a fair fallback.
 */
export function pickChild(manifests: readonly Descriptor[]): Descriptor | undefined {
  const runnable = manifests.filter((d) => !isAttestation(d));
  return runnable.find((d) => d.platform?.os === "linux" && d.platform.architecture === "amd64") ?? runnable[0];
}

export async function readImageLabels(
  client: RegistryClient,
  registry: string,
  repository: string,
  digest: string,
  options: LabelReadOptions = {},
): Promise<ImageLabels> {
  const where = `${registry}/${repository}@${digest}`;
  let manifest = await client.manifestGet(registry, repository, digest);
  let platform: string | null = null;
  // One level of nesting is allowed (an index of indexes exists in the wild); deeper is refused, not followed.
  for (let depth = 0; isIndexType(manifest.mediaType); depth++) {
    if (depth === 2) throw new LabelReadError("invalid-image", `${where}: indexes nested too deep`);
    const child = pickChild(manifest.parsed.manifests);
    if (!child) throw new LabelReadError("invalid-image", `${where}: the index has no image`);
    platform = child.platform ? platformString(child.platform) : null;
    if (platform !== null && !PLATFORM.test(platform)) platform = null;
    manifest = await client.manifestGet(registry, repository, child.digest);
  }
  const config = manifest.parsed.config;
  if (!isImageType(manifest.mediaType) || !config) {
    throw new LabelReadError("invalid-image", `${where}: not an image manifest (${manifest.mediaType})`);
  }
  const cap = options.maxConfigBytes ?? MAX_CONFIG_BYTES;
  if (config.size > cap) {
    throw new LabelReadError(
      "too-large",
      `${where}: config blob of ${config.size} bytes is over the ${cap}-byte limit`,
    );
  }
  const body = await readBlob(client, registry, repository, config, cap, where);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new LabelReadError("invalid-image", `${where}: config blob is not JSON`);
  }
  const doc = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { config?: unknown; created?: unknown };
  const inner = (typeof doc.config === "object" && doc.config !== null ? doc.config : {}) as { Labels?: unknown };
  return {
    digest,
    manifestDigest: manifest.digest,
    platform,
    configDigest: config.digest,
    labels: stringMap(inner.Labels),
    created: typeof doc.created === "string" && CREATED.test(doc.created) ? doc.created : null,
  };
}

async function readBlob(
  client: RegistryClient,
  registry: string,
  repository: string,
  descriptor: Descriptor,
  cap: number,
  where: string,
): Promise<Buffer> {
  try {
    return await client.blobBytes(
      registry,
      repository,
      descriptor.digest,
      descriptor.size,
      cap,
      () => new LabelReadError("too-large", `${where}: config blob is over the ${cap}-byte limit`),
    );
  } catch (err) {
    if (err instanceof DigestMismatchError || err instanceof SizeMismatchError) {
      throw new LabelReadError("invalid-image", err.message);
    }
    throw err;
  }
}

/** Labels kept per image, and the longest key and value: whoever built the image wrote them. */
export const MAX_LABELS = 64;
export const MAX_LABEL_KEY = 128;
export const MAX_LABEL_VALUE = 512;

/** Printable text of at most `max` characters: control and format characters (bidi overrides, NUL) become `?`. */
export function printableText(value: string, max: number): string {
  const clean = value.replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/gu, "?");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

// Labels are strings by the image spec; anything else (or a null map) is dropped rather than trusted. What is kept
// is cut to printable, bounded text: it is stored, answered and read by agents.
function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  let kept = 0;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string" || key.length > MAX_LABEL_KEY || !/^[\x21-\x7e]+$/.test(key)) continue;
    if (kept++ === MAX_LABELS) break;
    Object.defineProperty(out, key, { value: printableText(v, MAX_LABEL_VALUE), enumerable: true, writable: true });
  }
  return out;
}

// An image config's `created` is an RFC 3339 time; anything else is not shown.
const CREATED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const PLATFORM = /^[A-Za-z0-9._-]{1,32}(?:\/[A-Za-z0-9._-]{1,32}){1,2}$/;

/** Where a source commit came from, in the order it is looked for. */
export type CommitSource = "vcs-ref" | "org.opencontainers.image.revision" | "org.label-schema.vcs-ref" | "tag";
export type RepoSource = "vcs-url" | "org.opencontainers.image.source" | "org.label-schema.vcs-url" | "catalogue";

const COMMIT_LABELS = ["vcs-ref", "org.opencontainers.image.revision", "org.label-schema.vcs-ref"] as const;
const REPO_LABELS = ["vcs-url", "org.opencontainers.image.source", "org.label-schema.vcs-url"] as const;
const COMMIT_LIKE = /^[0-9a-f]{7,40}$/;
// A label value ends up in responses, tables and URLs: printable, no spaces, bounded.
const SAFE_VALUE = /^[\x21-\x7e]{1,128}$/;

/**
 * The source commit: `vcs-ref` (ARO-HCP, Cluster Service), `org.opencontainers.image.revision` (Konflux builds such
 * as Hypershift), the older label-schema label, then a tag that looks like a commit (Maestro tags builds by commit).
 */
export function sourceCommitOf(
  labels: Readonly<Record<string, string>> | null,
  tag: string | null,
): { sha: string; from: CommitSource } | null {
  for (const key of COMMIT_LABELS) {
    const value = labels?.[key]?.trim();
    if (value && SAFE_VALUE.test(value)) return { sha: value, from: key };
  }
  if (tag && COMMIT_LIKE.test(tag)) return { sha: tag, from: "tag" };
  return null;
}

/** The source repository the image names about itself, as a web URL; null when it names none (usable). */
export function sourceRepoLabel(
  labels: Readonly<Record<string, string>> | null,
): { url: string; from: RepoSource } | null {
  for (const key of REPO_LABELS) {
    const url = normaliseRepoUrl(labels?.[key]);
    if (url) return { url, from: key };
  }
  return null;
}
