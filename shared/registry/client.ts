/**
 * The OCI distribution API as verbs on resources (regclient's vocabulary): manifests, blobs, tags, referrers.
 * Every call goes through the one Transport.
 */
import { Readable } from "node:stream";
import { scopeFor } from "./auth";
import { DigestMismatchError, VerifyingStream, digestAlgorithm, digestOf, sha256Digest } from "./digest";
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  ManifestError,
  MediaType,
  parseManifest,
  type Descriptor,
  type ParsedManifest,
} from "./manifest";
import { InvalidReferenceError, PATH_COMPONENT, assertDigest, isDigest } from "./reference";
import { NetworkError, RetryableError, backoffDelay, isNetworkError, networkReason, sleep } from "./retry";
import { RegistryError, Transport, discardBody, nodeBody, registryError, type SendOptions } from "./transport";

export interface RateLimit {
  limit?: number;
  remaining?: number;
  /** Window in seconds, from the `;w=` parameter. */
  windowSeconds?: number;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
  rateLimit?: RateLimit;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
  /** The pull quota the registry reported with this GET (Docker Hub counts GETs). */
  rateLimit?: RateLimit;
}

export interface PutInfo {
  /** The `OCI-Subject` header: the subject digest the registry indexed for the Referrers API. */
  ociSubject?: string;
}

export type MountResult = { mounted: true } | { mounted: false; uploadUrl: string };

const PULL = ["pull"] as const;
const PUSH = ["pull", "push"] as const;
/** Bounds on one repository's tag list: far above any real repository, far below what exhausts memory. */
export const MAX_TAGS = 200_000;
export const MAX_TAG_PAGES = 2_000;
/** A blob PUT larger than this goes up in chunks of this size when a registry refuses one streamed PUT. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

function rateLimitFrom(headers: Headers): RateLimit | undefined {
  const read = (name: string) => {
    const v = headers.get(name);
    if (!v) return undefined;
    const [count, ...params] = v.split(";");
    const window = params.map((p) => /^\s*w=(\d+)/.exec(p)?.[1]).find(Boolean);
    return { count: Number.parseInt(count ?? "", 10), window: window ? Number(window) : undefined };
  };
  const limit = read("ratelimit-limit");
  const remaining = read("ratelimit-remaining");
  if (!limit && !remaining) return undefined;
  const out: RateLimit = {};
  if (limit && Number.isFinite(limit.count)) out.limit = limit.count;
  if (remaining && Number.isFinite(remaining.count)) out.remaining = remaining.count;
  const window = remaining?.window ?? limit?.window;
  if (window !== undefined) out.windowSeconds = window;
  return out;
}

/**
 * A response body read whole, but never past `cap` bytes (declared or actual): `tooLarge` makes the caller's error.
 * A connection that breaks mid-body is a NetworkError, so retry policies see it as one.
 */
