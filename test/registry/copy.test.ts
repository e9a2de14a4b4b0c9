import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage, CopyError, SEND_UNASKED_MAX_BYTES, type CopyOptions } from "../../shared/registry/copy";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import {
  blobExists,
  buildImage,
  buildIndex,
  digestOf,
  fetchManifest,
  pushImage,
  pushIndex,
  randomLayer,
  type BuiltImage,
} from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let source: RunningRegistry;
let target: RunningRegistry;
const events: RequestEvent[] = [];
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5 };
const client = new RegistryClient(new Transport({ onRequest: (e) => events.push(e), retry: fastRetry }));

beforeAll(async () => {
  [source, target] = await startTogether(startRegistry(), startRegistry());
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

const src = (repository: string, tag: string) => ({ registry: source.host, repository, tag });
const dst = (repository: string) => ({ registry: target.host, repository });

describe("copyImage between real registries", () => {
  it("copies a single-arch image byte for byte and tags it last", async () => {
    const image = buildImage({ layers: [randomLayer(3000), randomLayer(5000)], labels: { "vcs-ref": "abc" } });
    await pushImage(source.host, "app/single", image, "v1");
    const written: string[] = [];
    const result = await copyImage(client, src("app/single", "v1"), dst("mirror/single"), ["v1", "stable"], {
      onProgress: (e) =>
        written.push(
          e.type === "tag" ? `tag:${e.tag}` : e.type === "walk" ? `walk:${e.blobs}` : `${e.type}:${e.digest}`,
        ),
    });
    expect(result.digest).toBe(image.digest);
    expect(result.blobs).toEqual({ total: 3, copied: 3, skipped: 0, mounted: 0, foreign: 0 });
    expect(result.bytes).toBe(image.config.length + 8000);
    expect(result.tags.written).toEqual(["v1", "stable"]);
    // Exact requests: the source tag, the two target tags and the digest are asked once each; the config blob of a
    // manifest the target lacks is sent unasked; the root manifest goes in by digest, then under each tag.
    expect(result.requests.byKind).toEqual({
      "manifest.head": 4,
      "manifest.get": 1,
      "blob.head": 2,
      "blob.get": 3,
      "blob.upload": 3,
      "blob.put": 3,
      "manifest.put": 3,
    });
    // Tags come after every blob and manifest.
    const firstTag = written.findIndex((w) => w.startsWith("tag:"));
    expect(written.slice(firstTag).every((w) => w.startsWith("tag:"))).toBe(true);
    for (const tag of ["v1", "stable", image.digest]) {
      const m = await fetchManifest(target.host, "mirror/single", tag);
      expect(m.digest).toBe(image.digest);
      expect(m.bytes?.equals(image.manifest)).toBe(true);
    }
  });

  /** Copies `image` (pushed as `v1`) by digest under `v1`, with the caller's hints. */
  const copyWithHints = (repository: string, image: BuiltImage, hints: CopyOptions) =>
    copyImage(client, { ...src(repository, "v1"), digest: image.digest }, dst(repository), ["v1"], hints);

  it("asks nothing again of target tags the caller has just read", async () => {
    const image = buildImage({ layers: [randomLayer(1000)] });
    await pushImage(source.host, "app/known", image, "v1");
    const result = await copyWithHints("app/known", image, { knownTargetTags: new Map([["v1", undefined]]) });
    // No HEAD of the target tag: only the digest is asked (is the manifest there under another tag?).
    expect(result.requests.byKind["manifest.head"]).toBe(1);
    expect(result.requests.byKind["manifest.put"]).toBe(2);
    expect((await fetchManifest(target.host, "app/known", "v1")).digest).toBe(image.digest);

    // A tag the caller saw on this digest proves the manifest is there: no HEAD at all, nothing written.
    const again = await copyWithHints("app/known", image, { knownTargetTags: new Map([["v1", image.digest]]) });
    expect(again.requests.byKind).toEqual({});
    expect(again.tags.unchanged).toEqual(["v1"]);
  });

  it("into a repository the caller found empty, asks only about blobs too large to send unasked", async () => {
    const big = randomLayer(SEND_UNASKED_MAX_BYTES + 1);
    const image = buildImage({ layers: [randomLayer(2000), big] });
    await pushImage(source.host, "app/empty", image, "v1");
    const hints = { knownTargetTags: new Map([["v1", undefined]]), targetRepositoryEmpty: true };
    const result = await copyWithHints("app/empty", image, hints);
    expect(result.requests.byKind).toEqual({
      "manifest.get": 1,
      "blob.head": 1,
      "blob.get": 3,
      "blob.upload": 3,
      "blob.put": 3,
      "manifest.put": 2,
    });
    expect(result.blobs).toEqual({ total: 3, copied: 3, skipped: 0, mounted: 0, foreign: 0 });
    // A hint that was wrong costs only a rewrite: the same copy again re-sends the small blobs and keeps the big one.
    const again = await copyWithHints("app/empty", image, hints);
    expect(again.blobs).toEqual({ total: 3, copied: 2, skipped: 1, mounted: 0, foreign: 0 });
    const m = await fetchManifest(target.host, "app/empty", "v1");
    expect(m.bytes?.equals(image.manifest)).toBe(true);
    expect(await blobExists(target.host, "app/empty", digestOf(big))).toBe(true);
  });

  it("copies an OCI index with amd64 and arm64, children before the index, digest preserved", async () => {
    const shared = randomLayer(4096);
    const amd = buildImage({ layers: [shared, randomLayer(2000)] });
    const arm = buildImage({
      layers: [shared, randomLayer(2100)],
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    });
    const index = buildIndex([amd, arm]);
    await pushIndex(source.host, "app/multi", index, "1.0");
    const result = await copyImage(client, src("app/multi", "1.0"), dst("app/multi"), ["1.0"]);
    expect(result.digest).toBe(index.digest);
    expect(result.manifests).toEqual({ total: 3, copied: 3, skipped: 0 });
    // The shared base layer is sent once across both children.
    expect(result.blobs.total).toBe(5);
    expect(result.blobs.copied).toBe(5);
    expect((await fetchManifest(target.host, "app/multi", "1.0")).digest).toBe(index.digest);
    for (const child of [amd, arm])
      expect((await fetchManifest(target.host, "app/multi", child.digest)).digest).toBe(child.digest);
  });

  it("copies a Docker v2 manifest list", async () => {
    const a = buildImage({ format: "docker" });
    const b = buildImage({ format: "docker", platform: { os: "linux", architecture: "arm64" } });
    const list = buildIndex([a, b], "docker");
    await pushIndex(source.host, "app/dockerlist", list, "latest");
    const result = await copyImage(client, src("app/dockerlist", "latest"), dst("app/dockerlist"), ["latest"]);
    expect(result.mediaType).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    const m = await fetchManifest(target.host, "app/dockerlist", "latest");
    expect(m.bytes?.equals(list.manifest)).toBe(true);
  });

  it("skips blobs the target already has and re-sends nothing on a repeat", async () => {
    const base = randomLayer(8192);
    const first = buildImage({ layers: [base, randomLayer(100)] });
    const second = buildImage({ layers: [base, randomLayer(200)] });
    await pushImage(source.host, "app/shared", first, "one");
    await pushImage(source.host, "app/shared", second, "two");
    await copyImage(client, src("app/shared", "one"), dst("app/shared"), ["one"]);
    const result = await copyImage(client, src("app/shared", "two"), dst("app/shared"), ["two"]);
    expect(result.blobs.skipped).toBe(1);
    expect(result.blobs.copied).toBe(2);
    expect(result.bytes).toBe(200 + second.config.length);

    const repeat = await copyImage(client, src("app/shared", "two"), dst("app/shared"), ["two"]);
    expect(repeat.bytes).toBe(0);
    expect(repeat.tags.unchanged).toEqual(["two"]);
    // One HEAD of the source tag and one HEAD of the target tag: no GET, nothing else.
    expect(repeat.requests.byKind).toEqual({ "manifest.head": 2 });
  });

  it("mounts blobs between repositories of one registry instead of streaming them", async () => {
    const image = buildImage({ layers: [randomLayer(5000)] });
    await pushImage(target.host, "team/a", image, "v1");
    const result = await copyImage(
      client,
      { registry: target.host, repository: "team/a", tag: "v1" },
      { registry: target.host, repository: "team/b" },
      ["v1"],
    );
    expect(result.blobs.mounted).toBe(2);
    expect(result.bytes).toBe(0);
    expect(result.requests.byKind["blob.get"]).toBeUndefined();
    expect(await blobExists(target.host, "team/b", digestOf(image.layers[0]!))).toBe(true);
  });

  it("mounts from a hinted repository when copying across registries", async () => {
    const image = buildImage({ layers: [randomLayer(4000)] });
    await pushImage(target.host, "cache/base", image, "v1");
    await pushImage(source.host, "up/hinted", image, "v1");
    const result = await copyImage(client, src("up/hinted", "v1"), dst("mirror/hinted"), ["v1"], {
      mountFrom: ["cache/base"],
    });
    expect(result.blobs.mounted).toBe(2);
    expect(result.requests.byKind["blob.get"]).toBeUndefined();
  });

  it("copies by digest when given one, whatever the tag now points at", async () => {
    const old = buildImage();
    const now = buildImage();
    await pushImage(source.host, "app/moving", old, "main");
    await pushImage(source.host, "app/moving", now, "main");
    const result = await copyImage(
      client,
      { registry: source.host, repository: "app/moving", digest: old.digest },
      dst("app/moving"),
      ["pinned"],
    );
    expect(result.digest).toBe(old.digest);
    expect((await fetchManifest(target.host, "app/moving", "pinned")).digest).toBe(old.digest);
  });
});

describe("copyImage through faults", () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(source.host);
  });
  afterAll(async () => proxy?.stop());

  it("retries a 500 and then succeeds", async () => {
    const image = buildImage();
    await pushImage(source.host, "app/flaky", image, "v1");
    let failures = 1;
    proxy.rules = [
      (req) =>
        req.method === "HEAD" && req.path.endsWith("/manifests/v1") && failures-- > 0 ? { status: 500 } : undefined,
    ];
    const result = await copyImage(
      client,
      { registry: proxy.host, repository: "app/flaky", tag: "v1" },
      dst("app/flaky"),
      ["v1"],
    );
    expect(result.digest).toBe(image.digest);
    expect(result.requests.retries).toBe(1);
    expect(proxy.seen.filter((r) => r.path.includes("/manifests/v1")).length).toBe(2);
  });

  it("honours Retry-After on 429", async () => {
    const image = buildImage();
    await pushImage(source.host, "app/limited", image, "v1");
    let limited = 1;
    proxy.rules = [
      (req) =>
        req.path.includes("/blobs/") && limited-- > 0 ? { status: 429, headers: { "Retry-After": "1" } } : undefined,
    ];
    const started = Date.now();
    await copyImage(client, { registry: proxy.host, repository: "app/limited", tag: "v1" }, dst("app/limited"), ["v1"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("fails on a digest mismatch and writes no tag", async () => {
    const image = buildImage({ layers: [randomLayer(3000)] });
    await pushImage(source.host, "app/corrupt", image, "v1");
    const layerDigest = digestOf(image.layers[0]!);
    // The "registry" serves other bytes for the layer: the copy must notice before the target accepts a tag.
    proxy.rules = [
      (req) =>
        req.method === "GET" && req.path.endsWith(`/blobs/${layerDigest}`)
          ? { status: 200, headers: { "Content-Type": "application/octet-stream" }, body: "x".repeat(3000) }
          : undefined,
    ];
    const err = await copyImage(
      client,
      { registry: proxy.host, repository: "app/corrupt", tag: "v1" },
      dst("app/corrupt"),
      ["v1"],
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect(String((err as Error).message)).toMatch(/digest mismatch|DIGEST_INVALID/i);
    expect((await fetchManifest(target.host, "app/corrupt", "v1")).status).toBe(404);
    expect(await blobExists(target.host, "app/corrupt", layerDigest)).toBe(false);
  });

  it("reports a missing source tag clearly", async () => {
    proxy.rules = [];
    const err = await copyImage(client, src("app/nothing", "v9"), dst("app/nothing"), ["v9"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toMatch(/404/);
    expect((err as Error).message).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN/);
  });
});

describe("copies side by side", () => {
  it("send a shared base layer once and mount it for the other images", async () => {
    const { KnownBlobs } = await import("../../shared/registry/copy");
    const base = randomLayer(64 * 1024);
    const images = Array.from({ length: 4 }, () => buildImage({ layers: [base, randomLayer(1000)] }));
    await Promise.all(images.map((img, i) => pushImage(source.host, `side/app${i}`, img, "v1")));
    const knownBlobs = new KnownBlobs();
    const results = await Promise.all(
      images.map((_, i) => copyImage(client, src(`side/app${i}`, "v1"), dst(`side/app${i}`), ["v1"], { knownBlobs })),
    );
    const baseSends = results.filter((r) => r.bytes >= base.length).length;
    expect(baseSends).toBe(1);
    expect(results.reduce((n, r) => n + r.blobs.mounted, 0)).toBe(3);
    for (let i = 0; i < 4; i++) expect(await blobExists(target.host, `side/app${i}`, digestOf(base))).toBe(true);
  });
});
