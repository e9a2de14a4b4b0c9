/**
 * `acr-image-sync mirror`: the pre-rollout step. Copies exactly the digests one environment of a layered service
 * config pins at a commit into that environment's registry (by default the ACR its `acr.svc.name` names), verifies
 * each at the target, and prints the JSON report. Exit codes: 0 every image verified at the target (or skipped
 * because its source already is the target), 1 some image failed (each named in `errors`), 2 bad input.
 */
import { type Command, InvalidArgumentError } from "commander";
import type { CredentialResolver } from "../shared/registry/auth";
import { mirrorEnvironment, MirrorTargetError } from "../shared/mirror/mirror";
import { LayeredConfigSource, TAG_ONLY_RULES, type TagOnlyRule } from "../shared/sources/layeredConfig";
import { TraceInputError } from "../shared/trace/errors";
import { EXIT, type Output } from "./copyCommand";
import { buildDeps } from "./traceCommand";

export interface MirrorCommandInput {
  repo: string;
  commit: string;
  environment: string;
  cloud?: string | undefined;
  region?: string | undefined;
  service?: string | undefined;
  /** Config path naming the target registry; default `acr.svc.name`. */
  targetPath?: string | undefined;
  /** A target registry that overrides the config's. */
  target?: string | undefined;
  /** What to do with tag-only entries; default `skip`. */
  tagOnly?: TagOnlyRule | undefined;
  /** `<registry>=<secret name>` items. */
  pullSecret?: string[] | undefined;
  registryMap?: string[] | undefined;
  plainHttp?: string[] | undefined;
  concurrency?: number | undefined;
  credentials: CredentialResolver;
}

class UsageError extends Error {}

function pullSecrets(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const [registry, name, extra] = item.split("=");
    if (!registry || !name || extra !== undefined) throw new UsageError(`--pull-secret ${item}: use <registry>=<name>`);
    out[registry] = name;
  }
  return out;
}

export async function runMirror(input: MirrorCommandInput, out: Output): Promise<number> {
  try {
    const deps = await buildDeps({
      repo: input.repo,
      service: input.service,
      credentials: input.credentials,
      registryMap: input.registryMap,
      plainHttp: input.plainHttp,
    });
    const read = await new LayeredConfigSource(
      {
        name: input.repo,
        repo: input.repo,
        commit: input.commit,
        cloud: input.cloud,
        environment: input.environment,
        region: input.region,
        tagOnly: input.tagOnly ?? "skip",
        targetRegistryPath: input.target ? undefined : (input.targetPath ?? "acr.svc.name"),
        pullSecrets: pullSecrets(input.pullSecret ?? []),
      },
      deps.source,
      async (registry, repository, tag) =>
        (await deps.client.manifestHead(deps.registryMap?.[registry] ?? registry, repository, tag))?.digest,
      deps.definition,
    ).read();
    const report = await mirrorEnvironment({
      client: deps.client,
      source: read,
      targetRegistry: input.target,
      registryMap: deps.registryMap,
      concurrency: input.concurrency,
    });
    out.stdout(JSON.stringify(report, null, 2));
    for (const e of report.errors) out.stderr(`error: ${e}`);
    return report.ok ? EXIT.ok : EXIT.failed;
  } catch (err) {
    out.stderr(`error: ${err instanceof Error ? err.message : String(err)}`);
    const badInput = err instanceof TraceInputError || err instanceof UsageError || err instanceof MirrorTargetError;
    return badInput ? EXIT.badInput : EXIT.failed;
  }
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function tagOnlyRule(value: string): TagOnlyRule {
  if (!(TAG_ONLY_RULES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`one of ${TAG_ONLY_RULES.join(", ")}`);
  return value as TagOnlyRule;
}

export function registerMirrorCommand(
  program: Command,
  out: Output,
  setExit: (code: number) => void,
  credentials: () => Promise<CredentialResolver>,
): void {
  program
    .command("mirror")
    .description("copy exactly the digests an environment pins at a config commit into its registry, and verify them")
    .requiredOption("--repo <path|url>", "config repository: a local git clone, a GitHub/GitLab URL, or a URL template")
    .requiredOption("--commit <sha|ref>", "config commit (7-40 hex), or a branch or tag of a local clone")
    .requiredOption("--environment <name>", "environment, e.g. int, stg, prod")
    .option("--cloud <name>", "cloud (default: the only one that declares the environment)")
    .option("--region <name>", "region whose overrides apply")
    .option("--service <name>", "built-in service definition", "aro-hcp")
    .option("--target-path <path>", "config path naming the target registry", "acr.svc.name")
    .option("--target <registry>", "target registry host, instead of the config's")
    .option(
      "--tag-only <rule>",
      "tag-only entries: skip (default) or resolve (one HEAD, then by digest); tag-only images are never mirrored by tag",
      tagOnlyRule,
    )
    .option(
      "--pull-secret <registry=name...>",
      "pull secret per source registry (reported; local runs use Docker config)",
      [],
    )
    .option("--registry-map <from=to...>", "reach registry <from> at host <to> (mirrors, local tests)", [])
    .option("--plain-http <host...>", "hosts to reach over http (loopback always is)", [])
    .option("--concurrency <n>", "images at once", positive)
    .action(async (opts: Omit<MirrorCommandInput, "credentials">) => {
      setExit(await runMirror({ ...opts, credentials: await credentials() }, out));
    });
}
