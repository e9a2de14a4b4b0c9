/**
 * Copies one image by digest: a walk of the content graph with successors before predecessors (oras-go's order) —
 * blobs, then child manifests, then the root — and the tags last, only once everything they point at is in place.
 */
import type { RegistryClient, Manifest, PutInfo } from "./client";
import { mapSettled } from "./limiter";
import { ManifestError, isForeignLayer, isImageType, isIndexType, type Descriptor, type Platform } from "./manifest";
import { filterIndex } from "./platforms";
import { normaliseRegistry } from "./reference";
import { DigestMismatchError, SizeMismatchError } from "./digest";
import { RetryableError, isNetworkError, isRetryableStatus, withRetry } from "./retry";
import { BodyConsumedError, RegistryError, countInto, newTally, type RequestTally } from "./transport";

/**
 * Bounds on one image's content graph: an index with more children than any real multi-platform image (the
 * largest public ones list a few dozen) is broken or hostile, and is refused before its children are fetched.
 */
export const MAX_INDEX_CHILDREN = 1_000;
export const MAX_GRAPH_BLOBS = 10_000;

export interface RepositoryRef {
  registry: string;
  repository: string;
}

export interface CopySource extends RepositoryRef {
  /** The digest to copy; when absent, `tag` is resolved once and that digest is copied. */
  digest?: string;
  tag?: string;
}

export interface CopyOptions {
  /** Blob transfers at once for this image (the transport still caps requests per host). */
  concurrency?: number;
  /** Other repositories in the target registry that may hold these blobs already, tried as mount sources. */
  mountFrom?: string[];
  /**
   * Shared by the copies of one run: which target repository has (or is uploading) each blob, so that images
   * copied side by side send a shared base layer once and mount it everywhere else.
   */
  knownBlobs?: KnownBlobs;
  /**
   * Copy only these platforms of an index (the index is rewritten, so its digest changes). Absent: the whole
   * index, byte for byte.
   */
  platforms?: readonly Platform[];
  onProgress?: (event: CopyProgress) => void;
  /**
   * What the caller has just read of some target tags (a plan's HEAD or listing; `undefined`: absent): those tags
   * are not asked again. The copy only writes a tag whose digest differs, so a stale entry costs one idempotent PUT.
   */
  knownTargetTags?: ReadonlyMap<string, string | undefined>;
  /**
   * The caller has just listed the target repository and found no tag (a first sync): the manifest is not asked
   * for, and small blobs are sent without asking either. Only a cost hint: what is there after all is rewritten.
   */
  targetRepositoryEmpty?: boolean;
  /**
   * Ask about every blob before sending it (no SEND_UNASKED_MAX_BYTES shortcut): a run that follows a dead one, whose
   * uploads may be at the target already without any manifest naming them.
   */
  askFirst?: boolean;
  /** The source manifest, when the caller has read it already; used only if its digest is the one copied. */
  sourceManifest?: Manifest;
}

/**
 * Up to this size a blob that is probably new is sent without a HEAD first: a config blob of a manifest the target
 * lacks (its bytes name the image), any small blob of an empty repository. Should it exist after all, the upload
 * costs two requests and these few bytes, against one request saved each time it does not.
 */
export const SEND_UNASKED_MAX_BYTES = 1024 * 1024;

export type CopyProgress =
  /** The content graph is known: what this copy will check, before any blob moves. */
  | { type: "walk"; manifests: number; blobs: number; bytes: number }
  | { type: "blob"; digest: string; size: number; action: "skipped" | "mounted" | "copied" }
  | {
      type: "manifest";
      digest: string;
      action: "skipped" | "copied";
      /** For a manifest with a `subject`: whether the registry confirmed it with OCI-Subject (Referrers API). */
      subjectIndexed?: boolean;
    }
  | { type: "tag"; tag: string; action: "unchanged" | "written" };

export interface CopyResult {
  digest: string;
  mediaType: string;
  manifests: { total: number; copied: number; skipped: number };
  blobs: { total: number; copied: number; skipped: number; mounted: number; foreign: number };
  bytes: number;
  tags: { written: string[]; unchanged: string[] };
  requests: ReturnType<RequestTally["toJSON"]>;
}

export class CopyError extends Error {
  constructor(
    message: string,
    readonly partial: Omit<CopyResult, "digest" | "mediaType"> & { digest?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CopyError";
  }
}

/** Where in each target registry a blob is, or is being uploaded to. */
export class KnownBlobs {
  private readonly places = new Map<string, Promise<string | undefined>>();

