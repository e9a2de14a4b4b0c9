import { describe, expect, it } from "vitest";
import { builtInCatalogue, matchComponent, parseCatalogue } from "../../shared/trace/catalogue";
import { builtInServiceDefinition } from "../../shared/trace/definition";
import { ServiceDefinitionError } from "../../shared/trace/errors";
import { FIXTURE_COMMITS, readOracle } from "./fixtures";

function issues(text: string): ServiceDefinitionError {
  try {
    parseCatalogue(text, "components.yaml");
  } catch (err) {
    if (err instanceof ServiceDefinitionError) return err;
    throw err;
  }
  throw new Error("expected a ServiceDefinitionError");
}

describe("component catalogue", () => {
  it("names every image entry of every fixture commit, with the seed's names for the main components", async () => {
    const catalogue = await builtInCatalogue(await builtInServiceDefinition("aro-hcp"));
    for (const { dir } of FIXTURE_COMMITS) {
      for (const entries of Object.values(readOracle(dir).environments)) {
        for (const path of Object.keys(entries))
          expect(matchComponent(catalogue, path, null, null), path).toBeDefined();
      }
    }
    const source = (path: string) => matchComponent(catalogue, path, null, null)?.source;
    expect(source("backend.image")).toBe("https://github.com/Azure/ARO-HCP");
    expect(source("frontend.image")).toBe("https://github.com/Azure/ARO-HCP");
    expect(source("maestro.image")).toBe("https://github.com/openshift-online/maestro");
    expect(source("hypershift.image")).toBe("https://github.com/openshift/hypershift");
    expect(matchComponent(catalogue, "clustersService.image", null, null)?.name).toBe("Cluster Service");
  });

  it("matches a path first, then a repository pattern within one segment", () => {
    const catalogue = parseCatalogue(
      [
        "components:",
        "  - name: By path",
        "    paths: [a.image]",
        "  - name: Bundles",
        "    repositories: [quay.io/acm/bundle-*]",
        "    source: https://github.com/o/bundles",
      ].join("\n"),
      "c.yaml",
    );
    expect(matchComponent(catalogue, "a.image", "quay.io", "acm/bundle-216")?.name).toBe("By path");
    expect(matchComponent(catalogue, "b.image", "quay.io", "acm/bundle-216")?.name).toBe("Bundles");
    expect(matchComponent(catalogue, "b.image", "quay.io", "acm/bundle-216/x")).toBeUndefined();
    expect(matchComponent(catalogue, "b.image", "quay.io", "acmXbundle-1")).toBeUndefined();
  });

  it("reports every problem with its line", () => {
    const error = issues(
      [
        "components:",
        "  - name: A",
        "    paths: [a.image]",
        "    source: ftp://example.com/a/b",
        "  - name: A",
        "    paths: [a.image, 'not a path']",
        "    colour: red",
        "  - name: C",
      ].join("\n"),
    );
    expect(error.issues.map((i) => [i.line, i.field])).toEqual([
      [4, "components[0].source"],
      [7, "components[1].colour"],
      [5, "components[1].name"],
      [6, "components[1].paths[1]"],
      [5, "components[1].paths"],
      [8, "components[2]"],
    ]);
    expect(issues("nope: 1").issues[0]?.field).toBe("components");
  });
});
