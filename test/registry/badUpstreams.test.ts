/**
 * Upstreams that misbehave: each fails only its own image, with a clear error, and leaves no tag at the target;
 * and upstreams that are odd but valid (path-relative PATCH Locations, index children of unknown or no media type).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { CopyError, copyImage } from "../../shared/registry/copy";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import {
  buildImage,
  digestOf,
  fetchManifest,
  pushImage,
  pushManifest,
  randomLayer,
  OCI_INDEX,
} from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";

describe.skipIf(!registryAvailable())("bad upstreams", () => {
  let source: RunningRegistry;
  let target: RunningRegistry;
  let upstream: RunningProxy;
  const events: RequestEvent[] = [];
  let client: RegistryClient;

  beforeAll(async () => {
    source = await startRegistry();
    target = await startRegistry();
    upstream = await startProxy(source.host);
    client = new RegistryClient(
      new Transport({ onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxDelayMs: 5 } }),
    );
  });
  afterAll(async () => Promise.all([upstream?.stop(), source?.stop(), target?.stop()]));

  const copy = (repository: string) =>
    copyImage(client, { registry: upstream.host, repository, tag: "v1" }, { registry: target.host, repository }, [
      "v1",
    ]);

  async function expectFailedAlone(repository: string, message: RegExp): Promise<void> {
    const good = buildImage();
    await pushImage(source.host, "good/neighbour", good, "v1");
    const [bad, fine] = await Promise.allSettled([copy(repository), copy("good/neighbour")]);
    expect(bad.status).toBe("rejected");
    const err = (bad as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(CopyError);
    expect(err.message).toMatch(message);
    expect(fine.status).toBe("fulfilled");
    expect((await fetchManifest(target.host, repository, "v1")).status).toBe(404);
  }

  it("a blob whose bytes do not match its digest", async () => {
    const image = buildImage({ layers: [randomLayer(4096)] });
    await pushImage(source.host, "bad/digest", image, "v1");
    const layer = digestOf(image.layers[0]!);
    upstream.rules = [
      (req) =>
        req.method === "GET" && req.path === `/v2/bad/digest/blobs/${layer}`
          ? { status: 200, headers: { "content-type": "application/octet-stream" }, body: "x".repeat(4096) }
          : undefined,
    ];
    await expectFailedAlone("bad/digest", /digest mismatch/);
  });

  it("a blob cut short", async () => {
    const image = buildImage({ layers: [randomLayer(4096)] });
    await pushImage(source.host, "bad/truncated", image, "v1");
    const layer = digestOf(image.layers[0]!);
    upstream.rules = [
      (req) =>
        req.method === "GET" && req.path === `/v2/bad/truncated/blobs/${layer}`
          ? { status: 200, body: "y".repeat(2048) }
          : undefined,
    ];
    await expectFailedAlone("bad/truncated", /size mismatch, expected 4096 bytes, got 2048/);
  });

  it("a manifest that is not JSON", async () => {
    const garbage = Buffer.from("<html>rate limited</html>");
    const digest = digestOf(garbage);
    upstream.rules = [
      (req) =>
        /^\/v2\/bad\/nonjson\/manifests\//.test(req.path)
          ? {
              status: 200,
              headers: {
                "content-type": "application/vnd.oci.image.manifest.v1+json",
                "docker-content-digest": digest,
              },
              body: req.method === "HEAD" ? "" : garbage.toString("latin1"),
            }
          : undefined,
    ];
    await expectFailedAlone("bad/nonjson", /manifest is not valid JSON/);
  });

  it("an index with 10,000 children, refused before any child is fetched", async () => {
    const manifests = Array.from({ length: 10_000 }, (_, i) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: `sha256:${createHash("sha256").update(String(i)).digest("hex")}`,
      size: 500,
      platform: { os: "linux", architecture: `arch${i}` },
    }));
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    const digest = digestOf(index);
    upstream.rules = [
      (req) =>
        /^\/v2\/bad\/huge\/manifests\//.test(req.path)
          ? {
              status: 200,
              headers: { "content-type": OCI_INDEX, "docker-content-digest": digest },
              body: req.method === "HEAD" ? "" : index.toString("latin1"),
            }
          : undefined,
    ];
    const before = events.length;
    await expectFailedAlone("bad/huge", /lists 10000 manifests, over the limit of 1000/);
    expect(
      events.slice(before).filter((e) => e.kind === "manifest.get" && e.host === upstream.host).length,
    ).toBeLessThanOrEqual(2);
  });

  it("a tag list that never ends", async () => {
    let served = 0;
    upstream.rules = [
      (req) => {
        const m = /^\/v2\/bad\/endless\/tags\/list\?n=\d+(?:&last=t(\d+))?$/.exec(req.path);
        if (!m) return undefined;
        served++;
        const from = Number(m[1] ?? 0) + 1;
        const tags = Array.from({ length: 100 }, (_, i) => `t${from + i}`);
        return {
          status: 200,
          headers: {
            "content-type": "application/json",
            link: `</v2/bad/endless/tags/list?n=100&last=t${from + 99}>; rel="next"`,
          },
          body: JSON.stringify({ name: "bad/endless", tags }),
        };
      },
    ];
    await expect(client.tagList(upstream.host, "bad/endless", 100)).rejects.toThrow(/more than 2000 pages/);
    expect(served).toBe(2000);
  }, 60_000);
});

describe.skipIf(!registryAvailable())("odd but valid upstreams", () => {
  let source: RunningRegistry;
  let target: RunningRegistry;
  let front: RunningProxy;

  beforeAll(async () => {
    source = await startRegistry();
    target = await startRegistry();
    front = await startProxy(target.host);
  });
  afterAll(async () => Promise.all([front?.stop(), source?.stop(), target?.stop()]));

  it("follows path-relative PATCH Locations against each PATCH's own URL", async () => {
    // The target refuses one streamed PUT (as some registries do for large bodies) and answers every upload step
    // with a path-relative Location: the client must resolve each against the URL of the request that got it.
    front.rules = [
      (req) =>
        req.method === "PUT" && /[?&]digest=/.test(req.path) && Number(req.headers["content-length"] ?? 0) > 0
          ? { status: 413, body: "" }
          : undefined,
    ];
    front.rewriteHeaders = (_req, headers) => {
      if (typeof headers.location === "string" && headers.location.includes("/blobs/uploads/")) {
        return { ...headers, location: headers.location.replace(/^.*\/blobs\/uploads\//, "") };
      }
      return headers;
    };
    const image = buildImage({ layers: [randomLayer(20_000)] });
    await pushImage(source.host, "odd/relative", image, "v1");
    const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5 } }));
    const result = await copyImage(
      client,
      { registry: source.host, repository: "odd/relative", tag: "v1" },
      { registry: front.host, repository: "odd/relative" },
      ["v1"],
    );
    expect(result.digest).toBe(image.digest);
    expect(front.seen.filter((r) => r.method === "PATCH").length).toBeGreaterThanOrEqual(2);
    expect((await fetchManifest(target.host, "odd/relative", "v1")).digest).toBe(image.digest);
  });

  it("reads index children of unknown or missing media type from /manifests/", async () => {
    front.rules = [];
    front.rewriteHeaders = undefined;
    const child = buildImage();
    await pushImage(source.host, "odd/children", child, child.digest);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ digest: child.digest, size: child.manifest.length, platform: child.platform }],
      }),
    );
    await pushManifest(source.host, "odd/children", "v1", index, OCI_INDEX);
    const client = new RegistryClient(new Transport());
    const result = await copyImage(
      client,
      { registry: source.host, repository: "odd/children", tag: "v1" },
      { registry: target.host, repository: "odd/children" },
      ["v1"],
    );
    expect(result.digest).toBe(digestOf(index));
    expect((await fetchManifest(target.host, "odd/children", child.digest)).digest).toBe(child.digest);
  });

  it("reads OCI-Subject on a manifest PUT: confirmed where the registry indexed the subject, not elsewhere", async () => {
    front.rules = [];
    front.rewriteHeaders = undefined;
    const image = buildImage();
    await pushImage(source.host, "odd/subject", image, image.digest);
    const empty = Buffer.from("{}");
    const artifact = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        artifactType: "application/vnd.example.sbom",
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf(empty), size: 2 },
        layers: [{ mediaType: "application/vnd.oci.empty.v1+json", digest: digestOf(empty), size: 2 }],
        subject: { mediaType: image.mediaType, digest: image.digest, size: image.manifest.length },
      }),
    );
    await pushImage(
      source.host,
      "odd/subject",
      {
        ...image,
        config: empty,
        layers: [],
        manifest: artifact,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: digestOf(artifact),
      },
      "sbom",
    );
    const copyTo = async (registry: string, repository: string) => {
      const seen: boolean[] = [];
      await copyImage(
        new RegistryClient(new Transport()),
        { registry: source.host, repository: "odd/subject", tag: "sbom" },
        { registry, repository },
        ["sbom"],
        { onProgress: (e) => e.type === "manifest" && e.subjectIndexed !== undefined && seen.push(e.subjectIndexed) },
      );
      return seen;
    };
    // distribution 2.8 has no Referrers API and sends no OCI-Subject.
    expect(await copyTo(target.host, "odd/subject-plain")).toEqual([false]);
    // A registry with the Referrers API (ACR, distribution 3) confirms the subject on the PUT.
    front.rewriteHeaders = (req, headers) =>
      req.method === "PUT" && req.path.includes("/manifests/") ? { ...headers, "oci-subject": image.digest } : headers;
    expect(await copyTo(front.host, "odd/subject-referrers")).toEqual([true]);
  });
});
