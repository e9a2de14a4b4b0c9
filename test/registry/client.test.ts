import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { buildImage, pushImage, pushManifest } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";

let reg: RunningRegistry;
let proxy: RunningProxy;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5 } }));
beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg.host);
});
afterAll(async () => Promise.all([proxy?.stop(), reg?.stop()]));

describe("RegistryClient against a real registry", () => {
  it("lists every tag across Link-paginated pages", async () => {
    const image = buildImage();
    await pushImage(reg.host, "tags/many", image);
    const tags = ["9", "20250106", "0.5.12", "v0.6.1", "latest", "main-latest", "main-abc1234"];
    for (const t of tags) await pushManifest(reg.host, "tags/many", t, image.manifest, image.mediaType);
    const listed = await client.tagList(reg.host, "tags/many", 2);
    expect([...listed].sort()).toEqual([...tags].sort());
  });

  it("HEADs a manifest without a GET and reads RateLimit headers", async () => {
    const image = buildImage();
    await pushImage(reg.host, "rl/app", image, "v1");
    proxy.rules = [
      (req) =>
        req.method === "HEAD" && req.path.endsWith("/manifests/v1")
          ? {
              status: 200,
              headers: {
                "Docker-Content-Digest": image.digest,
                "Content-Type": image.mediaType,
                "Content-Length": String(image.manifest.length),
                "RateLimit-Limit": "100;w=21600",
                "RateLimit-Remaining": "76;w=21600",
              },
            }
          : undefined,
    ];
    const head = await client.manifestHead(proxy.host, "rl/app", "v1");
    expect(head).toEqual({
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.manifest.length,
      rateLimit: { limit: 100, remaining: 76, windowSeconds: 21600 },
    });
    expect(proxy.seen.filter((r) => r.method === "GET")).toHaveLength(0);
    proxy.rules = [];
  });

  it("falls back to GET when a registry gives no digest on HEAD", async () => {
    const image = buildImage();
    await pushImage(reg.host, "nodigest/app", image, "v1");
    proxy.rules = [
      (req) =>
        req.method === "HEAD" && req.path.includes("/manifests/")
          ? { status: 200, headers: { "Content-Type": image.mediaType } }
          : undefined,
    ];
    const head = await client.manifestHead(proxy.host, "nodigest/app", "v1");
    expect(head?.digest).toBe(image.digest);
    proxy.rules = [];
  });

  it("returns null for an absent manifest or blob", async () => {
    expect(await client.manifestHead(reg.host, "absent/app", "v1")).toBeNull();
    expect(await client.blobHead(reg.host, "absent/app", `sha256:${"0".repeat(64)}`)).toBeNull();
  });

  it("refuses a manifest over 4 MiB", async () => {
    proxy.rules = [
      (req) =>
        req.method === "GET" && req.path.endsWith("/manifests/huge")
          ? { status: 200, body: "x".repeat(4 * 1024 * 1024 + 1) }
          : undefined,
    ];
    await expect(client.manifestGet(proxy.host, "big/app", "huge")).rejects.toThrow(/limit/);
    proxy.rules = [];
  });

  it("finds referrers through the tag-schema fallback when the Referrers API is missing", async () => {
    const image = buildImage();
    await pushImage(reg.host, "ref/app", image, "v1");
    const sigManifest = buildImage();
    await pushImage(reg.host, "ref/app", sigManifest);
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: sigManifest.mediaType,
            digest: sigManifest.digest,
            size: sigManifest.manifest.length,
            artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
          },
        ],
      }),
    );
    expect(await client.referrerList(reg.host, "ref/app", image.digest)).toEqual([]);
    await pushManifest(
      reg.host,
      "ref/app",
      image.digest.replace(":", "-"),
      sig,
      "application/vnd.oci.image.index.v1+json",
    );
    const refs = await client.referrerList(reg.host, "ref/app", image.digest);
    expect(refs).toHaveLength(1);
    expect(refs[0]!.artifactType).toBe("application/vnd.dev.cosign.artifact.sig.v1+json");
    expect(await client.referrerList(reg.host, "ref/app", image.digest, "application/other")).toEqual([]);
  });

  it("uses a registry's Referrers API when it has one", async () => {
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${"1".repeat(64)}`,
          size: 10,
          artifactType: "application/spdx+json",
        },
      ],
    });
    proxy.rules = [
      (req) =>
        req.path.includes("/referrers/")
          ? { status: 200, headers: { "Content-Type": "application/vnd.oci.image.index.v1+json" }, body: index }
          : undefined,
    ];
    const refs = await client.referrerList(proxy.host, "any/app", `sha256:${"2".repeat(64)}`);
    expect(refs.map((r) => r.artifactType)).toEqual(["application/spdx+json"]);
    proxy.rules = [];
  });
});
