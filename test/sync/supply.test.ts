/**
 * The supply-chain policy in a whole run (real docker-registry 2.8, real Azurite): the signature gate holds back an
 * image without a valid signature (`unverified`, not copied, outdated), records who signed the ones it lets through
 * and trusts that record on the next run; referrers travel with images that ask for them, a referrer added upstream
 * to an unchanged image is planned as work, and images with referrers off are never asked about theirs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { cosignKeyFromPem } from "../../shared/supply/keys";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { outdated } from "../../shared/sync/model";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import {
  cosignKeyPair,
  pushArtifact,
  pushCosignSignature,
  pushFallbackReferrer,
  referrerDescriptor,
  subjectOf,
} from "../harness/signing";
import { startTogether } from "../harness/together";

describe.skipIf(!registryAvailable())("supply-chain policy in a sync run", () => {
  let up: RunningRegistry;
  let acr: RunningRegistry;
  let azurite: RunningAzurite;
  let store: SyncStore;
  const events: RequestEvent[] = [];
  const client = new RegistryClient(
    new Transport({ onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }),
  );
  const key = cosignKeyPair();
  const fingerprint = cosignKeyFromPem(key.publicPem).fingerprint;

  beforeAll(async () => {
    [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
    store = new SyncStore(new Tables({ connectionString: azurite.connectionString }));
  });
  afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

  const configOf = (lines: string[]) =>
    parseSyncConfig([`target: { registry: "${acr.host}" }`, ...lines].join("\n"), "sync.yaml").config;

  it("gates on signatures: unverified images are not copied and count as outdated; the signer is recorded", async () => {
    const signed = buildImage();
    const unsigned = buildImage();
    const wrongKey = buildImage();
    const open = buildImage();
    await pushImage(up.host, "gate/signed", signed, "v1");
    await pushCosignSignature(up.host, "gate/signed", signed.digest, key);
    await pushImage(up.host, "gate/unsigned", unsigned, "v1");
    await pushImage(up.host, "gate/wrong-key", wrongKey, "v1");
    await pushCosignSignature(up.host, "gate/wrong-key", wrongKey.digest, cosignKeyPair());
    await pushImage(up.host, "gate/open", open, "v1");
    const config = configOf([
      `defaults: { verify: { cosignKey: ${JSON.stringify(key.publicPem)}, require: signed } }`,
      "images:",
      `  - { source: "${up.host}/gate/signed", tags: ["v1"] }`,
      `  - { source: "${up.host}/gate/unsigned", tags: ["v1"] }`,
      `  - { source: "${up.host}/gate/wrong-key", tags: ["v1"] }`,
      `  - { source: "${up.host}/gate/open", tags: ["v1"], verify: false }`,
    ]);
    const first = await runSync({ client, config, trigger: "manual", store });
    const by = (repo: string) => first.results.find((r) => r.target.repository === repo)!;
    expect(by("gate/signed")).toMatchObject({
      action: "copied",
      stateAfter: "in-sync",
      signedBy: `cosign ${fingerprint}`,
    });
    expect(by("gate/unsigned")).toMatchObject({ action: "skipped", stateAfter: "unverified" });
    expect(by("gate/unsigned").reason).toBe("signature required: no signature found for this digest");
    expect(by("gate/wrong-key").reason).toMatch(/does not verify with key sha256:/);
    expect(by("gate/open")).toMatchObject({ action: "copied", stateAfter: "in-sync" });
    expect((await fetchManifest(acr.host, "gate/unsigned", "v1")).status).toBe(404);
    expect((await fetchManifest(acr.host, "gate/wrong-key", "v1")).status).toBe(404);
    expect(first.run.countsAfter.unverified).toBe(2);
    expect(outdated(first.run.countsAfter)).toBe(2);
    const row = await store.getStatus({ registry: acr.host, repository: "gate/signed", tag: "v1" });
    expect(row).toMatchObject({ signedBy: `cosign ${fingerprint}`, verifiedDigest: signed.digest });
    const held = await store.getStatus({ registry: acr.host, repository: "gate/unsigned", tag: "v1" });
    expect(held).toMatchObject({
      state: "unverified",
      lastError: "signature required: no signature found for this digest",
    });

    // Next run: the verified digest is trusted from the status row, so the tag costs one upstream HEAD, as without a gate.
    const onlySigned = configOf([
      `defaults: { verify: { cosignKey: ${JSON.stringify(key.publicPem)} } }`,
      "images:",
      `  - { source: "${up.host}/gate/signed", tags: ["v1"] }`,
    ]);
    const second = await runSync({ client, config: onlySigned, trigger: "timer", store });
    expect(second.results[0]).toMatchObject({ action: "unchanged", signedBy: `cosign ${fingerprint}` });
    expect(second.run.requests).toBe(1);

    // A rotated key no longer vouches for the old signature: the trusted record does not outlive the policy.
    const rotated = configOf([
      `defaults: { verify: { cosignKey: ${JSON.stringify(cosignKeyPair().publicPem)} } }`,
      "images:",
      `  - { source: "${up.host}/gate/signed", tags: ["v1"] }`,
    ]);
    const third = await runSync({ client, config: rotated, trigger: "timer", store });
    expect(third.results[0]).toMatchObject({ action: "skipped", stateAfter: "unverified" });
  });

  it("referrers travel with images that ask for them; a new upstream referrer is planned as work", async () => {
    const app = buildImage();
    const plain = buildImage();
    await pushImage(up.host, "ref/app", app, "v1");
    const sig = await pushCosignSignature(up.host, "ref/app", app.digest, key);
    const subject = subjectOf(app);
    const sbom = await pushArtifact(up.host, "ref/app", subject, "application/spdx+json", Buffer.from("{}"));
    await pushFallbackReferrer(up.host, "ref/app", app.digest, sbom, "application/spdx+json");
    await pushImage(up.host, "ref/plain", plain, "v1");
    await pushCosignSignature(up.host, "ref/plain", plain.digest, key);
    const config = configOf([
      "images:",
      `  - { source: "${up.host}/ref/app", tags: ["v1"], referrers: true }`,
      `  - { source: "${up.host}/ref/plain", tags: ["v1"] }`,
    ]);
    const first = await runSync({ client, config, trigger: "manual", store });
    const appResult = first.results.find((r) => r.target.repository === "ref/app")!;
    expect(appResult.referrersCopied).toEqual(
      [`application/spdx+json@${sbom.digest}`, `application/vnd.dev.cosign.artifact.sig.v1+json@${sig}`].sort(),
    );
    expect((await fetchManifest(acr.host, "ref/app", `${app.digest.replace(":", "-")}.sig`)).digest).toBe(sig);
    expect((await fetchManifest(acr.host, "ref/plain", `${plain.digest.replace(":", "-")}.sig`)).status).toBe(404);
    const row = await store.getStatus({ registry: acr.host, repository: "ref/app", tag: "v1" });
    expect(row?.referrers).toEqual(appResult.referrersCopied);

    // No change: the referrer check is the whole extra cost, and only for the image that asks for it.
    events.length = 0;
    const second = await runSync({ client, config, trigger: "timer", store });
    expect(second.results.map((r) => r.action)).toEqual(["unchanged", "unchanged"]);
    // ref/plain: 1 HEAD. ref/app: 1 HEAD + referrers probe (404, then remembered) + one tag list (which answers every
    // fallback and cosign tag question of the repository) + GET of the fallback index + HEAD of the `.sig` tag; its two
    // referrers have no tags of their own in the list, so they cost nothing.
    expect(second.run.requests).toBe(1 + 1 + 1 + 1 + 1 + 1);
    expect(events.filter((e) => e.kind === "tag.list")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "referrers")).toHaveLength(1);

    // A referrer added upstream to the unchanged image is planned and copied; the image without referrers is not touched.
    const sbom2 = await pushArtifact(up.host, "ref/app", subject, "application/vnd.cyclonedx+json", Buffer.from("[]"));
    await pushFallbackReferrer(up.host, "ref/app", app.digest, sbom2, "application/vnd.cyclonedx+json", [
      referrerDescriptor(sbom, "application/spdx+json"),
    ]);
    events.length = 0;
    const third = await runSync({ client, config, trigger: "timer", store });
    const after = third.results.find((r) => r.target.repository === "ref/app")!;
    expect(after).toMatchObject({ state: "drifted", action: "copied", stateAfter: "in-sync" });
    expect(after.reason).toMatch(/1 referrer\(s\) upstream not mirrored yet/);
    expect(after.referrersCopied).toContain(`application/vnd.cyclonedx+json@${sbom2.digest}`);
    expect(third.results.find((r) => r.target.repository === "ref/plain")!.action).toBe("unchanged");
    // Only the referrers moved: no image manifest or tag was written, just the new SBOM and the fallback index.
    expect(after.bytes).toBe(0);
    expect(events.filter((e) => e.kind === "manifest.put").length).toBe(2);
    const fallback = await fetchManifest(acr.host, "ref/app", app.digest.replace(":", "-"));
    expect(JSON.parse(fallback.bytes!.toString()).manifests.map((m: { digest: string }) => m.digest)).toEqual([
      sbom.digest,
      sbom2.digest,
    ]);
  });

  it("with a platform list: children's referrers come along, the unsigned rewritten root is not re-planned", async () => {
    const index = buildIndex([buildImage(), buildImage({ platform: { os: "linux", architecture: "arm64" } })]);
    await pushIndex(up.host, "ref/filtered", index, "v1");
    const rootSig = await pushCosignSignature(up.host, "ref/filtered", index.digest, key);
    const amd64 = index.children[0]!;
    const childSig = await pushCosignSignature(up.host, "ref/filtered", amd64.digest, key);
    const config = configOf([
      "images:",
      `  - { source: "${up.host}/ref/filtered", tags: ["v1"], platforms: [linux/amd64], referrers: true }`,
    ]);
    const first = await runSync({ client, config, trigger: "manual", store });
    expect(first.results[0]).toMatchObject({ action: "copied" });
    expect(first.results[0]!.referrersCopied).toEqual([`application/vnd.dev.cosign.artifact.sig.v1+json@${childSig}`]);
    expect((await fetchManifest(acr.host, "ref/filtered", `${amd64.digest.replace(":", "-")}.sig`)).digest).toBe(
      childSig,
    );
    expect((await fetchManifest(acr.host, "ref/filtered", `${index.digest.replace(":", "-")}.sig`)).status).toBe(404);
    expect(rootSig).toMatch(/^sha256:/);
    const second = await runSync({ client, config, trigger: "timer", store });
    expect(second.results[0]).toMatchObject({ state: "in-sync", action: "unchanged" });
  });
});
