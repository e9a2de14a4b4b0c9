import { describe, expect, it } from "vitest";
import { parseDockerConfig, registryKey, resolverFrom } from "../../shared/secrets/dockerConfig";

describe("Docker config JSON", () => {
  it("reads auth, username/password and identitytoken entries, normalising Docker Hub keys", async () => {
    const config = JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:hub:pass").toString("base64") },
        "quay.io": { username: "q", password: "qp" },
        "myacr.azurecr.io": { identitytoken: "refresh-123" },
        "ghcr.io": {},
      },
    });
    const creds = parseDockerConfig(config);
    expect(creds.get("docker.io")).toEqual({ kind: "basic", username: "hubuser", password: "hub:pass" });
    expect(creds.get("quay.io")).toEqual({ kind: "basic", username: "q", password: "qp" });
    expect(creds.get("myacr.azurecr.io")).toEqual({ kind: "refreshToken", refreshToken: "refresh-123" });
    expect(creds.has("ghcr.io")).toBe(false);
    expect(await resolverFrom(creds)("index.docker.io")).toEqual(creds.get("docker.io"));
  });

  it("never echoes the secret in its errors", () => {
    const secret = "c3VwZXJzZWNyZXQ="; // base64 without a colon inside
    expect(() => parseDockerConfig(JSON.stringify({ auths: { "a.io": { auth: secret } } }), "kv:pull-secret")).toThrow(
      /kv:pull-secret: auths\["a.io"\].auth is not base64/,
    );
    try {
      parseDockerConfig(`{"auths": {"a.io": {"auth": "${secret}"`);
    } catch (err) {
      expect(String(err)).toMatch(/not valid JSON/);
      expect(String(err)).not.toContain(secret);
    }
  });

  it("maps registry keys from URLs and bare hosts", () => {
    expect(registryKey("https://ghcr.io")).toBe("ghcr.io");
    expect(registryKey("registry-1.docker.io")).toBe("docker.io");
    expect(registryKey("127.0.0.1:5000/v2/")).toBe("127.0.0.1:5000");
  });
});