export async function readBodyCapped(
  res: Response,
  cap: number,
  what: string,
  tooLarge: (detail: string) => Error,
): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel();
    throw tooLarge(`${declared} bytes is over the ${cap}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > cap) throw tooLarge(`body is over the ${cap}-byte limit`);
        chunks.push(Buffer.from(chunk));
      }
    } catch (err) {
      if (isNetworkError(err)) throw new NetworkError(`${what}: body cut off (${networkReason(err)})`, { cause: err });
      throw err;
    }
  }
  return Buffer.concat(chunks);
}

const readCapped = (res: Response, cap: number, what: string): Promise<Buffer> =>
  readBodyCapped(res, cap, what, (detail) => new ManifestError(`${what}: ${detail}`));

/**
 * A repository name in the distribution grammar. Checked on every call so that no caller, however it got the name,
 * can steer a request to another path on the registry (`../`, `?`, `#`, `%2F`) while carrying its credentials.
 */
function repo(repository: string): string {
  if (
    repository.length === 0 ||
    repository.length > 255 ||
    !repository.split("/").every((c) => PATH_COMPONENT.test(c))
  ) {
    throw new InvalidReferenceError(repository.slice(0, 300), "not a valid repository name");
  }
  return repository;
}

/** The `rel="next"` target of a `Link` header (distribution and ACR paginate the same way). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

const enc = encodeURIComponent;

/** A manifest reference in a path: a digest as is (its colon is legal in a path segment), a tag encoded. */
const ref = (reference: string): string => (isDigest(reference) ? reference : enc(reference));

/** Statuses with which a proxy or pull-through cache refuses HEAD; a GET then answers the same question. */
const HEAD_REFUSED = new Set([405, 501]);

/** One blob by digest, HEAD or GET: pull scope, and redirects followed, since registries serve blobs from storage. */
function blobRequest(registry: string, repository: string, digest: string, method: "HEAD" | "GET"): SendOptions {
  return {
    registry,
    method,
    path: `/v2/${repo(repository)}/blobs/${assertDigest(digest)}`,
    kind: method === "HEAD" ? "blob.head" : "blob.get",
    scopes: [scopeFor(repository, PULL)],
    followRedirects: true,
  };
}

export class RegistryClient {
  constructor(readonly transport: Transport = new Transport()) {}

  /** The cheapest "what does this tag point at": HEAD, which Docker Hub does not count as a pull. Null when absent. */
  async manifestHead(registry: string, repository: string, reference: string): Promise<ManifestHead | null> {
    const res = await this.transport.send({
      registry,
      method: "HEAD",
      path: `/v2/${repo(repository)}/manifests/${ref(reference)}`,
      kind: "manifest.head",
      scopes: [scopeFor(repository, PULL)],
      headers: { Accept: MANIFEST_ACCEPT },
      followRedirects: true,
    });
    if (res.status === 404) return null;
    if (HEAD_REFUSED.has(res.status)) {
      try {
        const m = await this.manifestGet(registry, repository, reference);
        return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      } catch (err) {
        if (err instanceof RegistryError && err.status === 404) return null;
        throw err;
      }
    }
    if (res.status !== 200) throw await registryError(res, `HEAD ${registry}/${repository}:${reference}`);
    const digest = res.headers.get("docker-content-digest");
    const rateLimit = rateLimitFrom(res.headers);
    if (!digest || !isDigest(digest)) {
      // Some registries give no digest on HEAD; the body then tells.
      const m = await this.manifestGet(registry, repository, reference);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length, ...(rateLimit ? { rateLimit } : {}) };
    }
    return {
      digest,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0]!.trim(),
      size: Number(res.headers.get("content-length") ?? 0),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }

  /** GET a manifest with the full Accept list; verified against the digest asked for, or the one the registry named. */
  async manifestGet(registry: string, repository: string, reference: string): Promise<Manifest> {
    const policy = this.transport.retryPolicy;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.manifestGetOnce(registry, repository, reference);
      } catch (err) {
        // A body cut off or altered on the way (a reset, a truncation, a flipped byte) is worth asking again; the
        // transport already retried the request itself, and a manifest too big or not a manifest stays so.
        const transient =
          (err instanceof NetworkError && err.message.includes("body cut off")) || err instanceof DigestMismatchError;
        if (!transient || attempt >= policy.maxAttempts) throw err;
        await sleep(backoffDelay(attempt, policy));
      }
    }
  }

  private async manifestGetOnce(registry: string, repository: string, reference: string): Promise<Manifest> {
    const what = `manifest ${registry}/${repository}${isDigest(reference) ? "@" : ":"}${reference}`;
    const res = await this.transport.expect(
      {
        registry,
        method: "GET",
        path: `/v2/${repo(repository)}/manifests/${ref(reference)}`,
        kind: "manifest.get",
        scopes: [scopeFor(repository, PULL)],
        headers: { Accept: MANIFEST_ACCEPT },
        followRedirects: true,
      },
      [200],
    );
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, what);
    const named = res.headers.get("docker-content-digest");
    const expected = isDigest(reference) ? reference : named && isDigest(named) ? named : undefined;
    // Verified with the algorithm of the digest asked for (or named by the registry); sha256 when by tag.
    const digest = digestOf(bytes, expected ? digestAlgorithm(expected) : "sha256");
    if (expected && expected !== digest) throw new DigestMismatchError(expected, digest, what);
    const parsed = parseManifest(bytes, res.headers.get("content-type") ?? undefined);
    const rateLimit = rateLimitFrom(res.headers);
    return { digest, mediaType: parsed.mediaType, bytes, parsed, ...(rateLimit ? { rateLimit } : {}) };
  }

  /**
   * PUT a manifest by digest or tag; returns the digest the registry stored, checked against the bytes sent.
   * Idempotent under concurrency: two copies of one image side by side (a queue message delivered twice, two tags
   * of one image) put the same manifest at once, and distribution may then refuse one with DIGEST_INVALID although
   * the bytes are right; and an answer can be lost after the registry acted. Either way, when the reference already
   * holds exactly these bytes the PUT has done its job; a refused one is tried again.
   */
  async manifestPut(
    registry: string,
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    /** Filled with what the registry said beyond the digest: `ociSubject` when it processed a `subject`. */
    info?: PutInfo,
  ): Promise<string> {
    const digest = isDigest(reference) ? digestOf(bytes, digestAlgorithm(reference)) : sha256Digest(bytes);
    const policy = this.transport.retryPolicy;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.manifestPutOnce(registry, repository, reference, bytes, mediaType, digest, info);
      } catch (err) {
        const raced = err instanceof RegistryError && err.code === "DIGEST_INVALID";
        const lost = isNetworkError(err) || err instanceof RetryableError;
        if (!raced && !lost) throw err;
        const head = await this.manifestHead(registry, repository, reference).catch(() => null);
        if (head?.digest === digest) return digest;
        if (!raced || attempt >= policy.maxAttempts) throw err;
        await sleep(backoffDelay(attempt, policy));
      }
    }
  }

  private async manifestPutOnce(
    registry: string,
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    digest: string,
    info: PutInfo | undefined,
  ): Promise<string> {
    const res = await this.transport.expect(
      {
        registry,
        method: "PUT",
        path: `/v2/${repo(repository)}/manifests/${ref(reference)}`,
        kind: "manifest.put",
        scopes: [scopeFor(repository, PUSH)],
        headers: { "Content-Type": mediaType },
        body: () => bytes,
        // The bytes are in memory and a manifest PUT is idempotent (same bytes, same digest, same tag): a 5xx, a
        // 429 or a lost answer is retried like a GET, instead of failing an image whose blobs are all in place.
        retry: true,
      },
      [200, 201],
    );
    await res.body?.cancel();
    const stored = res.headers.get("docker-content-digest");
    // OCI distribution spec 1.1 ("Pushing Manifests with Subject"): a registry that indexed the subject for the
    // Referrers API says so with OCI-Subject; without it, a client must maintain the referrers tag itself.
    const subject = res.headers.get("oci-subject");
    if (info && subject && isDigest(subject)) info.ociSubject = subject;
    if (stored && stored.split(":")[0] === digest.split(":")[0] && stored !== digest) {
      throw new DigestMismatchError(digest, stored, `manifest put ${registry}/${repository}:${reference}`);
    }
    return digest;
  }

  /** Size of a blob when the repository has it, null when not. */
  async blobHead(registry: string, repository: string, digest: string): Promise<number | null> {
    const res = await this.transport.send(blobRequest(registry, repository, digest, "HEAD"));
    if (res.status === 404) return null;
    if (HEAD_REFUSED.has(res.status)) return this.blobSizeByGet(registry, repository, digest);
    if (res.status !== 200) throw await registryError(res, `HEAD blob ${registry}/${repository}@${digest}`);
    return Number(res.headers.get("content-length") ?? NaN);
  }

  /** blobHead for an origin that refuses HEAD: the GET's headers tell, and its body is never read. */
  private async blobSizeByGet(registry: string, repository: string, digest: string): Promise<number | null> {
    const res = await this.transport.send(blobRequest(registry, repository, digest, "GET"));
    await discardBody(res);
    if (res.status === 404) return null;
    if (res.status !== 200)
      throw new RegistryError(`GET blob ${registry}/${repository}@${digest} answered ${res.status}`, res.status);
    return Number(res.headers.get("content-length") ?? NaN);
  }

  /** A blob as a stream that fails unless its bytes match the digest (and size, when given). */
  async blobGet(registry: string, repository: string, digest: string, size?: number): Promise<Readable> {
    const res = await this.transport.expect(blobRequest(registry, repository, digest, "GET"), [200]);
    const kept = nodeBody(res);
    if (!kept && !res.body) throw new RegistryError(`blob ${digest}: empty response`, res.status);
    const source = kept ?? Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]);
    const what = `blob ${registry}/${repository}@${digest}`;
    const verify = new VerifyingStream(digest, size, what);
    source.on("error", (err) =>
      verify.destroy(
        isNetworkError(err) ? new NetworkError(`${what}: body cut off (${networkReason(err)})`, { cause: err }) : err,
      ),
    );
    // A small blob is read (and verified) before the caller attaches its consumer, e.g. while an upload waits for a
    // connection slot: without a listener a digest mismatch then would be an uncaught exception that ends the
    // process. The error is not lost: the stream keeps it, and the consumer's pipeline rejects with it.
    verify.on("error", () => undefined);
    return source.pipe(verify);
  }

  /**
   * A small blob (an image config, a signature payload) read whole: digest and size verified on the way, and never
   * more than `cap` bytes kept; `tooLarge` makes the caller's error. The stream is closed on any failure.
   */
  async blobBytes(
    registry: string,
    repository: string,
    digest: string,
    size: number | undefined,
    cap: number,
    tooLarge: (detail: string) => Error,
  ): Promise<Buffer> {
    const stream = await this.blobGet(registry, repository, digest, size);
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > cap) throw tooLarge(`over the ${cap}-byte limit`);
        chunks.push(chunk);
      }
    } catch (err) {
      stream.destroy();
      throw err;
    }
    return Buffer.concat(chunks);
  }

  /**
   * Cross-repository mount. A registry that cannot mount answers 202 with an upload session instead, which the
   * caller uses for the upload, so a failed mount costs no extra request.
   */
  async blobMount(registry: string, repository: string, digest: string, fromRepository: string): Promise<MountResult> {
    const path = `/v2/${repo(repository)}/blobs/uploads/?mount=${enc(assertDigest(digest))}&from=${enc(repo(fromRepository))}`;
    const res = await this.transport.expect(
      {
        registry,
        method: "POST",
        path,
        kind: "blob.mount",
        scopes: [scopeFor(repository, PUSH), scopeFor(fromRepository, PULL)],
      },
      [201, 202],
    );
    await res.body?.cancel();
    if (res.status === 201) return { mounted: true };
    return { mounted: false, uploadUrl: this.location(res, registry, path) };
  }

  /**
   * Uploads a blob from a stream: one streamed PUT when the registry takes it, else PATCH chunks from a fresh
   * stream. `open` is called again for the fallback, so the source must be re-openable (a new GET).
   */
  async blobPut(
    registry: string,
    repository: string,
    digest: string,
    size: number,
    open: () => Promise<Readable>,
    uploadUrl?: string,
  ): Promise<void> {
    const scopes = [scopeFor(repository, PUSH)];
    const start = uploadUrl ?? (await this.startUpload(registry, repository));
    const putUrl = withDigest(start, digest);
    let stream: Readable | undefined;
    let res: Response;
    try {
      res = await this.transport.send({
        registry,
        method: "PUT",
        path: putUrl,
        kind: "blob.put",
        scopes,
        headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
        // Opened by the transport once a target slot is free, so the source body never idles in a queue.
        body: async () => (stream = await open()),
        retry: false,
      });
    } catch (err) {
      stream?.destroy();
      throw err;
    }
    if (res.status === 201) {
      await res.body?.cancel();
      return;
    }
    stream?.destroy();
    // Some registries refuse a monolithic PUT of a large body; they take the same bytes in chunks.
    if ([400, 405, 411, 413, 416].includes(res.status) && (await registryCode(res)) !== "DIGEST_INVALID") {
      await this.chunkedUpload(registry, repository, digest, await open());
      return;
    }
    throw await registryError(res, `PUT blob ${registry}/${repository}@${digest}`);
  }

  private async startUpload(registry: string, repository: string): Promise<string> {
    const path = `/v2/${repo(repository)}/blobs/uploads/`;
    const res = await this.transport.expect(
      {
        registry,
        method: "POST",
        path,
        kind: "blob.upload",
        scopes: [scopeFor(repository, PUSH)],
      },
      [202],
    );
    await res.body?.cancel();
    return this.location(res, registry, path);
  }

  private async chunkedUpload(registry: string, repository: string, digest: string, stream: Readable): Promise<void> {
    const scopes = [scopeFor(repository, PUSH)];
    let url = await this.startUpload(registry, repository);
    let offset = 0;
    for await (const chunk of chunked(stream, DEFAULT_CHUNK_BYTES)) {
      const res = await this.transport.expect(
        {
          registry,
          method: "PATCH",
          path: url,
          kind: "blob.patch",
          scopes,
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `${offset}-${offset + chunk.length - 1}`,
            "Content-Length": String(chunk.length),
          },
          body: () => chunk,
        },
        [202],
      );
      await res.body?.cancel();
      offset += chunk.length;
      // Each Location is resolved against the URL of the PATCH that returned it (RFC 9110 §10.2.2).
      url = this.location(res, registry, url);
    }
    const done = await this.transport.expect(
      { registry, method: "PUT", path: withDigest(url, digest), kind: "blob.put", scopes, body: () => Buffer.alloc(0) },
      [201],
    );
    await done.body?.cancel();
  }

  /** Every tag, following `Link` pagination. */
  async tagList(registry: string, repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    const what = `tag list of ${registry}/${repository}`;
    const base = this.transport.baseUrl(registry);
    const seen = new Set<string>();
    let path: string | undefined = `/v2/${repo(repository)}/tags/list?n=${pageSize}`;
    for (let page = 0; path; page++) {
      // A registry that pages forever (a new cursor every time) is stopped with an error, never with a silent
      // partial list that a tag filter would then treat as complete.
      if (page >= MAX_TAG_PAGES) throw new RegistryError(`${what}: more than ${MAX_TAG_PAGES} pages`, 200);
      seen.add(path);
      const res = await this.transport.expect(
        { registry, method: "GET", path, kind: "tag.list", scopes: [scopeFor(repository, PULL)] },
        [200],
      );
      const text = (await readCapped(res, 64 * 1024 * 1024, what)).toString("utf8");
      let body: { tags?: unknown };
      try {
        body = JSON.parse(text) as { tags?: unknown };
      } catch {
        throw new RegistryError(`${what} is not JSON`, 200);
      }
      if (typeof body !== "object" || body === null) throw new RegistryError(`${what} is not a JSON object`, 200);
      if (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags)) {
        throw new RegistryError(`${what} is not a list`, 200);
      }
      for (const t of (body.tags as unknown[] | null | undefined) ?? []) if (typeof t === "string") tags.push(t);
      if (tags.length > MAX_TAGS) throw new RegistryError(`${what}: more than ${MAX_TAGS} tags`, 200);
      const next = nextLink(res.headers.get("link"));
      if (next === undefined) break;
      // The next page is the registry's own: a Link elsewhere would send our request (and scope) to another host.
      const url = new URL(next, base);
      if (url.origin !== base.origin)
        throw new RegistryError(`${what}: next page points at another host (${url.host})`, 200);
      path = `${url.pathname}${url.search}`;
      if (seen.has(path)) throw new RegistryError(`${what}: pagination loops back to a page already read`, 200);
    }
    return tags;
  }

  /** Referrers of a manifest: the OCI 1.1 API, else the `sha256-<hex>` fallback tag. */
  async referrerList(
    registry: string,
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    let descriptors = await this.referrersApi(registry, repository, digest, artifactType);
    if (descriptors === undefined) {
      const fallback = digest.replace(":", "-");
      if (!(await this.manifestHead(registry, repository, fallback))) return [];
      descriptors = (await this.manifestGet(registry, repository, fallback)).parsed.manifests;
    }
    return artifactType ? descriptors.filter((d) => d.artifactType === artifactType) : descriptors;
  }

  /**
   * The OCI 1.1 Referrers API alone: the referrers it lists, or `undefined` when the registry has no such API (a 404,
   * or a 200 that is not an OCI index, as some registries answer unknown paths), so the caller reads the fallback tag.
   */
  async referrersApi(
    registry: string,
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[] | undefined> {
    assertDigest(digest);
    const query = artifactType ? `?artifactType=${enc(artifactType)}` : "";
    const res = await this.transport.send({
      registry,
      method: "GET",
      path: `/v2/${repo(repository)}/referrers/${digest}${query}`,
      kind: "referrers",
      scopes: [scopeFor(repository, PULL)],
      headers: { Accept: MediaType.ociIndex },
    });
    if (res.status === 200 && (res.headers.get("content-type") ?? "").startsWith(MediaType.ociIndex)) {
      return parseManifest(await readCapped(res, MAX_MANIFEST_BYTES, "referrers"), MediaType.ociIndex).manifests;
    }
    if (res.status === 404 || res.status === 200) {
      await res.body?.cancel();
      return undefined;
    }
    throw await registryError(res, `referrers of ${registry}/${repository}@${digest}`);
  }

  /**
   * An upload Location as an absolute URL, resolved per RFC 3986 §5 against the URL of the request that returned it
   * (`requestPath`: a path under the registry, or an absolute URL), so a path-relative Location lands beside it.
   */
  private location(res: Response, registry: string, requestPath: string): string {
    const location = res.headers.get("location");
    if (!location) throw new RegistryError(`${registry}: upload answered ${res.status} without a Location`, res.status);
    return resolveLocation(location, new URL(requestPath, this.transport.baseUrl(registry)));
  }
}

