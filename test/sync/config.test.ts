import { describe, expect, it } from "vitest";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSyncConfigFile, parseSyncConfig } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { TagRule } from "../../shared/sync/configTypes";

const HEX = "a".repeat(64);
const DIGEST = `sha256:${HEX}`;

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(...lines: string[]) {
  return parseSyncConfig(yaml(...lines), "sync.yaml");
}

function configError(...lines: string[]): ConfigError {
  try {
    parse(...lines);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

/** One image entry under a fixed header, so line numbers in tests are easy to count: the entry starts on line 4. */
function imageError(...entry: string[]): ConfigError {
  return configError("target:", "  registry: myacr.azurecr.io", "images:", ...entry);
}

function onlyRule(...entry: string[]): TagRule {
  const { config } = parse("target:", "  registry: myacr.azurecr.io", "images:", ...entry);
  const [image] = config.images;
  if (!image) throw new Error("no image");
  return image.rule;
}

describe("parseSyncConfig: a full config", () => {
  const text = yaml(
    "target:",
    "  registry: MyAcr.azurecr.io",
    "  prefix: mirror",
    "defaults:",
    "  platforms: [linux/amd64, linux/arm64/v8]",
    "  pinTag: true",
    "  concurrency: 8",
    "credentials:",
    "  index.docker.io: { keyVaultSecret: dockerhub-pull }",
    "  ghcr.io:",
    "    dockerConfig: ./docker-config.json",
    "images:",
    "  - source: nginx",
    "    tags: [1.27, stable]",
    "  - source: ghcr.io/runwhen-contrib/rw-cli-codecollection",
    "    follow: main-latest",
    "  - source: registry.k8s.io/kube-apiserver",
    "    target: k8s/apiserver",
    "    semver: '>=1.25 <2'",
    "    platforms: all",
    "    pinTag: false",
    `  - source: quay.io/org/tool@${DIGEST}`,
    "  - source: quay.io/org/dated",
    "    newest: 3",
    "    order: numeric",
    "    allow: '[0-9]{14}'",
    "serviceConfigs:",
    "  - registry: arohcpsvcdev.azurecr.io",
    "    repository: arohcp/frontend",
    `    digest: ${DIGEST}`,
    "  - registry: arohcpsvcdev.azurecr.io",
    "    repository: arohcp/frontend",
    `    digest: ${DIGEST}`,
  );
  const { config, warnings } = parseSyncConfig(text, "sync.yaml");

  it("normalises target, defaults and credentials", () => {
    expect(config.file).toBe("sync.yaml");
    expect(config.target).toEqual({ registry: "myacr.azurecr.io", prefix: "mirror" });
    expect(config.defaults).toEqual({
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
      pinTag: true,
      concurrency: 8,
    });
    expect(config.credentials).toEqual({
      "docker.io": { kind: "keyVault", secretName: "dockerhub-pull" },
      "ghcr.io": { kind: "dockerConfig", path: "./docker-config.json" },
    });
  });

  it("resolves sources, default and explicit targets with the prefix, and per-image overrides", () => {
    const summary = config.images.map((i) => [
      `${i.source.registry}/${i.source.repository}`,
      `${i.target.registry}/${i.target.repository}`,
      i.pinTag,
      i.platforms === "all" ? "all" : i.platforms.length,
      i.origin.line,
    ]);
    expect(summary).toEqual([
      ["docker.io/library/nginx", "myacr.azurecr.io/mirror/library/nginx", true, 2, 13],
      [
        "ghcr.io/runwhen-contrib/rw-cli-codecollection",
        "myacr.azurecr.io/mirror/runwhen-contrib/rw-cli-codecollection",
        true,
        2,
        15,
      ],
      ["registry.k8s.io/kube-apiserver", "myacr.azurecr.io/mirror/k8s/apiserver", false, "all", 17],
      ["quay.io/org/tool", "myacr.azurecr.io/mirror/org/tool", true, 2, 22],
      ["quay.io/org/dated", "myacr.azurecr.io/mirror/org/dated", true, 2, 23],
    ]);
  });

  it("produces one discriminated rule per image", () => {
    const rules = config.images.map((i) => i.rule);
    expect(rules[0]).toEqual({ kind: "tags", tags: ["1.27", "stable"] });
    expect(rules[1]).toMatchObject({ kind: "follow", tag: "main-latest", sibling: { source: "main-[0-9a-f]{7,}" } });
    expect(rules[2]).toEqual({ kind: "semver", range: ">=1.25 <2", prerelease: false });
    expect(rules[3]).toEqual({ kind: "digest", digest: DIGEST });
    expect(rules[4]).toMatchObject({ kind: "newest", count: 3, order: "numeric", expensive: false });
  });

  it("turns service config pins into digest entries and drops exact duplicates", () => {
    expect(config.serviceConfigs).toHaveLength(1);
    expect(config.serviceConfigs[0]).toMatchObject({
      origin: { list: "serviceConfigs", index: 0, line: 28 },
      source: { registry: "arohcpsvcdev.azurecr.io", repository: "arohcp/frontend" },
      target: { registry: "myacr.azurecr.io", repository: "mirror/arohcp/frontend" },
      rule: { kind: "digest", digest: DIGEST },
    });
  });

  it("has no warnings when Docker Hub has credentials", () => {
    expect(warnings).toEqual([]);
  });
});

describe("parseSyncConfig: defaults and warnings", () => {
  it("applies built-in defaults", () => {
    const { config } = parse(
      "target:",
      "  registry: localhost:5000",
      "images:",
      "  - source: ghcr.io/a/b",
      "    tags: [x]",
    );
    expect(config.defaults).toEqual({ platforms: "all", pinTag: false, concurrency: 4 });
    expect(config.target).toEqual({ registry: "localhost:5000" });
    expect(config.images[0]?.target.repository).toBe("a/b");
  });

  it("warns about anonymous Docker Hub, expensive created order, lexical without allow, and an empty config", () => {
    const { warnings } = parse(
      "target:",
      "  registry: myacr.azurecr.io",
      "images:",
      "  - source: library/busybox",
      "    newest: 2",
      "    order: created",
      "  - source: ghcr.io/a/b",
      "    newest: 1",
      "    order: lexical",
    );
    expect(warnings.map((w) => [w.line, w.path, w.message.split(" ")[0]])).toEqual([
      [6, "images[0].order", "created"],
      [9, "images[1].order", "lexical"],
      [4, "images[0]", "Docker"],
    ]);
    expect(parse("target:", "  registry: myacr.azurecr.io").warnings[0]?.message).toMatch(/nothing to sync/);
  });

  it("derives the follow sibling pattern from <ref>-latest and anchors it", () => {
    const rule = onlyRule("  - source: ghcr.io/a/b", "    follow: release.v1-latest");
    if (rule.kind !== "follow") throw new Error(rule.kind);
    expect(rule.sibling.regex.test("release.v1-abc1234")).toBe(true);
    expect(rule.sibling.regex.test("releaseXv1-abc1234")).toBe(false);
    expect(rule.sibling.regex.test("release.v1-abc1234-amd64")).toBe(false);
  });

  it("anchors allow/deny patterns and keeps the text as written", () => {
    const rule = onlyRule("  - source: ghcr.io/a/b", "    allow: main", "    deny: 'v.*'");
    expect(rule).toMatchObject({ kind: "filter", allow: { source: "main" }, deny: { source: "v.*" } });
    if (rule.kind !== "filter") throw new Error(rule.kind);
    expect(rule.allow?.regex.test("main")).toBe(true);
    expect(rule.allow?.regex.test("main-latest")).toBe(false);
  });

  it("reads prerelease and explicit sibling", () => {
    expect(onlyRule("  - source: ghcr.io/a/b", "    semver: ^1", "    prerelease: true")).toEqual({
      kind: "semver",
      range: "^1",
      prerelease: true,
    });
    const rule = onlyRule("  - source: ghcr.io/a/b", "    follow: latest", "    sibling: '^v[0-9.]+$'");
    expect(rule).toMatchObject({ kind: "follow", tag: "latest", sibling: { source: "^v[0-9.]+$" } });
  });

  it("loads a file from disk and names it in errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sync-config-"));
    const path = join(dir, "sync.yaml");
    await writeFile(path, yaml("target:", "  registry: myacr.azurecr.io", "  colour: blue"));
    await expect(loadSyncConfigFile(path)).rejects.toThrow(`${path}:3: target.colour: unknown key`);
  });
});

