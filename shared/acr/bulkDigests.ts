/**
 * Bulk tag → digest listings: one request per page of a repository instead of one HEAD per tag, where a registry
 * offers it — ACR (`/acr/v1/<name>/_manifests`, through the SDK), quay.io (its tag API carries each tag's
 * `manifest_digest`) and Google Artifact Registry / GCR (`tags/list` with its `manifest` map). Anything else, or a
 * listing that cannot name every tag's digest, answers `undefined`, and the caller HEADs tags as before.
 */
import { scopeFor } from "../registry/auth";
import { nextLink } from "../registry/client";
import { normaliseRegistry } from "../registry/reference";
import { RegistryError, registryError, type Transport } from "../registry/transport";
import type { TagDigestLister } from "../sync/ports";
import { isAcrHost, type AcrCatalog } from "./catalog";

export type { TagDigestLister } from "../sync/ports";

export type ListingKind = "acr" | "quay" | "gar";

/** Which bulk listing a registry speaks, by its name: `*.azurecr.io`, `quay.io`, `*-docker.pkg.dev` and GCR. */
export function listingKindFor(registry: string): ListingKind | undefined {
  const host = normaliseRegistry(registry);
  if (isAcrHost(host)) return "acr";
  if (host === "quay.io") return "quay";
  if (/^[a-z0-9-]+-docker\.pkg\.dev$/.test(host) || host === "gcr.io" || host.endsWith(".gcr.io")) return "gar";
  return undefined;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_PAGES = 10_000;
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

async function readJson(res: Response, what: string): Promise<unknown> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_LISTING_BYTES) {
    await res.body?.cancel();
    throw new RegistryError(`${what}: ${declared} bytes is over the listing limit`, res.status);
  }
  const text = await res.text();
  if (text.length > MAX_LISTING_BYTES) throw new RegistryError(`${what}: over the listing limit`, res.status);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RegistryError(`${what}: not JSON`, res.status);
  }
}

/** ACR through the SDK: the repository snapshot's tags (shared with locks and retention in the same run). */
export class AcrTagDigestLister implements TagDigestLister {
  constructor(private readonly catalog: AcrCatalog) {}

  async list(registry: string, repository: string): Promise<Map<string, string>> {
    const snapshot = await this.catalog.snapshot(registry, repository);
    return new Map(snapshot.tags);
  }
}

/**
 * quay.io's tag API (`/api/v1/repository/<ns>/<name>/tag/`, 100 tags a page, `has_additional`), through the
 * Transport. Public repositories need no token; a private one answers 401, and the caller falls back to HEADs.
 */
export class QuayTagDigestLister implements TagDigestLister {
  constructor(
    private readonly transport: Transport,
    private readonly pageSize = 100,
  ) {}

  async list(registry: string, repository: string): Promise<Map<string, string> | undefined> {
    const tags = new Map<string, string>();
    const what = `quay tag list ${registry}/${repository}`;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const res = await this.transport.send({
        registry,
        method: "GET",
        path: `/api/v1/repository/${repository}/tag/?onlyActiveTags=true&limit=${this.pageSize}&page=${page}`,
        kind: "tag.list",
        scopes: [],
        headers: { Accept: "application/json" },
      });
      if (res.status === 404 || res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        return undefined;
      }
      if (res.status !== 200) throw await registryError(res, what);
      const body = (await readJson(res, what)) as { tags?: unknown; has_additional?: unknown };
      if (!Array.isArray(body.tags)) throw new RegistryError(`${what}: no tags array`, 200);
      for (const t of body.tags as Array<{ name?: unknown; manifest_digest?: unknown }>) {
        if (typeof t?.name !== "string") continue;
        // A tag without a digest makes the listing incomplete: HEAD instead of guessing.
        if (typeof t.manifest_digest !== "string" || !DIGEST.test(t.manifest_digest)) return undefined;
        tags.set(t.name, t.manifest_digest);
      }
      if (body.has_additional !== true) return tags;
    }
    throw new RegistryError(`${what}: more than ${MAX_PAGES} pages`, 200);
  }
}

