// Server-side import through @azure/arm-containerregistry against an HTTPS stand-in for ARM, whose imports are real
// (source registry → target registry), and the stream/import/auto decision with its fallback to streaming.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcrImporter,
  ImportError,
  chooseCopyMode,
  createImageCopier,
  reachableByAcr,
  shouldFallBackToStream,
  type CopyJob,
  type StreamCopy,
} from "../../shared/acr";
import { AuthManager } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { Transport, tallyRequests } from "../../shared/registry/transport";
import { startAcrStandIn, type AcrStandIn } from "../harness/acrStandIn";
import { startArmStandIn, type ArmStandIn, type ArmStandInOptions } from "../harness/armStandIn";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex, type BuiltIndex } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { FAST_RETRY, smallImage, testCredential } from "./fixtures";
import { startTogether } from "../harness/together";

const SOURCE_USER = "puller";
const SOURCE_PASSWORD = "s3cret-for-tests";
const sub = "00000000-0000-0000-0000-000000000001";
const basicAuth = () => `Basic ${Buffer.from(`${SOURCE_USER}:${SOURCE_PASSWORD}`).toString("base64")}`;

let src: RunningRegistry;
let dst: RunningRegistry;
let acr: AcrStandIn;
let arm: ArmStandIn;
let armOptions: ArmStandInOptions;
let client: RegistryClient;
let big: BuiltIndex;
const credential = testCredential("arm-test-token");
const resolver = async (registry: string) =>
  registry === src.host ? { kind: "basic" as const, username: SOURCE_USER, password: SOURCE_PASSWORD } : undefined;

const importer = (overrides: Partial<ConstructorParameters<typeof AcrImporter>[0]> = {}) =>
  new AcrImporter({
    credential,
    subscriptionId: sub,
    resourceGroup: "rg-test",
    registryName: "standinacr",
    loginServer: acr.host,
    armEndpoint: arm.endpoint,
    tlsCa: arm.ca,
    pollIntervalMs: 5,
    retry: FAST_RETRY,
    sourceCredentials: resolver,
    verify: async (r, repo, tag) => (await client.manifestHead(r, repo, tag))?.digest,
    ...overrides,
  });

const stream: StreamCopy = async (job) => {
  const r = await copyImage(client, job.source, job.target, job.tags);
  return { digest: r.digest, bytes: r.bytes };
};

const job = (repo: string, digest: string, tags: string[], extra: Partial<CopyJob> = {}): CopyJob => ({
  source: { registry: src.host, repository: repo, digest },
  target: { registry: acr.host, repository: `mirror/${repo}` },
  tags,
  ...extra,
});

beforeAll(async () => {
  [src, dst] = await startTogether(startRegistry({ htpasswd: { [SOURCE_USER]: SOURCE_PASSWORD } }), startRegistry());
  acr = await startAcrStandIn(dst);
  armOptions = {
    subscriptionId: sub,
    resourceGroup: "rg-test",
    registryName: "standinacr",
    targetHost: acr.host,
    token: "arm-test-token",
  };
  arm = await startArmStandIn(armOptions);
  client = new RegistryClient(new Transport({ retry: FAST_RETRY, auth: new AuthManager({ credentials: resolver }) }));
  const auth = () => basicAuth();
  await pushImage(src.host, "org/app", smallImage("app-1"), "1.0", auth);
  // 51 manifests: more than ACR imports.
  const children = Array.from({ length: 50 }, (_, i) =>
    buildImage({ labels: { i: String(i) }, platform: { os: "linux", architecture: `a${i}` } }),
  );
  big = buildIndex(children);
  await pushIndex(src.host, "org/big", big, "1.0", auth);
}, 120_000);

