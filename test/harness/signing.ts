/**
 * Signs test images the way cosign and Notation do, with keys made in the test, and pushes the signature artifacts
 * with plain fetch (test/harness/images), so a verifier bug cannot hide behind a matching bug in the seeding.
 * Formats: cosign `specs/SIGNATURE_SPEC.md` (simple signing, `sha256-<hex>.sig` tag); Notary Project
 * `signature-envelope-jws.md` (JWS JSON, `application/vnd.cncf.notary.signature` referrer).
 */
import { constants, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { digestOf, pushBlob, pushManifest, OCI_INDEX, OCI_MANIFEST, type SeedAuth } from "./images";
import { opensslCertificate } from "./tls";

const EMPTY = Buffer.from("{}");
const EMPTY_TYPE = "application/vnd.oci.empty.v1+json";

export interface TestKey {
  privateKey: KeyObject;
  publicPem: string;
}

export function cosignKeyPair(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

export function simpleSigningPayload(digest: string, reference = "example.test/app"): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": reference },
        image: { "docker-manifest-digest": digest },
        type: "cosign container image signature",
      },
      optional: null,
    }),
  );
}

export interface CosignSignatureOptions {
  /** The digest written into the payload (default: the signed image's). */
  payloadDigest?: string;
  /** Change the payload after signing. */
  tamper?: boolean;
  /** Override the annotation value. */
  signature?: string;
}

/** A cosign `.sig` manifest for `digest` and its one payload blob. */
export function cosignSignature(
  digest: string,
  key: TestKey,
  options: CosignSignatureOptions = {},
): { manifest: Buffer; payload: Buffer } {
  const signed = simpleSigningPayload(options.payloadDigest ?? digest);
  const signature = options.signature ?? sign("sha256", signed, key.privateKey).toString("base64");
  const payload = options.tamper
    ? Buffer.from(signed.toString("utf8").replace("cosign container", "cosign c0ntainer"))
    : signed;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(EMPTY), size: EMPTY.length },
      layers: [
        {
          mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
          digest: digestOf(payload),
          size: payload.length,
          annotations: { "dev.cosignproject.cosign/signature": signature },
        },
      ],
    }),
  );
  return { manifest, payload };
}

/** Pushes a cosign signature of `digest` under `sha256-<hex>.sig`, as `cosign sign --key` does. */
export async function pushCosignSignature(
  host: string,
  repo: string,
  digest: string,
  key: TestKey,
  options: CosignSignatureOptions = {},
  auth?: SeedAuth,
): Promise<string> {
  const { manifest, payload } = cosignSignature(digest, key, options);
  await pushBlob(host, repo, EMPTY, auth);
  await pushBlob(host, repo, payload, auth);
  await pushManifest(host, repo, `${digest.replace(":", "-")}.sig`, manifest, OCI_MANIFEST, auth);
  return digestOf(manifest);
}

export interface NotationSigner {
  key: KeyObject;
  certPem: string;
  certDer: Buffer;
}

/** An RSA key and self-signed certificate made with openssl (Node cannot issue certificates). */
export function notationSigner(subject = "/CN=notation-test"): NotationSigner {
  const dir = mkdtempSync(join(tmpdir(), "notation-"));
  try {
    const { keyFile, certFile } = opensslCertificate(dir, subject);
    const certPem = readFileSync(certFile, "utf8");
    const b64 = certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    return { key: createPrivateKey(readFileSync(keyFile)), certPem, certDer: Buffer.from(b64, "base64") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Notation JWS envelope over `{"targetArtifact": …}` for `digest`, PS256 with the signer's certificate. */
export function notationEnvelope(digest: string, size: number, signer: NotationSigner, payloadDigest = digest): Buffer {
  const protectedHeader = Buffer.from(
    JSON.stringify({
      alg: "PS256",
      cty: "application/vnd.cncf.notary.payload.v1+json",
      crit: ["io.cncf.notary.signingScheme"],
      "io.cncf.notary.signingScheme": "notary.x509",
      "io.cncf.notary.signingTime": "2026-01-01T00:00:00Z",
    }),
  ).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ targetArtifact: { mediaType: OCI_MANIFEST, digest: payloadDigest, size } }),
  ).toString("base64url");
  const signature = sign("sha256", Buffer.from(`${protectedHeader}.${payload}`), {
    key: signer.key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  }).toString("base64url");
  return Buffer.from(
    JSON.stringify({
      payload,
      protected: protectedHeader,
      header: { x5c: [signer.certDer.toString("base64")], "io.cncf.notary.signingAgent": "test" },
      signature,
    }),
  );
}

