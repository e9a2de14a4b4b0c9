/**
 * What a trace may contact. The config a trace reads is chosen by whoever can push a commit (a fork's commit is
 * served under the parent's raw URL), so the registries it names are untrusted: label reads go only to registries on
 * an allow-list the operator controls, every request of one trace shares one deadline and is aborted when it
 * passes, and a redirect may leave the list only for a blob storage host, without credentials.
 *
 * The allow-list by default: the registries the service definition names (its `registries:` and its catalogue's
 * repository patterns), the sync config's sources and target, the registry map, and TRACE_ALLOWED_REGISTRIES.
 */
import { normaliseRegistry } from "../registry/reference";

/**
 * Where registries send blob downloads (a 307 from `/v2/…/blobs/…`): Azure Blob Storage (ACR, MCR), Docker Hub's and
 * Quay's CDNs, S3 and CloudFront (ECR, Quay), Google Cloud Storage (GCR, Artifact Registry). Suffix match on the host.
 */
export const BLOB_HOST_SUFFIXES: readonly string[] = [
  ".blob.core.windows.net",
  ".blob.core.chinacloudapi.cn",
  ".blob.core.usgovcloudapi.net",
  ".blob.storage.azure.net",
  "production.cloudflare.docker.com",
  ".cloudfront.net",
  ".amazonaws.com",
  "cdn.quay.io",
  ".quay.io",
  "storage.googleapis.com",
  ".r2.cloudflarestorage.com",
  ".pkg-containers.githubusercontent.com",
  "pkg-containers.githubusercontent.com",
];

export class TraceRequestRefusedError extends Error {
  constructor(readonly host: string) {
    super(`${host} is not on the trace's registry allow-list`);
    this.name = "TraceRequestRefusedError";
  }
}

/** Token services on another host than their registry: asked for a token on behalf of that registry only. */
const TOKEN_REALMS: Readonly<Record<string, string>> = { "docker.io": "auth.docker.io" };

export class RegistryAllowList {
  private readonly hosts: ReadonlySet<string>;

  constructor(hosts: Iterable<string>) {
    const set = new Set([...hosts].map((h) => normaliseRegistry(h.trim().toLowerCase())).filter(Boolean));
    for (const [registry, realm] of Object.entries(TOKEN_REALMS)) if (set.has(registry)) set.add(realm);
    this.hosts = set;
  }

  allows(registry: string): boolean {
    return this.hosts.has(normaliseRegistry(registry));
  }

  /** A blob host a registry may redirect to: never an IP literal or a loopback name. */
  static isBlobHost(hostname: string): boolean {
    const host = hostname.toLowerCase();
    if (/^[\d.]+$|^\[|^localhost$/.test(host)) return false;
    return BLOB_HOST_SUFFIXES.some((s) => (s.startsWith(".") ? host.endsWith(s) : host === s));
  }

  get size(): number {
    return this.hosts.size;
  }

  list(): string[] {
    return [...this.hosts].sort();
  }
}

function urlOf(input: Parameters<typeof fetch>[0]): URL {
  return new URL(input instanceof Request ? input.url : String(input));
}

function hasCredentials(input: Parameters<typeof fetch>[0], init: Parameters<typeof fetch>[1]): boolean {
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
  return headers.has("authorization") || headers.has("cookie");
}

/**
 * A fetch for one trace's registry client: each request must go to an allowed registry, or to a blob host without
 * credentials (a redirect target); and each is aborted with the trace's signal.
 */
export function guardedFetch(allow: RegistryAllowList, signal: AbortSignal, base: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const url = urlOf(input);
    const allowed =
      allow.allows(url.host) || (RegistryAllowList.isBlobHost(url.hostname) && !hasCredentials(input, init));
    if (!allowed) return Promise.reject(new TraceRequestRefusedError(url.host));
    const signals = init?.signal ? [init.signal, signal] : [signal];
    return base(input, { ...init, signal: AbortSignal.any(signals) });
  };
}
