/**
 * A layered service config (ARO-HCP style) as a source: the service's files at a ref or commit, layered for a cloud,
 * an environment and optionally a region, exactly as the tracer reads them (shared/trace), yielding every image entry
 * the trace extraction finds there.
 * - Pinned digests are mirrored by digest.
 * - Tag-only entries follow the rule the user states: `skip` (reported), `tag` (the tag is mirrored as a tag, and may
 *   move) or `resolve` (one HEAD now, then mirrored by that digest).
 * - The target registry may come from the config itself through a config path (ARO-HCP's `acr.svc.name`); a value
 *   without a dot is an ACR name (`<name>.azurecr.io`). `{{ .ctx.cloud }}`, `{{ .ctx.environment }}` and
 *   `{{ .ctx.region }}` are filled in; any other template is refused rather than guessed.
 * - A pull secret is named per source registry.
 */
import { builtInServiceDefinition, type ServiceDefinition } from "../trace/definition";
import { TraceInputError } from "../trace/errors";
import { extractImages } from "../trace/images";
import { validateCommitOrRef } from "../trace/paths";
import { loadMergedConfig, resolveContext } from "../trace/service";
import type { ConfigSource } from "../trace/source";
import type { ImageSource, SourceReadResult, SourcedImage } from "./types";
import { registryFromConfigValue, renderContext, valueAtPath } from "../trace/configPath";

export { ConfigPathError, registryFromConfigValue, renderContext, valueAtPath } from "../trace/configPath";

export type TagOnlyRule = "skip" | "tag" | "resolve";
export const TAG_ONLY_RULES: readonly TagOnlyRule[] = ["skip", "tag", "resolve"];

export interface LayeredConfigSpec {
  name: string;
  /** As the user wrote it (for origins and messages). */
  repo: string;
  /** A commit id, or a ref the source can resolve. */
  commit: string;
  cloud?: string | undefined;
  environment: string;
  region?: string | undefined;
  /** Built-in service definition; default `aro-hcp`. */
  service?: string | undefined;
  tagOnly: TagOnlyRule;
  /** Dotted config path whose value names the target registry, e.g. `acr.svc.name`. */
  targetRegistryPath?: string | undefined;
  /** Source registry host → pull secret name (Key Vault secret, or a local Docker config entry). */
  pullSecrets?: Readonly<Record<string, string>> | undefined;
}

export interface LayeredConfigResult extends SourceReadResult {
  /** The full commit read. */
  commit: string;
  cloud: string;
  environment: string;
  region: string | null;
  /** The target registry the config names, when `targetRegistryPath` was given. */
  targetRegistry: string | null;
  /** Pull secret per source registry, for the images this source yields. */
  pullSecrets: Readonly<Record<string, string>>;
  /** Images a `resolve` rule turned from a tag into a digest: `registry/repository:tag` → digest. */
  resolvedTags: Record<string, string>;
}

export class LayeredConfigSource implements ImageSource {
  readonly name: string;

  constructor(
    private readonly spec: LayeredConfigSpec,
    private readonly configSource: ConfigSource,
    /** For the `resolve` rule: the digest a tag names now (one HEAD), undefined when the tag does not exist. */
    private readonly resolveTag?: (registry: string, repository: string, tag: string) => Promise<string | undefined>,
    private readonly definition?: ServiceDefinition,
  ) {
    this.name = spec.name;
  }

  async read(): Promise<LayeredConfigResult> {
    const spec = this.spec;
    const definition = this.definition ?? (await builtInServiceDefinition(spec.service ?? "aro-hcp"));
    const requested = validateCommitOrRef(spec.commit);
    const commit = this.configSource.resolveCommit ? await this.configSource.resolveCommit(requested) : requested;
    const merged = await loadMergedConfig(this.configSource, definition, commit);
    const loaded = resolveContext(merged, {
      environment: spec.environment,
      ...(spec.cloud !== undefined ? { cloud: spec.cloud } : {}),
      ...(spec.region !== undefined ? { region: spec.region } : {}),
    });
    const ctx = { cloud: loaded.cloud, environment: loaded.environment, region: loaded.region };
    let targetRegistry: string | null = null;
    if (spec.targetRegistryPath) {
      const value = valueAtPath(loaded.config, spec.targetRegistryPath);
      if (typeof value !== "string" || value.trim() === "") {
        throw new TraceInputError(`config path "${spec.targetRegistryPath}" is not a registry name`);
      }
      targetRegistry = registryFromConfigValue(renderContext(value, ctx, spec.targetRegistryPath));
    }
    const result: LayeredConfigResult = {
      source: this.name,
      images: [],
      problems: [],
      warnings: [],
      commit: merged.commit,
      ...ctx,
      targetRegistry,
      pullSecrets: spec.pullSecrets ?? {},
      resolvedTags: {},
    };
    if (!loaded.regionFound && loaded.region !== null) {
      result.warnings.push(`region ${loaded.region} is not listed for ${loaded.cloud}/${loaded.environment}`);
    }
    for (const s of merged.skippedFiles) result.warnings.push(`${s.path}: ${s.reason}`);
    const origin = (path: string) => ({
      kind: "config" as const,
      repo: spec.repo,
      commit: merged.commit,
      ...ctx,
      path,
    });
    for (const entry of extractImages(loaded.config, { schema: loaded.schema })) {
      if (entry.warning) result.warnings.push(`${entry.path}: ${entry.warning}`);
      if (!entry.registry || !entry.repository) {
        result.warnings.push(`${entry.path}: ${entry.reason ?? "no registry or repository"}; skipped`);
        continue;
      }
      const image: SourcedImage = {
        registry: entry.registry,
        repository: entry.repository,
        tag: entry.tag,
        digest: entry.digest,
        origin: origin(entry.path),
      };
      if (entry.status === "pinned") {
        result.images.push(image);
      } else if (entry.status === "tag-only") {
        if (spec.tagOnly === "skip") {
          result.warnings.push(`${entry.path}: tag only (${entry.reference}); skipped (tagOnly: skip)`);
        } else if (spec.tagOnly === "tag") {
          result.images.push(image);
        } else {
          await this.resolve(image, result);
        }
      } else {
        result.warnings.push(`${entry.path}: ${entry.reason ?? "not pinned"}; skipped`);
      }
    }
    return result;
  }

  private async resolve(image: SourcedImage, result: LayeredConfigResult): Promise<void> {
    const ref = `${image.registry}/${image.repository}:${image.tag}`;
    if (!this.resolveTag) {
      result.problems.push({
        source: this.name,
        message: `${image.origin.kind === "config" ? image.origin.path : ref}: cannot resolve tags here`,
      });
      return;
    }
    try {
      const digest = await this.resolveTag(image.registry, image.repository, image.tag!);
      if (!digest) {
        result.problems.push({ source: this.name, message: `${ref}: tag not found upstream` });
        return;
      }
      result.resolvedTags[ref] = digest;
      result.images.push({ ...image, digest });
    } catch (err) {
      result.problems.push({
        source: this.name,
        message: `${ref}: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
}
