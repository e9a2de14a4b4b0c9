import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtInServiceDefinition, type ServiceDefinition } from "../../shared/trace/definition";
import {
  BaseFileMissingError,
  ConfigFileError,
  InvalidCommitError,
  UnknownCloudError,
  UnknownEnvironmentError,
} from "../../shared/trace/errors";
import { extractImages } from "../../shared/trace/images";
import { loadServiceConfig } from "../../shared/trace/service";
import { DirectoryConfigSource } from "../../shared/trace/source";
import { FIXTURE_COMMITS } from "./fixtures";

const NEWEST = FIXTURE_COMMITS[0]!;

describe("loadServiceConfig", () => {
  let aroHcp: ServiceDefinition;
  const source = new DirectoryConfigSource(NEWEST.dir);
  beforeAll(async () => {
    aroHcp = await builtInServiceDefinition("aro-hcp");
  });

  it("lists the valid environments, discovered from the files, when one is unknown", async () => {
    const attempt = loadServiceConfig(source, aroHcp, NEWEST.commit, { cloud: "public", environment: "qa" });
    await expect(attempt).rejects.toThrow(UnknownEnvironmentError);
    await expect(attempt).rejects.toThrow(
      'unknown environment "qa" in cloud "public"; valid environments: int, prod, stg',
    );
  });

  it("lists the valid clouds when one is unknown", async () => {
    await expect(
      loadServiceConfig(source, aroHcp, NEWEST.commit, { cloud: "gov", environment: "prod" }),
    ).rejects.toThrow(new UnknownCloudError("gov", ["dev", "public"]).message);
  });

  it("finds the cloud from the environment when none is named", async () => {
    const loaded = await loadServiceConfig(source, aroHcp, NEWEST.commit, { environment: "dev" });
    expect(loaded.cloud).toBe("dev");
    expect(loaded.contexts.map((c) => `${c.cloud}/${c.environment}`)).toContain("public/prod");
  });

  it("applies a region layer when the region is listed", async () => {
    const plain = await loadServiceConfig(source, aroHcp, NEWEST.commit, { cloud: "public", environment: "stg" });
    const regional = await loadServiceConfig(source, aroHcp, NEWEST.commit, {
      cloud: "public",
      environment: "stg",
      region: "westus3",
    });
    expect(regional.regionFound).toBe(true);
    const acrName = (c: typeof plain): unknown => ((c.config["acr"] as { svc?: { name?: unknown } }).svc ?? {}).name;
    // The stg westus3 override renames the service ACR (reference §2.1); templates are kept as written.
    expect(acrName(plain)).toBe("arohcpsvc{{ .ctx.environment }}");
    expect(acrName(regional)).toBe("arohcpsvc{{ .ctx.environment }}2");
  });

  it("validates the commit even for sources that ignore it", async () => {
    await expect(loadServiceConfig(source, aroHcp, "HEAD~1", { environment: "prod" })).rejects.toThrow(
      InvalidCommitError,
    );
  });
});

describe("loadServiceConfig with broken or partial files", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-service-"));
    mkdirSync(path.join(dir, "config"));
    cpSync(path.join(NEWEST.dir, "config", "config.yaml"), path.join(dir, "config", "config.yaml"));
    writeFileSync(
      path.join(dir, "config", "broken-overlay.yaml"),
      ["clouds:", "  public:", "    environments:", "      prod:", "        defaults:", "          x: : y"].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const definition = (overrides: Partial<ServiceDefinition>): ServiceDefinition => ({
    name: "test",
    repository: null,
    baseFile: "config/config.yaml",
    overlays: [],
    schema: null,
    components: null,
    registries: [],
    ...overrides,
  });

  it("names the overlay file and line of a YAML error", async () => {
    const attempt = loadServiceConfig(
      new DirectoryConfigSource(dir),
      definition({ overlays: ["config/broken-overlay.yaml"] }),
      NEWEST.commit,
      {
        environment: "dev",
      },
    );
    await expect(attempt).rejects.toThrow(ConfigFileError);
    await expect(attempt).rejects.toThrow(/^config\/broken-overlay\.yaml:6:\d+: /);
  });

  it("fails clearly when the base file is missing", async () => {
    await expect(
      loadServiceConfig(new DirectoryConfigSource(dir), definition({ baseFile: "config/gone.yaml" }), NEWEST.commit, {
        environment: "dev",
      }),
    ).rejects.toThrow(BaseFileMissingError);
  });

  it("skips a missing overlay and a missing schema, and still finds images by shape", async () => {
    const loaded = await loadServiceConfig(
      new DirectoryConfigSource(dir),
      definition({ overlays: ["config/old-name.yaml"] }),
      NEWEST.commit,
      {
        environment: "dev",
      },
    );
    expect(loaded.skippedFiles).toEqual([
      { path: "config/old-name.yaml", reason: "not present at this commit" },
      { path: "config/config.schema.json", reason: "schema not present at this commit; images found by shape" },
    ]);
    expect(loaded.schema).toBeNull();
    expect(extractImages(loaded.config)).toHaveLength(44);
  });
});
