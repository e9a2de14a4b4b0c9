// The deployment package: scripts/package.sh builds the zip docs/deploy.md publishes, and the shipped example sync
// config loads with the app's own loader. The layout is what Flex Consumption runs: host.json and package.json at
// the root, package.json main inside dist/, production node_modules only, no tests, no sources.
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSyncConfigFile } from "../../shared/sync/config";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe("examples/deploy/sync.yaml", () => {
  it("loads with the app's config loader, without errors or warnings, into the registry the parameters name", async () => {
    const loaded = await loadSyncConfigFile(join(ROOT, "examples/deploy/sync.yaml"));
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config.images.length).toBeGreaterThan(0);
    const params = JSON.parse(readFileSync(join(ROOT, "infra/main.parameters.json"), "utf8")) as {
      parameters: { registryName: { value: string }; syncConfig: { value: string } };
    };
    expect(loaded.config.target.registry).toBe(`${params.parameters.registryName.value}.azurecr.io`);
    // The infra's SYNC_CONFIG is the file the package carries at its root.
    expect(params.parameters.syncConfig.value).toBe("sync.yaml");
    // Needs no pull secret: nothing to load into Key Vault before the first run.
    expect(Object.keys(loaded.config.credentials)).toEqual([]);
  });
});

// `zip` and `unzip` build and list the package; .ci/run installs them, a fresh machine may lack them.
const missingTools = ["zip", "unzip"].filter((tool) => spawnSync(tool, ["-v"], { stdio: "ignore" }).status !== 0);
if (missingTools.length > 0) {
  console.warn(
    `test/infra/package.test.ts: zip layout skipped, missing ${missingTools.join(" and ")} (apt-get install zip unzip)`,
  );
}

describe.skipIf(missingTools.length > 0)("deployment zip (scripts/package.sh)", () => {
  let dir: string;
  let entries: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "package-test-"));
    const zip = join(dir, "app.zip");
    // CI builds before testing; here a missing dist/ is built by the script itself.
    const env = { ...process.env, SKIP_BUILD: "1" };
    await run(join(ROOT, "scripts/package.sh"), [zip], { cwd: ROOT, env, timeout: 300_000, maxBuffer: 1 << 26 });
    const { stdout } = await run("unzip", ["-Z1", zip], { maxBuffer: 1 << 28 });
    entries = stdout.split("\n").filter(Boolean);
  }, 320_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has host.json, package.json, package-lock.json and sync.yaml at the root, and only dist/ and node_modules/", () => {
    const top = new Set(entries.map((e) => e.split("/")[0]));
    expect([...top].sort()).toEqual(
      ["dist", "host.json", "node_modules", "package-lock.json", "package.json", "sync.yaml"].sort(),
    );
    expect(entries).toContain(pkg.main);
  });

  it("carries no tests, benchmarks or TypeScript sources", () => {
    const own = entries.filter((e) => !e.startsWith("node_modules/"));
    expect(own.filter((e) => /^dist\/(test|bench)\//.test(e))).toEqual([]);
    expect(own.filter((e) => e.endsWith(".ts") && !e.endsWith(".d.ts"))).toEqual([]);
    expect(own.filter((e) => /\.test\.js$/.test(e))).toEqual([]);
  });

  it("has the production dependencies and none of the development ones", () => {
    const packages = new Set(
      entries
        .filter((e) => e.startsWith("node_modules/"))
        .map((e) =>
          e
            .split("/")
            .slice(1, e.split("/")[1]!.startsWith("@") ? 3 : 2)
            .join("/"),
        ),
    );
    // The CLI's local store (Azurite) is never part of the app: the functions do not load it.
    for (const dep of Object.keys(pkg.dependencies).filter((d) => d !== "azurite"))
      expect(packages, dep).toContain(dep);
    expect(packages).not.toContain("azurite");
    for (const dev of Object.keys(pkg.devDependencies)) expect(packages, dev).not.toContain(dev);
  });

  it(".funcignore leaves out every other top-level part of the checkout (func publish makes the same package)", () => {
    const ignore = readFileSync(join(ROOT, ".funcignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const part of ["test/", "bench/", "infra/", "docs/", "shared/", "functions/", "cli/", "scripts/", "tools/"]) {
      if (existsSync(join(ROOT, part))) expect(ignore, part).toContain(part);
    }
    expect(ignore).toContain("dist/test/");
    expect(ignore).toContain("dist/bench/");
    expect(ignore).toContain("local.settings*.json");
  });
});
