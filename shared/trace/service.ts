import { type ConfigMap, parseConfigYamlOffThread, parseJsonFile } from "./configFile";
import type { ServiceDefinition } from "./definition";
import { BaseFileMissingError, InvalidPathError } from "./errors";
import { type ConfigContext, cloudForEnvironment, layerConfig, listContexts } from "./layers";
import { mergeAll } from "./merge";
import { siblingPath, validateCommit } from "./paths";
import type { ConfigSource } from "./source";

export interface SkippedFile {
  path: string;
  reason: string;
}

/** A service's files at one commit, merged but not yet layered: one read serves every environment. */
export interface MergedServiceConfig {
  service: string;
  commit: string;
  /** The merged raw document (`defaults`, `clouds`, …), template text kept verbatim. */
  document: ConfigMap;
  /** Files read, in merge order. */
  files: string[];
  /** Overlays (and a schema) absent at this commit; file names change over a repository's history. */
  skippedFiles: SkippedFile[];
  /** JSON schema of the resolved config, or null when there is none at this commit. */
  schema: unknown;
  schemaFile: string | null;
  /** Every cloud/environment the document declares. */
  contexts: ConfigContext[];
}

export interface LoadOptions {
  /** Defaults to the only cloud that declares `environment`. */
  cloud?: string;
  environment: string;
  region?: string;
}

export interface LoadedServiceConfig extends Omit<MergedServiceConfig, "document"> {
  cloud: string;
  environment: string;
  region: string | null;
  regionFound: boolean;
  /** The resolved config for the context: defaults → cloud → environment → region. */
  config: ConfigMap;
}

export async function loadMergedConfig(
  source: ConfigSource,
  definition: ServiceDefinition,
  commit: string,
): Promise<MergedServiceConfig> {
  const sha = validateCommit(commit);
  const read = await Promise.all(
    [definition.baseFile, ...definition.overlays].map((path) =>
      readUnderAnyName(source, sha, path, definition.formerNames?.[path] ?? []),
    ),
  );
  const paths = read.map((r) => r.path);
  const texts = read.map((r) => r.text);

  const documents: ConfigMap[] = [];
  const files: string[] = [];
  const skippedFiles: SkippedFile[] = [];
  if (texts[0] === null) throw new BaseFileMissingError(paths[0] ?? "", sha, source.name);
  // The commit's files are untrusted: parsed off the event loop, with a time limit, all at once.
  const parsed = await Promise.all(
    texts.map((text, i) => (text === null ? null : parseConfigYamlOffThread(text, paths[i] ?? ""))),
  );
  parsed.forEach((document, i) => {
    const path = paths[i] ?? "";
    if (document === null) {
      skippedFiles.push({ path, reason: "not present at this commit" });
      return;
    }
    documents.push(document);
    files.push(path);
  });
  const document = mergeAll(documents);

  const schemaFile = definition.schema ?? schemaFromDocument(document, definition.baseFile);
  let schema: unknown = null;
  if (schemaFile !== null) {
    const text = await source.readFile(sha, schemaFile);
    if (text === null)
      skippedFiles.push({ path: schemaFile, reason: "schema not present at this commit; images found by shape" });
    else schema = parseJsonFile(text, schemaFile);
  }

  return {
    service: definition.name,
    commit: sha,
    document,
    files,
    skippedFiles,
    schema,
    schemaFile: schema === null ? null : schemaFile,
    contexts: listContexts(document),
  };
}

/** Reads, merges and layers a service's config for one cloud/environment(/region) at a commit. */
export async function loadServiceConfig(
  source: ConfigSource,
  definition: ServiceDefinition,
  commit: string,
  options: LoadOptions,
): Promise<LoadedServiceConfig> {
  return resolveContext(await loadMergedConfig(source, definition, commit), options);
}

/** Layers an already merged config for one context; unknown clouds and environments throw listing valid ones. */
export function resolveContext(merged: MergedServiceConfig, options: LoadOptions): LoadedServiceConfig {
  const { document, ...rest } = merged;
  const cloud = options.cloud ?? cloudForEnvironment(document, options.environment);
  const layered = layerConfig(document, {
    cloud,
    environment: options.environment,
    ...(options.region !== undefined ? { region: options.region } : {}),
  });
  return { ...rest, ...layered };
}

/** The file under its current name, else under the first former name present at this commit. */
async function readUnderAnyName(
  source: ConfigSource,
  sha: string,
  path: string,
  former: readonly string[],
): Promise<{ path: string; text: string | null }> {
  const text = await source.readFile(sha, path);
  if (text !== null) return { path, text };
  for (const name of former) {
    const old = await source.readFile(sha, name);
    if (old !== null) return { path: name, text: old };
  }
  return { path, text: null };
}

// ARO-Tools resolves `$schema` relative to the first file's directory. A URL (a meta-schema) is not a config schema.
function schemaFromDocument(document: ConfigMap, baseFile: string): string | null {
  const ref = document["$schema"];
  if (typeof ref !== "string" || ref === "" || /^[a-z][a-z0-9+.-]*:/i.test(ref)) return null;
  try {
    return siblingPath(baseFile, ref);
  } catch (err) {
    if (err instanceof InvalidPathError) return null;
    throw err;
  }
}
