/**
 * Trust material for signature verification: cosign public keys and Notation certificates, parsed once and named by
 * a fingerprint that the status row records ("who signed it").
 */
import { X509Certificate, createHash, createPublicKey, type KeyObject } from "node:crypto";

export interface CosignKey {
  kind: "cosign";
  key: KeyObject;
  /** `sha256:<hex>` of the key's DER SubjectPublicKeyInfo. */
  fingerprint: string;
}

export interface NotationCert {
  kind: "notation";
  cert: X509Certificate;
  /** `sha256:<hex>` of the certificate's DER bytes (what `openssl x509 -fingerprint -sha256` prints). */
  fingerprint: string;
}

export type TrustedKey = CosignKey | NotationCert;

/** PEM text bigger than this is not one key or certificate. */
export const MAX_PEM_BYTES = 64 * 1024;

export function cosignKeyFromPem(pem: string): CosignKey {
  if (pem.length > MAX_PEM_BYTES) throw new Error(`cosign key is over ${MAX_PEM_BYTES} bytes`);
  const key = createPublicKey(pem);
  const der = key.export({ type: "spki", format: "der" });
  return { kind: "cosign", key, fingerprint: `sha256:${createHash("sha256").update(der).digest("hex")}` };
}

export function notationCertFromPem(pem: string): NotationCert {
  if (pem.length > MAX_PEM_BYTES) throw new Error(`notation certificate is over ${MAX_PEM_BYTES} bytes`);
  const cert = new X509Certificate(pem);
  return { kind: "notation", cert, fingerprint: `sha256:${createHash("sha256").update(cert.raw).digest("hex")}` };
}

/** The hash cosign pairs with a key type: SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for P-521, none for Ed25519. */
export function cosignHash(key: KeyObject): string | null {
  if (key.asymmetricKeyType === "ed25519") return null;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === "secp384r1") return "sha384";
  if (curve === "secp521r1") return "sha512";
  return "sha256";
}
