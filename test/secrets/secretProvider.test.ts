import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, isLoopback } from "../../shared/registry/transport";
import { credentialsFor } from "../../shared/secrets/credentials";
import { KeyVaultSecretProvider } from "../../shared/secrets/keyVault";
import {
  CachingSecretProvider,
  DirectorySecretProvider,
  SecretAccessError,
  SecretNameError,
  SecretNotFoundError,
  type SecretProvider,
} from "../../shared/secrets/secretProvider";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { buildImage, pushImage } from "../harness/images";
import { startKeyVaultStandIn, type KeyVaultStandIn } from "../harness/keyVaultStandIn";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { trustPolicy } from "../harness/tls";
import { startTogether } from "../harness/together";

const dockerConfig = (host: string, user: string, password: string) =>
  JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } });

/** A TokenCredential like @azure/identity's: asked per scope, with an expiry. */
function tokenCredential(token: string, scopes: string[][] = []) {
  return {
    getToken: async (scope: string | string[]) => {
      scopes.push(Array.isArray(scope) ? scope : [scope]);
      return { token, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

describe("CachingSecretProvider", () => {
  function counting(values: Record<string, string>) {
    const calls: string[] = [];
    const inner: SecretProvider = {
      getSecret: async (name) => {
        calls.push(name);
        await new Promise((r) => setTimeout(r, 5));
        const v = values[name];
        if (v === undefined) throw new SecretNotFoundError(name, "test vault");
        return v;
      },
    };
    return { calls, inner };
  }

  it("shares concurrent reads, serves from memory until the TTL, and reads again after it or after invalidate", async () => {
    let now = 0;
    const { calls, inner } = counting({ a: "one" });
    const cache = new CachingSecretProvider(inner, 1000, () => now);
    expect(await Promise.all([cache.getSecret("a"), cache.getSecret("a")])).toEqual(["one", "one"]);
    expect(calls).toEqual(["a"]);
    now = 999;
    await cache.getSecret("a");
    expect(calls).toHaveLength(1);
    now = 1001;
    await cache.getSecret("a");
    expect(calls).toHaveLength(2);
    cache.invalidate("a");
    await cache.getSecret("a");
    expect(calls).toHaveLength(3);
  });

  it("does not cache a failure", async () => {
    const values: Record<string, string> = {};
    const { calls, inner } = counting(values);
    const cache = new CachingSecretProvider(inner);
    await expect(cache.getSecret("late")).rejects.toBeInstanceOf(SecretNotFoundError);
    values.late = "now here";
    expect(await cache.getSecret("late")).toBe("now here");
    expect(calls).toEqual(["late", "late"]);
  });
});

describe("DirectorySecretProvider", () => {
  it("reads a file per secret, and refuses names Key Vault would refuse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "secrets-"));
    writeFileSync(join(dir, "pull-ghcr-io"), "{}");
    const p = new DirectorySecretProvider(dir);
    expect(await p.getSecret("pull-ghcr-io")).toBe("{}");
    await expect(p.getSecret("absent")).rejects.toBeInstanceOf(SecretNotFoundError);
    await expect(p.getSecret("../etc/passwd")).rejects.toBeInstanceOf(SecretNameError);
  });
});

describe("KeyVaultSecretProvider against an HTTPS stand-in of the Key Vault REST API", () => {
  let vault: KeyVaultStandIn;
  beforeAll(async () => {
    vault = await startKeyVaultStandIn();
  });
  afterAll(async () => vault?.stop());

  const provider = (token: string, scopes?: string[][]) =>
    new KeyVaultSecretProvider(vault.url, tokenCredential(token, scopes), {
      disableChallengeResourceVerification: true,
      additionalPolicies: [trustPolicy(vault.ca)],
      retryOptions: { maxRetries: 0 },
    });

  it("answers the challenge with a vault-scoped token and returns the value", async () => {
    vault.allowedTokens.add("good-token");
    vault.secrets.set("pull-quay-io", { value: dockerConfig("quay.io", "bot", "pw") });
    const scopes: string[][] = [];
    expect(await provider("good-token", scopes).getSecret("pull-quay-io")).toContain("auths");
    expect(scopes.flat()).toContain("https://vault.azure.net/.default");
    const reqs = vault.requests.filter((r) => r.path.startsWith("/secrets/pull-quay-io"));
    expect(reqs[0]!.authorization).toBeUndefined();
    expect(reqs.at(-1)!.authorization).toBe("Bearer good-token");
  });

  it("maps 404 to SecretNotFoundError and 403 to SecretAccessError, quoting no value", async () => {
    vault.allowedTokens.add("good-token");
    await expect(provider("good-token").getSecret("nope")).rejects.toBeInstanceOf(SecretNotFoundError);
    vault.secrets.set("private", { value: "TOP-SECRET-VALUE" });
    const denied = await provider("stranger-token")
      .getSecret("private")
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(SecretAccessError);
    expect((denied as SecretAccessError).status).toBe(403);
    expect(String(denied)).not.toContain("TOP-SECRET-VALUE");
    vault.secrets.set("off", { value: "x", enabled: false });
    await expect(provider("good-token").getSecret("off")).rejects.toBeInstanceOf(SecretAccessError);
  });
});

describe("pull secrets from Key Vault in a sync run (real htpasswd registry)", () => {
  let vault: KeyVaultStandIn;
  let upstream: RunningRegistry;
  let open: RunningRegistry;
  let target: RunningRegistry;
  beforeAll(async () => {
    [vault, upstream, open, target] = await startTogether(
      startKeyVaultStandIn(),
      startRegistry({ htpasswd: { puller: "right-password" } }),
      startRegistry(),
      startRegistry(),
    );
    vault.allowedTokens.add("mi-token");
    const basic = () => `Basic ${Buffer.from("puller:right-password").toString("base64")}`;
    await pushImage(upstream.host, "private/app", buildImage(), "1.0", basic);
    await pushImage(open.host, "public/app", buildImage(), "1.0");
  });
  afterAll(async () => Promise.all([vault?.stop(), upstream?.stop(), open?.stop(), target?.stop()]));

  function setup() {
    const inner = new KeyVaultSecretProvider(vault.url, tokenCredential("mi-token"), {
      disableChallengeResourceVerification: true,
      additionalPolicies: [trustPolicy(vault.ca)],
      retryOptions: { maxRetries: 0 },
    });
    const secrets = new CachingSecretProvider(inner);
    const config = parseSyncConfig(
      [
        `target: { registry: "${target.host}" }`,
        "credentials:",
        `  "${upstream.host}": { keyVaultSecret: pull-upstream }`,
        "images:",
        `  - { source: "${upstream.host}/private/app", tags: ["1.0"] }`,
        `  - { source: "${open.host}/public/app", tags: ["1.0"] }`,
      ].join("\n"),
      "sync.yaml",
    ).config;
    const creds = credentialsFor({ pullSecrets: config.credentials, secrets });
    const auth = new AuthManager({
      credentials: creds.resolve,
      onRejected: creds.rejected,
      allowPlainHttp: isLoopback,
    });
    const client = new RegistryClient(
      new Transport({ auth, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }),
    );
    return { config, client };
  }

  it("a missing secret fails that registry's images only; a rotated secret is read again after a 401", async () => {
    const { config, client } = setup();
    const missing = await runSync({ client, config, trigger: "manual" });
    const byRepo = Object.fromEntries(missing.results.map((r) => [r.source.repository, r]));
    expect(byRepo["private/app"]!.state).toBe("error");
    expect(byRepo["private/app"]!.reason).toMatch(/secret "pull-upstream" not found/);
    expect(byRepo["public/app"]!.action).toBe("copied");

    // A stale password in the vault: refused, and the cached copy is dropped.
    vault.secrets.set("pull-upstream", { value: dockerConfig(upstream.host, "puller", "old-password") });
    const stale = await runSync({ client, config, trigger: "manual" });
    expect(stale.results.find((r) => r.source.repository === "private/app")!.state).toBe("error");
    const readsBefore = vault.requests.filter(
      (r) => r.path.startsWith("/secrets/pull-upstream") && r.authorization,
    ).length;

    vault.secrets.set("pull-upstream", { value: dockerConfig(upstream.host, "puller", "right-password") });
    const rotated = await runSync({ client, config, trigger: "manual" });
    expect(rotated.results.find((r) => r.source.repository === "private/app")!.action).toBe("copied");
    const readsAfter = vault.requests.filter(
      (r) => r.path.startsWith("/secrets/pull-upstream") && r.authorization,
    ).length;
    expect(readsAfter).toBe(readsBefore + 1);
  });
});
