import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "./configError";
import {
  ConfigWarning,
  CredentialSource,
  ImageEntry,
  Platform,
  Platforms,
  SyncConfig,
  SyncDefaults,
} from "./configTypes";
import { isHost, isSha256Digest, normaliseRegistry, parseSource, repositoryPathProblem } from "./imageRef";
import { readSourceDeclarations } from "./sourceConfig";
import { readSupplyOverrides, SUPPLY_KEYS } from "./supplyConfig";
import { readTagRule, readTagRules, TAG_RULE_KEYS } from "./tagRuleConfig";
import { childPath, Field, YamlReader } from "./yamlReader";

export interface LoadedConfig {
  config: SyncConfig;
  /** Legal but probably unintended settings (anonymous Docker Hub, expensive orders): show, don't fail. */
  warnings: ConfigWarning[];
}

const TOP_KEYS = ["target", "defaults", "credentials", "images", "serviceConfigs", "sources"];
const TARGET_KEYS = ["registry", "prefix"];
const DEFAULT_KEYS = ["platforms", "pinTag", "concurrency", ...SUPPLY_KEYS];
const CREDENTIAL_KEYS = ["keyVaultSecret", "dockerConfig"];
// Concurrency is a run-wide cap, so images override only what changes one image's copy.
const IMAGE_KEYS = ["source", "target", "platforms", "pinTag", "dateTag", "rules", ...SUPPLY_KEYS, ...TAG_RULE_KEYS];
const SERVICE_PIN_KEYS = ["registry", "repository", "digest", "target"];

const BUILT_IN_DEFAULTS: SyncDefaults = { platforms: "all", pinTag: false, concurrency: 4 };
const MAX_CONCURRENCY = 64;
const PLATFORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/;
// Azure Key Vault secret names.
const KEY_VAULT_SECRET = /^[0-9a-zA-Z-]{1,127}$/;

function required(reader: YamlReader, parent: Field, fields: Map<string, Field>, key: string): Field | undefined {
  const field = fields.get(key);
  if (!field) reader.fail(parent, `missing required key "${key}"`);
  return field;
}

function readHost(reader: YamlReader, field: Field): string | undefined {
  const host = reader.string(field);
  if (host === undefined) return undefined;
  if (!isHost(host)) return reader.fail(field, `"${host}" is not a registry host (name or name:port)`);
  return normaliseRegistry(host);
}

function readRepositoryPath(reader: YamlReader, field: Field): string | undefined {
  const path = reader.string(field);
  if (path === undefined) return undefined;
  const problem = repositoryPathProblem(path);
  return problem ? reader.fail(field, `repository "${path}" ${problem}`) : path;
}

function readTarget(reader: YamlReader, field: Field): SyncConfig["target"] | undefined {
  const fields = reader.map(field, TARGET_KEYS);
  if (!fields) return undefined;
  const registryField = required(reader, field, fields, "registry");
  const registry = registryField && readHost(reader, registryField);
  const prefixField = fields.get("prefix");
  const prefix = prefixField && readRepositoryPath(reader, prefixField);
  if (registry === undefined || (prefixField && prefix === undefined)) return undefined;
  return prefix === undefined ? { registry } : { registry, prefix };
}

function readPlatform(reader: YamlReader, field: Field): Platform | undefined {
  const text = reader.string(field);
  if (text === undefined) return undefined;
  const match = PLATFORM.exec(text);
  if (!match?.[1] || !match[2])
    return reader.fail(field, `"${text}" is not a platform such as linux/amd64 or linux/arm64/v8`);
  const [, os, architecture, variant] = match;
  return variant ? { os, architecture, variant } : { os, architecture };
}

