/**
 * commit + environment → config at that commit → pinned image entries → labels over the registry API → source
 * commit and repository per component. One component's failure fills its `error`; the trace always answers.
 */
import { createHash } from "node:crypto";
import type { RegistryClient } from "../registry/client";
import { mapSettled } from "../registry/limiter";
import type { TraceKey, TraceStore } from "../store/traceStore";
import { type ComponentCatalogue, EMPTY_CATALOGUE, matchComponent } from "./catalogue";
import type { ServiceDefinition } from "./definition";
import { registryFromConfigValue, renderContext, valueAtPath } from "./configPath";
import type { ConfigMap } from "./configFile";
import { TraceInputError, UnresolvableRefError } from "./errors";
import { normaliseRegistry } from "../registry/reference";
import { extractImages, type ImageEntry } from "./images";
import { classifyReadError, type LabelOutcome, LabelReader, storeErrorText } from "./labelReader";
import { sourceCommitOf, sourceRepoLabel } from "./labels";
import { treeUrl } from "./links";
import { isCommitId, validateCommitOrRef } from "./paths";
import { readFrom, type RegistryMap } from "./registryMap";
import {
  type ComponentErrorKind,
  isTraceResponse,
  type MirrorPresence,
  PERMANENT_ERROR_KINDS,
  type TraceComponent,
  type TraceResponse,
} from "./response";
import { loadMergedConfig, type LoadedServiceConfig, type MergedServiceConfig, resolveContext } from "./service";
import type { ConfigSource } from "./source";

/** Bump when the response changes shape or meaning: cached traces of the old format are then not served. */
export const TRACE_FORMAT = 1;
const DEFAULT_CONCURRENCY = 8;

export interface TraceImagesOptions {
  source: ConfigSource;
  definition: ServiceDefinition;
  /** Names and source repositories per component; default: none (names are config paths). */
  catalogue?: ComponentCatalogue | undefined;
  /** A commit id (7 to 40 hex) or, for a source that can resolve it, a branch or tag name. */
  commit: string;
  environment: string;
  /** Default: the only cloud that declares the environment. */
  cloud?: string | undefined;
  region?: string | undefined;
  client: RegistryClient;
  /** Traces and Labels tables; without one every trace reads the registries. */
  store?: TraceStore | undefined;
  /** Host rewrite for label reads (see registryMap.ts). */
  registryMap?: RegistryMap | undefined;
  /** Label reads at once (the transport also caps requests per host). */
  concurrency?: number | undefined;
  /** Shared by the two traces of a diff, so a digest on both sides is read once. */
  labels?: LabelReader | undefined;
  /** Say per component whether its digest has a signature where it was read (`signed`). */
  signatures?: boolean | undefined;
  now?: (() => Date) | undefined;
  /**
   * Resolve tag-only entries with one HEAD each and trace the digest the tag names now (status
   * `resolved-from-tag`). Off by default: a tag may have moved since the config's commit, so such a trace is never
   * cached and never served from the cache.
   */
  resolveTags?: boolean | undefined;
  /**
   * Say per component whether its digest is mirrored into the environment's registry (tag `<hex>`), from the image
   * status when it knows, else with one HEAD. Presence changes, so such a trace is never cached nor served from the
   * cache.
   */
  mirror?: MirrorCheck | undefined;
}

export interface MirrorCheck {
  /** The registry; or `path` names it in the resolved config (ARO-HCP: `acr.svc.name`). */
  registry?: string | undefined;
  path?: string | undefined;
  /** The digest the stored image status records for `registry/repository:tag`; undefined when it does not know. */
  status?: ((registry: string, repository: string, tag: string) => Promise<string | undefined>) | undefined;
}

