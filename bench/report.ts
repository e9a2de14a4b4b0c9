/** What every benchmark shares: a Markdown table on stdout, a JSON report in bench/results/, skopeo detection. */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

export const run = promisify(execFile);

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

export function printTable(rows: ReadonlyArray<Record<string, string>>): void {
  if (rows.length === 0) return;
  const headers = Object.keys(rows[0]!);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => (r[h] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(headers.map((h) => r[h] ?? "")));
}

/** Writes bench/results/<name>.json and prints the same JSON on one line. */
export function writeReport(name: string, report: unknown): void {
  const dir = join(process.cwd(), "bench", "results");
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report));
}

export async function skopeoAvailable(): Promise<boolean> {
  try {
    await run("skopeo", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

/** `skopeo sync --all` of one repository between loopback registries (tls verification off: plain http there). */
export async function skopeoSync(sourceRepository: string, destination: string): Promise<void> {
  await run(
    "skopeo",
    [
      "sync",
      "--all",
      "--src",
      "docker",
      "--dest",
      "docker",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      sourceRepository,
      destination,
    ],
    { maxBuffer: 64 << 20 },
  );
}
