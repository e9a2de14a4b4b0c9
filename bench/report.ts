/** What every benchmark shares: a Markdown table on stdout, a JSON report in bench/results/, skopeo detection. */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
export async function skopeoSync(
  sourceRepository: string,
  destination: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
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
    { maxBuffer: 64 << 20, env },
  );
}

/**
 * skopeo remembers where it saw each blob (its blob-info cache) and would mount instead of copying. Each run gets a
 * cache of its own in a new temporary directory: containers/image keeps the cache under $XDG_DATA_HOME/containers/
 * cache for a rootless user, and as root in /var/lib/containers/cache unless `_CONTAINERS_ROOTLESS_UID` names a
 * non-root user (the variable podman sets inside its user namespace), so nothing outside that directory is touched.
 */
export function freshSkopeoEnv(): { env: NodeJS.ProcessEnv; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "bench-skopeo-"));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: dir };
  if (process.getuid?.() === 0) env._CONTAINERS_ROOTLESS_UID = "65534";
  return {
    env,
    dispose() {
      // A skopeo that ignored the variables would share a cache between runs and could mount instead of copy.
      if (!existsSync(join(dir, "containers", "cache"))) {
        process.stderr.write("warning: skopeo did not use its temporary blob-info cache; its figures may be low\n");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
