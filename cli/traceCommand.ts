/**
 * `acr-image-sync trace` and `acr-image-sync diff`: the trace API run locally against a clone (or a raw-file URL),
 * with registry credentials from the local Docker config. A readable table by default, the API's JSON with --json.
 * Exit codes: 0 every component answered (an image without a source-commit label is an answer, reported), 1 some
 * component really failed (or the trace could not run), 2 bad input.
 */
import { type Command, InvalidArgumentError } from "commander";
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { promisify } from "node:util";
import { dirname, resolve } from "node:path";
import { AuthManager, type CredentialResolver } from "../shared/registry/auth";
import { RegistryClient } from "../shared/registry/client";
import { isLoopback, Transport } from "../shared/registry/transport";
import { diffRequest, parseDiffBody, parseTraceBody, type TraceDeps, traceRequest } from "../shared/trace/api";
import {
  builtInCatalogue,
  catalogueForDefinition,
  type ComponentCatalogue,
  readCatalogue,
} from "../shared/trace/catalogue";
import { builtInServiceDefinition, readServiceDefinition, type ServiceDefinition } from "../shared/trace/definition";
import type { TraceDiff } from "../shared/trace/diff";
import { ServiceDefinitionError, TraceInputError } from "../shared/trace/errors";
import { parseRegistryMap } from "../shared/trace/registryMap";
import { realFailures, type TraceResponse } from "../shared/trace/response";
import { traceImages } from "../shared/trace/tracer";
import { openConfigSource } from "../shared/trace/source";
import { EXIT, type Output } from "./copyCommand";

export interface TraceSetup {
  /** A local git clone, a GitHub or GitLab repository URL, or a URL template with {commit} and {path}. */
  repo: string;
  /** Built-in service definition name (default `aro-hcp`); ignored when `definition` is given. */
  service?: string | undefined;
  /** A service definition file; its `components` file is read relative to it. */
  definition?: string | undefined;
  /** A component catalogue file that replaces the definition's. */
  components?: string | undefined;
  /** `<config host>=<host to read from>` items. */
  registryMap?: string[] | undefined;
  /** Extra hosts reached over plain http (loopback always is). */
  plainHttp?: string[] | undefined;
  concurrency?: number | undefined;
  credentials: CredentialResolver;
  json?: boolean | undefined;
}

export interface TraceCommandInput extends TraceSetup {
  commit: string;
  environment: string;
  cloud?: string | undefined;
  region?: string | undefined;
  /** Resolve tag-only entries with one HEAD each (`resolved-from-tag`). */
  resolveTags?: boolean | undefined;
  /** Say whether each digest is mirrored into the environment's registry (`acr.svc.name`, or `mirrorTarget`). */
  mirror?: boolean | undefined;
  mirrorTarget?: string | undefined;
}

export interface DiffCommandInput extends TraceCommandInput {
  commitB?: string | undefined;
  environmentB?: string | undefined;
  cloudB?: string | undefined;
  regionB?: string | undefined;
}

interface CommonOptions {
  repo: string;
  commit: string;
  environment: string;
  cloud?: string;
  region?: string;
  json?: boolean;
  service: string;
  definition?: string;
  components?: string;
  registryMap: string[];
  plainHttp: string[];
  concurrency?: number;
}

