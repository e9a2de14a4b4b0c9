/**
 * A local stand-in for ACR in front of a real `docker-registry`, answering from that registry's state:
 * - HTTPS (self-signed certificate made by openssl at start) for the SDK: `/oauth2/exchange` and `/oauth2/token`
 *   (the Entra → refresh → access token flow, scoped per repository and action, 401 challenges as ACR sends them),
 *   `/acr/v1/<name>/_manifests` (paged with `Link`, 404 for an unknown repository), `/_manifests/<digest>` (read,
 *   PATCH for write/delete protection), `DELETE /acr/v1/<name>/_tags/<tag>` and `DELETE /v2/<name>/manifests/<digest>`;
 * - plain HTTP (`host`) for our OCI client: `/v2/*` passed to the real registry, except a write to a tag whose
 *   manifest is write-protected, or a deletion of a delete-protected manifest: 409, as ACR refuses them.
 * Tags and digests come from the registry's `/v2` API (tags/list, HEAD). Untagged manifests have no `/v2` listing,
 * so they are read from the registry's storage directory (its revision links), as is the tag deletion, which
 * distribution 2.8 has no API for.
 *
 * `startSourceListingStandIn` is the same idea for source registries: quay.io's tag API or Artifact Registry's
 * `tags/list` with its `manifest` map, over plain HTTP, everything else passed through.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join } from "node:path";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from "./images";
import { startProxy, type RunningProxy, type SeenRequest } from "./proxy";
import { freePort, type RunningRegistry } from "./registry";
import { selfSignedCert } from "./tls";

const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST]);

/** Kept for the ARM stand-in; the certificate itself comes from harness/tls.ts. */
export const selfSignedLoopbackCert = selfSignedCert;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The real registry's state

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
  tags: string[];
  /** Children of an index. */
  references: Array<{ digest: string; architecture?: string; os?: string }>;
  created: Date;
}

export interface RepositoryState {
  exists: boolean;
  /** Tag → digest, sorted by tag. */
  tags: Map<string, string>;
  /** Every manifest: tagged ones, and (with a storage directory) untagged ones. Sorted by digest. */
  manifests: ManifestInfo[];
}

function repositoriesDir(registry: RunningRegistry): string {
  return join(registry.dir, "data", "docker", "registry", "v2", "repositories");
}

/** Reads a repository the way a client would (`/v2`), plus untagged revisions from storage when `registry` is given. */
export class RegistryState {
  private readonly described = new Map<string, Omit<ManifestInfo, "tags" | "created">>();

  constructor(
    readonly host: string,
    private readonly registry?: RunningRegistry,
  ) {}