  /** Registers an upload, or returns the repository of one already registered (resolved once it is done). */
  claim(
    registry: string,
    digest: string,
    repository: string,
    upload: () => Promise<void>,
  ): { owner: true; done: Promise<void> } | { owner: false; repository: Promise<string | undefined> } {
    const key = `${normaliseRegistry(registry)}|${digest}`;
    const existing = this.places.get(key);
    if (existing) return { owner: false, repository: existing };
    const done = upload();
    // A failed upload leaves no place: the next copy tries on its own.
    this.places.set(
      key,
      done.then(
        () => repository,
        () => (this.places.delete(key), undefined),
      ),
    );
    return { owner: true, done };
  }
}

interface Graph {
  root: Manifest;
  /** Child manifests in put order: every manifest after the ones it refers to. */
  children: Manifest[];
  blobs: Descriptor[];
  /** Digests of the image configs among `blobs`. */
  configs: Set<string>;
  /** Foreign layers left out. */
  foreign: number;
}

export async function copyImage(
  client: RegistryClient,
  source: CopySource,
  target: RepositoryRef,
  tags: readonly string[],
  options: CopyOptions = {},
): Promise<CopyResult> {
  const tally = newTally();
  const stats = {
    manifests: { total: 0, copied: 0, skipped: 0 },
    blobs: { total: 0, copied: 0, skipped: 0, mounted: 0, foreign: 0 },
    bytes: 0,
    tags: { written: [] as string[], unchanged: [] as string[] },
  };
  let digest = source.digest;
  try {
    return await countInto(tally, async () => {
      if (!digest) {
        if (!source.tag) throw new RegistryError("copy source needs a digest or a tag", 400);
        // HEAD resolves the tag without spending pull quota (Docker Hub counts GETs only).
        const head = await client.manifestHead(source.registry, source.repository, source.tag);
        if (!head)
          throw new RegistryError(
            `${source.registry}/${source.repository}:${source.tag} not found (404 MANIFEST_UNKNOWN)`,
            404,
            "MANIFEST_UNKNOWN",
          );
        digest = head.digest;
      }
      const resolved = digest;
      const current = new Map<string, string | undefined>();
      let mediaType = "";
      for (const tag of tags) {
        if (options.knownTargetTags?.has(tag)) {
          current.set(tag, options.knownTargetTags.get(tag));
          continue;
        }
        const head = await client.manifestHead(target.registry, target.repository, tag);
        current.set(tag, head?.digest);
        if (head?.digest === resolved) mediaType = head.mediaType;
      }
      if (tags.length > 0 && tags.every((t) => current.get(t) === resolved)) {
        stats.tags.unchanged.push(...tags);
        for (const tag of tags) options.onProgress?.({ type: "tag", tag, action: "unchanged" });
        return { digest: resolved, mediaType, ...stats, requests: tally.toJSON() };
      }
      const fetched =
        options.sourceManifest?.digest === resolved
          ? options.sourceManifest
          : await client.manifestGet(source.registry, source.repository, resolved);
      const root = options.platforms ? filterIndex(fetched, options.platforms) : fetched;
      // A tag already on this digest proves the manifest is there.
      const present =
        [...current.values()].includes(root.digest) ||
        (!options.targetRepositoryEmpty &&
          (await client.manifestHead(target.registry, target.repository, root.digest)) !== null);
      if (!present) {
        const graph = await walk(client, source, root);
        stats.manifests.total = graph.children.length + 1;
        stats.blobs.total = graph.blobs.length;
        stats.blobs.foreign = graph.foreign;
        options.onProgress?.({
          type: "walk",
          manifests: stats.manifests.total,
          blobs: graph.blobs.length,
          bytes: graph.blobs.reduce((n, b) => n + b.size, 0),
        });
        const unasked = (b: Descriptor) =>
          !options.askFirst &&
          b.size <= SEND_UNASKED_MAX_BYTES &&
          (graph.configs.has(b.digest) || options.targetRepositoryEmpty === true);
        await copyBlobs(client, source, target, graph.blobs, unasked, options, stats);
        for (const child of graph.children)
          await putManifest(client, target, child, stats, options, options.targetRepositoryEmpty === true);
        // By digest before any tag: a registry that stores other bytes than ours (one that rewrites manifests)
        // refuses the digest, and no tag ever names content that was not verified.
        await putManifest(client, target, root, stats, options, true);
      } else {
        stats.manifests.total = 1;
        stats.manifests.skipped = 1;
        options.onProgress?.({ type: "manifest", digest: root.digest, action: "skipped" });
      }
      await writeTags(client, target, root, tags, current, stats, options);
      return { digest: root.digest, mediaType: root.mediaType, ...stats, requests: tally.toJSON() };
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new CopyError(
      `copy ${source.registry}/${source.repository}@${digest ?? source.tag} → ${target.registry}/${target.repository}: ${message}`,
      { ...stats, requests: tally.toJSON(), ...(digest ? { digest } : {}) },
      { cause: err },
    );
  }
}

async function walk(client: RegistryClient, source: RepositoryRef, root: Manifest): Promise<Graph> {
  const children: Manifest[] = [];
  const blobs = new Map<string, Descriptor>();
  const configs = new Set<string>();
  const seen = new Set<string>([root.digest]);
  let foreign = 0;
  const visit = async (m: Manifest): Promise<void> => {
    if (isIndexType(m.mediaType)) {
      if (m.parsed.manifests.length > MAX_INDEX_CHILDREN) {
        throw new ManifestError(
          `index ${m.digest} lists ${m.parsed.manifests.length} manifests, over the limit of ${MAX_INDEX_CHILDREN}`,
        );
      }
      for (const child of m.parsed.manifests) {
        if (seen.has(child.digest)) continue;
        seen.add(child.digest);
        if (seen.size > MAX_INDEX_CHILDREN + 1) {
          throw new ManifestError(`image has more than ${MAX_INDEX_CHILDREN} manifests`);
        }
        // Every entry of an index is a manifest (image spec, image-index.md), whatever its mediaType says or
        // whether it says one at all: it is read from /manifests/, and its own bytes tell what it is.
        const fetched = await client.manifestGet(source.registry, source.repository, child.digest);
        await visit(fetched);
        children.push(fetched);
      }
    } else if (isImageType(m.mediaType)) {
      if (m.parsed.config) {
        blobs.set(m.parsed.config.digest, m.parsed.config);
        configs.add(m.parsed.config.digest);
      }
      for (const layer of m.parsed.layers) {
        // A foreign layer's bytes live at its `urls`; the registry is not expected to hold them (skopeo and crane
        // leave them out too), and the manifest is valid without them.
        if (isForeignLayer(layer)) {
          foreign++;
          continue;
        }
        if (!blobs.has(layer.digest)) blobs.set(layer.digest, layer);
      }
      if (blobs.size > MAX_GRAPH_BLOBS) throw new ManifestError(`image has more than ${MAX_GRAPH_BLOBS} blobs`);
    }
  };
  await visit(root);
  return { root, children, blobs: [...blobs.values()], configs, foreign };
}

async function copyBlobs(
  client: RegistryClient,
  source: RepositoryRef,
  target: RepositoryRef,
  blobs: Descriptor[],
  unasked: (blob: Descriptor) => boolean,
  options: CopyOptions,
  stats: { blobs: CopyResult["blobs"]; bytes: number },
): Promise<void> {
  const sameRegistry = normaliseRegistry(source.registry) === normaliseRegistry(target.registry);
  const mountSources = [
    ...(sameRegistry && source.repository !== target.repository ? [source.repository] : []),
    ...(options.mountFrom ?? []).filter((r) => r !== target.repository),
  ];
  const outcomes = await mapSettled(blobs, options.concurrency ?? 4, async (blob) => {
    const action = await copyBlob(client, source, target, blob, unasked(blob), mountSources, options.knownBlobs);
    if (action === "copied") stats.bytes += blob.size;
    stats.blobs[action]++;
    options.onProgress?.({ type: "blob", digest: blob.digest, size: blob.size, action });
  });
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failed) throw failed.reason;
}

async function copyBlob(
  client: RegistryClient,
  source: RepositoryRef,
  target: RepositoryRef,
  blob: Descriptor,
  unasked: boolean,
  mountSources: string[],
  known: KnownBlobs | undefined,
): Promise<"skipped" | "mounted" | "copied"> {
  const existing = unasked ? null : await client.blobHead(target.registry, target.repository, blob.digest);
  if (existing !== null) {
    if (existing !== blob.size && Number.isFinite(existing)) {
      throw new RegistryError(`target blob ${blob.digest} has size ${existing}, expected ${blob.size}`, 200);
    }
    return "skipped";
  }
  if (!known) return transferBlob(client, source, target, blob, mountSources);
  let result: "mounted" | "copied" = "copied";
  const claim = known.claim(target.registry, blob.digest, target.repository, async () => {
    result = await transferBlob(client, source, target, blob, mountSources);
  });
  if (claim.owner) {
    await claim.done;
    return result;
  }
  const holder = await claim.repository;
  if (holder === target.repository) return "skipped";
  return transferBlob(client, source, target, blob, holder ? [holder, ...mountSources] : mountSources);
}

/** An error already retried below; carried through the transfer's own retry without another round. */
class GaveUp extends Error {
  constructor(readonly inner: unknown) {
    super("gave up");
  }
}

async function transferBlob(
  client: RegistryClient,
  source: RepositoryRef,
  target: RepositoryRef,
  blob: Descriptor,
  mountSources: string[],
): Promise<"mounted" | "copied"> {
  let uploadUrl: string | undefined;
  for (const from of mountSources) {
    const mount = await client.blobMount(target.registry, target.repository, blob.digest, from);
    if (mount.mounted) return "mounted";
    uploadUrl = mount.uploadUrl;
    break;
  }
  // The streamed PUT cannot be replayed by the transport, so the whole transfer is the unit of retry.
  await withRetry(async (attempt) => {
    try {
      await client.blobPut(
        target.registry,
        target.repository,
        blob.digest,
        blob.size,
        () => client.blobGet(source.registry, source.repository, blob.digest, blob.size),
        attempt === 1 ? uploadUrl : undefined,
      );
    } catch (err) {
      // The transport already retried this request on its own: another round here would multiply the attempts.
      if (err instanceof RetryableError) throw new GaveUp(err);
      // Worth a new transfer: the connection broke; the target was busy or limited us (5xx, 429 with its
      // Retry-After); or the source's bytes failed verification on the way, which commits nothing because the
      // last chunk is held back until the digest is proven.
      const status = err instanceof RegistryError ? err.status : undefined;
      if (
        isNetworkError(err) ||
        (status !== undefined && isRetryableStatus(status)) ||
        err instanceof DigestMismatchError ||
        err instanceof SizeMismatchError ||
        // A 401 after the body was sent (a token revoked, or a scope the cache lacked): the token is fetched by
        // now, and a new upload session sends the body again from a new source GET.
        err instanceof BodyConsumedError
      ) {
        const retryAfter = err instanceof RegistryError ? err.retryAfterMs : undefined;
        throw new RetryableError(`blob ${blob.digest}: ${(err as Error).message}`, status, retryAfter, {
          cause: err,
        });
      }
      throw err;
    }
  }, client.transport.retryPolicy).catch((err: unknown) => {
    if (err instanceof GaveUp) throw err.inner;
    throw err instanceof RetryableError && err.cause instanceof Error ? err.cause : err;
  });
  return "copied";
}

async function putManifest(
  client: RegistryClient,
  target: RepositoryRef,
  manifest: Manifest,
  stats: { manifests: CopyResult["manifests"] },
  options: CopyOptions,
  knownAbsent = false,
): Promise<void> {
  if (!knownAbsent && (await client.manifestHead(target.registry, target.repository, manifest.digest))) {
    stats.manifests.skipped++;
    options.onProgress?.({ type: "manifest", digest: manifest.digest, action: "skipped" });
    return;
  }
  const info: PutInfo = {};
  await client.manifestPut(
    target.registry,
    target.repository,
    manifest.digest,
    manifest.bytes,
    manifest.mediaType,
    info,
  );
  stats.manifests.copied++;
  const subject = manifest.parsed.subject;
  options.onProgress?.({
    type: "manifest",
    digest: manifest.digest,
    action: "copied",
    ...(subject ? { subjectIndexed: info.ociSubject === subject.digest } : {}),
  });
}

async function writeTags(
  client: RegistryClient,
  target: RepositoryRef,
  root: Manifest,
  tags: readonly string[],
  current: Map<string, string | undefined>,
  stats: { tags: CopyResult["tags"] },
  options: CopyOptions,
): Promise<void> {
  for (const tag of tags) {
    if (current.get(tag) === root.digest) {
      stats.tags.unchanged.push(tag);
      options.onProgress?.({ type: "tag", tag, action: "unchanged" });
      continue;
    }
    const stored = await client.manifestPut(target.registry, target.repository, tag, root.bytes, root.mediaType);
    if (stored !== root.digest) throw new RegistryError(`tag ${tag} stored ${stored}, expected ${root.digest}`, 200);
    stats.tags.written.push(tag);
    options.onProgress?.({ type: "tag", tag, action: "written" });
  }
}
