/** Manifest media types and the little of their structure that a copy and a label read need. */
import { isDigest } from "./reference";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  /** OCI image spec 1.1.0-rc artifact manifest: withdrawn from the final spec, but pushed by ORAS 1.0 and stored. */
  ociArtifact: "application/vnd.oci.artifact.manifest.v1+json",
} as const;

/**
 * Layer types that registries may not serve (Windows base layers): the image spec's `nondistributable` types and
 * Docker's `foreign` type. With `urls`, their bytes live elsewhere, and copies skip them (skopeo, crane, regctl).
 */
const FOREIGN_LAYER_TYPES = new Set<string>([
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
]);

/** A layer whose bytes a copy leaves where they are: a foreign or non-distributable type that names `urls`. */
export function isForeignLayer(d: Descriptor): boolean {
  return (d.urls?.length ?? 0) > 0 && FOREIGN_LAYER_TYPES.has(d.mediaType);
}

const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerList]);
const IMAGE_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociArtifact]);

/** Every type we can copy, so that no registry converts a manifest (and changes its digest) to one we did not ask for. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociArtifact,
].join(", ");

/** Registries cap manifests at a few MiB (distribution 4 MiB on push); anything bigger is hostile or broken. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
  /** Where a foreign layer's bytes are (image spec descriptor `urls`). */
  urls?: string[];
}

export interface ParsedManifest {
  mediaType: string;
  /** For an index: the child manifests. */
  manifests: Descriptor[];
  /** For an image: the config blob. */
  config?: Descriptor;
  /** For an image: its layers; blobs of artifacts too. */
  layers: Descriptor[];
  /** The manifest this one refers to (OCI 1.1 referrers). */
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

export function isIndexType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

export function isImageType(mediaType: string): boolean {
  return IMAGE_TYPES.has(mediaType);
}

export function isManifestType(mediaType: string): boolean {
  return isIndexType(mediaType) || isImageType(mediaType);
}

function asDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== "object" || value === null) throw new ManifestError(`${where}: not an object`);
  const v = value as Record<string, unknown>;
  if (typeof v.digest !== "string" || !isDigest(v.digest)) {
    // An algorithm other than sha256 or sha512 is refused here: its content could not be verified.
    throw new ManifestError(`${where}: missing or invalid digest (sha256 or sha512 only)`);
  }
  if (typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new ManifestError(`${where}: missing or invalid size`);
  }
  const d: Descriptor = {
    mediaType: typeof v.mediaType === "string" ? v.mediaType : "",
    digest: v.digest,
    size: v.size,
  };
  if (typeof v.platform === "object" && v.platform !== null) {
    const p = v.platform as Record<string, unknown>;
    d.platform = {
      os: String(p.os ?? ""),
      architecture: String(p.architecture ?? ""),
      ...(typeof p.variant === "string" ? { variant: p.variant } : {}),
    };
  }
  if (typeof v.annotations === "object" && v.annotations !== null)
    d.annotations = v.annotations as Record<string, string>;
  if (typeof v.artifactType === "string") d.artifactType = v.artifactType;
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === "string");
  return d;
}

function descriptors(value: unknown, where: string): Descriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ManifestError(`${where}: not a list`);
  return value.map((item, i) => asDescriptor(item, `${where}[${i}]`));
}

/**
 * Parses manifest bytes. The media type comes from the body when present, else from the Content-Type header, because
 * Docker v2 manifests carry it in the body and some OCI ones only in the header.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new ManifestError("manifest is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ManifestError("manifest is not an object");
  const m = body as Record<string, unknown>;
  if (m.schemaVersion === 1) throw new ManifestError("Docker schema 1 manifests are not supported");
  const headerType = contentType?.split(";")[0]?.trim();
  let mediaType = typeof m.mediaType === "string" ? m.mediaType : (headerType ?? "");
  if (!isManifestType(mediaType)) {
    // An OCI manifest may omit mediaType; its shape then says what it is.
    if (Array.isArray(m.manifests)) mediaType = MediaType.ociIndex;
    else if (m.config !== undefined) mediaType = MediaType.ociManifest;
    else throw new ManifestError(`unsupported manifest media type "${mediaType || "(none)"}"`);
  }
  const parsed: ParsedManifest = {
    mediaType,
    manifests: isIndexType(mediaType) ? descriptors(m.manifests, "manifests") : [],
    layers:
      mediaType === MediaType.ociArtifact
        ? descriptors(m.blobs, "blobs")
        : isImageType(mediaType)
          ? descriptors(m.layers, "layers")
          : [],
  };
  if (isImageType(mediaType) && mediaType !== MediaType.ociArtifact) {
    if (m.config === undefined) throw new ManifestError("image manifest has no config");
    parsed.config = asDescriptor(m.config, "config");
  }
  if (m.subject !== undefined) parsed.subject = asDescriptor(m.subject, "subject");
  if (typeof m.artifactType === "string") parsed.artifactType = m.artifactType;
  if (typeof m.annotations === "object" && m.annotations !== null)
    parsed.annotations = m.annotations as Record<string, string>;
  return parsed;
}

export function platformString(p: Platform | undefined): string {
  if (!p) return "unknown";
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}
