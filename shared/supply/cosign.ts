/**
 * cosign's simple-signing signatures (sigstore/cosign `specs/SIGNATURE_SPEC.md`): the layer blob is a JSON payload
 * whose `critical.image.docker-manifest-digest` names the signed image; the layer annotation
 * `dev.cosignproject.cosign/signature` holds the base64 signature over the payload's exact bytes.
 */
import { verify } from "node:crypto";
import { cosignHash, type CosignKey } from "./keys";

export const SIMPLE_SIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";

/** Why a payload and signature do not prove `digest` for `key`, or undefined when they do. */
export function cosignProblem(
  payload: Buffer,
  signatureB64: string,
  digest: string,
  key: CosignKey,
): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return "the signature annotation is not base64";
  const signature = Buffer.from(signatureB64, "base64");
  let ok: boolean;
  try {
    ok = verify(cosignHash(key.key), payload, key.key, signature);
  } catch {
    ok = false;
  }
  // The signature first: a payload changed after signing is reported as tampering, whatever it now says.
  if (!ok) return `the signature does not verify with key ${key.fingerprint}`;
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString("utf8"));
  } catch {
    return "the signed payload is not JSON";
  }
  const signed = (doc as { critical?: { image?: { "docker-manifest-digest"?: unknown } } } | null)?.critical?.image?.[
    "docker-manifest-digest"
  ];
  if (typeof signed !== "string") return "the signed payload has no critical.image.docker-manifest-digest";
  if (signed !== digest) return `the signature is for another digest (${signed.slice(0, 80)})`;
  return undefined;
}
