/**
 * Referrers (signatures, attestations, SBOMs) of a manifest, read and copied the way registries store them today:
 * - the OCI 1.1 Referrers API (`GET /v2/<name>/referrers/<digest>`), where the registry has it;
 * - else the OCI fallback tag `sha256-<hex>`, an index of the referrers that clients keep up to date themselves;
 * - and cosign's own tag scheme `sha256-<hex>.sig` / `.att` / `.sbom`, which cosign writes even to registries with
 *   the API unless told otherwise.
 * References: OCI distribution spec 1.1 "Listing Referrers" and "Referrers Tag Schema"; cosign's SIGNATURE_SPEC.md.
 */
import type { RegistryClient } from "./client";
import type { KnownBlobs, RepositoryRef } from "./copy";
import { copyImage } from "./copy";
import { ManifestError, MediaType, type Descriptor } from "./manifest";

/**
 * The artifact types we give cosign's tag-scheme referrers, so one `artifactTypes` filter covers both schemes. They
 * are the types cosign itself uses when it stores the same artifacts as OCI 1.1 referrers.
 */
export const COSIGN_TAG_TYPES = {
  sig: "application/vnd.dev.cosign.artifact.sig.v1+json",
  att: "application/vnd.dev.cosign.artifact.att.v1+json",
  sbom: "application/vnd.dev.cosign.artifact.sbom.v1+json",
} as const;
export type CosignSuffix = keyof typeof COSIGN_TAG_TYPES;
export const NOTATION_SIGNATURE_TYPE = "application/vnd.cncf.notary.signature";

/** Bounds on one image's referrer graph: real images carry a handful; more is broken or hostile. */
export const MAX_REFERRERS = 256;
export const MAX_REFERRER_DEPTH = 4;

export interface Referrer {
  /** The digest this referrer refers to. */
  subject: string;
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** A cosign tag-scheme referrer: the tag it lives under (`sha256-<hex>.sig`). Absent for an OCI referrer. */
  tag?: string;
}

export interface ReferrerOptions {
  /** Only referrers of these artifact types (and their own referrers of these types). Absent: all. */
  artifactTypes?: readonly string[];
  /**
   * Registries found without the Referrers API in this run: asked once, then read through the fallback tag only.
   * Share one set across a run.
   */
  noApi?: Set<string>;
  /**
   * The repository's tags, when the caller lists them once for many digests (a plan): fallback and cosign tags absent
   * from it cost no request. Absent: each is asked with a HEAD.
   */
  tags?: (ref: RepositoryRef) => Promise<ReadonlySet<string>>;
}

export const fallbackTag = (digest: string): string => digest.replace(":", "-");

const wanted = (type: string | undefined, options: ReferrerOptions): boolean =>
  !options.artifactTypes || (type !== undefined && options.artifactTypes.includes(type));

/** The referrers of one digest in one repository, from whichever scheme the registry has. */
export async function referrersOf(
  client: RegistryClient,
  ref: RepositoryRef,
  digest: string,
  options: ReferrerOptions = {},
): Promise<Referrer[]> {
  const out: Referrer[] = [];
  let listed: Descriptor[] | undefined;
  if (!options.noApi?.has(ref.registry)) {
    listed = await client.referrersApi(ref.registry, ref.repository, digest);
    if (listed === undefined) options.noApi?.add(ref.registry);
  }
  const tags = options.tags ? await options.tags(ref) : undefined;
  if (listed === undefined) {
    const fallback = fallbackTag(digest);
    const present = tags
      ? tags.has(fallback)
      : (await client.manifestHead(ref.registry, ref.repository, fallback)) !== null;
    listed = present ? (await client.manifestGet(ref.registry, ref.repository, fallback)).parsed.manifests : [];
  }
  for (const d of listed) {
    if (!wanted(d.artifactType, options)) continue;
    out.push({
      subject: digest,
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      ...(d.artifactType ? { artifactType: d.artifactType } : {}),
      ...(d.annotations ? { annotations: d.annotations } : {}),
    });
  }
  for (const [suffix, type] of Object.entries(COSIGN_TAG_TYPES) as [CosignSuffix, string][]) {
    if (!wanted(type, options)) continue;
    const tag = `${fallbackTag(digest)}.${suffix}`;
    if (tags && !tags.has(tag)) continue;
    const head = await client.manifestHead(ref.registry, ref.repository, tag);
    if (head)
      out.push({
        subject: digest,
        digest: head.digest,
        mediaType: head.mediaType,
        size: head.size,
        artifactType: type,
        tag,
      });
  }
  return out;
}

/**
 * The referrer graph of `subjects`: their referrers, the referrers of those, and so on, parents before children,
 * each digest once. Bounded by MAX_REFERRERS and MAX_REFERRER_DEPTH.
 */