function withCommonOptions(command: Command): Command {
  return command
    .requiredOption(
      "--repo <path|url>",
      "config repository: a local git clone, a GitHub/GitLab URL, or a URL template with {commit} and {path}",
    )
    .requiredOption(
      "--commit <sha|ref>",
      "config commit (7-40 hex); for a local clone anything `git rev-parse` accepts (HEAD~1, a branch, a tag)",
    )
    .requiredOption("--environment <name>", "environment, e.g. int, stg, prod")
    .option("--cloud <name>", "cloud (default: the only one that declares the environment)")
    .option("--region <name>", "region whose overrides apply")
    .option("--json", "print the API's JSON instead of a table")
    .option("--service <name>", "built-in service definition", "aro-hcp")
    .option("--definition <file>", "a service definition file instead of a built-in one")
    .option("--components <file>", "a component catalogue that replaces the definition's")
    .option("--registry-map <from=to...>", "read images of registry <from> from host <to> (mirrors, local tests)", [])
    .option("--plain-http <host...>", "hosts to reach over http (loopback always is)", [])
    .option("--concurrency <n>", "images read at once", positive);
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** Adds `trace` and `diff` to the program; actions report their exit code through `setExit`. */
export function registerTraceCommands(
  program: Command,
  out: Output,
  setExit: (code: number) => void,
  credentials: () => Promise<CredentialResolver>,
): void {
  withCommonOptions(
    program
      .command("trace")
      .description("list the images an environment pins at a config commit, with their source commits"),
  )
    .option("--resolve-tags", "resolve tag-only entries with one HEAD each (marked resolved-from-tag; never cached)")
    .option("--mirror", "say whether each digest is mirrored into the environment's ACR (acr.svc.name); one HEAD each")
    .option("--mirror-target <registry>", "the registry to check instead of the config's")
    .action(async (opts: CommonOptions & { resolveTags?: boolean; mirror?: boolean; mirrorTarget?: string }) => {
      setExit(await runTrace({ ...opts, credentials: await credentials() }, out));
    });

  withCommonOptions(
    program
      .command("diff")
      .description(
        "compare two environments at one commit (--environment-b) or two commits of one environment (--commit-b)",
      ),
  )
    .option("--commit-b <sha|ref>", "second commit (default: --commit)")
    .option("--environment-b <name>", "second environment (default: --environment)")
    .option("--cloud-b <name>", "second cloud")
    .option("--region-b <name>", "second region")
    .action(
      async (opts: CommonOptions & { commitB?: string; environmentB?: string; cloudB?: string; regionB?: string }) => {
        setExit(await runDiff({ ...opts, credentials: await credentials() }, out));
      },
    );
}

/** Raised for a problem with the command line itself (exit 2) that the trace API does not know about. */
class UsageError extends Error {}

const execFileAsync = promisify(execFile);

/**
 * For a local clone, whatever `git rev-parse` accepts (`HEAD~1`, `main^`, `v1.2`, a short id) becomes the full commit
 * id before the trace sees it; the trace API itself accepts commit ids and plain refs only, since its callers are
 * remote. `--end-of-options` keeps a commit argument from ever being read as an option.
 */
export async function resolveLocalCommit(repo: string, commit: string): Promise<string> {
  if (/^[0-9a-f]{40}$/.test(commit) || !isDirectory(repo)) return commit;
  const git = (args: string[]) =>
    execFileAsync("git", args, {
      cwd: repo,
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
    });
  try {
    await git(["rev-parse", "--git-dir"]);
  } catch {
    return commit; // a plain directory: the trace reads it as it is
  }
  try {
    const { stdout } = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${commit}^{commit}`]);
    return stdout.trim();
  } catch {
    throw new UsageError(`--commit ${commit}: not a commit in ${repo}`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export async function runTrace(input: TraceCommandInput, out: Output): Promise<number> {
  return run(out, async () => {
    const request = parseTraceBody({
      commit_sha: await resolveLocalCommit(input.repo, input.commit),
      environment: input.environment,
      cloud: input.cloud,
      region: input.region,
    });
    const deps = await buildDeps(input);
    const mirror = input.mirror || input.mirrorTarget ? { registry: input.mirrorTarget } : undefined;
    const response =
      input.resolveTags || mirror
        ? await traceImages({ ...deps, ...request, resolveTags: input.resolveTags, mirror })
        : await traceRequest(deps, request);
    if (input.json) out.stdout(JSON.stringify(response, null, 2));
    else for (const line of traceTable(response)) out.stdout(line);
    return realFailures(response.components).length > 0 ? EXIT.failed : EXIT.ok;
  });
}

export async function runDiff(input: DiffCommandInput, out: Output): Promise<number> {
  return run(out, async () => {
    const request = parseDiffBody({
      commit_sha: await resolveLocalCommit(input.repo, input.commit),
      environment: input.environment,
      cloud: input.cloud,
      region: input.region,
      commit_sha_b: input.commitB === undefined ? undefined : await resolveLocalCommit(input.repo, input.commitB),
      environment_b: input.environmentB,
      cloud_b: input.cloudB,
      region_b: input.regionB,
    });
    const diff = await diffRequest(await buildDeps(input), request);
    if (input.json) out.stdout(JSON.stringify(diff, null, 2));
    else for (const line of diffTable(diff)) out.stdout(line);
    return diff.failures > 0 ? EXIT.failed : EXIT.ok;
  });
}

async function run(out: Output, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    out.stderr(`error: ${message}`);
    const badInput =
      err instanceof TraceInputError || err instanceof UsageError || err instanceof ServiceDefinitionError;
    return badInput ? EXIT.badInput : EXIT.failed;
  }
}

export async function buildDeps(setup: TraceSetup): Promise<TraceDeps> {
  const registryMap = parseRegistryMap(setup.registryMap ?? []);
  const plain = new Set(setup.plainHttp ?? []);
  const plainHttp = (host: string) => isLoopback(host) || plain.has(host);
  const auth = new AuthManager({ credentials: setup.credentials, allowPlainHttp: plainHttp });
  const transport = new Transport({ auth, plainHttp });
  const { definition, catalogue } = await loadDefinition(setup);
  return {
    source: openConfigSource(setup.repo, { transport }),
    definition,
    catalogue,
    client: new RegistryClient(transport),
    registryMap,
    ...(setup.concurrency !== undefined ? { concurrency: setup.concurrency } : {}),
  };
}

async function loadDefinition(
  setup: TraceSetup,
): Promise<{ definition: ServiceDefinition; catalogue: ComponentCatalogue }> {
  let definition: ServiceDefinition;
  let catalogue: ComponentCatalogue;
  if (setup.definition !== undefined) {
    const file = resolve(setup.definition);
    if (!existsSync(file)) throw new UsageError(`--definition ${setup.definition}: no such file`);
    definition = await readServiceDefinition(file);
    catalogue =
      setup.components === undefined
        ? await catalogueForDefinition(definition, dirname(file))
        : await readCatalogue(setup.components);
  } else {
    definition = await builtInServiceDefinition(setup.service ?? "aro-hcp").catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new UsageError(`no built-in service "${setup.service}"`);
      throw err;
    });
    catalogue =
      setup.components === undefined ? await builtInCatalogue(definition) : await readCatalogue(setup.components);
  }
  return { definition, catalogue };
}

const short = (digest: string | null): string => (digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "");
const shortSha = (sha: string | null): string => (sha ? (/^[0-9a-f]{13,}$/.test(sha) ? sha.slice(0, 12) : sha) : "");

export function traceTable(trace: TraceResponse): string[] {
  const s = trace.summary;
  const lines = [
    `${trace.service} ${trace.commit_sha.slice(0, 12)}${trace.ref ? ` (${trace.ref})` : ""} ` +
      `${trace.cloud}/${trace.environment}${trace.region ? `/${trace.region}` : ""}: ${s.components} components, ` +
      `${s.pinned} pinned, ${s.traced} traced, ${s.failed} failed${trace.cached ? " (cached)" : ""}`,
    "",
  ];
  const rows = trace.components.map((c) => [
    c.name,
    c.status === "pinned" ? short(c.digest) : `(${c.status})`,
    c.error_kind ? `✗ ${c.error_kind}` : shortSha(c.source_sha),
    c.source_url ?? c.source_repo_url ?? "",
  ]);
  if (trace.components.some((c) => c.mirror)) {
    // Only when asked (--mirror): whether the digest is in the environment's registry.
    trace.components.forEach((c, i) =>
      rows[i]!.push(c.mirror ? (c.mirror.error ? "?" : c.mirror.present ? `yes (${c.mirror.from})` : "no") : ""),
    );
    lines.push(...table(["COMPONENT", "DIGEST", "SOURCE COMMIT", "SOURCE", "MIRRORED"], rows));
  } else lines.push(...table(["COMPONENT", "DIGEST", "SOURCE COMMIT", "SOURCE"], rows));
  if (trace.errors.length > 0) lines.push("", "errors:", ...trace.errors.map((e) => `  ${e}`));
  if (trace.warnings.length > 0) lines.push("", "warnings:", ...trace.warnings.map((w) => `  ${w}`));
  return lines;
}

export function diffTable(diff: TraceDiff): string[] {
  const side = (d: TraceDiff["from"]) =>
    `${d.commit_sha.slice(0, 12)} ${d.cloud}/${d.environment}${d.region ? `/${d.region}` : ""}`;
  const lines = [
    `${side(diff.from)} → ${side(diff.to)}: ${diff.changed.length} changed, ${diff.unchanged.length} unchanged`,
    "",
  ];
  const rows = diff.changed.map((c) => [
    c.name,
    c.change,
    short(c.old_digest),
    short(c.new_digest),
    `${shortSha(c.old_source_sha) || "?"} → ${shortSha(c.new_source_sha) || "?"}`,
    c.compare_url ?? "",
  ]);
  lines.push(...table(["COMPONENT", "CHANGE", "OLD DIGEST", "NEW DIGEST", "SOURCE", "COMPARE"], rows));
  if (diff.errors.length > 0) lines.push("", "errors:", ...diff.errors.map((e) => `  ${e}`));
  if (diff.warnings.length > 0) lines.push("", "warnings:", ...diff.warnings.map((w) => `  ${w}`));
  return lines;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
