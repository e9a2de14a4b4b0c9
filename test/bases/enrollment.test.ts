import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseEnrollment } from "../../shared/bases/enrollment";
import { DAY_MS, type ExternalImage, type ManagedImage } from "../../shared/bases/enrollmentTypes";
import { ConfigError } from "../../shared/sync/configError";

const DIGEST = `sha256:${"c".repeat(64)}`;
const FILE = "/etc/acr/bases.yaml";

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(...lines: string[]) {
  return parseEnrollment(yaml(...lines), FILE);
}

function errorOf(...lines: string[]): ConfigError {
  try {
    parse(...lines);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseEnrollment", () => {
  it("reads managed and external images with every option", () => {
    const { enrollment, warnings } = parse(
      "defaults: { rebuildDelay: 3d }",
      "critical: [docker.io/library/debian, node:20]",
      "images:",
      "  - name: api",
      "    image: myacr.azurecr.io/team/api:1.4",
      "    dockerfile:",
      "      path: services/api/Dockerfile",
      "      buildArgs: { NODE_VERSION: 20 }",
      "    build: https://github.com/org/api/actions/workflows/build.yml",
      "    rebuildDelay: 36h",
      `    builtFrom: { "node:20": "${DIGEST}" }`,
      "    trigger:",
      "      github: https://api.github.com/repos/org/api/actions/workflows/build.yml/dispatches",
      "      ref: main",
      "      inputs: { reason: base-image }",
      "      token: { env: API_BUILD_TOKEN }",
      "      enabled: true",
      "  - image: myacr.azurecr.io/team/worker",
      "    dockerfile: https://raw.githubusercontent.com/org/worker/main/Dockerfile",
      "  - image: redis:7.2",
      "  - name: grafana",
      "    image: grafana/grafana",
      '    semver: ">=11 <12"',
      "    target: tools/grafana",
    );
    expect(warnings).toEqual([]);
    expect(enrollment.defaults.rebuildDelayMs).toBe(3 * DAY_MS);
    expect(enrollment.critical).toEqual([
      { registry: "docker.io", repository: "library/debian" },
      { registry: "docker.io", repository: "library/node", tag: "20" },
    ]);
    const [api, worker, redis, grafana] = enrollment.images as [
      ManagedImage,
      ManagedImage,
      ExternalImage,
      ExternalImage,
    ];
    expect(api).toEqual({
      kind: "managed",
      name: "api",
      index: 0,
      line: 4,
      image: { registry: "myacr.azurecr.io", repository: "team/api", tag: "1.4" },
      dockerfile: {
        location: { kind: "file", path: "/etc/acr/services/api/Dockerfile", written: "services/api/Dockerfile" },
        buildArgs: { NODE_VERSION: "20" },
      },
      buildLink: "https://github.com/org/api/actions/workflows/build.yml",
      rebuildDelayMs: 36 * 60 * 60 * 1000,
      builtFrom: { "docker.io/library/node:20": DIGEST },
      trigger: {
        kind: "github",
        url: "https://api.github.com/repos/org/api/actions/workflows/build.yml/dispatches",
        ref: "main",
        inputs: { reason: "base-image" },
        token: { kind: "env", name: "API_BUILD_TOKEN" },
        enabled: true,
      },
    });
    expect(worker).toMatchObject({
      kind: "managed",
      name: "worker",
      image: { tag: "latest" },
      rebuildDelayMs: 3 * DAY_MS,
      dockerfile: { location: { kind: "url", url: "https://raw.githubusercontent.com/org/worker/main/Dockerfile" } },
    });
    expect(redis).toEqual({
      kind: "external",
      name: "redis",
      index: 2,
      line: 20,
      image: { registry: "docker.io", repository: "library/redis" },
      rule: { kind: "tags", tags: ["7.2"] },
    });
    expect(grafana).toMatchObject({
      kind: "external",
      rule: { kind: "semver", range: ">=11 <12" },
      target: "tools/grafana",
    });
  });

  it("defaults the rebuild delay to 7 days and triggers to disabled", () => {
    const { enrollment } = parse(
      "images:",
      "  - image: myacr.azurecr.io/team/api",
      "    dockerfile: Dockerfile",
      "    trigger:",
      "      gitlab: https://gitlab.example.com/api/v4/projects/42/trigger/pipeline",
      "      ref: main",
      "      token: { keyVaultSecret: api-trigger }",
    );
    const [api] = enrollment.images as [ManagedImage];
    expect(api.rebuildDelayMs).toBe(7 * DAY_MS);
    expect(api.dockerfile.location).toEqual({
      kind: "file",
      path: join("/etc/acr", "Dockerfile"),
      written: "Dockerfile",
    });
    expect(api.trigger).toMatchObject({
      kind: "gitlab",
      enabled: false,
      token: { kind: "keyVault", secretName: "api-trigger" },
    });
  });

  it("reports every problem with its line and key path", () => {
    const err = errorOf(
      "images:",
      "  - image: myacr.azurecr.io/team/api",
      "    dockerfile: { path: Dockerfile, url: https://x.example/Dockerfile }",
      "    rebuildDelay: 2 weeks",
      "  - image: redis",
      "  - image: Redis:7",
      "  - image: myacr.azurecr.io/team/api",
      "    dockerfile: Dockerfile",
      "    trigger: { github: https://github.com/org/api/actions, ref: main, token: { env: T } }",
      "  - image: nginx",
      "    semvar: 1.x",
    );
    expect(err.issues.map((i) => `${i.line} ${i.path}: ${i.detail}`)).toEqual([
      "3 images[0].dockerfile.url: give either path or url, not both",
      '4 images[0].rebuildDelay: expected a duration such as 7d, 36h or 90m (or 0), got "2 weeks"',
      "5 images[1]: no tag rule; give exactly one of tags, semver, allow/deny, newest, follow, or a digest in source (repo@sha256:…)",
      '6 images[2].image: invalid image reference "Redis:7": repository component "Redis" must be lower-case [a-z0-9._-]',
      "9 images[3].trigger.github: not a github trigger API URL; expected https://api.github.com/repos/<owner>/<repo>/actions/workflows/<file>/dispatches",
      "11 images[4].semvar: unknown key; allowed: name, image, dockerfile, build, rebuildDelay, builtFrom, trigger, target, tags, semver, prerelease, allow, deny, newest, order, follow, sibling, followPlatform",
    ]);
    expect(err.message.split("\n")[0]).toBe(`${FILE}:3: images[0].dockerfile.url: give either path or url, not both`);
  });

  it("refuses a token written into the file without repeating it", () => {
    const err = errorOf(
      "images:",
      "  - image: myacr.azurecr.io/team/api",
      "    dockerfile: Dockerfile",
      "    trigger:",
      "      github: https://api.github.com/repos/org/api/actions/workflows/b.yml/dispatches",
      "      ref: main",
      "      token: ghp_s3cr3tS3cr3t",
    );
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ line: 7, path: "images[0].trigger.token" });
    expect(err.message).toMatch(/never the token itself/);
    expect(err.message).not.toContain("ghp_s3cr3tS3cr3t");
  });

  it("refuses plain http except on loopback, and credentials in URLs", () => {
    const err = errorOf(
      "images:",
      "  - image: myacr.azurecr.io/team/a",
      "    dockerfile: http://example.com/Dockerfile",
      "  - image: myacr.azurecr.io/team/b",
      "    dockerfile: https://user:pw@example.com/Dockerfile",
      "  - image: myacr.azurecr.io/team/c",
      "    dockerfile: http://127.0.0.1:8080/Dockerfile",
    );
    expect(err.issues.map((i) => [i.line, i.detail])).toEqual([
      [3, "dockerfile must be https (http only on 127.0.0.1 or localhost)"],
      [5, "dockerfile must not carry credentials; use token"],
    ]);
    expect(err.message).not.toContain("pw@");
  });

  it("refuses duplicate names and a managed image enrolled twice", () => {
    const err = errorOf(
      "images:",
      "  - { image: myacr.azurecr.io/team/api, dockerfile: a/Dockerfile }",
      "  - { image: myacr.azurecr.io/other/api, dockerfile: b/Dockerfile }",
      "  - { name: api2, image: myacr.azurecr.io/team/api:latest, dockerfile: c/Dockerfile }",
    );
    expect(err.issues.map((i) => [i.line, i.detail])).toEqual([
      [3, 'name "api" is already used by images[0] (line 2); set a distinct name'],
      [4, 'myacr.azurecr.io/team/api:latest is already enrolled as "api"'],
    ]);
  });

  it("moves between external and managed by adding or removing the dockerfile, warning about keys of the other kind", () => {
    const external = parse(
      "images:",
      "  - name: tool",
      "    image: ghcr.io/org/tool",
      "    tags: [v1]",
      "    build: https://ci.example/tool",
    );
    expect(external.enrollment.images[0]).toMatchObject({
      kind: "external",
      name: "tool",
      rule: { kind: "tags", tags: ["v1"] },
    });
    expect(external.warnings.map((w) => [w.line, w.path, w.message])).toEqual([
      [5, "images[0].build", "ignored: only a managed image (one with a dockerfile) is rebuilt"],
    ]);
    const managed = parse(
      "images:",
      "  - name: tool",
      "    image: ghcr.io/org/tool",
      "    tags: [v1]",
      "    dockerfile: tool/Dockerfile",
    );
    expect(managed.enrollment.images[0]).toMatchObject({ kind: "managed", name: "tool", image: { tag: "latest" } });
    expect(managed.warnings.map((w) => [w.line, w.message])).toEqual([
      [4, "ignored: a managed image (with a dockerfile) is built, not mirrored"],
    ]);
  });

  it("rejects an empty file and a missing images list", () => {
    expect(errorOf("").issues[0]?.detail).toMatch(/empty enrollment/);
    expect(errorOf("critical: []").issues[0]?.detail).toBe('missing required key "images"');
  });
});