/**
 * RFC 3986 reference resolution. The query of the result is the Location's own bytes: a presigned upload URL is
 * signed over its query exactly as written, so it is never decoded and encoded again.
 */
export function resolveLocation(location: string, base: URL): string {
  const q = location.search(/[?#]/);
  const head = q < 0 ? location : location.slice(0, q);
  const tail = q < 0 ? "" : location.slice(q).replace(/#.*$/, "");
  const resolved = new URL(head === "" ? base.pathname : head, base);
  return `${resolved.origin}${resolved.pathname}${tail}`;
}

/** Adds `digest=` to an upload URL, leaving the rest of its query byte for byte. */
export function withDigest(location: string, digest: string): string {
  const q = location.indexOf("?");
  const sep = q < 0 ? "?" : q === location.length - 1 || location.endsWith("&") ? "" : "&";
  return `${location}${sep}digest=${enc(digest)}`;
}

async function registryCode(res: Response): Promise<string | undefined> {
  const clone = res.clone();
  const err = await registryError(clone, "");
  return err.code;
}

async function* chunked(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    parts.push(piece);
    length += piece.length;
    while (length >= size) {
      const all = Buffer.concat(parts);
      yield all.subarray(0, size);
      parts = [all.subarray(size)];
      length = all.length - size;
    }
  }
  if (length > 0) yield Buffer.concat(parts);
}
