/**
 * Notation (Notary Project) JWS signature envelopes (notaryproject/specs `signature-envelope-jws.md`): a JWS JSON
 * serialisation whose payload is `{"targetArtifact": {mediaType, digest, size}}`, signed with the leaf certificate of
 * the `x5c` chain in the unprotected header. Trust here is one configured certificate: the leaf itself, or a CA in
 * the chain (each link checked). COSE envelopes and timestamping are not verified (docs/supply-chain.md).
 */
import { X509Certificate, constants, verify } from "node:crypto";
import type { NotationCert } from "./keys";

export const JWS_ENVELOPE_TYPE = "application/jose+json";
export const COSE_ENVELOPE_TYPE = "application/cose";
const PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json";
/** Header parameters Notation puts in `crit` that this verifier understands. */
const UNDERSTOOD_CRIT = new Set([
  "io.cncf.notary.signingScheme",
  "io.cncf.notary.expiry",
  "io.cncf.notary.authenticSigningTime",
]);
const MAX_CHAIN = 8;

const ALGORITHMS: Record<string, { hash: string; kind: "ec" | "pss"; saltLength?: number; curve?: string }> = {
  ES256: { hash: "sha256", kind: "ec", curve: "prime256v1" },
  ES384: { hash: "sha384", kind: "ec", curve: "secp384r1" },
  ES512: { hash: "sha512", kind: "ec", curve: "secp521r1" },
  PS256: { hash: "sha256", kind: "pss", saltLength: 32 },
  PS384: { hash: "sha384", kind: "pss", saltLength: 48 },
  PS512: { hash: "sha512", kind: "pss", saltLength: 64 },
};

const B64URL = /^[A-Za-z0-9_-]*$/;

function jsonOf(b64url: string, what: string): Record<string, unknown> {
  if (!B64URL.test(b64url)) throw new Error(`${what} is not base64url`);
  const doc = JSON.parse(Buffer.from(b64url, "base64url").toString("utf8")) as unknown;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error(`${what} is not a JSON object`);
  return doc as Record<string, unknown>;
}

/** Whether `trusted` vouches for `chain` (leaf first): it is one of its certificates, or it issued the last one. */
function chainTrusted(chain: X509Certificate[], trusted: NotationCert): boolean {
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (cert.fingerprint256 === trusted.cert.fingerprint256) return true;
    const issuer = chain[i + 1] ?? trusted.cert;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
    if (!chain[i + 1]) return true;
  }
  return false;
}

/** Why `envelope` does not prove `digest` for `trusted`, or undefined when it does. */
export function notationProblem(
  envelope: Buffer,
  digest: string,
  trusted: NotationCert,
  now = new Date(),
): string | undefined {
  try {
    const jws = JSON.parse(envelope.toString("utf8")) as Record<string, unknown>;
    const { payload, protected: prot, signature, header } = jws;
    if (typeof payload !== "string" || typeof prot !== "string" || typeof signature !== "string")
      return "the JWS envelope lacks payload, protected or signature";
    const x5c = (header as { x5c?: unknown } | undefined)?.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((c) => typeof c === "string"))
      return "the JWS envelope has no usable x5c certificate chain";
    const protectedHeader = jsonOf(prot, "the protected header");
    const alg = ALGORITHMS[String(protectedHeader.alg)];
    if (!alg) return `unsupported JWS algorithm ${String(protectedHeader.alg).slice(0, 20)}`;
    if (protectedHeader.cty !== PAYLOAD_TYPE) return "the protected header's cty is not the Notary payload type";
    const crit = protectedHeader.crit;
    if (!Array.isArray(crit) || !crit.includes("io.cncf.notary.signingScheme"))
      return "the protected header's crit does not name io.cncf.notary.signingScheme";
    // Anything else critical (a verification plugin, say) must be understood, or the signature is refused.
    if (crit.some((c) => !UNDERSTOOD_CRIT.has(String(c))))
      return "the protected header marks a parameter critical that this verifier does not know";
    const scheme = protectedHeader["io.cncf.notary.signingScheme"];
    if (scheme !== "notary.x509" && scheme !== "notary.x509.signingAuthority")
      return `unknown signing scheme ${String(scheme).slice(0, 40)}`;
    const chain = (x5c as string[]).map((c) => new X509Certificate(Buffer.from(c, "base64")));
    if (!chainTrusted(chain, trusted)) return `the signing certificate is not trusted by ${trusted.fingerprint}`;
    const expired = chain.find((c) => Date.parse(c.validTo) < now.getTime() || Date.parse(c.validFrom) > now.getTime());
    if (expired)
      return `a certificate of the chain is outside its validity (${expired.validFrom} – ${expired.validTo})`;
    if (!B64URL.test(signature)) return "the signature is not base64url";
    const leaf = chain[0]!;
    // The algorithm must be the signing key's own (the spec's defence against algorithm substitution).
    const keyType = leaf.publicKey.asymmetricKeyType;
    const matches =
      alg.kind === "ec"
        ? keyType === "ec" && leaf.publicKey.asymmetricKeyDetails?.namedCurve === alg.curve
        : keyType === "rsa" || keyType === "rsa-pss";
    if (!matches) return `alg ${String(protectedHeader.alg)} does not match the signing certificate's key`;
    const input = Buffer.from(`${prot}.${payload}`, "ascii");
    const sig = Buffer.from(signature, "base64url");
    const ok =
      alg.kind === "ec"
        ? verify(alg.hash, input, { key: leaf.publicKey, dsaEncoding: "ieee-p1363" }, sig)
        : verify(
            alg.hash,
            input,
            { key: leaf.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength! },
            sig,
          );
    if (!ok) return `the signature does not verify with the certificate ${trusted.fingerprint}`;
    const expiry = protectedHeader["io.cncf.notary.expiry"];
    if (typeof expiry === "string" && Date.parse(expiry) < now.getTime())
      return `the signature expired at ${expiry.slice(0, 40)}`;
    const signed = (jsonOf(payload, "the payload").targetArtifact as { digest?: unknown } | undefined)?.digest;
    if (typeof signed !== "string") return "the payload has no targetArtifact.digest";
    if (signed !== digest) return `the signature is for another digest (${signed.slice(0, 80)})`;
    return undefined;
  } catch (err) {
    return `malformed JWS envelope: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`;
  }
}