describe("tags stay strings exactly as written", () => {
  it("keeps numeric-looking tags, including ones a number would mangle", () => {
    const rule = onlyRule(
      "  - source: ghcr.io/a/b",
      "    tags: [9, 20250106, 1.10, 20250106174405, 0x1F, 1e3, '007', 2.50, latest]",
    );
    expect(rule).toEqual({
      kind: "tags",
      tags: ["9", "20250106", "1.10", "20250106174405", "0x1F", "1e3", "007", "2.50", "latest"],
    });
    if (rule.kind !== "tags") throw new Error(rule.kind);
    for (const tag of rule.tags) expect(typeof tag).toBe("string");
  });

  it("keeps a numeric follow tag and block-list tags as strings", () => {
    const rule = onlyRule("  - source: ghcr.io/a/b", "    tags:", "      - 9", "      - 1.10");
    expect(rule).toEqual({ kind: "tags", tags: ["9", "1.10"] });
    expect(onlyRule("  - source: ghcr.io/a/b", "    follow: 20250106", "    sibling: '[0-9]{14}'")).toMatchObject({
      tag: "20250106",
    });
  });

  it("follows YAML anchors and aliases", () => {
    const rule = onlyRule("  - source: ghcr.io/a/b", "    tags: &t [1.10]", "  - source: ghcr.io/c/d", "    tags: *t");
    expect(rule).toEqual({ kind: "tags", tags: ["1.10"] });
  });
});