afterAll(async () => {
  await Promise.all([arm?.stop(), acr?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

describe("copyByImport", () => {
  it("imports by digest, sets the mirrored and pin tags together, with source credentials, awaiting the LRO", async () => {
    const image = smallImage("app-1");
    const pin = `20250101_sha256_${image.digest.slice(7)}`;
    const before = arm.seen.length;
    const { result, requests } = await tallyRequests(() =>
      importer().copyByImport(job("org/app", image.digest, ["1.0", pin])),
    );
    expect(result).toMatchObject({ digest: image.digest, bytes: 0, via: "import" });
    const record = arm.imports.at(-1)!;
    expect(record.body).toEqual({
      source: { registryUri: src.host, sourceImage: `org/app@${image.digest}` },
      targetTags: ["mirror/org/app:1.0", `mirror/org/app:${pin}`],
      mode: "Force",
    });
    expect(record.hadCredentials).toBe(true);
    expect(record.answered).toEqual(["Running", "Succeeded"]);
    expect(
      arm.seen.slice(before).map((s) => `${s.method} ${s.path.split("/").slice(-2).join("/")} ${s.status}`),
    ).toEqual([
      "POST standinacr/importImage 202",
      expect.stringMatching(/^GET operationStatuses\/[\w-]+ 200$/),
      expect.stringMatching(/^GET operationStatuses\/[\w-]+ 200$/),
      expect.stringMatching(/^GET operationResults\/[\w-]+ 200$/),
    ]);
    // ARM's requests count in the caller's tally, beside the two HEADs that read the tags back.
    expect(requests.byKind).toEqual({ "arm.import": 1, "arm.poll": 3, "manifest.head": 2 });
    for (const tag of ["1.0", pin])
      expect((await fetchManifest(dst.host, "mirror/org/app", tag)).digest).toBe(image.digest);
    expect(JSON.stringify(arm.imports)).not.toContain(SOURCE_PASSWORD);
  });

  it("reports ACR's refusal as an ImportError for this image (more than 50 manifests)", async () => {
    const err = await importer()
      .copyByImport(job("org/big", big.digest, ["1.0"]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect(err).toMatchObject({ phase: "operation", code: "InvalidParameters" });
    expect((err as Error).message).toMatch(/ACR refused \(InvalidParameters\): .*at most 50 manifests/);
    expect(arm.imports.at(-1)!.answered).toEqual(["Running", "Failed"]);
    expect((await fetchManifest(dst.host, "mirror/org/big", "1.0")).status).toBe(404);
  });

  it("refuses an image of more than IMPORT_MAX_MANIFESTS before asking ARM, when it can count the manifests", async () => {
    const count = async (registry: string, repository: string, digest: string) => {
      const root = await client.manifestGet(registry, repository, digest);
      return root.parsed.manifests.length + 1;
    };
    const before = arm.seen.length;
    const err = await importer({ manifestCount: count })
      .copyByImport(job("org/big", big.digest, ["1.0"]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect(err).toMatchObject({ phase: "unsupported" });
    expect((err as Error).message).toMatch(/is 51 manifests; ACR imports at most 50/);
    expect(arm.seen.length).toBe(before);
    // At the limit it is ARM's to decide: a 1-manifest image is imported as before.
    const image = smallImage("app-1");
    const ok = await importer({ manifestCount: count }).copyByImport(job("org/app", image.digest, ["at-limit"]));
    expect(ok).toMatchObject({ digest: image.digest, via: "import" });
  });

  it("reports an ARM error on the request itself (unknown registry) with its status and code", async () => {
    const err = await importer({ registryName: "otheracr" })
      .copyByImport(job("org/app", smallImage("app-1").digest, ["x"]))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ImportError", phase: "request", status: 404, code: "ResourceNotFound" });
  });

  it("gives up after its timeout while the operation is still running", async () => {
    const hanging = await startArmStandIn({ ...armOptions, hang: true });
    try {
      const started = Date.now();
      const err = await importer({ armEndpoint: hanging.endpoint, tlsCa: hanging.ca, timeoutMs: 400 })
        .copyByImport(job("org/app", smallImage("app-1").digest, ["slow"]))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ name: "ImportError", phase: "timeout" });
      expect((err as Error).message).toMatch(/not finished after 0 s/);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(hanging.imports[0]!.answered.every((s) => s === "Running")).toBe(true);
    } finally {
      await hanging.stop();
    }
  });

  it("refuses a platform-filtered job without calling ARM (import copies every platform)", async () => {
    const before = arm.seen.length;
    const err = await importer()
      .copyByImport(
        job("org/app", smallImage("app-1").digest, ["1.0"], { platforms: [{ os: "linux", architecture: "amd64" }] }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ImportError", phase: "unsupported" });
    expect(arm.seen.length).toBe(before);
  });

  it("refuses a job for another registry than the one ARM imports into", async () => {
    const before = arm.seen.length;
    const other = {
      ...job("org/app", smallImage("app-1").digest, ["1.0"]),
      target: { registry: dst.host, repository: "x" },
    };
    const err = await importer()
      .copyByImport(other)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ImportError", phase: "unsupported" });
    expect((err as Error).message).toContain(`this job's target is ${dst.host}`);
    expect(arm.seen.length).toBe(before);
  });
});

describe("stream / import / auto", () => {
  const isAcr = (r: string) => r === acr.host;

  it("auto imports when it can", async () => {
    const image = smallImage("app-1");
    const decisions: string[] = [];
    const copier = createImageCopier({
      mode: "auto",
      stream,
      importer: importer(),
      isAcr,
      reachable: () => true,
      onDecision: (_, d) => decisions.push(`${d.use}: ${d.reason}`),
    });
    const out = await copier(job("org/app", image.digest, ["auto"]));
    expect(out.via).toBe("import");
    expect(decisions).toEqual(["import: target is an ACR and ACR can reach the source"]);
  });

  it("auto falls back to streaming when ACR refuses, and the image arrives all the same", async () => {
    const decisions: string[] = [];
    const copier = createImageCopier({
      mode: "auto",
      stream,
      importer: importer(),
      isAcr,
      reachable: () => true,
      onDecision: (_, d) => decisions.push(d.use),
    });
    const imports = arm.imports.length;
    const out = await copier(job("org/big", big.digest, ["1.0"]));
    expect(arm.imports.length).toBe(imports + 1);
    expect(out.via).toBe("stream");
    expect(out.fallback).toMatch(/^import failed, streamed instead: .*at most 50 manifests/);
    expect(out.bytes).toBeGreaterThan(0);
    expect(decisions).toEqual(["import", "stream"]);
    expect((await fetchManifest(dst.host, "mirror/org/big", "1.0")).digest).toBe(big.digest);
  });

  it("mode import never streams; mode stream never imports; a job's own mode wins", async () => {
    const strict = createImageCopier({ mode: "import", stream, importer: importer(), isAcr, reachable: () => true });
    await expect(strict(job("org/big", big.digest, ["strict"]))).rejects.toBeInstanceOf(ImportError);
    expect((await fetchManifest(dst.host, "mirror/org/big", "strict")).status).toBe(404);
    const imports = arm.imports.length;
    const streaming = createImageCopier({ mode: "stream", stream, importer: importer(), isAcr, reachable: () => true });
    const image = smallImage("app-1");
    expect((await streaming(job("org/app", image.digest, ["streamed"]))).via).toBe("stream");
    expect((await streaming(job("org/app", image.digest, ["per-image"], { mode: "import" }))).via).toBe("import");
    expect(arm.imports.length).toBe(imports + 1);
  });

  it("auto streams without asking ARM when the source is out of ACR's reach or platforms are filtered", async () => {
    const imports = arm.imports.length;
    const image = smallImage("app-1");
    const reasons: string[] = [];
    const copier = createImageCopier({
      mode: "auto",
      stream,
      importer: importer(),
      isAcr,
      onDecision: (_, d) => reasons.push(d.reason),
    });
    expect((await copier(job("org/app", image.digest, ["local"]))).via).toBe("stream");
    const stub: StreamCopy = async (j) => ({ digest: j.source.digest, bytes: 1 });
    const filtered = createImageCopier({
      mode: "auto",
      stream: stub,
      importer: importer(),
      isAcr,
      reachable: () => true,
    });
    const platforms = [{ os: "linux", architecture: "amd64" }];
    expect((await filtered(job("org/app", image.digest, ["f"], { platforms }))).via).toBe("stream");
    expect(reasons).toEqual(["ACR cannot reach the source"]);
    expect(arm.imports.length).toBe(imports);
  });
});

describe("the decision, as a pure function", () => {
  const ctx = { targetIsAcr: true, importConfigured: true, sourceReachable: true, wholeIndex: true };
  it("chooses per mode and context", () => {
    expect(chooseCopyMode("stream", ctx).use).toBe("stream");
    expect(chooseCopyMode("import", { ...ctx, targetIsAcr: false }).use).toBe("import");
    expect(chooseCopyMode("auto", ctx).use).toBe("import");
    expect(chooseCopyMode("auto", { ...ctx, targetIsAcr: false })).toEqual({
      use: "stream",
      reason: "target is not an ACR",
    });
    expect(chooseCopyMode("auto", { ...ctx, importConfigured: false }).reason).toBe("import is not configured");
    expect(chooseCopyMode("auto", { ...ctx, wholeIndex: false }).use).toBe("stream");
    expect(chooseCopyMode("auto", { ...ctx, sourceReachable: false }).reason).toBe("ACR cannot reach the source");
  });

  it("falls back only in auto and only for an import failure", () => {
    const err = new ImportError("no", "operation", "InvalidParameters");
    expect(shouldFallBackToStream("auto", err)).toBe(true);
    expect(shouldFallBackToStream("import", err)).toBe(false);
    expect(shouldFallBackToStream("auto", new Error("a bug"))).toBe(false);
  });

  it("knows which sources ACR cannot reach", () => {
    for (const r of ["docker.io", "quay.io", "ghcr.io", "myacr.azurecr.io", "registry.example.com:5000"]) {
      expect(reachableByAcr(r), r).toBe(true);
    }
    for (const r of [
      "127.0.0.1:5000",
      "localhost:5000",
      "10.1.2.3",
      "192.168.0.10:443",
      "172.20.0.1",
      "registry",
      "reg.local",
    ]) {
      expect(reachableByAcr(r), r).toBe(false);
    }
  });
});
