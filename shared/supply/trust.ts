/**
 * Turns a policy's key sources into verified-ready keys, once per run: PEM from the config, or a Key Vault secret
 * read through the run's SecretProvider (so a rotated key is picked up by the next run, never mid-run).
 */
import type { SecretProvider } from "../secrets/secretProvider";
import type { TrustSource, VerifyPolicy } from "../sync/configTypes";
import { cosignKeyFromPem, notationCertFromPem, type TrustedKey } from "./keys";

export class TrustResolver {
  private readonly cache = new Map<string, Promise<TrustedKey>>();

  constructor(private readonly secrets?: SecretProvider) {}

  private resolve(source: TrustSource, kind: "cosign" | "notation"): Promise<TrustedKey> {
    const id = `${kind}|${source.kind === "pem" ? source.pem : `kv:${source.secretName}`}`;
    let p = this.cache.get(id);
    if (!p) {
      p = (async () => {
        let pem: string;
        if (source.kind === "pem") pem = source.pem;
        else if (!this.secrets)
          throw new Error(
            `Key Vault secret "${source.secretName}" named as a ${kind} key, but no Key Vault is configured`,
          );
        else pem = await this.secrets.getSecret(source.secretName);
        try {
          return kind === "cosign" ? cosignKeyFromPem(pem) : notationCertFromPem(pem);
        } catch {
          // Never quote the secret's value.
          throw new Error(
            `${source.kind === "keyVault" ? `Key Vault secret "${source.secretName}"` : "the configured PEM"} is not a usable ${kind === "cosign" ? "cosign public key" : "Notation certificate"}`,
          );
        }
      })();
      // A failed read (Key Vault down) is tried again by the next entry, not remembered for the run.
      p.catch(() => this.cache.delete(id));
      this.cache.set(id, p);
    }
    return p;
  }

  async keysFor(policy: VerifyPolicy): Promise<TrustedKey[]> {
    return Promise.all([
      ...(policy.cosignKey ? [this.resolve(policy.cosignKey, "cosign")] : []),
      ...(policy.notationCert ? [this.resolve(policy.notationCert, "notation")] : []),
    ]);
  }
}
