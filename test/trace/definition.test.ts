import { describe, expect, it } from "vitest";
import { builtInServiceDefinition, parseServiceDefinition } from "../../shared/trace/definition";
import { InvalidPathError, ServiceDefinitionError } from "../../shared/trace/errors";

function definitionError(text: string): ServiceDefinitionError {
  try {
    parseServiceDefinition(text, "services/test.yaml");
  } catch (err) {
    if (err instanceof ServiceDefinitionError) return err;
    throw err;
  }
  throw new Error("expected a ServiceDefinitionError");
}

describe("service definitions", () => {
  it("ships one for ARO-HCP that matches the upstream file names", async () => {
    expect(await builtInServiceDefinition("aro-hcp")).toEqual({
      name: "aro-hcp",
      repository: "https://github.com/Azure/ARO-HCP",
      baseFile: "config/config.yaml",
      overlays: ["config/config.msft.clouds-overlay.yaml"],
      schema: null,
      components: "aro-hcp.components.yaml",
      registries: [
        "arohcpsvcdev.azurecr.io",
        "kubernetesshared.azurecr.io",
        "linuxgeneva-microsoft.azurecr.io",
        "mcr.microsoft.com",
        "quay.io",
        "registry.k8s.io",
        "registry.stage.redhat.io",
      ],
      formerNames: { "config/config.msft.clouds-overlay.yaml": ["config/config.msft.public-cloud-overlay.yaml"] },
    });
  });

  it("formerNames must name an overlay and list file paths", () => {
    const error = definitionError(
      "name: svc\nbaseFile: a.yaml\noverlays: [b.yaml]\nformerNames:\n  c.yaml: [d.yaml]\n  b.yaml: []\n",
    );
    expect(error.issues.map((i) => `${i.line} ${i.field}: ${i.detail}`)).toEqual([
      "5 formerNames.c.yaml: must name one of the overlays",
      "6 formerNames.b.yaml: must be a non-empty list of file paths",
    ]);
  });

  it("refuses a built-in name that could be a path", () => {
    expect(() => builtInServiceDefinition("../x")).toThrow(InvalidPathError);
  });

  it("accepts the optional fields", () => {
    const text = "name: svc\nbaseFile: a.yaml\noverlays: []\nschema: a.schema.json\ncomponents: components.yaml\n";
    expect(parseServiceDefinition(text, "x.yaml")).toMatchObject({
      overlays: [],
      schema: "a.schema.json",
      components: "components.yaml",
    });
  });

  it("reports unknown fields with their line", () => {
    const error = definitionError("name: svc\nbaseFile: a.yaml\noverlay:\n  - b.yaml\n");
    expect(error.issues).toEqual([
      {
        line: 3,
        field: "overlay",
        detail: "unknown field; allowed: name, repository, baseFile, overlays, schema, components, registries, formerNames",
      },
    ]);
    expect(error.message).toMatch(/^services\/test\.yaml:3: overlay: unknown field/);
  });

  it("reports every problem at once", () => {
    const error = definitionError(
      [
        "name: Not A Name",
        "overlays:",
        "  - ok.yaml",
        "  - ../escape.yaml",
        "  - ok.yaml",
        "  - 3",
        "schema: /abs.json",
      ].join("\n"),
    );
    expect(error.issues.map((i) => [i.line, i.field])).toEqual([
      [1, "name"],
      [0, "baseFile"],
      [7, "schema"],
      [4, "overlays[1]"],
      [5, "overlays[2]"],
      [6, "overlays[3]"],
    ]);
    expect(error.message).toContain('must not contain ".."');
    expect(error.message).toContain("ok.yaml is listed twice");
  });

  it("names the file and line of a YAML syntax error", () => {
    const error = definitionError("name: svc\nbaseFile: 'a.yaml\n");
    expect(error.message).toMatch(/^services\/test\.yaml:[23]: /);
  });

  it("rejects non-mapping documents and wrong types", () => {
    expect(definitionError("- a\n").message).toBe("services/test.yaml:1: expected a mapping");
    expect(definitionError("name: svc\nbaseFile: a.yaml\noverlays: b.yaml\n").issues[0]).toMatchObject({
      line: 3,
      field: "overlays",
    });
    expect(definitionError("name: svc\nbaseFile: [a]\n").issues[0]).toMatchObject({ field: "baseFile", line: 2 });
  });
});
