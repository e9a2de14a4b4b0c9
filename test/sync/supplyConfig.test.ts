/** The sync config's supply-chain keys: `referrers` and `verify`, in `defaults` and per image, and their errors. */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSyncConfig } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { cosignKeyPair, notationSigner } from "../harness/signing";

const pem = cosignKeyPair().publicPem;
const yaml = (...lines: string[]) => lines.join("\n") + "\n";
const HEAD = ["target: { registry: myacr.azurecr.io }"];

function issues(text: string, options = {}) {
  try {
    parseSyncConfig(text, "sync.yaml", options);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ line: i.line, path: i.path, detail: i.detail }));
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("referrers", () => {
  it("is off by default, inherited from defaults, and can be turned off or filtered per image", () => {
    const none = parseSyncConfig(yaml(...HEAD, "images:", "  - { source: a.io/x, tags: [v1] }"), "s").config;
    expect(none.images[0]!.referrers).toBeUndefined();
    const { config } = parseSyncConfig(
      yaml(
        ...HEAD,
        "defaults: { referrers: true }",
        "serviceConfigs:",
        `  - { registry: a.io, repository: pin, digest: "sha256:${"b".repeat(64)}" }`,
        "images:",
        "  - { source: a.io/x, tags: [v1] }",
        "  - { source: a.io/y, tags: [v1], referrers: false }",
        "  - { source: a.io/z, tags: [v1], referrers: { artifactTypes: [application/vnd.dev.cosign.artifact.sig.v1+json] } }",
      ),
      "s",
    );
    expect(config.images.map((i) => i.referrers)).toEqual([
      {},
      undefined,
      { artifactTypes: ["application/vnd.dev.cosign.artifact.sig.v1+json"] },
    ]);
    expect(config.serviceConfigs[0]!.referrers).toEqual({});
  });

  it("refuses an artifact type that is not a media type, and an empty list, at their lines", () => {
    expect(
      issues(
        yaml(...HEAD, "images:", "  - source: a.io/x", "    tags: [v1]", "    referrers: { artifactTypes: [sbom] }"),
      ),
    ).toEqual([{ line: 5, path: "images[0].referrers.artifactTypes[0]", detail: '"sbom" is not a media type' }]);
    expect(issues(yaml(...HEAD, "defaults:", "  referrers: { artifactTypes: [] }"))[0]!.line).toBe(3);
    expect(issues(yaml(...HEAD, "defaults:", "  referrers: yes please"))[0]!.detail).toMatch(/expected a map/);
  });
});

describe("verify", () => {
  it("takes an inline PEM, a file beside the config, a Key Vault secret, and a Notation certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "verify-cfg-"));
    await writeFile(join(dir, "cosign.pub"), pem);
    const cert = notationSigner().certPem;
    const { config } = parseSyncConfig(
      yaml(
        ...HEAD,
        `defaults: { verify: { cosignKey: ${JSON.stringify(pem)}, require: signed } }`,
        "images:",
        "  - { source: a.io/inline, tags: [v1] }",
        "  - { source: a.io/file, tags: [v1], verify: { cosignKey: cosign.pub } }",
        "  - { source: a.io/kv, tags: [v1], verify: { cosignKey: { keyVaultSecret: cosign-pub } } }",
        `  - { source: a.io/notation, tags: [v1], verify: { notationCert: ${JSON.stringify(cert)} } }`,
        "  - { source: a.io/open, tags: [v1], verify: false }",
      ),
      "sync.yaml",
      { baseDir: dir },
    );
    expect(config.images.map((i) => i.verify)).toEqual([
      { require: "signed", cosignKey: { kind: "pem", pem } },
      { require: "signed", cosignKey: { kind: "pem", pem } },
      { require: "signed", cosignKey: { kind: "keyVault", secretName: "cosign-pub" } },
      { require: "signed", notationCert: { kind: "pem", pem: cert } },
      undefined,
    ]);
  });

  it("refuses a broken key, a missing file, verify: true, an unknown require, and no key, each at its line", () => {
    const found = issues(
      yaml(
        ...HEAD,
        "images:",
        '  - { source: a.io/a, tags: [v1], verify: { cosignKey: "-----BEGIN PUBLIC KEY-----\\nnope\\n-----END PUBLIC KEY-----\\n" } }',
        "  - { source: a.io/b, tags: [v1], verify: { cosignKey: missing.pub } }",
        "  - { source: a.io/c, tags: [v1], verify: true }",
        `  - { source: a.io/d, tags: [v1], verify: { cosignKey: ${JSON.stringify(pem)}, require: maybe } }`,
        "  - { source: a.io/e, tags: [v1], verify: { require: signed } }",
        "  - { source: a.io/f, tags: [v1], verify: { cosignKey: { keyVaultSecret: 'bad name!' } } }",
      ),
      { baseDir: tmpdir() },
    );
    expect(found.map((i) => [i.line, i.path])).toEqual([
      [3, "images[0].verify.cosignKey"],
      [4, "images[1].verify.cosignKey"],
      [5, "images[2].verify"],
      [6, "images[3].verify.require"],
      [7, "images[4].verify"],
      [8, "images[5].verify.cosignKey.keyVaultSecret"],
    ]);
    expect(found[0]!.detail).toMatch(/^not a usable cosign key/);
    expect(found[1]!.detail).toBe('cosign key file "missing.pub" not found');
    expect(found[2]!.detail).toMatch(/needs a key/);
    expect(found[4]!.detail).toBe("give cosignKey, notationCert, or both");
  });
});