function platformKey(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

function readPlatforms(reader: YamlReader, field: Field): Platforms | undefined {
  const text = reader.text(field);
  if (text === "all") return "all";
  if (text !== undefined) return reader.fail(field, `expected "all" or a list such as [linux/amd64], got "${text}"`);
  const items = reader.list(field);
  if (!items) return undefined;
  if (items.length === 0) return reader.fail(field, `list at least one platform, or use "all"`);
  const platforms: Platform[] = [];
  let ok = true;
  for (const item of items) {
    const platform = readPlatform(reader, item);
    if (!platform) {
      ok = false;
    } else if (platforms.some((p) => platformKey(p) === platformKey(platform))) {
      reader.fail(item, `platform "${platformKey(platform)}" is listed twice`);
      ok = false;
    } else {
      platforms.push(platform);
    }
  }
  return ok ? platforms : undefined;
}

function readDefaults(reader: YamlReader, field: Field | undefined, options: ParseOptions): SyncDefaults | undefined {
  if (!field) return BUILT_IN_DEFAULTS;
  const fields = reader.map(field, DEFAULT_KEYS);
  if (!fields) return undefined;
  const defaults = readOverrides(reader, fields, BUILT_IN_DEFAULTS, options);
  const concurrencyField = fields.get("concurrency");
  const concurrency = concurrencyField ? reader.int(concurrencyField, 1, MAX_CONCURRENCY) : defaults?.concurrency;
  if (!defaults || concurrency === undefined) return undefined;
  return { ...defaults, concurrency };
}

/** `platforms`, `pinTag`, `referrers` and `verify`, shared by `defaults` and each image. */
function readOverrides<T extends Pick<SyncDefaults, "platforms" | "pinTag" | "referrers" | "verify">>(
  reader: YamlReader,
  fields: Map<string, Field>,
  base: T,
  options: ParseOptions,
): T | undefined {
  const platformsField = fields.get("platforms");
  const pinTagField = fields.get("pinTag");
  const platforms = platformsField ? readPlatforms(reader, platformsField) : base.platforms;
  const pinTag = pinTagField ? reader.bool(pinTagField) : base.pinTag;
  const supply = readSupplyOverrides(reader, fields, base, options);
  if (platforms === undefined || pinTag === undefined || !supply) return undefined;
  const out: T = { ...base, platforms, pinTag };
  delete out.referrers;
  delete out.verify;
  return { ...out, ...supply };
}

/**
 * `baseDir`: where relative `dockerConfig` paths are read from (the config file's folder, so a config means the same
 * thing whatever folder the tool runs in); each path is checked at load. `fromUrl`: the config came from a URL, where
 * a relative path means nothing. Neither: paths are kept as written (callers that parse text of their own).
 */
export interface ParseOptions {
  baseDir?: string;
  fromUrl?: boolean;
}

function readCredential(reader: YamlReader, field: Field, options: ParseOptions): CredentialSource | undefined {
  const fields = reader.map(field, CREDENTIAL_KEYS);
  if (!fields) return undefined;
  const secretField = fields.get("keyVaultSecret");
  const pathField = fields.get("dockerConfig");
  if (secretField && pathField) return reader.fail(pathField, "give either keyVaultSecret or dockerConfig, not both");
  if (secretField) {
    const secretName = reader.string(secretField);
    if (secretName === undefined) return undefined;
    if (!KEY_VAULT_SECRET.test(secretName)) {
      return reader.fail(secretField, `"${secretName}" is not a Key Vault secret name (letters, digits, -)`);
    }
    return { kind: "keyVault", secretName };
  }
  if (pathField) {
    const path = reader.string(pathField);
    if (path === undefined) return undefined;
    if (!path) return reader.fail(pathField, "empty path");
    if (options.fromUrl && !isAbsolute(path)) {
      return reader.fail(pathField, `"${path}" must be an absolute path in a config read from a URL`);
    }
    if (options.baseDir === undefined) return { kind: "dockerConfig", path };
    const full = resolve(options.baseDir, path);
    if (!existsSync(full)) {
      return reader.fail(pathField, `Docker config "${path}" not found (read relative to the config file: ${full})`);
    }
    return { kind: "dockerConfig", path: full };
  }
  return reader.fail(field, "give keyVaultSecret (a secret holding Docker config JSON) or dockerConfig (a file path)");
}

function readCredentials(
  reader: YamlReader,
  field: Field | undefined,
  options: ParseOptions,
): SyncConfig["credentials"] | undefined {
  const credentials: Record<string, CredentialSource> = {};
  if (!field) return credentials;
  const fields = reader.map(field);
  if (!fields) return undefined;
  // Track every registry named, valid or not, so an alias of a broken entry is still reported as a duplicate.
  const named = new Set<string>();
  let ok = true;
  for (const [host, value] of fields) {
    if (!isHost(host)) {
      reader.fail(value, `"${host}" is not a registry host`);
      ok = false;
      continue;
    }
    const registry = normaliseRegistry(host);
    const credential = readCredential(reader, value, options);
    const duplicate = named.has(registry);
    named.add(registry);
    if (duplicate) {
      reader.fail(value, `"${host}" names the same registry as an earlier entry (${registry})`);
      ok = false;
    } else if (credential) {
      credentials[registry] = credential;
    } else {
      ok = false;
    }
  }
  return ok ? credentials : undefined;
}

interface Context {
  reader: YamlReader;
  target: SyncConfig["target"];
  defaults: SyncDefaults;
  options: ParseOptions;
}

function targetRepository(ctx: Context, path: string): string {
  return ctx.target.prefix ? `${ctx.target.prefix}/${path}` : path;
}

function readImage(ctx: Context, field: Field, index: number): ImageEntry | undefined {
  const { reader } = ctx;
  const issuesBefore = reader.issues.length;
  const fields = reader.map(field, IMAGE_KEYS);
  if (!fields) return undefined;
  // An unknown key is most likely a misspelt rule (`semvar`); "no tag rule" on top of it would only mislead.
  const hasUnknownKey = reader.issues.length > issuesBefore;
  const sourceField = required(reader, field, fields, "source");
  const sourceText = sourceField && reader.string(sourceField);
  const source = sourceText === undefined ? undefined : parseSource(sourceText);
  if (sourceField && typeof source === "string") reader.fail(sourceField, `"${sourceText}" ${source}`);
  const parsed = typeof source === "object" ? source : undefined;

  const targetField = fields.get("target");
  const targetPath = targetField ? readRepositoryPath(reader, targetField) : parsed?.repository;
  const overrides = readOverrides(reader, fields, ctx.defaults, ctx.options);
  const digest = parsed?.digest !== undefined && sourceField ? { value: parsed.digest, field: sourceField } : undefined;
  const rulesField = fields.get("rules");
  const rule = rulesField
    ? readTagRules(reader, field, fields, rulesField, digest)
    : readTagRule(reader, field, fields, digest, !hasUnknownKey);
  const dateTagField = fields.get("dateTag");
  const dateTag = dateTagField ? reader.bool(dateTagField) : false;

  if (!parsed || targetPath === undefined || !overrides || !rule || dateTag === undefined) return undefined;
  const fullTarget = targetRepository(ctx, targetPath);
  // Distribution and ACR cap a repository name at 255 characters; the prefix counts.
  if (fullTarget.length > MAX_REPOSITORY_CHARS) {
    reader.fail(
      targetField ?? sourceField ?? field,
      `target repository "${fullTarget.slice(0, 60)}…" is longer than ${MAX_REPOSITORY_CHARS} characters with the prefix (${fullTarget.length})`,
    );
    return undefined;
  }
  return {
    origin: { list: "images", index, line: field.line },
    source: { registry: parsed.registry, repository: parsed.repository },
    target: { registry: ctx.target.registry, repository: fullTarget },
    platforms: overrides.platforms,
    pinTag: overrides.pinTag,
    rule,
    ...(dateTag ? { dateTag } : {}),
    ...(overrides.referrers ? { referrers: overrides.referrers } : {}),
    ...(overrides.verify ? { verify: overrides.verify } : {}),
  };
}

function readServicePin(ctx: Context, field: Field, index: number): ImageEntry | undefined {
  const { reader } = ctx;
  const fields = reader.map(field, SERVICE_PIN_KEYS);
  if (!fields) return undefined;
  const registryField = required(reader, field, fields, "registry");
  const repositoryField = required(reader, field, fields, "repository");
  const digestField = required(reader, field, fields, "digest");
  const targetField = fields.get("target");
  const registry = registryField && readHost(reader, registryField);
  const repository = repositoryField && readRepositoryPath(reader, repositoryField);
  const digest = digestField && reader.string(digestField);
  if (digestField && digest !== undefined && !isSha256Digest(digest)) {
    reader.fail(digestField, `"${digest}" is not a sha256 digest (sha256:<64 lower-case hex>)`);
  }
  const targetPath = targetField ? readRepositoryPath(reader, targetField) : repository;
  if (registry === undefined || repository === undefined || digest === undefined || targetPath === undefined) {
    return undefined;
  }
  if (!isSha256Digest(digest)) return undefined;
  return {
    origin: { list: "serviceConfigs", index, line: field.line },
    source: { registry, repository },
    target: { registry: ctx.target.registry, repository: targetRepository(ctx, targetPath) },
    platforms: ctx.defaults.platforms,
    pinTag: ctx.defaults.pinTag,
    rule: { kind: "digest", digest },
    ...(ctx.defaults.referrers ? { referrers: ctx.defaults.referrers } : {}),
    ...(ctx.defaults.verify ? { verify: ctx.defaults.verify } : {}),
  };
}

function readList<T>(
  ctx: Context,
  field: Field | undefined,
  readItem: (ctx: Context, item: Field, index: number) => T | undefined,
): T[] | undefined {
  if (!field) return [];
  const items = ctx.reader.list(field);
  if (!items) return undefined;
  const out: T[] = [];
  let ok = true;
  items.forEach((item, index) => {
    const value = readItem(ctx, item, index);
    if (value === undefined) ok = false;
    else out.push(value);
  });
  return ok ? out : undefined;
}

/**
 * Two entries writing one target repository would overwrite each other's tags and make every report ambiguous, so
 * that is an error naming both; the usual cause is two upstreams with the same path on different hosts.
 */
function checkTargetCollisions(reader: YamlReader, images: readonly ImageEntry[]): void {
  const seen = new Map<string, ImageEntry>();
  for (const image of images) {
    const key = image.target.repository;
    const earlier = seen.get(key);
    if (!earlier) {
      seen.set(key, image);
      continue;
    }
    const path = childPath(childPath("images", image.origin.index), "target");
    const earlierName = `images[${earlier.origin.index}] (line ${earlier.origin.line}, source ${earlier.source.registry}/${earlier.source.repository})`;
    reader.fail(
      { path, line: image.origin.line },
      `target repository "${key}" collides with ${earlierName}; set a distinct target on one of them`,
    );
  }
}

/** Identical pins arrive naturally when several layered service configs pin the same image; keep one. */
function dedupePins(pins: readonly ImageEntry[]): ImageEntry[] {
  const seen = new Set<string>();
  return pins.filter((pin) => {
    const digest = pin.rule.kind === "digest" ? pin.rule.digest : "";
    const key = `${pin.source.registry}/${pin.source.repository}@${digest}>${pin.target.repository}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function warnAnonymousDockerHub(reader: YamlReader, config: SyncConfig): void {
  if ("docker.io" in config.credentials) return;
  const first = [...config.images, ...config.serviceConfigs].find((e) => e.source.registry === "docker.io");
  if (!first) return;
  reader.warn(
    { path: childPath(first.origin.list, first.origin.index), line: first.origin.line },
    "Docker Hub source without credentials: anonymous pulls are rate limited per IP; add credentials for docker.io",
  );
}

const MAX_REPOSITORY_CHARS = 255;
/** A sync config is a list of images: a megabyte is thousands of them, and more is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Parses and validates a sync config; throws `ConfigError` listing every problem found. */
export function parseSyncConfig(text: string, file: string, options: ParseOptions = {}): LoadedConfig {
  if (Buffer.byteLength(text, "utf8") > MAX_CONFIG_BYTES) {
    throw new ConfigError([{ file, line: 1, path: "", detail: `the file is larger than ${MAX_CONFIG_BYTES} bytes` }]);
  }
  try {
    return parseSyncConfigText(text, file, options);
  } catch (err) {
    // Pathological nesting exhausts the parser's stack: report it as what it is, a config problem.
    if (err instanceof RangeError) {
      throw new ConfigError([
        { file, line: 1, path: "", detail: `the document is nested too deeply to parse (${err.message})` },
      ]);
    }
    throw err;
  }
}

function parseSyncConfigText(text: string, file: string, options: ParseOptions): LoadedConfig {
  const lineCounter = new LineCounter();
  // prettyErrors off: we position errors ourselves and want yaml's message without its source excerpt.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const reader = new YamlReader(file, doc, lineCounter);

  for (const err of doc.errors) {
    reader.fail({ path: "", line: reader.lineAt(err.pos[0]) }, `YAML syntax: ${err.message}`);
  }
  for (const warning of doc.warnings) {
    reader.warn({ path: "", line: reader.lineAt(warning.pos[0]) }, `YAML: ${warning.message}`);
  }

  const config = doc.errors.length === 0 ? readConfig(reader, file, options) : undefined;
  const [first, ...rest] = reader.issues;
  if (first) throw new ConfigError([first, ...rest]);
  if (!config) throw new Error("config reader returned nothing without recording an issue");
  warnAnonymousDockerHub(reader, config);
  return { config, warnings: reader.warnings };
}

function readConfig(reader: YamlReader, file: string, options: ParseOptions): SyncConfig | undefined {
  const root = reader.root();
  if (root.node === null) return reader.fail(root, "empty config; expected a map with target and images");
  const fields = reader.map(root, TOP_KEYS);
  if (!fields) return undefined;
  const targetField = required(reader, root, fields, "target");
  const target = targetField && readTarget(reader, targetField);
  const defaults = readDefaults(reader, fields.get("defaults"), options);
  const credentials = readCredentials(reader, fields.get("credentials"), options);
  // Without a valid target and defaults the images cannot be resolved; their own errors still get reported.
  const ctx: Context = {
    reader,
    target: target ?? { registry: "" },
    defaults: defaults ?? BUILT_IN_DEFAULTS,
    options,
  };
  const images = readList(ctx, fields.get("images"), readImage);
  const pins = readList(ctx, fields.get("serviceConfigs"), readServicePin);
  const sources = readSourceDeclarations(reader, fields.get("sources"));
  if (images) checkTargetCollisions(reader, images);
  if (!target || !defaults || !credentials || !images || !pins || !sources) return undefined;
  if (images.length === 0 && pins.length === 0 && sources.length === 0)
    reader.warn(root, "no images and no serviceConfigs: nothing to sync");
  return {
    file,
    target,
    defaults,
    credentials,
    images,
    serviceConfigs: dedupePins(pins),
    ...(sources.length ? { sources } : {}),
  };
}

/** Reads a config file from disk (a URL source belongs to the caller, which passes the text to `parseSyncConfig`). */
export async function loadSyncConfigFile(path: string): Promise<LoadedConfig> {
  return parseSyncConfig(await readFile(path, "utf8"), path, { baseDir: dirname(resolve(path)) });
}
