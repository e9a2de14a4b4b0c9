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
import { UnresolvableRefError } from "./errors";
import { extractImages, type ImageEntry } from "./images";
import { type LabelOutcome, LabelReader, storeErrorText } from "./labelReader";
import { sourceCommitOf, sourceRepoLabel } from "./labels";
import { treeUrl } from "./links";
import { isCommitId, validateCommitOrRef } from "./paths";
import type { RegistryMap } from "./registryMap";
import {
  type ComponentErrorKind,
  isTraceResponse,
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
  if (key && options.store) {
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

  const reader =
    options.labels ??
    new LabelReader(options.client, {
      store: options.store,
      registryMap: options.registryMap,
      signatures: options.signatures,
      warn,
    });
  const outcomes = await readAll(reader, entries, options.concurrency ?? DEFAULT_CONCURRENCY);

  const names = new Set<string>();
  const components = entries.map((entry) => {
    const component = componentOf(entry, catalogue, outcomes.get(entry));
    // Two entries the catalogue gives one name (a repository pattern) stay apart in tables and diffs.
    if (names.has(component.name)) component.name = `${component.name} (${entry.path})`;
    names.add(component.name);
    return component;
  });

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
  if (key && options.store && settled) {
    try {
      if (!(await options.store.saveTrace(key, response))) warn("trace not cached: too large for one table row");
    } catch (err) {
      warn(`trace not cached: ${storeErrorText(err)}`);
    }
  }
  return response;
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
