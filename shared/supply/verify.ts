/**
 * The signature gate: does the image at `digest` carry a signature that one of the trusted keys verifies? Signatures
 * are found where cosign and Notation put them (cosign's `sha256-<hex>.sig` tag, OCI referrers of the cosign and
 * Notary signature types), read with hard bounds, and checked offline with Node's crypto. Hostile or broken
 * signature artifacts are reasons, never crashes; only a registry we cannot read at all is an error (thrown).
 */
import type { RegistryClient } from "../registry/client";
import type { RepositoryRef } from "../registry/copy";
import { isImageType } from "../registry/manifest";
import { COSIGN_TAG_TYPES, NOTATION_SIGNATURE_TYPE, referrersOf, type Referrer } from "../registry/referrers";
import { COSIGN_SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE, cosignProblem } from "./cosign";
import type { TrustedKey } from "./keys";
import { COSE_ENVELOPE_TYPE, JWS_ENVELOPE_TYPE, notationProblem } from "./notation";

/** A signature payload or envelope is a few KiB (a certificate chain at most); anything bigger is refused unread. */
export const MAX_SIGNATURE_LAYER_BYTES = 256 * 1024;
/** Signature artifacts read per image, and signature layers per artifact. */
export const MAX_SIGNATURES = 16;
export const MAX_SIGNATURE_LAYERS = 16;

export type Verification =
  { verified: true; scheme: "cosign" | "notation"; fingerprint: string } | { verified: false; reason: string };

export interface VerifyOptions {
  /** Shared per run: registries without the Referrers API (asked once). */
  noApi?: Set<string>;
  now?: Date;
}

// The client verifies digest and size on the way; the cap was checked against the descriptor before the GET.
const readBlob = (client: RegistryClient, ref: RepositoryRef, digest: string, size: number): Promise<Buffer> =>
  client.blobBytes(
    ref.registry,
    ref.repository,
    digest,
    size,
    MAX_SIGNATURE_LAYER_BYTES,
    () => new Error(`layer ${digest} is over ${MAX_SIGNATURE_LAYER_BYTES} bytes`),
  );

/** Checks one signature artifact against every key of its scheme; a reason when none verifies. */
async function checkArtifact(
  client: RegistryClient,
  ref: RepositoryRef,
  digest: string,
  found: Referrer,
  keys: readonly TrustedKey[],
  options: VerifyOptions,
): Promise<Verification> {
  const manifest = await client.manifestGet(ref.registry, ref.repository, found.digest);
  if (!isImageType(manifest.mediaType))
    return { verified: false, reason: `signature ${found.digest} is not an image manifest` };
  const layers = manifest.parsed.layers;
  if (layers.length === 0) return { verified: false, reason: `signature ${found.digest} has no layers` };
  if (layers.length > MAX_SIGNATURE_LAYERS)
    return {
      verified: false,
      reason: `signature ${found.digest} has ${layers.length} layers, over ${MAX_SIGNATURE_LAYERS}`,
    };
  const reasons: string[] = [];
  for (const layer of layers) {
    if (layer.size > MAX_SIGNATURE_LAYER_BYTES) {
      reasons.push(
        `signature layer ${layer.digest} is ${layer.size} bytes, over the ${MAX_SIGNATURE_LAYER_BYTES}-byte limit`,
      );
      continue;
    }
    if (layer.mediaType === SIMPLE_SIGNING_TYPE) {
      const cosignKeys = keys.filter((k) => k.kind === "cosign");
      if (cosignKeys.length === 0) continue;
      const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
      if (typeof signature !== "string") {
        reasons.push(`signature layer ${layer.digest} has no ${COSIGN_SIGNATURE_ANNOTATION} annotation`);
        continue;
      }
      const payload = await readBlob(client, ref, layer.digest, layer.size);
      for (const key of cosignKeys) {
        const problem = cosignProblem(payload, signature, digest, key);
        if (!problem) return { verified: true, scheme: "cosign", fingerprint: key.fingerprint };
        reasons.push(`cosign: ${problem}`);
      }
    } else if (layer.mediaType === JWS_ENVELOPE_TYPE) {
      const certs = keys.filter((k) => k.kind === "notation");
      if (certs.length === 0) continue;
      const envelope = await readBlob(client, ref, layer.digest, layer.size);
      for (const cert of certs) {
        const problem = notationProblem(envelope, digest, cert, options.now);
        if (!problem) return { verified: true, scheme: "notation", fingerprint: cert.fingerprint };
        reasons.push(`notation: ${problem}`);
      }
    } else if (layer.mediaType === COSE_ENVELOPE_TYPE) {
      reasons.push("notation: COSE envelopes are not supported (sign with --signature-format jws)");
    }
  }
  return {
    verified: false,
    reason: reasons[0] ?? `signature ${found.digest} has no signature layer this policy can check`,
  };
}

/** Whether `digest` in `ref` carries a signature that one of `keys` verifies; the first valid one wins. */
export async function verifyImage(
  client: RegistryClient,
  ref: RepositoryRef,
  digest: string,
  keys: readonly TrustedKey[],
  options: VerifyOptions = {},
): Promise<Verification> {
  const types = [
    ...(keys.some((k) => k.kind === "cosign") ? [COSIGN_TAG_TYPES.sig] : []),
    ...(keys.some((k) => k.kind === "notation") ? [NOTATION_SIGNATURE_TYPE] : []),
  ];
  const found = await referrersOf(client, ref, digest, {
    artifactTypes: types,
    ...(options.noApi ? { noApi: options.noApi } : {}),
  });
  if (found.length === 0) return { verified: false, reason: "no signature found for this digest" };
  const reasons: string[] = [];
  for (const candidate of found.slice(0, MAX_SIGNATURES)) {
    let outcome: Verification;
    try {
      outcome = await checkArtifact(client, ref, digest, candidate, keys, options);
    } catch (err) {
      // A signature artifact the registry serves broken (not a manifest, a blob that fails its digest, too big).
      outcome = {
        verified: false,
        reason: `signature ${candidate.digest}: ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}`,
      };
    }
    if (outcome.verified) return outcome;
    reasons.push(outcome.reason);
  }
  return { verified: false, reason: reasons.join("; ").slice(0, 1000) };
}
