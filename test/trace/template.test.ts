import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseConfigYaml } from "../../shared/trace/configFile";
import { ConfigFileError } from "../../shared/trace/errors";
import { neutraliseTemplates, restoreTemplates } from "../../shared/trace/template";
import { FIXTURE_COMMITS, readFixture } from "./fixtures";

describe("neutraliseTemplates", () => {
  it("replaces every expression with a placeholder and remembers it", () => {
    const out = neutraliseTemplates(`a: 'x{{ .ctx.environment }}y'\nb: {{ .ev2.count }}\n`);
    expect(out.templates).toEqual(["{{ .ctx.environment }}", "{{ .ev2.count }}"]);
    expect(out.text).not.toContain("{{");
    expect(out.text.split("\n")).toHaveLength(3);
  });

  it("picks a placeholder stem that does not occur in the source", () => {
    const out = neutraliseTemplates("a: __tpl0__ {{ .x }}");
    expect(out.stem).not.toBe("__tpl");
    expect(restoreTemplates(parse(out.text), out)).toEqual({ a: "__tpl0__ {{ .x }}" });
  });

  it("leaves text without templates alone", () => {
    expect(neutraliseTemplates("a: 1\n")).toMatchObject({ text: "a: 1\n", templates: [] });
  });
});

describe("parseConfigYaml", () => {
  it("parses unquoted templates in values and keys, and restores the template text", () => {
    const source = [
      "defaults:",
      "  zones: {{ .ev2.availabilityZoneCount }}",
      "  name: arohcp{{ .ctx.environment }}-{{ .ctx.region }}",
      '  quoted: "svc-{{ .ctx.environment }}"',
      "  single: 'svc-{{ .ctx.environment }}'",
      "  {{ .ctx.region }}: regional",
      "  list: [{{ .a }}, b]",
      "  # a comment with {{ .ctx }} stays a comment",
      "  block: |",
      "    line {{ .x }}",
    ].join("\n");
    expect(parseConfigYaml(source, "t.yaml")).toEqual({
      defaults: {
        zones: "{{ .ev2.availabilityZoneCount }}",
        name: "arohcp{{ .ctx.environment }}-{{ .ctx.region }}",
        quoted: "svc-{{ .ctx.environment }}",
        single: "svc-{{ .ctx.environment }}",
        "{{ .ctx.region }}": "regional",
        list: ["{{ .a }}", "b"],
        block: "line {{ .x }}\n",
      },
    });
  });

  it("is what makes the real ARO-HCP config parse at all", () => {
    const raw = readFixture(FIXTURE_COMMITS[0]!.dir, "config/config.yaml");
    // A plain parser reads the unquoted `{{ … }}` as a flow mapping (or rejects it, as Go's yaml.v3 does).
    const plain = parse(raw, { logLevel: "silent" }) as { defaults: Record<string, unknown> };
    expect(typeof plain.defaults["azureRegionAvailabilityZoneCount"]).not.toBe("string");
    const doc = parseConfigYaml(raw, "config/config.yaml");
    expect(Object.keys(doc)).toEqual(expect.arrayContaining(["$schema", "defaults", "clouds"]));
    expect((doc["defaults"] as Record<string, unknown>)["azureRegionAvailabilityZoneCount"]).toBe(
      "{{ .ev2.availabilityZoneCount }}",
    );
  });

  it("names the file, line and column of a YAML error, counting lines as in the source", () => {
    const source = ["a: '{{ .x }}'", "b: {{ .y }}", "c:", "  d: 1", "e: : x"].join("\n");
    const error = (() => {
      try {
        parseConfigYaml(source, "config/broken.yaml");
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).file).toBe("config/broken.yaml");
    expect((error as ConfigFileError).line).toBe(5);
    expect((error as ConfigFileError).message).toMatch(/^config\/broken\.yaml:5:4: Nested mappings/);
  });

  it("rejects duplicate keys and non-mapping documents", () => {
    expect(() => parseConfigYaml("a: 1\na: 2\n", "dup.yaml")).toThrow(/dup\.yaml:2:\d+: .*unique/);
    expect(() => parseConfigYaml("- a\n- b\n", "list.yaml")).toThrow(/list\.yaml:1:1: top level must be a mapping/);
  });

  it("treats an empty file as an empty mapping", () => {
    expect(parseConfigYaml("# nothing\n", "empty.yaml")).toEqual({});
  });
});
