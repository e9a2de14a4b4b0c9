import { type ImageReference, isDigest, normaliseRegistry, parseReference } from "../registry/reference";
import { type ConfigMap, type ConfigValue, isConfigMap } from "./configFile";
import { IMAGE_FIELDS, SchemaNavigator, type SchemaObject } from "./schema";

/**
 * `pinned`: a digest names the image exactly. `not-pinned`: the entry exists but carries no usable digest (empty,
 * `empty-sentinel`, malformed); its value comes from somewhere else, such as a private overlay. `tag-only`: a tag
 * and no digest, so which build runs cannot be known from the config.
 */
export type ImageStatus = "pinned" | "not-pinned" | "tag-only";

/**
 * The entry's shape in the config: ARO-HCP's schema types `containerImage` (digest), `containerImageSha` (bare sha),
 * `containerImageTagDigest` (tag + sha), an object with only a tag, or a legacy pull-spec string.
 */
export type ImageForm = "containerImage" | "containerImageSha" | "containerImageTagDigest" | "tag" | "string";

export interface ImageEntry {
  /** Dotted config path, e.g. `svc.prometheus.prometheusSpec.image`; array elements as `[i]`. */
  path: string;
  form: ImageForm;
  /** Registry host only; a path the config put in `registry` is moved into `repository`. */
  registry: string | null;
  repository: string | null;
  /** `sha256:<hex>`, with `sha` values prefixed; null when not pinned. */
  digest: string | null;
  tag: string | null;
  status: ImageStatus;
  /** A pull reference when there is enough to build one. */
  reference: string | null;
  /** Why the entry is not (fully) usable; null for a clean pinned entry. */
  reason: string | null;
  /** The fields exactly as the config holds them (`value` for the string form). */
  declared: Readonly<Record<string, string>>;
  /** Something read leniently, e.g. a bare 64-hex digest taken as `sha256:`; the trace lists it as a warning. */
  warning?: string;
}

export interface ExtractOptions {
  /** The config's JSON schema. Where it types a path, it decides; elsewhere the entry's shape does. */
  schema?: unknown;
}

/** Placeholder ARO-HCP writes where the real value lives in a private overlay. */
export const EMPTY_SENTINEL = "empty-sentinel";

const BARE_SHA256 = /^[a-fA-F0-9]{64}$/;

// Keys whose string values are pull specs in older configs (`providerImage`, `containerizedDb.image`).
const IMAGE_KEY = /image$/i;

export function extractImages(config: ConfigMap, options: ExtractOptions = {}): ImageEntry[] {
  const navigator = options.schema === undefined ? undefined : new SchemaNavigator(options.schema);
  const out: ImageEntry[] = [];
  walk(config, navigator?.rootNodes() ?? [], "", navigator, out);
  return out;
}

