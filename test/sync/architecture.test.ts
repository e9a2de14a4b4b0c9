/**
 * The sync engine is vendor-neutral: ACR-only capabilities reach it through the ports it owns (shared/sync/ports.ts),
 * implemented in shared/acr. Every import of every module under shared/sync (static, type-only, re-export, dynamic
 * `import()` and `require`) is read with the TypeScript pre-processor and resolved; none may land in shared/acr.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "../..");

function modulesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? modulesUnder(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** Resolved repository-relative target of a relative import; bare package names stay as they are. */
function resolved(file: string, spec: string): string {
  if (!spec.startsWith(".")) return spec;
  return relative(root, resolve(dirname(file), spec))
    .split(sep)
    .join("/");
}

describe("architecture: shared/sync depends on no registry vendor", () => {
  const files = modulesUnder(join(root, "shared/sync"));

  it("reads the imports of every sync module (the check is not vacuous)", () => {
    expect(files.length).toBeGreaterThan(10);
    const all = files.flatMap((f) => importsOf(f).map((s) => resolved(f, s)));
    expect(all).toContain("shared/registry/client");
    expect(all).toContain("shared/sync/ports");
  });

  it("no module under shared/sync imports shared/acr or an Azure SDK", () => {
    const offending = files.flatMap((f) =>
      importsOf(f)
        .map((s) => resolved(f, s))
        .filter((target) => target === "shared/acr" || target.startsWith("shared/acr/") || target.startsWith("@azure/"))
        .map((target) => `${relative(root, f)} → ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it("shared/acr implements the sync's ports, not the other way round", () => {
    const acrImports = modulesUnder(join(root, "shared/acr")).flatMap((f) => importsOf(f).map((s) => resolved(f, s)));
    expect(acrImports).toContain("shared/sync/ports");
  });
});