  async repository(name: string): Promise<RepositoryState> {
    const res = await fetch(`http://${this.host}/v2/${name}/tags/list`);
    if (res.status === 404) {
      await res.body?.cancel();
      return { exists: false, tags: new Map(), manifests: [] };
    }
    if (res.status !== 200) throw new Error(`tags/list ${name}: ${res.status}`);
    const body = (await res.json()) as { tags?: string[] | null };
    const tagNames = [...(body.tags ?? [])].sort();
    const tags = new Map<string, string>();
    const byDigest = new Map<string, ManifestInfo>();
    await eachLimited(tagNames, 8, async (tag) => {
      const head = await fetch(`http://${this.host}/v2/${name}/manifests/${tag}`, {
        method: "HEAD",
        headers: { Accept: ACCEPT },
      });
      if (head.status !== 200) return; // deleted meanwhile
      const digest = head.headers.get("docker-content-digest")!;
      tags.set(tag, digest);
    });
    const sortedTags = new Map([...tags.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    const digests = new Set(sortedTags.values());
    for (const d of this.untaggedRevisions(name)) digests.add(d);
    await eachLimited([...digests], 8, async (digest) => {
      const info = await this.describe(name, digest);
      if (!info) return;
      byDigest.set(digest, { ...info, tags: [], created: this.createdOf(name, digest) });
    });
    for (const [tag, digest] of sortedTags) byDigest.get(digest)?.tags.push(tag);
    const manifests = [...byDigest.values()].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    return { exists: true, tags: sortedTags, manifests };
  }

  /** The digest a tag points at, read from storage (synchronous, for proxy rules). */
  tagDigestSync(name: string, tag: string): string | undefined {
    if (!this.registry) return undefined;
    const link = join(repositoriesDir(this.registry), name, "_manifests", "tags", tag, "current", "link");
    return existsSync(link) ? readFileSync(link, "utf8").trim() : undefined;
  }

  /** Removes a tag from storage: distribution 2.8 has no tag deletion API. */
  deleteTagSync(name: string, tag: string): boolean {
    if (!this.registry) throw new Error("tag deletion needs the registry's storage directory");
    const dir = join(repositoriesDir(this.registry), name, "_manifests", "tags", tag);
    if (!existsSync(dir)) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  }

  private untaggedRevisions(name: string): string[] {
    if (!this.registry) return [];
    const dir = join(repositoriesDir(this.registry), name, "_manifests", "revisions", "sha256");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((hex) => existsSync(join(dir, hex, "link")))
      .map((hex) => `sha256:${hex}`);
  }

  private createdOf(name: string, digest: string): Date {
    if (this.registry) {
      const link = join(
        repositoriesDir(this.registry),
        name,
        "_manifests",
        "revisions",
        "sha256",
        digest.slice(7),
        "link",
      );
      if (existsSync(link)) return statSync(link).mtime;
    }
    return new Date();
  }

  private async describe(name: string, digest: string): Promise<Omit<ManifestInfo, "tags" | "created"> | undefined> {
    const cached = this.described.get(digest);
    if (cached) return cached;
    const res = await fetch(`http://${this.host}/v2/${name}/manifests/${digest}`, { headers: { Accept: ACCEPT } });
    if (res.status !== 200) {
      await res.body?.cancel();
      return undefined;
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    const references: ManifestInfo["references"] = [];
    if (INDEX_TYPES.has(mediaType)) {
      const index = JSON.parse(bytes.toString("utf8")) as {
        manifests?: Array<{ digest: string; platform?: { architecture?: string; os?: string } }>;
      };
      for (const m of index.manifests ?? []) {
        references.push({
          digest: m.digest,
          ...(m.platform?.architecture ? { architecture: m.platform.architecture } : {}),
          ...(m.platform?.os ? { os: m.platform.os } : {}),
        });
      }
    }
    const info = { digest, mediaType, size: bytes.length, references };
    this.described.set(digest, info);
    return info;
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The ACR stand-in

export interface AcrRequestLog {
  method: string;
  path: string;
  query: string;
  status: number;
}

export interface AcrStandInOptions {
  /** Manifests per page when the client does not say (`n`). */
  pageSize?: number;
  /** The Entra ID token `/oauth2/exchange` accepts; any non-empty one when absent. */
  aadToken?: string;
}

export interface ManifestAttributes {
  deleteEnabled: boolean;
  writeEnabled: boolean;
  listEnabled: boolean;
  readEnabled: boolean;
}

export interface AcrStandIn {
  /** `https://127.0.0.1:<port>`: the SDK's endpoint. */
  endpoint: string;
  /** `127.0.0.1:<port>`: the host of `endpoint` (the `service` of its challenges). */
  httpsHost: string;
  /** `127.0.0.1:<port>`: plain-http `/v2` in front of the registry, enforcing locks; our OCI client's target. */
  host: string;
  /** The certificate to trust (PEM). */
  ca: string;
  /** Requests on the https side. */
  seen: AcrRequestLog[];
  /** Requests on the plain-http `/v2` side (the proxy's log). */
  proxySeen: SeenRequest[];
  state: RegistryState;
  attributes(repository: string, digest: string): ManifestAttributes;
  setAttributes(repository: string, digest: string, attrs: Partial<ManifestAttributes>): void;
  /** Whether a tag sits on a write-protected manifest. */
  isTagLocked(repository: string, tag: string): boolean;
  stop(): Promise<void>;
}

const DEFAULT_ATTRS: ManifestAttributes = {
  deleteEnabled: true,
  writeEnabled: true,
  listEnabled: true,
  readEnabled: true,
};
const b64url = (s: string) => Buffer.from(s).toString("base64url");

function jwt(claims: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.${randomUUID()}`;
}

function scopeGrants(scope: string): Set<string> {
  const out = new Set<string>();
  for (const s of scope.split(" ").filter(Boolean)) {
    const parts = s.split(":");
    const actions = parts.pop() ?? "";
    const name = parts.slice(1).join(":");
    for (const a of actions.split(",")) out.add(`${parts[0]}:${name}:${a}`);
  }
  return out;
}

export async function startAcrStandIn(registry: RunningRegistry, options: AcrStandInOptions = {}): Promise<AcrStandIn> {
  const { key, cert } = selfSignedLoopbackCert();
  const port = await freePort();
  const httpsHost = `127.0.0.1:${port}`;
  const state = new RegistryState(registry.host, registry);
  const seen: AcrRequestLog[] = [];
  const attrs = new Map<string, ManifestAttributes>();
  const refreshTokens = new Set<string>();
  const accessTokens = new Map<string, Set<string>>();
  const pageSize = options.pageSize ?? 100;
  const listings = new Map<string, RepositoryState>();

  const attributes = (repo: string, digest: string): ManifestAttributes => ({
    ...DEFAULT_ATTRS,
    ...attrs.get(`${repo}@${digest}`),
  });
  const isTagLocked = (repo: string, tag: string): boolean => {
    const digest = state.tagDigestSync(repo, tag);
    return digest !== undefined && !attributes(repo, digest).writeEnabled;
  };
  const manifestJson = (repo: string, m: ManifestInfo) => {
    const a = attributes(repo, m.digest);
    return {
      digest: m.digest,
      imageSize: m.size,
      createdTime: m.created.toISOString(),
      lastUpdateTime: m.created.toISOString(),
      architecture: null,
      os: null,
      references: m.references,
      tags: m.tags,
      changeableAttributes: a,
    };
  };

  const server = createHttpsServer({ key, cert }, async (req, res) => {
    const url = new URL(req.url ?? "/", `https://${httpsHost}`);
    const method = req.method ?? "GET";
    // The SDK escapes the `/` of a repository name (`mirror%2Fapp`); ACR reads both.
    const pathname = decodeURIComponent(url.pathname);
    const log: AcrRequestLog = { method, path: pathname, query: url.search, status: 0 };
    seen.push(log);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      log.status = status;
      res.writeHead(status, body === undefined ? headers : { "Content-Type": "application/json", ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const acrError = (status: number, code: string, message: string) => send(status, { errors: [{ code, message }] });
    try {
      const bodyText = method === "GET" || method === "HEAD" ? "" : await readBody(req);

      // --- tokens -------------------------------------------------------------------------------------------
      if (method === "POST" && pathname === "/oauth2/exchange") {
        const f = Object.fromEntries(new URLSearchParams(bodyText));
        const aadOk = options.aadToken ? f.access_token === options.aadToken : !!f.access_token;
        if (f.grant_type !== "access_token" || f.service !== httpsHost || !aadOk) {
          return acrError(401, "UNAUTHORIZED", "exchange refused");
        }
        const refresh = jwt({ exp: Math.floor(Date.now() / 1000) + 3 * 3600, jti: randomUUID() });
        refreshTokens.add(refresh);
        return send(200, { refresh_token: refresh });
      }
      if (method === "POST" && pathname === "/oauth2/token") {
        const f = Object.fromEntries(new URLSearchParams(bodyText));
        if (f.grant_type !== "refresh_token" || !f.refresh_token || !refreshTokens.has(f.refresh_token) || !f.scope) {
          return acrError(401, "UNAUTHORIZED", "token refused");
        }
        if (f.service !== httpsHost) return acrError(401, "UNAUTHORIZED", "wrong service");
        const access = jwt({ exp: Math.floor(Date.now() / 1000) + 300, scope: f.scope });
        accessTokens.set(access, scopeGrants(f.scope));
        return send(200, { access_token: access });
      }

      // --- routes that need a token --------------------------------------------------------------------------
      const authorize = (repo: string, action: string): boolean => {
        const header = req.headers.authorization ?? "";
        const token = header.startsWith("Bearer ") ? header.slice(7) : "";
        if (accessTokens.get(token)?.has(`repository:${repo}:${action}`)) return true;
        send(
          401,
          { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
          {
            "WWW-Authenticate": `Bearer realm="https://${httpsHost}/oauth2/token",service="${httpsHost}",scope="repository:${repo}:${action}"`,
          },
        );
        return false;
      };

      let m = /^\/acr\/v1\/(.+)\/_manifests$/.exec(pathname);
      if (m && method === "GET") {
        const repo = m[1]!;
        if (!authorize(repo, "metadata_read")) return;
        const last = url.searchParams.get("last");
        // A first page reads the registry; the pages after it read the same state, as one listing.
        let repoState = last ? listings.get(repo) : undefined;
        if (!repoState) {
          repoState = await state.repository(repo);
          listings.set(repo, repoState);
        }
        if (!repoState.exists) return acrError(404, "NAME_UNKNOWN", "repository name not known to registry");
        const n = Math.min(Number(url.searchParams.get("n") ?? pageSize) || pageSize, 1000);
        const all = repoState.manifests;
        const start = last ? all.findIndex((x) => x.digest > last) : 0;
        const page = start < 0 ? [] : all.slice(start, start + n);
        const headers: Record<string, string> = {};
        if (start >= 0 && start + n < all.length) {
          headers.Link = `</acr/v1/${repo}/_manifests?last=${page[page.length - 1]!.digest}&n=${n}>; rel="next"`;
        }
        return send(
          200,
          { registry: httpsHost, imageName: repo, manifests: page.map((x) => manifestJson(repo, x)) },
          headers,
        );
      }
      m = /^\/acr\/v1\/(.+)\/_manifests\/(sha256:[a-f0-9]{64})$/.exec(pathname);
      if (m && (method === "GET" || method === "PATCH")) {
        const [, repo, digest] = m as unknown as [string, string, string];
        if (!authorize(repo, method === "GET" ? "metadata_read" : "metadata_write")) return;
        const manifest = (await state.repository(repo)).manifests.find((x) => x.digest === digest);
        if (!manifest) return acrError(404, "MANIFEST_UNKNOWN", "manifest unknown");
        if (method === "PATCH") {
          const patch = JSON.parse(bodyText || "{}") as Partial<ManifestAttributes>;
          const next = { ...attributes(repo, digest) };
          for (const k of ["deleteEnabled", "writeEnabled", "listEnabled", "readEnabled"] as const) {
            if (typeof patch[k] === "boolean") next[k] = patch[k];
          }
          attrs.set(`${repo}@${digest}`, next);
        }
        return send(200, { registry: httpsHost, imageName: repo, manifest: manifestJson(repo, manifest) });
      }
      m = /^\/acr\/v1\/(.+)\/_tags\/([^/]+)$/.exec(pathname);
      if (m && method === "DELETE") {
        const [, repo, tag] = m as unknown as [string, string, string];
        if (!authorize(repo, "delete")) return;
        const digest = state.tagDigestSync(repo, tag);
        if (!digest) return acrError(404, "TAG_UNKNOWN", "tag unknown");
        if (!attributes(repo, digest).deleteEnabled)
          return acrError(409, "DENIED", "the image is locked: delete is disabled");
        state.deleteTagSync(repo, tag);
        return send(202);
      }
      m = /^\/v2\/(.+)\/manifests\/(sha256:[a-f0-9]{64})$/.exec(pathname);
      if (m && method === "DELETE") {
        const [, repo, digest] = m as unknown as [string, string, string];
        if (!authorize(repo, "delete")) return;
        if (!attributes(repo, digest).deleteEnabled)
          return acrError(409, "DENIED", "the image is locked: delete is disabled");
        const del = await fetch(`http://${registry.host}/v2/${repo}/manifests/${digest}`, { method: "DELETE" });
        await del.body?.cancel();
        if (del.status === 202) attrs.delete(`${repo}@${digest}`);
        return send(del.status === 202 ? 202 : del.status === 404 ? 404 : 500);
      }
      return acrError(404, "NOT_FOUND", "no such route in the stand-in");
    } catch (err) {
      if (!res.headersSent) acrError(500, "INTERNAL", err instanceof Error ? err.message : String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  // Plain-http /v2 for our OCI client, refusing what ACR refuses on a locked image.
  const proxy: RunningProxy = await startProxy(registry.host, [
    (req) => {
      const path = req.path.split("?")[0]!;
      const mm = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (!mm) return undefined;
      const [, repo, ref] = mm as unknown as [string, string, string];
      const locked = { status: 409, headers: { "Content-Type": "application/json" } };
      if (req.method === "PUT" && !ref.startsWith("sha256:") && isTagLocked(repo, ref)) {
        return {
          ...locked,
          body: JSON.stringify({
            errors: [{ code: "DENIED", message: `${repo}:${ref} is locked: write is disabled` }],
          }),
        };
      }
      if (req.method === "DELETE" && ref.startsWith("sha256:") && !attributes(repo, ref).deleteEnabled) {
        return {
          ...locked,
          body: JSON.stringify({ errors: [{ code: "DENIED", message: "the image is locked: delete is disabled" }] }),
        };
      }
      return undefined;
    },
  ]);

  return {
    endpoint: `https://${httpsHost}`,
    httpsHost,
    host: proxy.host,
    ca: cert,
    seen,
    proxySeen: proxy.seen,
    state,
    attributes,
    setAttributes(repo, digest, a) {
      attrs.set(`${repo}@${digest}`, { ...attributes(repo, digest), ...a });
    },
    isTagLocked,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await proxy.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Source registries with bulk listings

export interface SourceListingStandIn {
  /** `127.0.0.1:<port>`: list here, and HEAD here too (passed through to the registry). */
  host: string;
  seen: AcrRequestLog[];
  /** Tags whose digest the listing leaves out, to make a listing incomplete. */
  withoutDigest: Set<string>;
  stop(): Promise<void>;
}

/**
 * quay.io's `GET /api/v1/repository/<ns>/<name>/tag/?page=&limit=&onlyActiveTags=true` (`has_additional` paging) or
 * Artifact Registry's `GET /v2/<name>/tags/list` with a `manifest` map; every other request goes to the registry.
 */
export async function startSourceListingStandIn(
  registry: RunningRegistry,
  persona: "quay" | "gar",
): Promise<SourceListingStandIn> {
  const port = await freePort();
  const state = new RegistryState(registry.host);
  const seen: AcrRequestLog[] = [];
  const withoutDigest = new Set<string>();
  const [targetName, targetPort] = registry.host.split(":");
  const server: Server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const log: AcrRequestLog = { method: req.method ?? "GET", path: url.pathname, query: url.search, status: 0 };
    seen.push(log);
    const send = (status: number, body: unknown) => {
      log.status = status;
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      const quay = /^\/api\/v1\/repository\/([^/]+\/[^/]+)\/tag\/$/.exec(url.pathname);
      if (persona === "quay" && quay && req.method === "GET") {
        const repo = await state.repository(quay[1]!);
        if (!repo.exists) return send(404, { detail: "Not Found", status: 404, error_type: "not_found" });
        const limit = Math.min(Number(url.searchParams.get("limit") ?? 50) || 50, 100);
        const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
        const all = [...repo.tags.entries()];
        const slice = all.slice((page - 1) * limit, page * limit);
        return send(200, {
          tags: slice.map(([name, digest]) => ({
            name,
            reversion: false,
            start_ts: 1700000000,
            ...(withoutDigest.has(name) ? {} : { manifest_digest: digest }),
            is_manifest_list: false,
            last_modified: "Tue, 14 Nov 2023 22:13:20 -0000",
          })),
          page,
          has_additional: page * limit < all.length,
        });
      }
      const gar = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      if (persona === "gar" && gar && req.method === "GET") {
        const repo = await state.repository(gar[1]!);
        if (!repo.exists) return send(404, { errors: [{ code: "NAME_UNKNOWN", message: "repository not found" }] });
        const manifest: Record<string, { mediaType: string; tag: string[]; imageSizeBytes: string }> = {};
        for (const m of repo.manifests) {
          const tags = m.tags.filter((t) => !withoutDigest.has(t));
          manifest[m.digest] = { mediaType: m.mediaType, tag: tags, imageSizeBytes: String(m.size) };
        }
        return send(200, { child: [], manifest, name: gar[1], tags: [...repo.tags.keys()] });
      }
      // Everything else (HEADs, GETs) goes to the registry itself.
      const upstream = httpRequest(
        {
          host: targetName,
          port: Number(targetPort),
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: registry.host },
        },
        (up) => {
          log.status = up.statusCode ?? 502;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    } catch (err) {
      if (!res.headersSent) send(500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${port}`,
    seen,
    withoutDigest,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
