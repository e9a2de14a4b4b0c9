/**
 * The sync config's `sources:` read when the config is loaded: each declared source is read on its own (one that
 * fails is a warning naming it, never a stop), and the images it yields join `images` as entries whose origin says
 * where they came from. A layered service config may name its own target registry (`targetRegistryPath`) and the pull
 * secret of each source registry (added to `credentials` unless the config already names one for that registry).
 */
import { dirname, isAbsolute, resolve } from "node:path";
import type { RegistryClient } from "../registry/client";
import type { Transport } from "../registry/transport";
import type { ConfigWarning, CredentialSource, ImageEntry, SyncConfig } from "../sync/configTypes";
import type { SourceDeclaration } from "../sync/sourceConfig";
import { readFrom, type RegistryMap } from "../trace/registryMap";
import { openConfigSource } from "../trace/source";
import { FileImageSource } from "./fileSources";
import { LayeredConfigSource, type LayeredConfigResult } from "./layeredConfig";
import { toSyncEntries } from "./syncEntries";
import { readAllSources, type ImageSource, type SourceReadResult } from "./types";

export interface ExpandContext {
  /** The sync config's location: relative paths are read from its directory; a URL config allows URLs only. */
  configLocation: string;
  transport?: Transport;
  /** For `tagOnly: resolve` (one HEAD per tag). */
  client?: RegistryClient;
  registryMap?: RegistryMap;
}

export interface ExpandedConfig {
  config: SyncConfig;
  warnings: ConfigWarning[];
  results: SourceReadResult[];
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

export async function expandSources(config: SyncConfig, ctx: ExpandContext): Promise<ExpandedConfig> {
  const declarations = config.sources ?? [];
  if (declarations.length === 0) return { config, warnings: [], results: [] };
  const baseDir = isUrl(ctx.configLocation) ? undefined : dirname(resolve(ctx.configLocation));
  const local = (p: string): string => {
    if (isUrl(p) || isAbsolute(p)) return p;
    if (!baseDir) throw new Error(`"${p}": a config read from a URL can only name https URLs`);
    return resolve(baseDir, p);
  };
  const sources = declarations.map((d) => sourceFor(d, ctx, local));
  const results = await readAllSources(sources);

  const warnings: ConfigWarning[] = [];
  const credentials: Record<string, CredentialSource> = { ...config.credentials };
  const seen = new Set(config.images.map(entryKey));
  const added: ImageEntry[] = [];
  results.forEach((result, i) => {
    const d = declarations[i]!;
    const at = { file: config.file, line: d.line, path: `sources[${i}]` };
    for (const p of result.problems) warnings.push({ ...at, message: `${d.name}: ${p.message}` });
    for (const w of result.warnings) warnings.push({ ...at, message: `${d.name}: ${w}` });
    const layered = "targetRegistry" in result ? (result as LayeredConfigResult) : undefined;
    const target = layered?.targetRegistry
      ? { registry: layered.targetRegistry }
      : { registry: config.target.registry, prefix: config.target.prefix };
    const entries = toSyncEntries(
      result.images,
      { ...target, platforms: config.defaults.platforms, pinTag: config.defaults.pinTag },
      added.length,
    );
    for (const e of entries) {
      const key = entryKey(e);
      if (seen.has(key)) continue;
      seen.add(key);
      added.push(e);
    }
    for (const [registry, secretName] of Object.entries(layered?.pullSecrets ?? {})) {
      credentials[registry] ??= { kind: "keyVault", secretName };
    }
  });
  return { config: { ...config, credentials, images: [...config.images, ...added] }, warnings, results };
}

function entryKey(e: ImageEntry): string {
  const what = e.rule.kind === "digest" ? e.rule.digest : JSON.stringify(e.rule);
  return `${e.source.registry}/${e.source.repository}|${what}|${e.target.registry}/${e.target.repository}`;
}

function sourceFor(d: SourceDeclaration, ctx: ExpandContext, local: (p: string) => string): ImageSource {
  try {
    if (d.kind !== "serviceConfig") {
      return new FileImageSource({ name: d.name, kind: d.kind, files: d.files.map(local) }, ctx.transport);
    }
    const configSource = openConfigSource(isUrl(d.repo) ? d.repo : local(d.repo), {
      ...(ctx.transport ? { transport: ctx.transport } : {}),
    });
    const client = ctx.client;
    return new LayeredConfigSource(
      {
        name: d.name,
        repo: d.repo,
        commit: d.commit,
        cloud: d.cloud,
        environment: d.environment,
        region: d.region,
        service: d.service,
        tagOnly: d.tagOnly,
        targetRegistryPath: d.targetRegistryPath,
        pullSecrets: d.pullSecrets,
      },
      configSource,
      client
        ? async (registry, repository, tag) =>
            (await client.manifestHead(readFrom(ctx.registryMap, registry), repository, tag))?.digest
        : undefined,
    );
  } catch (err) {
    // A source that cannot even be opened is that source's problem only.
    return { name: d.name, read: () => Promise.reject(err instanceof Error ? err : new Error(String(err))) };
  }
}
