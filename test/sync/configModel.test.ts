/**
 * The config model of issue 15: `order: version` (sort -V), `semver` with `newest`, several `rules` on one image,
 * `dockerConfig` relative to the config file and checked at load, and the Key Vault message without a vault.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSyncConfig, loadSyncConfigFile } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { credentialsFor } from "../../shared/secrets/credentials";
import { compareVersions, newestFirst } from "../../shared/sync/tagOrder";
import { selectTags } from "../../shared/sync/tagRules";

const HEAD = ["target: { registry: myacr.azurecr.io }", "images:"];
const parse = (...lines: string[]) => parseSyncConfig([...HEAD, ...lines].join("\n") + "\n", "sync.yaml");
function problems(...lines: string[]): string {
  try {
    parse(...lines);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

function sortV(tags: string[]): string[] | undefined {
  try {
    return execFileSync("sort", ["-V"], { input: tags.join("\n") + "\n", encoding: "utf8" })
      .trim()
      .split("\n");
  } catch {
    return undefined;
  }
}

describe("order: version", () => {
  const TAGS = ["v1.9", "v1.10", "v1.2", "1.10.1", "v2", "1.10.0", "latest", "main-abc1234", "v1.10-rc1", "0.9.12"];

  it("ranks v-prefixed and two-part versions as `sort -V` does, and leaves out what is no version", () => {
    expect(newestFirst("version", TAGS)).toEqual([
      "v2",
      "1.10.1",
      "1.10.0",
      "v1.10-rc1",
      "v1.10",
      "v1.9",
      "v1.2",
      "0.9.12",
    ]);
  });

  it("agrees with GNU sort -V on the versions themselves (v prefix stripped)", () => {
    const versions = ["1.9", "1.10", "1.2", "1.10.1", "2", "1.10.0", "1.10-rc1", "0.9.12", "1.02", "1.2a", "1.2~b"];
    const expected = sortV(versions);
    if (!expected) return; // coreutils absent: the explicit expectations above still hold.
    // Equal versions (1.2, 1.02) fall back to the text, as sort's last-resort comparison and newestFirst both do.
    const byVersion = (a: string, b: string) => compareVersions(a, b) || (a < b ? -1 : a > b ? 1 : 0);
    expect([...versions].sort(byVersion)).toEqual(expected);
  });

  it("the documented example now selects the three newest v<major>.<minor> tags (semver selected none)", () => {
    const { config } = parse(
      `  - { source: quay.io/org/tool, allow: "v[0-9]+\\\\.[0-9]+", deny: ".*-rc.*", newest: 3, order: version }`,
    );
    const tags = ["v1.2", "v1.9", "v1.10", "v1.11", "v1.11-rc1", "latest", "v1.3.4"];
    expect(
      selectTags(config.images[0]!.rule, tags).selections.map((s) => (s.kind === "tag" ? s.sourceTag : "")),
    ).toEqual(["v1.11", "v1.10", "v1.9"]);
    const old = parse(`  - { source: quay.io/org/tool, allow: "v[0-9]+\\\\.[0-9]+", newest: 3, order: semver }`);
    expect(selectTags(old.config.images[0]!.rule, tags).selections).toEqual([]);
  });
});

describe("semver with newest", () => {
  it("keeps the newest N inside the range", () => {
    const { config } = parse(`  - { source: docker.io/library/nginx, semver: ">=1.25 <2", newest: 2 }`);
    expect(config.images[0]!.rule).toEqual({ kind: "semver", range: ">=1.25 <2", prerelease: false, newest: 2 });
    const picked = selectTags(config.images[0]!.rule, ["1.24.0", "1.25.3", "1.27.1", "1.26.0", "2.0.0"]).selections;
    expect(picked.map((s) => (s.kind === "tag" ? s.sourceTag : ""))).toEqual(["1.27.1", "1.26.0"]);
  });

  it("refuses order beside semver, naming the line", () => {
    expect(problems(`  - { source: a/b, semver: "^1", newest: 2, order: version }`)).toMatch(
      /^sync\.yaml:3: images\[0\]\.order: semver ranks tags by semver/,
    );
  });
});

describe("rules: several rules on one source repository, one target repository", () => {
  it("selects the union, each tag once, into the same target", () => {
    const { config } = parse(
      "  - source: docker.io/library/redis",
      "    target: cache/redis",
      "    rules:",
      "      - { tags: [latest, '7.2'] }",
      '      - { semver: "^7", newest: 2 }',
      '      - { allow: "8\\\\.[0-9]+", newest: 1, order: version }',
    );
    expect(config.images).toHaveLength(1);
    const entry = config.images[0]!;
    expect(entry.target.repository).toBe("cache/redis");
    expect(entry.rule.kind).toBe("any");
    const tags = ["latest", "7.2", "7.2.4", "7.4.1", "7.0.15", "8.0", "8.2", "6.2.14"];
    const picked = selectTags(entry.rule, tags).selections.map((s) => (s.kind === "tag" ? s.targetTag : ""));
    expect(picked).toEqual(["latest", "7.2", "7.4.1", "7.2.4", "8.2"]);
  });

  it("refuses a rule beside rules, and a bad rule inside is reported at its line", () => {
    expect(problems("  - source: a/b", "    tags: [x]", "    rules:", "      - { tags: [y] }")).toMatch(
      /images\[0\]: rules replaces tags/,
    );
    expect(problems("  - source: a/b", "    rules:", "      - { tags: [y] }", "      - { semvar: '^1' }")).toMatch(
      /^sync\.yaml:6: images\[0\]\.rules\[1\]\.semvar: unknown key/,
    );
  });
});

describe("dockerConfig paths", () => {
  it("are read relative to the config file and checked at load, with file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-rel-"));
    mkdirSync(join(dir, "conf"));
    writeFileSync(join(dir, "conf", "quay.json"), '{"auths":{}}');
    const text = (path: string) =>
      [
        "target: { registry: myacr.azurecr.io }",
        "credentials:",
        `  quay.io: { dockerConfig: ${path} }`,
        "images:",
        "  - { source: quay.io/org/tool, tags: [v1] }",
      ].join("\n");
    writeFileSync(join(dir, "conf", "sync.yaml"), text("./quay.json"));
    const { config } = await loadSyncConfigFile(join(dir, "conf", "sync.yaml"));
    expect(config.credentials["quay.io"]).toEqual({ kind: "dockerConfig", path: join(dir, "conf", "quay.json") });

    writeFileSync(join(dir, "conf", "bad.yaml"), text("./missing.json"));
    await expect(loadSyncConfigFile(join(dir, "conf", "bad.yaml"))).rejects.toThrow(
      new RegExp(`bad\\.yaml:3: credentials\\.quay\\.io\\.dockerConfig: Docker config "\\./missing\\.json" not found`),
    );
    // From a URL a relative path means nothing locally.
    expect(() => parseSyncConfig(text("./quay.json"), "/sync.yaml", { fromUrl: true })).toThrow(
      /must be an absolute path in a config read from a URL/,
    );
  });
});

describe("keyVaultSecret without a vault", () => {
  it("says how to configure one locally and on Azure", async () => {
    const creds = credentialsFor({ pullSecrets: { "docker.io": { kind: "keyVault", secretName: "dockerhub-pull" } } });
    await expect(creds.resolve("docker.io")).rejects.toThrow(
      /no vault is configured: on Azure set KEYVAULT_URI .*locally set LOCAL_SECRETS_DIR to a folder with a file named "dockerhub-pull"/,
    );
  });
});