describe("parseSyncConfig: errors name file, line and key path", () => {
  it("rejects an unknown top-level key and lists the allowed ones", () => {
    const err = configError("target:", "  registry: myacr.azurecr.io", "image:", "  - source: nginx");
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      "sync.yaml:3: image: unknown key; allowed: target, defaults, credentials, images, serviceConfigs, sources",
    );
    expect([err.file, err.line, err.path]).toEqual(["sync.yaml", 3, "image"]);
  });

  it("rejects an unknown image key (a typo must not widen the selection)", () => {
    const err = imageError("  - source: nginx", "    semvar: '>=1'");
    expect(err.message).toMatch(/^sync\.yaml:5: images\[0\]\.semvar: unknown key; allowed: source, target, /);
  });

  it("rejects a bad regex with the engine's reason", () => {
    const err = imageError("  - source: nginx", "    tags: [x]", "  - source: ghcr.io/a/b", "    allow: 'main-(['");
    expect(err.message).toMatch(/^sync\.yaml:7: images\[1\]\.allow: invalid regular expression "main-\(\["/);
  });

  it("rejects a pattern that is only valid once wrapped", () => {
    const err = imageError("  - source: nginx", "    deny: 'a)(?:b'");
    expect(err.line).toBe(5);
    expect(err.path).toBe("images[0].deny");
  });

  it("rejects a bad semver range", () => {
    const err = imageError("  - source: nginx", "    semver: '>=one'");
    expect(err.message).toBe('sync.yaml:5: images[0].semver: invalid range ">=one"');
  });

  it("rejects duplicate targets, naming both entries", () => {
    const err = imageError(
      "  - source: docker.io/foo/tool",
      "    tags: [1]",
      "  - source: ghcr.io/foo/tool",
      "    tags: [2]",
    );
    expect(err.message).toBe(
      'sync.yaml:6: images[1].target: target repository "foo/tool" collides with images[0] ' +
        "(line 4, source docker.io/foo/tool); set a distinct target on one of them",
    );
  });

  it("rejects duplicate targets created by an explicit target", () => {
    const err = imageError(
      "  - source: ghcr.io/a/b",
      "    tags: [1]",
      "  - source: quay.io/c/d",
      "    target: a/b",
      "    tags: [2]",
    );
    expect(err.issues.map((i) => [i.line, i.path])).toContainEqual([6, "images[1].target"]);
  });

  it("rejects two rules in one image, pointing at the second", () => {
    const err = imageError("  - source: nginx", "    tags: [1]", "    semver: '^1'");
    expect(err.message).toBe("sync.yaml:6: images[0]: more than one tag rule (tags, semver); give exactly one");
  });

  it("rejects a digest source combined with another rule", () => {
    const err = imageError(
      "  - source: nginx",
      `    newest: 1`,
      "    order: semver",
      `  - source: nginx@${DIGEST}`,
      "    tags: [x]",
    );
    expect(err.line).toBe(8);
    expect(err.message).toMatch(/more than one tag rule \(digest in source, tags\)/);
  });

  it("rejects an image without a rule", () => {
    const err = imageError("  - source: nginx");
    expect(err.message).toMatch(/^sync\.yaml:4: images\[0\]: no tag rule; give exactly one of tags, semver/);
  });

  it("rejects a refinement without its rule", () => {
    expect(imageError("  - source: nginx", "    tags: [1]", "    prerelease: true").message).toBe(
      "sync.yaml:6: images[0].prerelease: only applies together with semver",
    );
    expect(imageError("  - source: nginx", "    newest: 2").message).toMatch(/images\[0\]: newest needs an order/);
  });

  it.each([
    [["  - source: nginx", "    tags: latest"], 5, "images[0].tags", 'expected a list, got string "latest"'],
    [["  - source: nginx", "    tags: [true]"], 5, "images[0].tags[0]", "expected a string, got boolean true"],
    [["  - source: nginx", "    tags: [{a: 1}]"], 5, "images[0].tags[0]", "expected a string, got a map"],
    [["  - source: nginx", "    tags: ['bad tag']"], 5, "images[0].tags[0]", '"bad tag" is not a valid tag'],
    [["  - source: nginx", "    tags: [1, '1']"], 5, "images[0].tags[1]", 'tag "1" is listed twice'],
    [["  - source: nginx", "    newest: two", "    order: semver"], 5, "images[0].newest", "expected a whole number"],
    [["  - source: nginx", "    newest: 0", "    order: semver"], 5, "images[0].newest", "must be between 1 and"],
    [["  - source: nginx", "    newest: 1", "    order: date"], 6, "images[0].order", 'unknown order "date"'],
    [["  - source: nginx", "    tags: [1]", "    pinTag: 'yes'"], 6, "images[0].pinTag", "expected true or false"],
    [["  - source: nginx", "    tags: [1]", "    platforms: linux"], 6, "images[0].platforms", 'expected "all"'],
    [["  - source: nginx", "    tags: [1]", "    platforms: [linux]"], 6, "images[0].platforms[0]", "not a platform"],
    [["  - source: true", "    tags: [1]"], 4, "images[0].source", "got boolean true (quote it"],
    [["  - source: nginx:1.27", "    tags: [1]"], 4, "images[0].source", "has a tag"],
    [["  - source: Nginx", "    tags: [1]"], 4, "images[0].source", "not a valid path component"],
    [["  - source: nginx@sha256:abc"], 4, "images[0].source", "not a sha256 digest"],
    [["  - tags: [1]"], 4, "images[0]", 'missing required key "source"'],
    [["  - nginx"], 4, "images[0]", 'expected a map, got string "nginx"'],
    [["  source: nginx"], 4, "images", "expected a list, got a map"],
  ])("rejects a wrong type or value: %j", (entry, line, path, detail) => {
    const err = imageError(...entry);
    expect(err.issues[0]).toMatchObject({ file: "sync.yaml", line, path });
    expect(err.issues[0]?.detail).toContain(detail);
  });

  it("rejects bad target, defaults, credentials and service pins", () => {
    const err = configError(
      "target:",
      "  registry: 'not a host'",
      "defaults:",
      "  concurrency: 0",
      "  platforms: []",
      "credentials:",
      "  ghcr.io: { keyVaultSecret: a_b }",
      "  quay.io: { keyVaultSecret: a, dockerConfig: b }",
      "  docker.io: {}",
      "  index.docker.io: { dockerConfig: x }",
      "serviceConfigs:",
      "  - registry: arohcp.azurecr.io",
      "    repository: a",
      "    digest: sha256:1234",
    );
    expect(err.issues.map((i) => `${i.line} ${i.path}`)).toEqual([
      "2 target.registry",
      "4 defaults.concurrency",
      "5 defaults.platforms",
      "7 credentials.ghcr.io.keyVaultSecret",
      "8 credentials.quay.io.dockerConfig",
      "9 credentials.docker.io",
      "10 credentials.index.docker.io",
      "14 serviceConfigs[0].digest",
    ]);
    expect(err.message.split("\n")).toHaveLength(8);
  });

  it("reports a missing target and an empty file", () => {
    expect(configError("images: []").message).toBe('sync.yaml:1: missing required key "target"');
    expect(configError("").message).toBe("sync.yaml:1: empty config; expected a map with target and images");
    expect(configError("- a").message).toBe("sync.yaml:1: expected a map, got a list");
  });

  it("reports YAML syntax errors with their line", () => {
    const err = configError(
      "target:",
      "  registry: myacr.azurecr.io",
      "images:",
      "  - source: nginx",
      "    tags: [1, 2",
    );
    expect(err.line).toBe(6);
    expect(err.message).toMatch(/^sync\.yaml:6: YAML syntax: /);
  });

  it("reports duplicate keys as YAML errors", () => {
    const err = configError("target:", "  registry: a.io", "  registry: b.io");
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/YAML syntax: Map keys must be unique/);
  });

  it("reports every problem at once", () => {
    const err = imageError("  - source: nginx", "    semver: '>=one'", "  - source: ghcr.io/a/b", "    allow: '('");
    expect(err.issues.map((i) => i.line)).toEqual([5, 7]);
  });
});
