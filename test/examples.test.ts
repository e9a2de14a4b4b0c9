/**
 * Every config the docs show is a file under examples/, word for word, and loads: a doc block marked
 * `<!-- example: examples/… -->` must equal that file, and every sync config, service definition and component
 * catalogue under examples/ is loaded here (examples/bases.yaml by test/bases/example.test.ts, the local config's
 * page by test/cli/localDoc.test.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readCatalogue, catalogueForDefinition } from "../shared/trace/catalogue";
import { readServiceDefinition } from "../shared/trace/definition";
import { loadSyncConfigFile } from "../shared/sync/config";
import { starterConfig } from "../cli/initCommand";
import { parseSyncConfig } from "../shared/sync/config";

const ROOT = resolve(__dirname, "..");
/** The docs that show sync configs and service definitions. */
const DOCS = ["docs/configuration.md", "docs/trace.md", "docs/local.md"];

function yamlBlocks(markdown: string): Array<{ marker: string | undefined; text: string; line: number }> {
  const out: Array<{ marker: string | undefined; text: string; line: number }> = [];
  for (const m of markdown.matchAll(/(?:<!-- example: (\S+) -->\n)?```yaml\n([\s\S]*?)```/g)) {
    out.push({ marker: m[1], text: m[2]!, line: markdown.slice(0, m.index).split("\n").length });
  }
  return out;
}

describe("the docs' configs are the files under examples/", () => {
  for (const doc of DOCS) {
    it(`${doc}: every yaml block names its examples/ file and equals it`, () => {
      const blocks = yamlBlocks(readFileSync(join(ROOT, doc), "utf8"));
      for (const block of blocks) {
        expect(block.marker, `${doc}:${block.line} has a yaml block without <!-- example: examples/… -->`).toMatch(
          /^examples\//,
        );
        expect(block.text, `${doc}:${block.line}`).toBe(readFileSync(join(ROOT, block.marker!), "utf8"));
      }
    });
  }

  it("the docs show the sync config, the definition, its catalogue and its config file", () => {
    const shown = DOCS.flatMap((d) => yamlBlocks(readFileSync(join(ROOT, d), "utf8")).map((b) => b.marker));
    expect(shown.sort()).toEqual([
      "examples/sync.yaml",
      "examples/trace/shop-config/deploy/config.yaml",
      "examples/trace/shop.components.yaml",
      "examples/trace/shop.yaml",
    ]);
  });
});

describe("examples/ loads", () => {
  const syncConfigs = readdirSync(join(ROOT, "examples")).filter((f) => /^sync.*\.yaml$/.test(f));

  it("finds the sync configs the docs and the sample settings name", () => {
    expect(syncConfigs.sort()).toEqual(["sync.local.yaml", "sync.yaml"]);
    const sample = JSON.parse(readFileSync(join(ROOT, "local.settings.sample.json"), "utf8")) as {
      Values: Record<string, string>;
    };
    expect(syncConfigs.map((f) => `examples/${f}`)).toContain(sample.Values.SYNC_CONFIG);
  });

  for (const file of ["sync.yaml", "sync.local.yaml"]) {
    it(`examples/${file} loads without warnings`, async () => {
      const { config, warnings } = await loadSyncConfigFile(join(ROOT, "examples", file));
      expect(warnings).toEqual([]);
      expect(config.images.length).toBeGreaterThan(0);
    });
  }

  it("examples/sync.yaml uses every rule kind, a per-image target and a rules list", async () => {
    const { config } = await loadSyncConfigFile(join(ROOT, "examples", "sync.yaml"));
    expect(new Set(config.images.map((i) => i.rule.kind))).toEqual(
      new Set(["tags", "semver", "newest", "follow", "any", "digest"]),
    );
    expect(config.images.find((i) => i.source.repository === "org/agent")?.target.repository).toBe("mirror/team/agent");
    expect(config.credentials["quay.io"]).toEqual({
      kind: "dockerConfig",
      path: join(ROOT, "examples", "quay-config.json"),
    });
  });

  it("examples/trace/shop.yaml and its catalogue load", async () => {
    const definition = await readServiceDefinition(join(ROOT, "examples", "trace", "shop.yaml"));
    expect(definition).toMatchObject({ name: "shop", baseFile: "deploy/config.yaml" });
    const catalogue = await catalogueForDefinition(definition, join(ROOT, "examples", "trace"));
    expect(catalogue).toEqual(await readCatalogue(join(ROOT, "examples", "trace", "shop.components.yaml")));
  });

  it("the starter config `init` writes loads", () => {
    const { config, warnings } = parseSyncConfig(starterConfig("myacr.azurecr.io"), "sync.yaml", { baseDir: ROOT });
    expect(config.images).toHaveLength(1);
    // The starter names a Docker Hub image without credentials: the warning is the one a newcomer should see.
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^Docker Hub source without credentials/)]);
  });
});
