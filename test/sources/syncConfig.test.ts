/**
 * `sources:` in the sync config: declarations are validated where they are written, read when the config is loaded
 * (one failing source is a warning naming it), and their images join the plan with their origin.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager } from "../../shared/registry/auth";
import { isLoopback, Transport } from "../../shared/registry/transport";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { parseSyncConfig } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { planSync } from "../../shared/sync/planner";
import { buildImage, pushImage } from "../harness/images";
import { type RunningRegistry, startRegistry } from "../harness/registry";
import { FIXTURES_DIR } from "../trace/fixtures";

const ROOT = path.resolve(__dirname, "../..");
const OLD = path.join(FIXTURES_DIR, "aro-hcp-history/synthetic-pre-20250717");
let registry: RunningRegistry;
let dir: string;

beforeAll(async () => {
  registry = await startRegistry();
  dir = mkdtempSync(path.join(tmpdir(), "sources-config-"));
}, 60_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await registry?.stop();
});

describe("declaring sources", () => {
  const issues = (text: string) => {
    try {
      parseSyncConfig(text, "sync.yaml");
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => `${i.line} ${i.path}: ${i.detail}`);
      throw err;
    }
    return [];
  };

  it("reports a bad declaration at its line and key", () => {
    const text = [
      "target: { registry: myacr.azurecr.io }",
      "sources:",
      "  - kubernetes: [a.yaml]",
      "    helmValues: [b.yaml]",
      "  - serviceConfig: { repo: ., commit: main, environment: prod, tagOnly: guess }",
      "  - serviceConfig: { repo: ., environment: prod }",
      "  - kubernetes: [ftp://example.com/a.yaml]",
      "",
    ].join("\n");
    expect(issues(text)).toEqual([
      "3 sources[0]: give exactly one of kubernetes, helmValues, serviceConfig",
      '5 sources[1].serviceConfig.tagOnly: "guess" is not one of skip, tag, resolve',
      '6 sources[2].serviceConfig: missing required key "commit"',
      '7 sources[3].kubernetes[0]: "ftp://example.com/a.yaml": only local paths and https URLs are read',
    ]);
  });
});

describe("loading a config with sources", () => {
  it("reads every source, keeps origins, adds pull secrets, and one bad source is only a warning", async () => {
    const app = buildImage({ layers: [Buffer.from("sources config app")] });
    await pushImage(registry.host, "team/app", app, "1.0");
    writeFileSync(
      path.join(dir, "app.yaml"),
      `kind: Pod\nmetadata: { name: app }\nspec:\n  containers:\n    - name: app\n      image: ${registry.host}/team/app:1.0\n`,
    );
    writeFileSync(
      path.join(dir, "sync.yaml"),
      [
        `target: { registry: "${registry.host}", prefix: mirror }`,
        "sources:",
        "  - name: local manifests",
        "    kubernetes: [app.yaml, missing.yaml]",
        `  - helmValues: ["${path.join(ROOT, "examples/sources/helm/values.yaml")}"]`,
        "  - name: aro-hcp int",
        `    serviceConfig: { repo: "${OLD}", commit: "0000000", environment: int, targetRegistryPath: acr.svc.name, pullSecrets: { quay.io: quay-pull } }`,
        "  - name: nowhere",
        `    serviceConfig: { repo: "${path.join(dir, "no-such-clone")}", commit: main, environment: prod }`,
        "",
      ].join("\n"),
    );
    const rt = new Runtime(
      readSettings({
        SYNC_CONFIG: path.join(dir, "sync.yaml"),
        TABLES_CONNECTION_STRING: "UseDevelopmentStorage=true",
      }),
      {
        transport: new Transport({
          auth: new AuthManager({ credentials: () => Promise.resolve(undefined), allowPlainHttp: isLoopback }),
        }),
      },
    );
    const { config, warnings } = await rt.loadConfig();
    const described = config.images.map((e) => e.origin.described);
    expect(config.images.every((e) => e.origin.list === "sources")).toBe(true);
    expect(described).toContain(`${path.join(dir, "app.yaml")}:6 spec.containers[0].image`);
    expect(described).toContain(`${path.join(ROOT, "examples/sources/helm/values.yaml")}:3 image`);
    expect(described.filter((d) => d?.startsWith(`${OLD}@0000000 public/int `))).toHaveLength(5);
    // The service config names its own ACR; the files' images go to the sync target under its prefix.
    const backend = config.images.find((e) => e.origin.described?.endsWith(" backend.image"))!;
    expect(backend.target).toEqual({ registry: "arohcpsvcint.azurecr.io", repository: "arohcpbackend" });
    expect(backend.rule.kind).toBe("digest");
    expect(config.images.find((e) => e.source.repository === "team/app")!.target).toEqual({
      registry: registry.host,
      repository: "mirror/team/app",
    });
    expect(config.credentials["quay.io"]).toEqual({ kind: "keyVault", secretName: "quay-pull" });
    const messages = warnings.map((w) => `${w.line} ${w.path}: ${w.message}`);
    expect(messages).toContainEqual(`3 sources[0]: local manifests: ${path.join(dir, "missing.yaml")}: no such file`);
    expect(messages).toContainEqual(
      expect.stringMatching(/^8 sources\[3\]: nowhere: invalid config source: .*no-such-clone is not a directory/),
    );

    // The plan shows where each entry came from.
    const local = { ...config, images: config.images.filter((e) => e.source.registry === registry.host) };
    const plan = await planSync(rt.client, local);
    expect(plan.items).toEqual([
      expect.objectContaining({
        key: `${registry.host}/mirror/team/app:1.0`,
        state: "missing",
        sourceDigest: app.digest,
        origin: `${path.join(dir, "app.yaml")}:6 spec.containers[0].image`,
      }),
    ]);
  });
});
