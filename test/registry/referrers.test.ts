/**
 * Referrers travel with the image: signatures, SBOMs and referrers of referrers, for every manifest of an index, read
 * from a registry with the OCI 1.1 Referrers API (the stand-in) or without it (docker-registry 2.8: the fallback tag
 * `sha256-<hex>` and cosign's `sha256-<hex>.sig`), and written to either kind of target, the fallback index kept up to
 * date where the target does not answer `OCI-Subject`. skopeo reads the copied signature tag back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { COSIGN_TAG_TYPES, copyReferrers, fallbackTag, referrerGraph } from "../../shared/registry/referrers";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { buildImage, buildIndex, fetchManifest, pushIndex, type BuiltIndex } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { startReferrersStandIn, type ReferrersStandIn } from "../harness/referrersStandIn";
import { cosignKeyPair, pushArtifact, pushCosignSignature, pushFallbackReferrer, subjectOf } from "../harness/signing";
import { skopeoRawDigest } from "../harness/skopeo";
import { startTogether } from "../harness/together";

const SBOM = "application/spdx+json";

describe.skipIf(!registryAvailable())("referrers travel with the image", () => {
  let plainSource: RunningRegistry;
  let plainTarget: RunningRegistry;
  let apiBackend: RunningRegistry;
  let apiTargetBackend: RunningRegistry;
  let apiSource: ReferrersStandIn;
  let apiTarget: ReferrersStandIn;
  const events: RequestEvent[] = [];
  const client = new RegistryClient(
    new Transport({ onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxDelayMs: 5 } }),
  );
  const key = cosignKeyPair();

  beforeAll(async () => {
    [plainSource, plainTarget, apiBackend, apiTargetBackend] = await startTogether(
      startRegistry(),
      startRegistry(),
      startRegistry(),
      startRegistry(),
    );
    apiSource = await startReferrersStandIn(apiBackend.host);
    apiTarget = await startReferrersStandIn(apiTargetBackend.host);
  });
  afterAll(async () =>
    Promise.all([
      apiSource?.stop(),
      apiTarget?.stop(),
      plainSource?.stop(),
      plainTarget?.stop(),
      apiBackend?.stop(),
      apiTargetBackend?.stop(),
    ]),
  );

  /**
   * A two-platform index, signed with cosign (the index digest), an SBOM on its arm64 child, and a cosign signature
   * of that SBOM (a referrer of a referrer). Without the API, the SBOM goes into the fallback tag by hand, as oras
   * and notation do against such registries.
   */
  async function seed(host: string, repo: string, api: boolean) {
    const index: BuiltIndex = buildIndex([
      buildImage(),
      buildImage({ platform: { os: "linux", architecture: "arm64" } }),
    ]);
    await pushIndex(host, repo, index, "v1");
    const sig = await pushCosignSignature(host, repo, index.digest, key);
    const child = index.children[1]!;
    const sbom = await pushArtifact(host, repo, subjectOf(child), SBOM, Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    if (!api) await pushFallbackReferrer(host, repo, child.digest, sbom, SBOM);
    const sbomSig = await pushCosignSignature(host, repo, sbom.digest, key);
    return { index, child, sig, sbom, sbomSig };
  }

  async function mirror(source: string, target: string, repo: string, artifactTypes?: string[]) {
    const result = await copyImage(
      client,
      { registry: source, repository: repo, tag: "v1" },
      { registry: target, repository: repo },
      ["v1"],
    );
    const root = await client.manifestGet(target, repo, result.digest);
    const subjects = [root.digest, ...root.parsed.manifests.map((m) => m.digest)];
    return copyReferrers(
      client,
      { registry: source, repository: repo },
      { registry: target, repository: repo },
      subjects,
      artifactTypes ? { artifactTypes } : {},
    );
  }

  it("without the API on either side: tag scheme and fallback index, read back by skopeo", async () => {
    const s = await seed(plainSource.host, "app/plain", false);
    const copied = await mirror(plainSource.host, plainTarget.host, "app/plain");
    expect(copied.referrers.map((r) => r.digest).sort()).toEqual([s.sig, s.sbom.digest, s.sbomSig].sort());
    expect(copied.copied).toBe(3);
    // The signature tag at the target is byte for byte the source's, as skopeo reads it.
    expect(await skopeoRawDigest(plainTarget.host, "app/plain", `${fallbackTag(s.index.digest)}.sig`)).toBe(s.sig);
    expect(await skopeoRawDigest(plainTarget.host, "app/plain", `${fallbackTag(s.sbom.digest)}.sig`)).toBe(s.sbomSig);
    // The target has no API and sent no OCI-Subject: we wrote its fallback index for the child.
    expect(copied.fallbackTags).toEqual([fallbackTag(s.child.digest)]);
    const fallback = await fetchManifest(plainTarget.host, "app/plain", fallbackTag(s.child.digest));
    const listed = JSON.parse(fallback.bytes!.toString()) as { manifests: { digest: string; artifactType?: string }[] };
    expect(listed.manifests).toEqual([expect.objectContaining({ digest: s.sbom.digest, artifactType: SBOM })]);

    // Again: nothing new to copy, and the fallback index is not rewritten.
    const again = await mirror(plainSource.host, plainTarget.host, "app/plain");
    expect(again.copied).toBe(0);
    expect(again.fallbackTags).toEqual([]);

    // A referrer added upstream later is found and merged into the existing fallback index.
    const sbom2 = await pushArtifact(
      plainSource.host,
      "app/plain",
      subjectOf(s.child),
      "application/vnd.cyclonedx+json",
      Buffer.from("{}"),
    );
    await pushFallbackReferrer(
      plainSource.host,
      "app/plain",
      s.child.digest,
      sbom2,
      "application/vnd.cyclonedx+json",
      listed.manifests,
    );
    const third = await mirror(plainSource.host, plainTarget.host, "app/plain");
    expect(third.copied).toBe(1);
    const merged = JSON.parse(
      (await fetchManifest(plainTarget.host, "app/plain", fallbackTag(s.child.digest))).bytes!.toString(),
    ) as {
      manifests: { digest: string }[];
    };
    expect(merged.manifests.map((m) => m.digest)).toEqual([s.sbom.digest, sbom2.digest]);
  });

  it("from a registry with the API to one with it: the target indexes them, no fallback tag", async () => {
    const s = await seed(apiSource.host, "app/api", true);
    const copied = await mirror(apiSource.host, apiTarget.host, "app/api");
    expect(copied.referrers.map((r) => r.digest).sort()).toEqual([s.sig, s.sbom.digest, s.sbomSig].sort());
    expect(copied.fallbackTags).toEqual([]);
    expect(await client.referrersApi(apiTarget.host, "app/api", s.child.digest)).toEqual([
      expect.objectContaining({ digest: s.sbom.digest, artifactType: SBOM }),
    ]);
    expect((await fetchManifest(apiTargetBackend.host, "app/api", fallbackTag(s.child.digest))).status).toBe(404);
    expect(await skopeoRawDigest(apiTarget.host, "app/api", `${fallbackTag(s.index.digest)}.sig`)).toBe(s.sig);
  });

  it("from a registry with the API to one without: the fallback index is written", async () => {
    const s = await seed(apiSource.host, "app/mixed", true);
    const copied = await mirror(apiSource.host, plainTarget.host, "app/mixed");
    expect(copied.fallbackTags).toEqual([fallbackTag(s.child.digest)]);
    const graph = await referrerGraph(client, { registry: plainTarget.host, repository: "app/mixed" }, [
      s.index.digest,
      s.child.digest,
    ]);
    expect(graph.map((r) => r.digest).sort()).toEqual([s.sig, s.sbom.digest, s.sbomSig].sort());
  });

  it("an artifactType filter copies only what it names", async () => {
    const s = await seed(apiSource.host, "app/filtered", true);
    const copied = await mirror(apiSource.host, apiTarget.host, "app/filtered", [COSIGN_TAG_TYPES.sig]);
    expect(copied.referrers.map((r) => r.digest)).toEqual([s.sig]);
    expect((await fetchManifest(apiTargetBackend.host, "app/filtered", s.sbom.digest)).status).toBe(404);
  });

  it("counts the requests of a no-change referrers check exactly", async () => {
    const s = await seed(plainSource.host, "app/count", false);
    await mirror(plainSource.host, plainTarget.host, "app/count");
    events.length = 0;
    const noApi = new Set<string>();
    await referrerGraph(client, { registry: plainSource.host, repository: "app/count" }, [s.index.digest], { noApi });
    // index: referrers 404 (then remembered), fallback HEAD, 3 cosign HEADs → .sig; the signature: fallback HEAD + 3.
    expect(events.filter((e) => !e.retry).map((e) => e.kind)).toEqual([
      "referrers",
      ...Array(4).fill("manifest.head"),
      ...Array(4).fill("manifest.head"),
    ]);
  });
});
