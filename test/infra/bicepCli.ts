// The real Bicep CLI for the infra tests: found on BICEP_PATH or PATH (scripts/install-bicep.sh fetches it from
// NuGet; `az bicep install` also works). Each call copies infra/ into a fresh temporary folder first, so build
// outputs and snapshots never land in the checkout.
import { execFile } from "node:child_process";
import { accessSync, constants, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const INSTALL_HINT =
  'no Bicep CLI: run `export BICEP_PATH="$(scripts/install-bicep.sh)"` (NuGet, needs the .NET SDK) or `az bicep install`';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** BICEP_PATH if set (it must then point at a runnable file), else the first `bicep` on PATH. */
export function findBicep(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env.BICEP_PATH?.trim();
  if (named) return executable(named) ? resolve(named) : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && executable(join(dir, "bicep"))) return join(dir, "bicep");
  }
  return undefined;
}

/** CI sets REQUIRE_BICEP=1: a missing CLI is then a failure, not a skip. */
export const bicepRequired = (env: NodeJS.ProcessEnv = process.env): boolean => env.REQUIRE_BICEP === "1";

export interface Diagnostic {
  file: string; // relative to the copied infra/ folder, with forward slashes
  line: number;
  column: number;
  level: "Error" | "Warning" | "Info";
  code: string;
  message: string;
}

const DIAGNOSTIC_RE = /^(.+?)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/;

/** Parses the CLI's default diagnostics format, `path(line,col) : Level CODE: message`, keyed to `root`. */
export function parseDiagnostics(output: string, root: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = DIAGNOSTIC_RE.exec(line.trim());
    if (!m) continue;
    found.push({
      file: relative(root, m[1]!).split(sep).join("/"),
      line: Number(m[2]),
      column: Number(m[3]),
      level: m[4] as Diagnostic["level"],
      code: m[5]!,
      message: m[6]!,
    });
  }
  return found;
}

export const formatDiagnostic = (d: Diagnostic): string =>
  `infra/${d.file}:${d.line}:${d.column} ${d.level} ${d.code}: ${d.message}`;

export interface CliResult {
  code: number;
  output: string;
  diagnostics: Diagnostic[];
}

/** A throwaway copy of infra/ (bicepconfig.json included); `dispose` removes it. */
export function copyInfra(infraDir: string): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "bicep-infra-"));
  cpSync(infraDir, dir, { recursive: true });
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the CLI in `cwd`; a non-zero exit is returned, not thrown. Bounded: 3 minutes per call. */
export async function bicep(cli: string, args: string[], cwd: string): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(cli, args, {
      cwd,
      timeout: 180_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", BICEP_TRACING_ENABLED: "false" },
    });
    const output = `${stdout}\n${stderr}`;
    return { code: 0, output, diagnostics: parseDiagnostics(output, cwd) };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== "number") throw err;
    const output = `${e.stdout ?? ""}\n${e.stderr ?? ""}`;
    return { code: e.code, output, diagnostics: parseDiagnostics(output, cwd) };
  }
}

/** One resource the CLI predicts a deployment creates, with every expression it can evaluate offline evaluated. */
export interface PredictedResource {
  id: string;
  type: string;
  name: string;
  apiVersion: string;
  location?: string;
  kind?: string;
  identity?: { type?: string };
  properties?: Record<string, unknown>;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  outputs: Record<string, unknown>;
  diagnostics: unknown[];
}

export const SNAPSHOT_SUBSCRIPTION = "00000000-0000-0000-0000-00000000aaaa";
export const SNAPSHOT_RESOURCE_GROUP = "rg-imgsync";

const bicepLiteral = (v: unknown): string =>
  typeof v === "string" ? `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'` : JSON.stringify(v);

/**
 * `bicep snapshot` of main.bicep with these parameters, in a copy made by copyInfra: the deployment's predicted
 * resources and outputs, with ids, names, scopes and settings evaluated (runtime `reference()`s stay expressions).
 */
export async function snapshot(
  cli: string,
  infraCopy: string,
  name: string,
  parameters: Record<string, string | number | boolean>,
): Promise<Snapshot> {
  const { writeFileSync, readFileSync } = await import("node:fs");
  const file = `${name}.bicepparam`;
  const body = Object.entries(parameters).map(([k, v]) => `param ${k} = ${bicepLiteral(v)}`);
  writeFileSync(join(infraCopy, file), [`using 'main.bicep'`, ...body, ""].join("\n"));
  const result = await bicep(
    cli,
    [
      "snapshot",
      file,
      "--subscription-id",
      SNAPSHOT_SUBSCRIPTION,
      "--resource-group",
      SNAPSHOT_RESOURCE_GROUP,
      "--location",
      "eastus2",
    ],
    infraCopy,
  );
  if (result.code !== 0) throw new Error(`bicep snapshot ${name} failed:\n${result.output}`);
  return JSON.parse(readFileSync(join(infraCopy, `${name}.snapshot.json`), "utf8")) as Snapshot;
}

/** Runs `tasks` at most `limit` at a time (the CLI is a heavy process; the machine has few cores). */
export async function limited<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
