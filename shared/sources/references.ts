/** One image reference string or a Helm-style `{registry, repository, tag, digest}` map, checked once. */
import { InvalidReferenceError, parseReference, withDefaultTag } from "../registry/reference";
import type { SourceOrigin, SourcedImage } from "./types";

export type ReferenceOutcome = { ok: true; image: SourcedImage; warning?: string } | { ok: false; message: string };

/** `nginx`, `quay.io/org/app:1.2`, `host:5000/app@sha256:…`; no tag and no digest means `latest`, with a warning. */
export function imageFromString(text: string, origin: SourceOrigin): ReferenceOutcome {
  let parsed;
  try {
    parsed = parseReference(text);
  } catch (err) {
    return { ok: false, message: err instanceof InvalidReferenceError ? err.message : String(err) };
  }
  const full = withDefaultTag(parsed);
  return {
    ok: true,
    image: {
      registry: full.registry,
      repository: full.repository,
      tag: full.tag ?? null,
      digest: full.digest ?? null,
      origin,
    },
    ...(parsed.tag || parsed.digest ? {} : { warning: `"${text}" names no tag: read as :latest, which moves` }),
  };
}

export interface ImageFields {
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
}

/**
 * Helm's common shapes: `{registry, repository, tag, digest}` (Bitnami and most charts), `{repository: host/path, tag}`
 * (registry inside the repository), a digest with or without its `sha256:`; an empty tag and no digest names nothing.
 */
export function imageFromFields(fields: ImageFields, origin: SourceOrigin): ReferenceOutcome | undefined {
  const repository = fields.repository?.trim() ?? "";
  if (!repository) return undefined;
  const registry = fields.registry?.trim().replace(/\/+$/, "") ?? "";
  const tag = fields.tag?.trim() ?? "";
  let digest = fields.digest?.trim() ?? "";
  if (/^[a-f0-9]{64}$/.test(digest)) digest = `sha256:${digest}`;
  if (!tag && !digest) return undefined;
  const text = `${registry ? `${registry}/` : ""}${repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
  return imageFromString(text, origin);
}