/**
 * Google Artifact Registry and GCR: `GET /v2/<name>/tags/list` answers, besides `tags`, a `manifest` map of
 * digest → { tag: [...] } (gcrane's diff uses the same). Pages, when the registry pages, follow `Link`.
 */
export class GarTagDigestLister implements TagDigestLister {
  constructor(private readonly transport: Transport) {}

  async list(registry: string, repository: string): Promise<Map<string, string> | undefined> {
    const what = `tag list ${registry}/${repository}`;
    const tags = new Map<string, string>();
    const names = new Set<string>();
    let path: string | undefined = `/v2/${repository}/tags/list`;
    for (let page = 0; path; page++) {
      if (page >= MAX_PAGES) throw new RegistryError(`${what}: more than ${MAX_PAGES} pages`, 200);
      const res = await this.transport.send({
        registry,
        method: "GET",
        path,
        kind: "tag.list",
        scopes: [scopeFor(repository, ["pull"])],
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (res.status !== 200) throw await registryError(res, what);
      const body = (await readJson(res, what)) as { tags?: unknown; manifest?: unknown };
      if (typeof body.manifest !== "object" || body.manifest === null || Array.isArray(body.manifest)) {
        // A plain distribution answer: no digests here.
        return undefined;
      }
      for (const t of Array.isArray(body.tags) ? body.tags : []) if (typeof t === "string") names.add(t);
      for (const [digest, entry] of Object.entries(body.manifest as Record<string, { tag?: unknown }>)) {
        if (!DIGEST.test(digest)) continue;
        for (const t of Array.isArray(entry?.tag) ? entry.tag : []) if (typeof t === "string") tags.set(t, digest);
      }
      path = nextLink(res.headers.get("link"));
    }
    for (const name of names) if (!tags.has(name)) return undefined;
    return tags;
  }
}

export interface CompositeListerOptions {
  /** Which listing a registry speaks; default `listingKindFor` (by host name). */
  kindOf?: (registry: string) => ListingKind | undefined;
  /** Told when a listing failed and the caller is sent back to HEADs. Never given credentials or tokens. */
  onFallback?: (registry: string, repository: string, reason: string) => void;
}

/**
 * Picks the listing by registry. A failing listing (auth, network, a format it did not expect) is an optimisation
 * lost, not an error: it answers `undefined` and reports why, and the planner HEADs tags as it did before.
 */
export class CompositeTagDigestLister implements TagDigestLister {
  constructor(
    private readonly listers: Partial<Record<ListingKind, TagDigestLister>>,
    private readonly options: CompositeListerOptions = {},
  ) {}

  async list(registry: string, repository: string): Promise<Map<string, string> | undefined> {
    const kind = (this.options.kindOf ?? listingKindFor)(registry);
    const lister = kind ? this.listers[kind] : undefined;
    if (!lister) return undefined;
    try {
      return await lister.list(registry, repository);
    } catch (err) {
      this.options.onFallback?.(registry, repository, err instanceof Error ? err.message : String(err));
      return undefined;
    }
  }
}

export interface BulkListingOptions extends CompositeListerOptions {
  /** The Transport the planner's RegistryClient uses: quay and GAR listings share its auth, retry and counter. */
  transport: Transport;
  /** ACR listings; absent: ACR registries are HEADed like any other. */
  acr?: AcrCatalog;
}

/** The lister the planner uses: ACR, quay.io and Artifact Registry in bulk, everything else `undefined`. */
export function createTagDigestLister(options: BulkListingOptions): CompositeTagDigestLister {
  return new CompositeTagDigestLister(
    {
      ...(options.acr ? { acr: new AcrTagDigestLister(options.acr) } : {}),
      quay: new QuayTagDigestLister(options.transport),
      gar: new GarTagDigestLister(options.transport),
    },
    options,
  );
}
