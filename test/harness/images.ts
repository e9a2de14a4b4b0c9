/**
 * Builds and pushes test images with plain fetch, independent of the client under test, so that a bug in the client
 * cannot hide itself by seeding and reading the same wrong way.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

export const digestOf = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export interface BuiltImage {
  manifest: Buffer;
  mediaType: string;
  digest: string;
  config: Buffer;
  layers: Buffer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface ImageSpec {
  layers?: Buffer[];
  labels?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
  format?: "oci" | "docker";
  created?: string;
}

export function randomLayer(size: number): Buffer {
  return randomBytes(size);
}

export function buildImage(spec: ImageSpec = {}): BuiltImage {
  const format = spec.format ?? "oci";
  const platform = spec.platform ?? { os: "linux", architecture: "amd64" };
  const layers = spec.layers ?? [randomLayer(1024)];
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: spec.created ?? "2025-01-01T00:00:00Z",
      config: { Labels: spec.labels ?? {} },
      rootfs: { type: "layers", diff_ids: layers.map((l) => digestOf(l)) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: format === "oci" ? OCI_MANIFEST : DOCKER_MANIFEST,
      config: {
        mediaType: format === "oci" ? OCI_CONFIG : DOCKER_CONFIG,
        digest: digestOf(config),
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType: format === "oci" ? OCI_LAYER : DOCKER_LAYER,
        digest: digestOf(l),
        size: l.length,
      })),
    }),
  );
  return {
    manifest,
    mediaType: format === "oci" ? OCI_MANIFEST : DOCKER_MANIFEST,
    digest: digestOf(manifest),
    config,
    layers,
    platform,
  };
}

export interface BuiltIndex {
  manifest: Buffer;
  mediaType: string;
  digest: string;
  children: BuiltImage[];
}

export function buildIndex(children: BuiltImage[], format: "oci" | "docker" = "oci"): BuiltIndex {
  const mediaType = format === "oci" ? OCI_INDEX : DOCKER_LIST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.manifest.length,
        platform: c.platform,
      })),
    }),
  );
  return { manifest, mediaType, digest: digestOf(manifest), children };
}

/** Returns the Authorization header for a repository, or nothing for an open registry. */
export type SeedAuth = (repository: string) => string | undefined;

async function check(res: Response, what: string, ok: number[]): Promise<Response> {
  if (!ok.includes(res.status)) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

export async function pushBlob(
  host: string,
  repo: string,
  blob: Buffer | { digest: string; size: number; open: () => Readable },
  auth?: SeedAuth,
): Promise<void> {
  const headers: Record<string, string> = {};
  const a = auth?.(repo);
  if (a) headers.Authorization = a;
  const digest = Buffer.isBuffer(blob) ? digestOf(blob) : blob.digest;
  const head = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers });
  if (head.status === 200) return;
  const start = await check(
    await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: "POST", headers }),
    "start upload",
    [202],
  );
  const location = new URL(start.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", digest);
  const size = Buffer.isBuffer(blob) ? blob.length : blob.size;
  const putHeaders = { ...headers, "Content-Type": "application/octet-stream", "Content-Length": String(size) };
  if (Buffer.isBuffer(blob)) {
    await check(await fetch(location, { method: "PUT", headers: putHeaders, body: blob }), "put blob", [201]);
    return;
  }
  // Node's fetch reads a streamed body far ahead of the socket; node:http's pipe keeps a big seed out of memory.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(location, { method: "PUT", headers: putHeaders });
    req.once("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", reject);
    pipeline(blob.open(), req).catch(reject);
  });
  if (status !== 201) throw new Error(`put blob: ${status}`);
}

export async function pushManifest(
  host: string,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  auth?: SeedAuth,
): Promise<void> {
  const headers: Record<string, string> = { "Content-Type": mediaType };
  const a = auth?.(repo);
  if (a) headers.Authorization = a;
  // Seeding pushes images side by side, and distribution rewrites a blob's link in place when two uploads of one blob
  // to one repository finish together: a manifest PUT in that window is refused with MANIFEST_BLOB_UNKNOWN although
  // the blob is there. The seed tries again a few times; the code under test never uploads one blob twice at once.
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, {
      method: "PUT",
      headers,
      body: bytes,
    });
    if (res.status === 400 && attempt < 4) {
      const text = await res.text();
      if (text.includes("MANIFEST_BLOB_UNKNOWN")) {
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        continue;
      }
      throw new Error(`put manifest ${reference}: 400 ${text}`);
    }
    await check(res, `put manifest ${reference}`, [201]);
    return;
  }
}

export async function pushImage(
  host: string,
  repo: string,
  image: BuiltImage,
  tag?: string,
  auth?: SeedAuth,
): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(host, repo, blob, auth);
  await pushManifest(host, repo, tag ?? image.digest, image.manifest, image.mediaType, auth);
}

export async function pushIndex(
  host: string,
  repo: string,
  index: BuiltIndex,
  tag?: string,
  auth?: SeedAuth,
): Promise<void> {
  for (const child of index.children) await pushImage(host, repo, child, undefined, auth);
  await pushManifest(host, repo, tag ?? index.digest, index.manifest, index.mediaType, auth);
}

/** A deterministic pseudo-random stream of `size` bytes (AES-CTR over zeros), for blobs too big to hold. */
export function streamOfSize(size: number, seed: string): () => Readable {
  return () => {
    const key = createHash("sha256").update(seed).digest();
    const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
    const chunk = Buffer.alloc(1024 * 1024);
    let left = size;
    return new Readable({
      read() {
        if (left <= 0) {
          this.push(null);
          return;
        }
        const n = Math.min(left, chunk.length);
        left -= n;
        this.push(cipher.update(chunk.subarray(0, n)));
      },
    });
  };
}

export async function digestOfStream(open: () => Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of open()) hash.update(piece as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Reads a manifest back with plain fetch: the independent check that a copy landed. */
export async function fetchManifest(
  host: string,
  repo: string,
  reference: string,
  auth?: SeedAuth,
): Promise<{ status: number; digest?: string; bytes?: Buffer }> {
  const headers: Record<string, string> = {
    Accept: [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", "),
  };
  const a = auth?.(repo);
  if (a) headers.Authorization = a;
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { headers });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: 200, digest: digestOf(bytes), bytes };
}

export async function blobExists(host: string, repo: string, digest: string, auth?: SeedAuth): Promise<boolean> {
  const headers: Record<string, string> = {};
  const a = auth?.(repo);
  if (a) headers.Authorization = a;
  const res = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers });
  return res.status === 200;
}