export async function traceImages(options: TraceImagesOptions): Promise<TraceResponse> {
  const now = options.now ?? (() => new Date());
  const requested = validateCommitOrRef(options.commit);
  const commit = await resolveCommit(options.source, requested);
  const catalogue = options.catalogue ?? EMPTY_CATALOGUE;
  const warnings: string[] = [];
  const warn = (message: string) => {
    if (!warnings.includes(message)) warnings.push(message);
  };

  // Only a full commit id read from a source that cannot change under it names the same files forever.
  const key: TraceKey | undefined =
    options.store && options.source.immutable === true && /^[0-9a-f]{40}$/.test(commit)
      ? {
          service: options.definition.name,
          commit,
          cloud: options.cloud ?? null,
          environment: options.environment,
          region: options.region ?? null,
          fingerprint: fingerprint(options.definition, catalogue, options.registryMap),
        }
      : undefined;
  if (key && options.store && !options.resolveTags && !options.mirror) {
    try {
      const hit = await options.store.getTrace(key);
      // The stored answer is the full commit's; `ref` is this request's.
      if (isTraceResponse(hit)) return { ...hit, cached: true, ref: requested === commit ? null : requested };
    } catch (err) {
      warn(`trace cache not read: ${storeErrorText(err)}`);
    }
  }

  const merged = await loadMergedConfig(options.source, options.definition, commit);
  const loaded = resolveContext(merged, {
    environment: options.environment,
    ...(options.cloud !== undefined ? { cloud: options.cloud } : {}),
    ...(options.region !== undefined ? { region: options.region } : {}),
  });
  const entries = extractImages(loaded.config, { schema: loaded.schema });

  for (const entry of entries) if (entry.warning) warn(`${entry.path}: ${entry.warning}`);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const byTag = options.resolveTags
    ? await resolveTags(options.client, entries, options.registryMap, concurrency)
    : new Map<ImageEntry, TagResolution>();
  // A resolved tag is traced like a pin of the digest it names now.
  const effective = entries.map((entry) => {
    const r = byTag.get(entry);
    return r?.ok ? { ...entry, digest: r.digest, status: "pinned" as const } : entry;
  });
  const reader =
    options.labels ??
    new LabelReader(options.client, {
      store: options.store,
      registryMap: options.registryMap,
      signatures: options.signatures,
      warn,
    });
  const outcomes = await readAll(reader, effective, concurrency);

  const names = new Set<string>();
  const components = entries.map((entry, i) => {
    const used = effective[i]!;
    const component = componentOf(used, catalogue, outcomes.get(used));
    const resolution = byTag.get(entry);
    if (resolution?.ok) {
      component.status = "resolved-from-tag";
      component.note = `tag ${entry.tag} resolved with one HEAD at ${now().toISOString()}; it may have named another digest at this commit`;
    } else if (resolution) {
      fail(component, resolution.kind, `tag ${entry.tag} not resolved: ${resolution.message}`);
    }
    // Two entries the catalogue gives one name (a repository pattern) stay apart in tables and diffs.
    if (names.has(component.name)) component.name = `${component.name} (${entry.path})`;
    names.add(component.name);
    return component;
  });

  if (options.mirror) {
    const registry = options.mirror.registry
      ? normaliseRegistry(options.mirror.registry)
      : registryFromConfigValue(
          renderContext(
            configString(loaded.config, options.mirror.path ?? "acr.svc.name"),
            loaded,
            options.mirror.path ?? "acr.svc.name",
          ),
        );
    await checkMirrors(options.client, components, registry, options.mirror, options.registryMap, concurrency);
  }

  const environmentSpecific = differsFromSiblings(merged, loaded, entries);
  if (!environmentSpecific) {
    warn(
      `every environment of cloud ${loaded.cloud} pins the same images at this commit: the config cannot say which ` +
        `build runs in ${loaded.environment}`,
    );
  }
  if (loaded.region !== null && !loaded.regionFound) {
    warn(`region ${loaded.region} is not listed for ${loaded.cloud}/${loaded.environment}; environment defaults used`);
  }
  for (const skipped of merged.skippedFiles) warn(`${skipped.path}: ${skipped.reason}`);
  if (options.source.immutable !== true) warn(`${options.source.name} is read as it is now, whatever the commit`);

  const response: TraceResponse = {
    commit_sha: commit,
    environment: loaded.environment,
    components,
    errors: components.filter((c) => c.error !== null).map((c) => `${c.name} (${c.path}): ${c.error}`),
    ref: requested === commit ? null : requested,
    cloud: loaded.cloud,
    region: loaded.region,
    service: options.definition.name,
    environment_specific: environmentSpecific,
    warnings,
    summary: {
      components: components.length,
      pinned: components.filter((c) => c.status === "pinned").length,
      traced: components.filter((c) => c.source_sha !== null).length,
      failed: components.filter((c) => c.error !== null).length,
    },
    cached: false,
    traced_at: now().toISOString(),
    config: {
      source: options.source.name,
      files: merged.files,
      skipped_files: merged.skippedFiles,
      schema_file: merged.schemaFile,
    },
  };

  // A transient failure (credentials, a registry down, an image not mirrored yet) may be gone on the next call, so
  // such a trace is not kept; a permanent one (no commit label on that digest) is an answer like any other.
  const settled = components.every((c) => c.error_kind === null || PERMANENT_ERROR_KINDS.has(c.error_kind));
  if (key && options.store && settled && byTag.size === 0 && !options.mirror) {
    try {
      if (!(await options.store.saveTrace(key, response))) warn("trace not cached: too large for one table row");
    } catch (err) {
      warn(`trace not cached: ${storeErrorText(err)}`);
    }
  }
  return response;
}

