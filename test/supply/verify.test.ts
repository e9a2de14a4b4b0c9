/**
 * The signature gate's verifier against real registries: cosign signatures under the `.sig` tag in docker-registry
 * 2.8, Notation signatures as OCI referrers through the Referrers API stand-in. Keys are made here, so each check
 * can fail: a wrong key, a signature for another digest, a tampered payload, and hostile signature artifacts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { cosignKeyFromPem, notationCertFromPem } from "../../shared/supply/keys";
import { notationProblem } from "../../shared/supply/notation";
import { MAX_SIGNATURE_LAYER_BYTES, verifyImage } from "../../shared/supply/verify";
import { buildImage, digestOf, pushBlob, pushImage, pushManifest, OCI_MANIFEST } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { startReferrersStandIn, type ReferrersStandIn } from "../harness/referrersStandIn";
import {
  cosignKeyPair,
  notationEnvelope,
  notationSigner,
  pushCosignSignature,
  pushNotationSignature,
  subjectOf,
} from "../harness/signing";

describe.skipIf(!registryAvailable())("signature verification", () => {
  let registry: RunningRegistry;
  let withApi: ReferrersStandIn;
  const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 1 } }));
  const signer = cosignKeyPair();
  const trusted = cosignKeyFromPem(signer.publicPem);

  beforeAll(async () => {
    registry = await startRegistry();
    withApi = await startReferrersStandIn(registry.host);
  });
  afterAll(async () => Promise.all([withApi?.stop(), registry?.stop()]));

  async function image(repo: string) {
    const built = buildImage();
    await pushImage(registry.host, repo, built, "v1");
    return built;
  }
  const check = (repo: string, digest: string, keys = [trusted]) =>
    verifyImage(client, { registry: registry.host, repository: repo }, digest, keys);

  it("verifies a cosign signature and names the key's fingerprint", async () => {
    const img = await image("cosign/good");
    await pushCosignSignature(registry.host, "cosign/good", img.digest, signer);
    const outcome = await check("cosign/good", img.digest);
    expect(outcome).toEqual({ verified: true, scheme: "cosign", fingerprint: trusted.fingerprint });
    expect(trusted.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses an unsigned image", async () => {
    const img = await image("cosign/unsigned");
    expect(await check("cosign/unsigned", img.digest)).toEqual({
      verified: false,
      reason: "no signature found for this digest",
    });
  });

  it("refuses a signature made with another key", async () => {
    const img = await image("cosign/wrong-key");
    await pushCosignSignature(registry.host, "cosign/wrong-key", img.digest, cosignKeyPair());
    const outcome = await check("cosign/wrong-key", img.digest);
    expect(outcome.verified).toBe(false);
    expect(!outcome.verified && outcome.reason).toMatch(/does not verify with key sha256:/);
  });

  it("refuses a valid signature whose payload names another digest", async () => {
    const img = await image("cosign/other-digest");
    const other = buildImage();
    await pushCosignSignature(registry.host, "cosign/other-digest", img.digest, signer, {
      payloadDigest: other.digest,
    });
    const outcome = await check("cosign/other-digest", img.digest);
    expect(!outcome.verified && outcome.reason).toContain(`for another digest (${other.digest})`);
  });

  it("refuses a payload changed after signing", async () => {
    const img = await image("cosign/tampered");
    await pushCosignSignature(registry.host, "cosign/tampered", img.digest, signer, { tamper: true });
    const outcome = await check("cosign/tampered", img.digest);
    expect(!outcome.verified && outcome.reason).toMatch(/does not verify/);
  });

  it("a signature annotation that is not base64 is a reason, not a crash", async () => {
    const img = await image("cosign/garbage");
    await pushCosignSignature(registry.host, "cosign/garbage", img.digest, signer, { signature: "%%%not base64%%%" });
    const outcome = await check("cosign/garbage", img.digest);
    expect(!outcome.verified && outcome.reason).toMatch(/not base64/);
  });

  it("a signature layer over the size limit is refused unread", async () => {
    const img = await image("cosign/huge");
    const big = Buffer.alloc(MAX_SIGNATURE_LAYER_BYTES + 1, 0x20);
    await pushBlob(registry.host, "cosign/huge", big);
    await pushBlob(registry.host, "cosign/huge", Buffer.from("{}"));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(Buffer.from("{}")), size: 2 },
        layers: [
          {
            mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
            digest: digestOf(big),
            size: big.length,
            annotations: { "dev.cosignproject.cosign/signature": "AAAA" },
          },
        ],
      }),
    );
    await pushManifest(registry.host, "cosign/huge", `${img.digest.replace(":", "-")}.sig`, manifest, OCI_MANIFEST);
    const outcome = await check("cosign/huge", img.digest);
    expect(!outcome.verified && outcome.reason).toMatch(/over the 262144-byte limit/);
  });

  it("a signature tag that holds an index, not a signature manifest, is a reason", async () => {
    const img = await image("cosign/malformed");
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] }),
    );
    await pushManifest(
      registry.host,
      "cosign/malformed",
      `${img.digest.replace(":", "-")}.sig`,
      index,
      "application/vnd.oci.image.index.v1+json",
    );
    const outcome = await check("cosign/malformed", img.digest);
    expect(!outcome.verified && outcome.reason).toMatch(/is not an image manifest/);
  });

  describe("Notation (JWS) as an OCI referrer", () => {
    const notary = notationSigner();
    const cert = notationCertFromPem(notary.certPem);
    const checkApi = (repo: string, digest: string, keys = [cert]) =>
      verifyImage(client, { registry: withApi.host, repository: repo }, digest, keys);

    it("verifies a signature the certificate made", async () => {
      const img = await image("notation/good");
      await pushNotationSignature(
        withApi.host,
        "notation/good",
        subjectOf(img),
        notationEnvelope(img.digest, img.manifest.length, notary),
      );
      expect(await checkApi("notation/good", img.digest)).toEqual({
        verified: true,
        scheme: "notation",
        fingerprint: cert.fingerprint,
      });
    });

    it("refuses one made with another certificate", async () => {
      const img = await image("notation/other-cert");
      await pushNotationSignature(
        withApi.host,
        "notation/other-cert",
        subjectOf(img),
        notationEnvelope(img.digest, img.manifest.length, notationSigner("/CN=someone-else")),
      );
      const outcome = await checkApi("notation/other-cert", img.digest);
      expect(!outcome.verified && outcome.reason).toMatch(/not trusted/);
    });

    it("refuses one whose payload names another digest", async () => {
      const img = await image("notation/other-digest");
      const other = buildImage();
      await pushNotationSignature(
        withApi.host,
        "notation/other-digest",
        subjectOf(img),
        notationEnvelope(img.digest, img.manifest.length, notary, other.digest),
      );
      const outcome = await checkApi("notation/other-digest", img.digest);
      expect(!outcome.verified && outcome.reason).toContain(`for another digest (${other.digest})`);
    });

    it("refuses an alg that is not the certificate key's, and a crit list without the signing scheme", () => {
      const digest = buildImage().digest;
      const envelope = JSON.parse(notationEnvelope(digest, 1, notary).toString()) as Record<string, string>;
      const withHeader = (header: Record<string, unknown>) =>
        Buffer.from(
          JSON.stringify({ ...envelope, protected: Buffer.from(JSON.stringify(header)).toString("base64url") }),
        );
      const base = {
        cty: "application/vnd.cncf.notary.payload.v1+json",
        crit: ["io.cncf.notary.signingScheme"],
        "io.cncf.notary.signingScheme": "notary.x509",
      };
      expect(notationProblem(notationEnvelope(digest, 1, notary), digest, cert)).toBeUndefined();
      expect(notationProblem(withHeader({ ...base, alg: "ES256" }), digest, cert)).toMatch(
        /does not match the signing certificate's key/,
      );
      expect(notationProblem(withHeader({ ...base, alg: "PS256", crit: [] }), digest, cert)).toMatch(
        /crit does not name/,
      );
      expect(
        notationProblem(
          withHeader({ ...base, alg: "PS256", crit: [...base.crit, "io.cncf.notary.verificationPlugin"] }),
          digest,
          cert,
        ),
      ).toMatch(/does not know/);
      // Far in the future the self-signed test certificate (two days) has expired.
      expect(notationProblem(notationEnvelope(digest, 1, notary), digest, cert, new Date("2099-01-01"))).toMatch(
        /outside its validity/,
      );
    });

    it("refuses a tampered payload, and a malformed envelope is a reason", async () => {
      const img = await image("notation/tampered");
      const env = JSON.parse(notationEnvelope(img.digest, img.manifest.length, notary).toString()) as {
        payload: string;
      };
      const forged = Buffer.from(
        JSON.stringify({
          ...env,
          payload: Buffer.from(JSON.stringify({ targetArtifact: { digest: img.digest, size: 1 } })).toString(
            "base64url",
          ),
        }),
      );
      await pushNotationSignature(withApi.host, "notation/tampered", subjectOf(img), forged);
      expect((await checkApi("notation/tampered", img.digest)).verified).toBe(false);
      const img2 = await image("notation/malformed");
      await pushNotationSignature(withApi.host, "notation/malformed", subjectOf(img2), Buffer.from("{not json"));
      const outcome = await checkApi("notation/malformed", img2.digest);
      expect(!outcome.verified && outcome.reason).toMatch(/malformed JWS envelope/);
    });
  });
});
