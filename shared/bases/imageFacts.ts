/**
 * What an image says about its own build, read by digest: the base labels and annotations
 * (`org.opencontainers.image.base.digest` / `.name`), the layer diff IDs and the creation time. All of it is fixed
 * by the digest, so it is cached and each image is read from the registry once.
 */
import type { RegistryClient } from "../registry/client";
import { isIndexType, type Descriptor, type Platform } from "../registry/manifest";
import type { BaseStore } from "../store/baseStore";

export const BASE_DIGEST = "org.opencontainers.image.base.digest";
export const BASE_NAME = "org.opencontainers.image.base.name";

export interface ImageFacts {
  /** The image manifest the facts come from (a platform's manifest when the reference is an index). */
  digest: string;
  /** The index the reference resolved to, and its image manifests. */
  index?: { digest: string; children: string[] };
  platform?: Platform;
  /** Only the `org.opencontainers.image.base.*` labels of the config. */
  labels: Record<string, string>;
  /** Only the `org.opencontainers.image.base.*` annotations, the manifest's over the index's. */
  annotations: Record<string, string>;
  diffIds: string[];
  created?: string;
}

export interface ImageAt {
  registry: string;
  repository: string;
  digest: string;
}

// An image config is a few KiB; one with thousands of layers and history entries is still well under this.
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

function baseKeys(record: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof record !== "object" || record === null) return out;
  for (const [key, value] of Object.entries(record)) {
    if (key.startsWith("org.opencontainers.image.base.") && typeof value === "string") out[key] = value;
  }
  return out;
}

function platformKey(p: Platform | undefined): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join("/") : "default";
}

/**
 * The child to read from an index: the asked platform (variant only when asked), else linux/amd64, else the first
 * real platform; attestation manifests (`unknown/unknown`) are never images.
 */
export function pickChild(children: readonly Descriptor[], platform?: Platform): Descriptor | undefined {
  const images = children.filter((c) => c.platform?.os !== "unknown" && c.platform?.architecture !== "unknown");
  const matches = (c: Descriptor, p: Platform) =>
    c.platform?.os === p.os &&
    c.platform.architecture === p.architecture &&
    (p.variant === undefined || c.platform.variant === p.variant);
  if (platform) return images.find((c) => matches(c, platform));
  return images.find((c) => matches(c, { os: "linux", architecture: "amd64" })) ?? images[0];
}

async function readConfig(client: RegistryClient, at: ImageAt, config: Descriptor): Promise<Record<string, unknown>> {
  const stream = await client.blobGet(at.registry, at.repository, config.digest, config.size);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_CONFIG_BYTES) {
      stream.destroy();
      throw new Error(`image config ${config.digest} is over ${MAX_CONFIG_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  if (typeof parsed !== "object" || parsed === null) throw new Error(`image config ${config.digest} is not an object`);
  return parsed as Record<string, unknown>;
}

/**
 * Reads the facts of an image by digest, for `platform` when it is an index (undefined when the index has no such
 * platform). `cache` keeps them across reports.
 */
export async function readImageFacts(
  client: RegistryClient,
  at: ImageAt,
  platform?: Platform,
  cache?: BaseStore,
): Promise<ImageFacts | undefined> {
  const identity = `${at.registry}/${at.repository}@${at.digest}#${platformKey(platform)}`;
  const cached = await cache?.getFacts<ImageFacts | null>(identity);
  if (cached !== undefined) return cached ?? undefined;
  const top = await client.manifestGet(at.registry, at.repository, at.digest);
  let manifest = top;
  let index: ImageFacts["index"];
  let indexAnnotations: Record<string, string> = {};
  if (isIndexType(top.mediaType)) {
    const children = top.parsed.manifests;
    index = { digest: top.digest, children: children.map((c) => c.digest) };
    indexAnnotations = baseKeys(top.parsed.annotations);
    const child = pickChild(children, platform);
    if (!child) {
      await cache?.saveFacts(identity, null);
      return undefined;
    }
    manifest = await client.manifestGet(at.registry, at.repository, child.digest);
  }
  const configDescriptor = manifest.parsed.config;
  if (!configDescriptor) throw new Error(`${identity}: manifest has no config`);
  const config = await readConfig(client, at, configDescriptor);
  const rootfs = config.rootfs as { diff_ids?: unknown } | undefined;
  const inner = config.config as { Labels?: unknown } | undefined;
  const facts: ImageFacts = {
    digest: manifest.digest,
    ...(index ? { index } : {}),
    ...(typeof config.os === "string" && typeof config.architecture === "string"
      ? {
          platform: {
            os: config.os,
            architecture: config.architecture,
            ...(typeof config.variant === "string" ? { variant: config.variant } : {}),
          },
        }
      : {}),
    labels: baseKeys(inner?.Labels),
    annotations: { ...indexAnnotations, ...baseKeys(manifest.parsed.annotations) },
    diffIds: Array.isArray(rootfs?.diff_ids) ? rootfs.diff_ids.filter((d): d is string => typeof d === "string") : [],
    ...(typeof config.created === "string" ? { created: config.created } : {}),
  };
  await cache?.saveFacts(identity, facts);
  return facts;
}