/** Pushes a Notation signature as an OCI referrer of `subject` (through a registry with the Referrers API). */
export async function pushNotationSignature(
  host: string,
  repo: string,
  subject: { digest: string; size: number; mediaType: string },
  envelope: Buffer,
  auth?: SeedAuth,
): Promise<string> {
  const pushed = await pushReferrer(
    host,
    repo,
    subject,
    "application/vnd.cncf.notary.signature",
    { mediaType: "application/jose+json", content: envelope },
    { "io.cncf.notary.x509chain.thumbprint#S256": "[]" },
    auth,
  );
  return pushed.digest;
}

/** An OCI artifact (an SBOM, say) referring to `subject`, pushed by digest. */
export async function pushArtifact(
  host: string,
  repo: string,
  subject: { digest: string; size: number; mediaType: string },
  artifactType: string,
  content: Buffer,
  auth?: SeedAuth,
): Promise<{ digest: string; manifest: Buffer }> {
  const layer = { mediaType: "application/octet-stream", content };
  return pushReferrer(host, repo, subject, artifactType, layer, undefined, auth);
}

/** An OCI image manifest of `artifactType` with an empty config and one layer, referring to `subject`, by digest. */
async function pushReferrer(
  host: string,
  repo: string,
  subject: { digest: string; size: number; mediaType: string },
  artifactType: string,
  layer: { mediaType: string; content: Buffer },
  annotations: Record<string, string> | undefined,
  auth: SeedAuth | undefined,
): Promise<{ digest: string; manifest: Buffer }> {
  await pushBlob(host, repo, EMPTY, auth);
  await pushBlob(host, repo, layer.content, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: EMPTY_TYPE, digest: digestOf(EMPTY), size: EMPTY.length },
      layers: [{ mediaType: layer.mediaType, digest: digestOf(layer.content), size: layer.content.length }],
      subject,
      ...(annotations ? { annotations } : {}),
    }),
  );
  const digest = digestOf(manifest);
  await pushManifest(host, repo, digest, manifest, OCI_MANIFEST, auth);
  return { digest, manifest };
}

/**
 * Lists `artifact` as a referrer of `subjectDigest` under the Referrers tag schema's fallback tag (`sha256-<hex>`),
 * after the descriptors `alreadyListed` there, by hand, as oras and notation do against a registry without the
 * Referrers API.
 */
export async function pushFallbackReferrer(
  host: string,
  repo: string,
  subjectDigest: string,
  artifact: { digest: string; manifest: Buffer },
  artifactType: string,
  alreadyListed: readonly unknown[] = [],
  auth?: SeedAuth,
): Promise<void> {
  const added = referrerDescriptor(artifact, artifactType);
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...alreadyListed, added] }),
  );
  await pushManifest(host, repo, subjectDigest.replace(":", "-"), index, OCI_INDEX, auth);
}

/** How a referrers index lists an artifact pushed by pushArtifact. */
export function referrerDescriptor(artifact: { digest: string; manifest: Buffer }, artifactType: string) {
  return { mediaType: OCI_MANIFEST, digest: artifact.digest, size: artifact.manifest.length, artifactType };
}

/** The descriptor of a pushed image, as the `subject` of what refers to it. */
export function subjectOf(image: { digest: string; manifest: Buffer; mediaType: string }): {
  digest: string;
  size: number;
  mediaType: string;
} {
  return { digest: image.digest, size: image.manifest.length, mediaType: image.mediaType };
}
