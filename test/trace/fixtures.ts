import { readFileSync } from "node:fs";
import path from "node:path";
import type { ImageEntry } from "../../shared/trace/images";

/** The ARO-HCP config fixtures, vendored with their licence and provenance (test/fixtures/README.md). */
export const FIXTURES_DIR = path.resolve(__dirname, "../fixtures");

export interface FixtureCommit {
  /** Directory holding `config/` and `expected-images.json`. */
  dir: string;
  commit: string;
}

export const FIXTURE_COMMITS: readonly FixtureCommit[] = [
  { dir: path.join(FIXTURES_DIR, "aro-hcp"), commit: "c3f02f9ef9f19429f4b259f65ab2e32fd3e32773" },
  { dir: path.join(FIXTURES_DIR, "aro-hcp-history/533d5604a3df"), commit: "533d5604a3df6bb2f2d6dcfb25238a8bfd3b04e0" },
  { dir: path.join(FIXTURES_DIR, "aro-hcp-history/ac4c5173fe88"), commit: "ac4c5173fe88673fe4c5450168db7150b1811014" },
  { dir: path.join(FIXTURES_DIR, "aro-hcp-history/21f3f7a7d163"), commit: "21f3f7a7d163a2dad380f101869dc97a35b004a2" },
];

/** One entry of an `expected-images.json` oracle, as derived by the fixture author. */
export interface OracleEntry {
  form: string;
  registry?: string;
  repository?: string;
  digest?: string;
  sha?: string;
  tag?: string;
  resolvedDigest?: string;
  value?: string;
}

export interface Oracle {
  commit: string;
  environments: Record<string, Record<string, OracleEntry>>;
}

export function readOracle(dir: string): Oracle {
  return JSON.parse(readFileSync(path.join(dir, "expected-images.json"), "utf8")) as Oracle;
}

export function readFixture(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), "utf8");
}

/** Compares on what the oracle records: the entry's fields as declared, its form, and the resolved digest. */
export function oracleView(entry: OracleEntry): unknown {
  if (entry.form === "string") return { form: "string", declared: { value: entry.value }, digest: null };
  const declared: Record<string, string> = {};
  for (const key of ["registry", "repository", "digest", "sha", "tag"] as const) {
    const value = entry[key];
    if (value !== undefined) declared[key] = value;
  }
  // The oracle writes "" for an unpinned entry's resolvedDigest; we report null.
  return { form: entry.form, declared, digest: entry.resolvedDigest ? entry.resolvedDigest : null };
}

export function extractedView(entry: ImageEntry): unknown {
  return { form: entry.form, declared: entry.declared, digest: entry.digest };
}

export function expectedFor(oracle: Oracle, context: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(oracle.environments[context] ?? {}).map(([p, e]) => [p, oracleView(e)]));
}

export function actualFor(entries: readonly ImageEntry[]): Record<string, unknown> {
  return Object.fromEntries(entries.map((e) => [e.path, extractedView(e)]));
}
