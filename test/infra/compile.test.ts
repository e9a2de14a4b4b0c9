// The real Bicep compiler on every file under infra/: `bicep build` and `bicep lint`, with infra/bicepconfig.json
// raising every linter rule to an error, and any compiler warning (BCPxxx type warnings included) failing here.
// Without a CLI this file is skipped and says how to get one; CI sets REQUIRE_BICEP=1, which makes a missing CLI fail.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTALL_HINT, bicep, bicepRequired, copyInfra, findBicep, formatDiagnostic, type CliResult } from "./bicepCli";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const INFRA = join(ROOT, "infra");
const cli = findBicep();

function bicepFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return bicepFiles(p);
    return p.endsWith(".bicep") ? [relative(INFRA, p).split("\\").join("/")] : [];
  });
}
const files = bicepFiles(INFRA).sort();

describe("Bicep CLI availability", () => {
  if (cli) {
    it(`uses ${process.env.BICEP_PATH ? "BICEP_PATH" : "bicep on PATH"}`, () => expect(cli).toBeTruthy());
  } else if (bicepRequired()) {
    it("a Bicep CLI is present (REQUIRE_BICEP=1)", () => expect.fail(INSTALL_HINT));
  } else {
    console.warn(`test/infra/compile.test.ts skipped: ${INSTALL_HINT}`);
    it.skip(`bicep build/lint skipped: ${INSTALL_HINT}`, () => undefined);
  }
});

describe.skipIf(!cli)("bicep build and bicep lint, warnings as errors", () => {
  let copy: ReturnType<typeof copyInfra>;
  let build: CliResult;
  let lint: CliResult;

  beforeAll(async () => {
    copy = copyInfra(INFRA);
    // One process per command over every file: the CLI starts in seconds, not milliseconds.
    build = await bicep(cli!, ["build", "--pattern", "**/*.bicep"], copy.dir);
    lint = await bicep(cli!, ["lint", "--pattern", "**/*.bicep"], copy.dir);
  }, 360_000);
  afterAll(() => copy?.dispose());

  it("bicepconfig.json turns every linter rule it names into an error", () => {
    const config = JSON.parse(readFileSync(join(INFRA, "bicepconfig.json"), "utf8")) as {
      analyzers: { core: { enabled: boolean; rules: Record<string, { level: string }> } };
    };
    expect(config.analyzers.core.enabled).toBe(true);
    const levels = Object.entries(config.analyzers.core.rules);
    expect(levels.length).toBeGreaterThan(30);
    // use-recent-api-versions compares with today's date, so it would break an unchanged tree as time passes.
    const notError = levels.filter(([rule, v]) => v.level !== "error" && rule !== "use-recent-api-versions");
    expect(notError).toEqual([]);
  });

  it("both commands exit 0 over every file", () => {
    expect(build.code, build.output).toBe(0);
    expect(lint.code, lint.output).toBe(0);
  });

  it.each(files)("%s: no error or warning from build or lint", (file) => {
    const diagnostics = [...build.diagnostics, ...lint.diagnostics].filter(
      (d) => d.file === file && d.level !== "Info",
    );
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    // The build wrote the ARM JSON beside the copy of the file.
    expect(existsSync(join(copy.dir, file.replace(/\.bicep$/, ".json"))), `${file} compiled`).toBe(true);
  });

  it("the parser sees a diagnostic when there is one (the checks above can fail)", async () => {
    const bad = copyInfra(INFRA);
    try {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(
        join(bad.dir, "modules", "broken.bicep"),
        "param unused string\nresource r 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'x'\n}\n",
      );
      const result = await bicep(cli!, ["lint", "modules/broken.bicep"], bad.dir);
      const codes = result.diagnostics.filter((d) => d.file === "modules/broken.bicep").map((d) => d.code);
      expect(codes).toContain("no-unused-params");
      expect(result.diagnostics.find((d) => d.code === "no-unused-params")?.level).toBe("Error");
      expect(result.code).not.toBe(0);
    } finally {
      bad.dispose();
    }
  });
});