function walk(
  node: ConfigValue,
  schema: readonly SchemaObject[],
  path: string,
  navigator: SchemaNavigator | undefined,
  out: ImageEntry[],
): void {
  if (Array.isArray(node)) {
    const items = navigator?.items(schema) ?? [];
    node.forEach((item, i) => walk(item, items, `${path}[${i}]`, navigator, out));
    return;
  }
  if (!isConfigMap(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const childPath = path ? `${path}.${key}` : key;
    const childSchema = navigator?.child(schema, key) ?? [];
    // A schema that knows the path is authoritative (it keeps out look-alikes such as `global.billing`); a path it
    // does not describe, or a config without a schema, falls back to the entry's shape.
    const typedAsImage =
      childSchema.length > 0 ? navigator?.isImage(childSchema) === true : looksLikeImageObject(value);
    if (typedAsImage && isConfigMap(value)) {
      out.push(objectEntry(childPath, value));
    } else if (typeof value === "string" && (typedAsImage || IMAGE_KEY.test(key))) {
      const entry = stringEntry(childPath, value);
      if (entry) out.push(entry);
    } else {
      walk(value, childSchema, childPath, navigator, out);
    }
  }
}

function looksLikeImageObject(value: ConfigValue): boolean {
  if (!isConfigMap(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.includes("repository") &&
    (keys.includes("digest") || keys.includes("sha") || keys.includes("tag")) &&
    keys.every((k) => IMAGE_FIELDS.has(k) && typeof value[k] === "string")
  );
}

function objectEntry(path: string, value: ConfigMap): ImageEntry {
  const declared: Record<string, string> = {};
  for (const field of IMAGE_FIELDS) {
    const v = value[field];
    if (typeof v === "string") declared[field] = v;
    else if (typeof v === "number" || typeof v === "boolean") declared[field] = String(v);
  }
  const { registry: rawRegistry, repository: rawRepository, digest: rawDigest, sha, tag: rawTag } = declared;
  const form: ImageForm =
    sha !== undefined && rawTag !== undefined
      ? "containerImageTagDigest"
      : sha !== undefined
        ? "containerImageSha"
        : rawDigest !== undefined
          ? "containerImage"
          : "tag";

  // `mcr.microsoft.com/oss/v2` + `prometheus/prometheus`: the host is the first segment, the rest is repository.
  const registryText = rawRegistry?.trim() ?? "";
  const slash = registryText.indexOf("/");
  const host = slash >= 0 ? registryText.slice(0, slash) : registryText;
  const registryPath = slash >= 0 ? registryText.slice(slash + 1).replace(/\/+$/, "") : "";
  const repositoryText = rawRepository?.trim().replace(/^\/+/, "") ?? "";
  const repositoryJoined = [registryPath, repositoryText].filter((s) => s !== "").join("/");
  const registry = host ? normaliseRegistry(host) : null;
  const repository = repositoryText ? repositoryJoined : null;

  // Older ARO-HCP entries (prometheus, before 2025-07-17) wrote the digest as bare hex: it can only mean sha256.
  const bareHex = rawDigest !== undefined && BARE_SHA256.test(rawDigest.trim());
  const pin = bareHex ? `sha256:${rawDigest.trim()}` : rawDigest?.trim() || (sha?.trim() ? prefixSha(sha.trim()) : "");
  const digest = pin ? lowerHex(pin) : null;
  const tag = rawTag?.trim() || null;

  let status: ImageStatus;
  let reason: string | null = null;
  if (host === EMPTY_SENTINEL || repositoryText === EMPTY_SENTINEL) {
    status = "not-pinned";
    reason = `placeholder "${EMPTY_SENTINEL}": the value is set outside this config`;
  } else if (repository === null) {
    status = "not-pinned";
    reason = "no repository";
  } else if (digest !== null && !isDigest(digest)) {
    status = "not-pinned";
    reason = `malformed digest "${pin}"`;
  } else if (digest !== null) {
    status = "pinned";
    if (registry === null) reason = "no registry: it is supplied outside this config";
  } else if (tag !== null) {
    status = "tag-only";
    reason = "tag only: not traceable by digest";
  } else {
    status = "not-pinned";
    reason = "empty digest";
  }
  const usable = status === "pinned" || status === "tag-only";
  const warning =
    bareHex && status === "pinned" ? `digest "${rawDigest.trim()}" has no algorithm; read as sha256` : undefined;
  if (warning && reason === null) reason = warning;
  return {
    path,
    form,
    registry,
    repository,
    digest: status === "pinned" ? digest : null,
    tag,
    status,
    reference:
      usable && registry !== null && repository !== null
        ? formatRef(registry, repository, tag, status === "pinned" ? digest : null)
        : null,
    reason,
    declared,
    ...(warning ? { warning } : {}),
  };
}

/** A legacy `host/repo:tag` string; anything that does not parse as a reference with a tag or digest is not one. */
function stringEntry(path: string, value: string): ImageEntry | null {
  let parsed: ImageReference;
  try {
    parsed = parseReference(value);
  } catch {
    return null;
  }
  if (!parsed.tag && !parsed.digest) return null;
  const digest = parsed.digest ?? null;
  const tag = parsed.tag ?? null;
  return {
    path,
    form: "string",
    registry: parsed.registry,
    repository: parsed.repository,
    digest,
    tag,
    status: digest ? "pinned" : "tag-only",
    reference: formatRef(parsed.registry, parsed.repository, tag, digest),
    reason: digest ? null : "tag only: not traceable by digest",
    declared: { value },
  };
}

function prefixSha(sha: string): string {
  return sha.includes(":") ? sha : `sha256:${sha}`;
}

// The schema allows upper-case hex; registries address content by lower-case digests only.
function lowerHex(digest: string): string {
  return digest.startsWith("sha256:") ? digest.toLowerCase() : digest;
}

function formatRef(registry: string, repository: string, tag: string | null, digest: string | null): string {
  return `${registry}/${repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
}