export async function referrerGraph(
  client: RegistryClient,
  ref: RepositoryRef,
  subjects: readonly string[],
  options: ReferrerOptions = {},
): Promise<Referrer[]> {
  // Without a run-wide memory, this graph keeps its own: a registry without the API is asked once per graph.
  options = { ...options, noApi: options.noApi ?? new Set() };
  const out: Referrer[] = [];
  const seen = new Set<string>(subjects);
  let level = [...subjects];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth >= MAX_REFERRER_DEPTH) {
      throw new ManifestError(`referrers nest deeper than ${MAX_REFERRER_DEPTH} levels`);
    }
    const next: string[] = [];
    for (const subject of level) {
      for (const r of await referrersOf(client, ref, subject, options)) {
        // A tag-scheme referrer can also be listed by the API: copied once, under its tag.
        const key = `${r.digest}|${r.tag ?? ""}`;
        if (seen.has(key) || (!r.tag && seen.has(r.digest))) continue;
        seen.add(key);
        seen.add(r.digest);
        out.push(r);
        if (out.length > MAX_REFERRERS) throw new ManifestError(`more than ${MAX_REFERRERS} referrers`);
        next.push(r.digest);
      }
    }
    level = next;
  }
  return out;
}

export interface ReferrersCopy {
  /** Every referrer of the graph, now at the target. */
  referrers: Referrer[];
  /** How many were not at the target before. */
  copied: number;
  /** Fallback tags (`sha256-<hex>`) written because the target has no Referrers API. */
  fallbackTags: string[];
}

/**
 * Copies the referrer graph of `subjects` from `source` to `target`. A referrer is a manifest like any other, so the
 * copy walk moves it (blobs first); a cosign tag-scheme referrer keeps its tag. For OCI referrers the target's answer
 * on the PUT tells who keeps the index: `OCI-Subject` means the registry does; otherwise we update the fallback tag.
 */
export async function copyReferrers(
  client: RegistryClient,
  source: RepositoryRef,
  target: RepositoryRef,
  subjects: readonly string[],
  options: ReferrerOptions & { knownBlobs?: KnownBlobs } = {},
): Promise<ReferrersCopy> {
  const graph = await referrerGraph(client, source, subjects, options);
  let copied = 0;
  // Per subject: did the target index its OCI referrers itself (true), refuse to (false), or we did not PUT (undefined)?
  const bySubject = new Map<string, { indexed?: boolean; descriptors: Descriptor[] }>();
  for (const r of graph) {
    let indexed: boolean | undefined;
    const present = r.tag ? undefined : await client.manifestHead(target.registry, target.repository, r.digest);
    if (!present) {
      const result = await copyImage(client, { ...source, digest: r.digest }, target, r.tag ? [r.tag] : [], {
        ...(options.knownBlobs ? { knownBlobs: options.knownBlobs } : {}),
        onProgress: (e) => {
          if (e.type === "manifest" && e.digest === r.digest && e.subjectIndexed !== undefined)
            indexed = e.subjectIndexed;
        },
      });
      if (result.manifests.copied > 0 || result.tags.written.length > 0) copied++;
    }
    if (r.tag) continue;
    const entry = bySubject.get(r.subject) ?? { descriptors: [] };
    if (indexed !== undefined) entry.indexed = entry.indexed === true || indexed;
    entry.descriptors.push({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      ...(r.annotations ? { annotations: r.annotations } : {}),
    });
    bySubject.set(r.subject, entry);
  }
  const fallbackTags: string[] = [];
  for (const [subject, entry] of bySubject) {
    if (entry.indexed === true) continue;
    // Nothing was PUT (all there already): ask the target once whether it has the API.
    if (
      entry.indexed === undefined &&
      (await client.referrersApi(target.registry, target.repository, subject)) !== undefined
    )
      continue;
    if (await updateFallbackTag(client, target, subject, entry.descriptors)) fallbackTags.push(fallbackTag(subject));
  }
  return { referrers: graph, copied, fallbackTags };
}

/**
 * Adds `descriptors` to the target's fallback index for `subject` (distribution spec "Pushing Manifests with
 * Subject", for registries without the API): read, merge by digest, written only when something was missing.
 */
export async function updateFallbackTag(
  client: RegistryClient,
  target: RepositoryRef,
  subject: string,
  descriptors: readonly Descriptor[],
): Promise<boolean> {
  const tag = fallbackTag(subject);
  const head = await client.manifestHead(target.registry, target.repository, tag);
  const current = head ? (await client.manifestGet(target.registry, target.repository, tag)).parsed.manifests : [];
  const missing = descriptors.filter((d) => !current.some((c) => c.digest === d.digest));
  if (missing.length === 0) return false;
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...current, ...missing] }),
  );
  await client.manifestPut(target.registry, target.repository, tag, index, MediaType.ociIndex);
  return true;
}

/** A short, stable form of a referrer graph for status rows and plan comparisons. */
export function referrerSummary(graph: readonly Referrer[]): string[] {
  return [...new Set(graph.map((r) => `${r.artifactType ?? r.mediaType}@${r.digest}`))].sort();
}
