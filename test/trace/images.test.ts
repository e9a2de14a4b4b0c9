import { describe, expect, it } from "vitest";
import type { ConfigMap } from "../../shared/trace/configFile";
import { extractImages, type ImageEntry } from "../../shared/trace/images";

const HEX = "a".repeat(64);
const DIGEST = `sha256:${HEX}`;

function byPath(entries: ImageEntry[]): Record<string, ImageEntry> {
  return Object.fromEntries(entries.map((e) => [e.path, e]));
}

describe("extractImages by shape", () => {
  const config: ConfigMap = {
    backend: { image: { registry: "arohcpsvcdev.azurecr.io", repository: "arohcpbackend", digest: DIGEST } },
    prometheus: { image: { registry: "mcr.microsoft.com/oss/v2", repository: "prometheus/prometheus", sha: HEX } },
    thanos: { image: { registry: "r.io", repository: "thanos/thanos", tag: "v0.41.0", sha: HEX.toUpperCase() } },
    mise: { image: { repository: "mise-1p-container-image", digest: DIGEST } },
    fleet: { image: { registry: "arohcpsvcdev.azurecr.io", repository: "fleet", digest: "" } },
    quotaizer: { image: { registry: "empty-sentinel", repository: "empty-sentinel", digest: "" } },
    kubeEvents: { image: { registry: "", repository: "", digest: "" } },
    broken: { image: { registry: "r.io", repository: "x", digest: "sha256:nothex" } },
    tagged: { image: { registry: "r.io", repository: "x", tag: "1.0" } },
    secretSync: { providerImage: "mcr.microsoft.com/oss/v2/azure/secrets-store/provider-azure:v1.7.0" },
    pinnedString: { image: `quay.io/a/b@${DIGEST}` },
    notAReference: { image: "", dataPlaneImage: "{{ .acr.svc.name }}.azurecr.io/x:1", sidecarImage: "plainword" },
    global: { billing: { rg: "placeholder", digest: "placeholder", repository: "billing", subscriptionKey: "k" } },
    lists: { workers: [{ image: { registry: "r.io", repository: "w", digest: DIGEST } }] },
  };
  const found = byPath(extractImages(config));

  it("reads a containerImage", () => {
    expect(found["backend.image"]).toEqual({
      path: "backend.image",
      form: "containerImage",
      registry: "arohcpsvcdev.azurecr.io",
      repository: "arohcpbackend",
      digest: DIGEST,
      tag: null,
      status: "pinned",
      reference: `arohcpsvcdev.azurecr.io/arohcpbackend@${DIGEST}`,
      reason: null,
      declared: { registry: "arohcpsvcdev.azurecr.io", repository: "arohcpbackend", digest: DIGEST },
    });
  });

  it("prefixes a bare sha and moves a registry's path into the repository", () => {
    expect(found["prometheus.image"]).toMatchObject({
      form: "containerImageSha",
      registry: "mcr.microsoft.com",
      repository: "oss/v2/prometheus/prometheus",
      digest: DIGEST,
      status: "pinned",
      declared: { registry: "mcr.microsoft.com/oss/v2", repository: "prometheus/prometheus", sha: HEX },
    });
  });

  it("keeps the tag of a tag + sha entry as information and pins by digest (lower-cased)", () => {
    expect(found["thanos.image"]).toMatchObject({
      form: "containerImageTagDigest",
      tag: "v0.41.0",
      digest: DIGEST,
      status: "pinned",
      reference: `r.io/thanos/thanos:v0.41.0@${DIGEST}`,
    });
  });

  it("reports a pinned entry with no registry key without inventing one", () => {
    expect(found["mise.image"]).toMatchObject({ registry: null, status: "pinned", reference: null });
    expect(found["mise.image"]?.reason).toMatch(/no registry/);
  });

  it("reports empty digests and empty-sentinel as not pinned, not as errors", () => {
    expect(found["fleet.image"]).toMatchObject({ status: "not-pinned", digest: null, reason: "empty digest" });
    expect(found["quotaizer.image"]).toMatchObject({ status: "not-pinned", digest: null });
    expect(found["quotaizer.image"]?.reason).toMatch(/empty-sentinel/);
    expect(found["kubeEvents.image"]).toMatchObject({ status: "not-pinned", registry: null, repository: null });
    expect(found["broken.image"]).toMatchObject({ status: "not-pinned", digest: null });
    expect(found["broken.image"]?.reason).toMatch(/malformed digest/);
  });

  it("reports tag-only objects and legacy tag strings as not traceable by digest", () => {
    expect(found["tagged.image"]).toMatchObject({
      form: "tag",
      status: "tag-only",
      tag: "1.0",
      reference: "r.io/x:1.0",
    });
    expect(found["secretSync.providerImage"]).toMatchObject({
      form: "string",
      registry: "mcr.microsoft.com",
      repository: "oss/v2/azure/secrets-store/provider-azure",
      tag: "v1.7.0",
      digest: null,
      status: "tag-only",
      declared: { value: "mcr.microsoft.com/oss/v2/azure/secrets-store/provider-azure:v1.7.0" },
    });
    expect(found["pinnedString.image"]).toMatchObject({ form: "string", status: "pinned", digest: DIGEST });
  });

  it("ignores strings that are not pull specs and objects with non-image fields", () => {
    expect(Object.keys(found).filter((p) => p.startsWith("notAReference") || p.startsWith("global"))).toEqual([]);
  });

  it("walks lists", () => {
    expect(found["lists.workers[0].image"]).toMatchObject({ status: "pinned", repository: "w" });
  });
});

