/**
 * Keys named by a Key Vault secret (`cosignKey: {keyVaultSecret: …}`): read through the real Key Vault adapter from the
 * HTTPS stand-in, once per run however many entries name them; a secret that is not a key is an error naming the
 * secret, never quoting it; and a whole run gates on such a key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { KeyVaultSecretProvider } from "../../shared/secrets/keyVault";
import { cosignKeyFromPem } from "../../shared/supply/keys";
import { TrustResolver } from "../../shared/supply/trust";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { buildImage, pushImage } from "../harness/images";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../harness/keyVaultStandIn";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { cosignKeyPair, pushCosignSignature } from "../harness/signing";
import { trustPolicy } from "../harness/tls";
import { startTogether } from "../harness/together";

const tokenCredential = (token: string) => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }),
});

describe.skipIf(!registryAvailable())("verify keys from Key Vault", () => {
  let vault: KeyVaultStandIn;
  let up: RunningRegistry;
  let acr: RunningRegistry;
  const key = cosignKeyPair();
  const provider = () =>
    new KeyVaultSecretProvider(vault.url, tokenCredential("good-token"), {
      disableChallengeResourceVerification: true,
      additionalPolicies: [trustPolicy(vault.ca)],
      retryOptions: { maxRetries: 0 },
    });

  beforeAll(async () => {
    [vault, up, acr] = await startTogether(startKeyVaultStandIn(), startRegistry(), startRegistry());
    vault.allowedTokens.add("good-token");
    vault.secrets.set("cosign-pub", { value: key.publicPem });
    vault.secrets.set("not-a-key", { value: "TOP-SECRET-NOT-A-KEY" });
  });
  afterAll(async () => Promise.all([vault?.stop(), up?.stop(), acr?.stop()]));

  it("resolves a key once per resolver, and reports a secret that is no key by name only", async () => {
    const trust = new TrustResolver(provider());
    const policy = { require: "signed" as const, cosignKey: { kind: "keyVault" as const, secretName: "cosign-pub" } };
    const [first] = await trust.keysFor(policy);
    const [again] = await trust.keysFor(policy);
    expect(first!.fingerprint).toBe(cosignKeyFromPem(key.publicPem).fingerprint);
    expect(again).toBe(first);
    expect(vault.requests.filter((r) => r.path.startsWith("/secrets/cosign-pub") && r.authorization)).toHaveLength(1);
    const bad = await trust
      .keysFor({ require: "signed", cosignKey: { kind: "keyVault", secretName: "not-a-key" } })
      .catch((e: unknown) => e as Error);
    expect((bad as Error).message).toBe('Key Vault secret "not-a-key" is not a usable cosign public key');
    expect((bad as Error).message).not.toContain("TOP-SECRET");
    await expect(new TrustResolver().keysFor(policy)).rejects.toThrow(/no Key Vault is configured/);
  });

  it("gates a run with the key from Key Vault; without the vault, the tag is an error, not copied", async () => {
    const signed = buildImage();
    await pushImage(up.host, "kv/app", signed, "v1");
    await pushCosignSignature(up.host, "kv/app", signed.digest, key);
    const { config } = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "defaults: { verify: { cosignKey: { keyVaultSecret: cosign-pub } } }",
        "images:",
        `  - { source: "${up.host}/kv/app", tags: ["v1"] }`,
      ].join("\n"),
      "sync.yaml",
    );
    const client = new RegistryClient(new Transport());
    const without = await runSync({ client, config, trigger: "manual" });
    expect(without.results[0]).toMatchObject({ state: "error", action: "skipped" });
    expect(without.results[0]!.reason).toMatch(/no Key Vault is configured/);
    const run = await runSync({ client, config, trigger: "manual", trust: new TrustResolver(provider()) });
    expect(run.results[0]).toMatchObject({
      action: "copied",
      signedBy: `cosign ${cosignKeyFromPem(key.publicPem).fingerprint}`,
    });
  });
});