function configString(config: ConfigMap, path: string): string {
  const value = valueAtPath(config, path);
  if (typeof value !== "string" || value.trim() === "")
    throw new TraceInputError(`config path "${path}" is not a registry name`);
  return value;
}

/** Presence of each distinct (repository, digest) in the target: the image status first, else one HEAD. */
async function checkMirrors(
  client: RegistryClient,
  components: TraceComponent[],
  registry: string,
  check: MirrorCheck,
  registryMap: RegistryMap | undefined,
  concurrency: number,
): Promise<void> {
  const groups = new Map<string, TraceComponent[]>();
  for (const c of components) {
    if (!c.digest || !c.repository || !/^sha256:[a-f0-9]{64}$/.test(c.digest)) continue;
    const key = `${c.repository}@${c.digest}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const host = readFrom(registryMap, registry);
  await mapSettled([...groups.values()], concurrency, async (group) => {
    const first = group[0]!;
    const repository = first.repository!;
    const digest = first.digest!;
    const tag = digest.slice("sha256:".length);
    let presence: MirrorPresence;
    const known = await check.status?.(registry, repository, tag).catch(() => undefined);
    if (known !== undefined) {
      presence = { registry, repository, tag, present: known === digest, from: "status" };
    } else {
      try {
        const head = await client.manifestHead(host, repository, tag);
        presence = { registry, repository, tag, present: head?.digest === digest, from: "head" };
      } catch (err) {
        presence = {
          registry,
          repository,
          tag,
          present: false,
          from: "head",
          error: classifyReadError(err, host).message,
        };
      }
    }
    for (const c of group) c.mirror = presence;
  });
}

type TagResolution = { ok: true; digest: string } | { ok: false; kind: ComponentErrorKind; message: string };

/** One HEAD per distinct tag-only reference (through the registry map); each entry gets its own outcome. */
async function resolveTags(
  client: RegistryClient,
  entries: readonly ImageEntry[],
  registryMap: RegistryMap | undefined,
  concurrency: number,
): Promise<Map<ImageEntry, TagResolution>> {
  const tagged = entries.filter((e) => e.status === "tag-only" && e.registry && e.repository && e.tag);
  const byReference = new Map<string, ImageEntry[]>();
  for (const e of tagged) {
    const ref = `${e.registry}/${e.repository}:${e.tag}`;
    byReference.set(ref, [...(byReference.get(ref) ?? []), e]);
  }
  const groups = [...byReference.values()];
  const results = await mapSettled(groups, concurrency, async (group): Promise<TagResolution> => {
    const first = group[0]!;
    const host = readFrom(registryMap, first.registry!);
    try {
      const head = await client.manifestHead(host, first.repository!, first.tag!);
      if (!head) return { ok: false, kind: "not-found", message: `not found on ${host}` };
      return { ok: true, digest: head.digest };
    } catch (err) {
      return { ok: false, ...classifyReadError(err, host) };
    }
  });
  const out = new Map<ImageEntry, TagResolution>();
  results.forEach((r, i) => {
    const outcome: TagResolution =
      r.status === "fulfilled" ? r.value : { ok: false, kind: "registry-error", message: String(r.reason) };
    for (const e of groups[i] ?? []) out.set(e, outcome);
  });
  return out;
}

async function resolveCommit(source: ConfigSource, requested: string): Promise<string> {
  if (source.resolveCommit) return source.resolveCommit(requested);
  if (isCommitId(requested)) return requested;
  throw new UnresolvableRefError(requested, source.name);
}

/** Reads every distinct pinned reference once, concurrently; returns the outcome per entry. */
async function readAll(
  reader: LabelReader,
  entries: readonly ImageEntry[],
  concurrency: number,
): Promise<Map<ImageEntry, LabelOutcome>> {
  const readable = entries.filter((e) => e.status === "pinned" && e.registry && e.repository && e.digest);
  const byReference = new Map<string, ImageEntry[]>();
  for (const entry of readable) {
    const ref = `${entry.registry}/${entry.repository}@${entry.digest}`;
    byReference.set(ref, [...(byReference.get(ref) ?? []), entry]);
  }
  const groups = [...byReference.values()];
  const results = await mapSettled(groups, concurrency, (group) => {
    const first = group[0]!;
    return reader.read(first.registry!, first.repository!, first.digest!);
  });
  const out = new Map<ImageEntry, LabelOutcome>();
  results.forEach((result, i) => {
    // LabelReader turns failures into outcomes; a rejection here is a bug, reported on the component all the same.
    const outcome: LabelOutcome =
      result.status === "fulfilled"
        ? result.value
        : { ok: false, kind: "registry-error", message: String(result.reason), readFrom: "" };
    for (const entry of groups[i] ?? []) out.set(entry, outcome);
  });
  return out;
}

function componentOf(
  entry: ImageEntry,
  catalogue: ComponentCatalogue,
  outcome: LabelOutcome | undefined,
): TraceComponent {
  const known = matchComponent(catalogue, entry.path, entry.registry, entry.repository);
  const component: TraceComponent = {
    name: known?.name ?? entry.path,
    registry: entry.registry,
    repository: entry.repository,
    digest: entry.digest,
    source_sha: null,
    source_repo_url: known?.source ?? null,
    error: null,
    path: entry.path,
    status: entry.status,
    tag: entry.tag,
    note: entry.reason,
    error_kind: null,
    source_sha_from: null,
    source_repo_from: known?.source ? "catalogue" : null,
    source_url: null,
    platform: null,
    created: null,
    read_from: outcome && outcome.readFrom !== entry.registry && outcome.readFrom !== "" ? outcome.readFrom : null,
  };

  if (outcome === undefined) {
    // Not read: not pinned, tag only, or no registry. A commit-like tag still says which build it is.
    const commit = sourceCommitOf(null, entry.tag);
    if (commit) setCommit(component, commit.sha, commit.from);
    return component;
  }
  if (!outcome.ok) return fail(component, outcome.kind, outcome.message);

  const { record } = outcome;
  component.platform = record.platform;
  component.created = record.created;
  if (record.signed !== undefined) component.signed = record.signed;
  const repo = sourceRepoLabel(record.labels);
  if (repo) {
    component.source_repo_url = repo.url;
    component.source_repo_from = repo.from;
  }
  const commit = sourceCommitOf(record.labels, entry.tag);
  if (!commit) {
    return fail(
      component,
      "no-label",
      `no source commit: the image has no vcs-ref or org.opencontainers.image.revision label${entry.tag ? `, and its tag ${entry.tag} does not look like a commit` : ""}`,
    );
  }
  setCommit(component, commit.sha, commit.from);
  return component;
}

function setCommit(component: TraceComponent, sha: string, from: NonNullable<TraceComponent["source_sha_from"]>): void {
  component.source_sha = sha;
  component.source_sha_from = from;
  component.source_url = treeUrl(component.source_repo_url, sha);
}

function fail(component: TraceComponent, kind: ComponentErrorKind, message: string): TraceComponent {
  component.error = message;
  component.error_kind = kind;
  return component;
}

/** Whether any other environment of the same cloud pins a different image for some path at this commit. */
function differsFromSiblings(
  merged: MergedServiceConfig,
  loaded: LoadedServiceConfig,
  entries: readonly ImageEntry[],
): boolean {
  const mine = new Map(entries.map((e) => [e.path, e.reference]));
  const siblings = merged.contexts.filter((c) => c.cloud === loaded.cloud && c.environment !== loaded.environment);
  if (siblings.length === 0) return true; // nothing to tell it apart from
  for (const sibling of siblings) {
    const other = resolveContext(merged, { cloud: sibling.cloud, environment: sibling.environment });
    const theirs = extractImages(other.config, { schema: other.schema });
    if (theirs.length !== mine.size) return true;
    if (theirs.some((e) => !mine.has(e.path) || mine.get(e.path) !== e.reference)) return true;
  }
  return false;
}

function fingerprint(
  definition: ServiceDefinition,
  catalogue: ComponentCatalogue,
  map: RegistryMap | undefined,
): string {
  const mapEntries = Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const text = JSON.stringify({ format: TRACE_FORMAT, definition, catalogue: catalogue.entries, map: mapEntries });
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