describe("extractImages with a schema", () => {
  const schema = {
    definitions: {
      containerImage: {
        type: "object",
        properties: { registry: { type: "string" }, repository: { type: "string" }, digest: { type: "string" } },
      },
      stack: { type: "object", properties: { main: { $ref: "#/definitions/containerImage" } } },
    },
    type: "object",
    properties: {
      // Typed as an image although the shape alone would not say so (an extra registry-less, digest-less entry).
      odd: { $ref: "#/definitions/containerImage" },
      // Image-shaped but typed as something else: the schema wins.
      artifact: {
        type: "object",
        properties: { rg: { type: "string" }, repository: { type: "string" }, digest: { type: "string" } },
      },
      svc: { $ref: "#/definitions/stack" },
      mgmt: { allOf: [{ $ref: "#/definitions/stack" }] },
      pools: { type: "object", additionalProperties: { $ref: "#/definitions/containerImage" } },
      byPattern: { type: "object", patternProperties: { "^img-": { $ref: "#/definitions/containerImage" } } },
    },
  };
  const config: ConfigMap = {
    odd: { repository: "x" },
    artifact: { repository: "billing", digest: "placeholder" },
    svc: { main: { registry: "r.io", repository: "s", digest: DIGEST } },
    mgmt: { main: { registry: "r.io", repository: "m", digest: DIGEST } },
    pools: { a: { registry: "r.io", repository: "a", digest: DIGEST } },
    byPattern: { "img-1": { registry: "r.io", repository: "p", digest: DIGEST } },
    unknownToSchema: { image: { registry: "r.io", repository: "u", digest: DIGEST } },
  };

  it("follows $ref, allOf, additionalProperties and patternProperties, and falls back to shape elsewhere", () => {
    const paths = extractImages(config, { schema }).map((e) => e.path);
    expect(paths.sort()).toEqual([
      "byPattern.img-1",
      "mgmt.main",
      "odd",
      "pools.a",
      "svc.main",
      "unknownToSchema.image",
    ]);
  });

  it("excludes look-alikes the schema types as something else", () => {
    expect(extractImages(config).map((e) => e.path)).toContain("artifact");
    expect(extractImages(config, { schema }).map((e) => e.path)).not.toContain("artifact");
  });

  it("survives a recursive schema", () => {
    const loop = { definitions: { a: { $ref: "#/definitions/a" } }, $ref: "#/definitions/a" };
    expect(extractImages({ x: { image: { repository: "r", digest: DIGEST } } }, { schema: loop })).toHaveLength(1);
  });
});
