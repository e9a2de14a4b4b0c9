/**
 * A registry behaviour lab: proxies in front of real `docker-registry` instances, each modelling what a public
 * registry is documented to do (docs/registry-client.md, "Registry behaviour lab", cites the source of each). The
 * content lives in two real registries: `open` (anonymous, like MCR) and `token` (Docker token auth with anonymous
 * pull, like Docker Hub, ghcr.io, quay.io and Artifact Registry). Every mode is reached at its own loopback origin.
 */
import { startProxy, type RunningProxy, type SeenRequest } from "./proxy";
import { startRegistry, type RunningRegistry } from "./registry";
import { startTokenServer, type TokenServer } from "./tokenServer";
import { pushBlob, pushManifest, type SeedAuth } from "./images";
import { selfSignedCert } from "./tls";

export const LAB_MODES = [
  "k8s",
  "dockerhub",
  "ghcr",
  "quay",
  "mcr",
  "artifactRegistry",
  "pullThroughNoHead",
  "acr",
  "tlsProxy",
] as const;
export type LabMode = (typeof LAB_MODES)[number];

/** Where registry.k8s.io's redirect target keeps images: Artifact Registry's project/repository prefix. */
export const K8S_AR_PREFIX = "k8s-artifacts-prod/images";
/** The presigned query Artifact Registry's storage redirect carries; percent-escapes and `+` must survive as is. */
export const PRESIGNED_QUERY =
  "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=ab%2Fcd%2Bef+gh~ij&X-Goog-Expires=300";

/** The one user the token realm knows: a pusher through the TLS-terminating proxy. */
export const LAB_TLS_USER = { username: "tls-user", password: "tls-secret-pw" };

/** The Entra ID token the lab's ACR accepts at /oauth2/exchange. */
export const LAB_AAD_TOKEN = "lab-entra-token";

export interface Lab {
  open: RunningRegistry;
  token: RunningRegistry;
  tokenServer: TokenServer;
  /** ACR: /oauth2/exchange and /oauth2/token in front of a token-auth registry. */
  acr: RunningRegistry;
  acrTokenServer: TokenServer;
  /** The origin that answers as each mode. */
  modes: Record<LabMode, RunningProxy>;
  /** The certificate `tlsProxy` serves (a private CA of one): clients of the lab trust it. */
  ca: string;
  /** Second origins: a CDN (MCR), a storage bucket (Artifact Registry). */
  cdn: RunningProxy;
  storage: RunningProxy;
  /** Every request that reached a second origin or the token backend with an Authorization header, by origin. */
  credentialsSeenAt(host: string): SeenRequest[];
  /** Pushes one manifest's content into the backend behind `mode` under `repository`. */
  seed(
    mode: LabMode,
    repository: string,
    blobs: Buffer[],
    reference: string,
    manifest: Buffer,
    mediaType: string,
  ): Promise<void>;
  stop(): Promise<void>;
}

/** Foreign layer URLs the lab's registries accept (Windows base layers pointed at Microsoft's servers). */
export const FOREIGN_URLS = "^https://go\\.microsoft\\.com/";

const BLOB_OR_MANIFEST = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)(\?.*)?$/;

/** The backend that holds a mode's content, and the repository name there. */
export function backendOf(
  mode: LabMode,
  repository: string,
): { backend: "open" | "token" | "acr"; repository: string } {
  if (mode === "mcr" || mode === "pullThroughNoHead") return { backend: "open", repository };
  if (mode === "acr") return { backend: "acr", repository };
  if (mode === "k8s") return { backend: "token", repository: `${K8S_AR_PREFIX}/${repository}` };
  // tlsProxy fronts the token registry: a push there is challenged, so credentials are in play.
  return { backend: "token", repository };
}

export async function startLab(): Promise<Lab> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const tokenServer = await startTokenServer({
      anonymousPull: true,
      users: { [LAB_TLS_USER.username]: LAB_TLS_USER.password },
    });
    stops.push(() => tokenServer.stop());
    const token = await startRegistry({ token: tokenServer.auth, foreignUrlsAllow: FOREIGN_URLS });
    stops.push(() => token.stop());
    const open = await startRegistry({ foreignUrlsAllow: FOREIGN_URLS });
    stops.push(() => open.stop());
    const acrTokenServer = await startTokenServer({ acr: { aadToken: LAB_AAD_TOKEN } });
    stops.push(() => acrTokenServer.stop());
    const acr = await startRegistry({ token: acrTokenServer.auth, foreignUrlsAllow: FOREIGN_URLS });
    stops.push(() => acr.stop());

    // A CDN and a storage bucket: they serve by signed URL and refuse a request that carries credentials, as Azure
    // Blob Storage and Cloud Storage do with an Authorization header they did not issue.
    const refuseCredentials = (req: SeenRequest) =>
      req.headers.authorization ? { status: 400, body: "unexpected Authorization" } : undefined;
    const cdn = await startProxy(open.host, [refuseCredentials]);
    stops.push(() => cdn.stop());
    const storage = await startProxy(token.host, [
      refuseCredentials,
      (req) => (req.path.endsWith(`?${PRESIGNED_QUERY}`) ? undefined : { status: 403, body: "SignatureDoesNotMatch" }),
    ]);
    // The bucket is public by signature: it reads from the token registry with a pull token of its own.
    storage.rewriteRequestHeaders = (req, headers) => {
      const m = BLOB_OR_MANIFEST.exec(req.path);
      const scope = m ? [`repository:${m[1]}:pull`] : [];
      return { ...headers, authorization: `Bearer ${tokenServer.mint(scope)}` };
    };
    stops.push(() => storage.stop());

    // registry.k8s.io: every /v2/ content request is a 307 to the regional Artifact Registry host, under another
    // repository path; that host challenges with its own realm.
    let regionalHost = token.host;
    const k8s = await startProxy(open.host, [
      (req) => {
        const m = BLOB_OR_MANIFEST.exec(req.path);
        if (!m) return undefined;
        return {
          status: 307,
          headers: { location: `http://${regionalHost}/v2/${K8S_AR_PREFIX}/${m[1]}/${m[2]}/${m[3]}${m[4] ?? ""}` },
        };
      },
    ]);
    stops.push(() => k8s.stop());

    // Docker Hub: token realm on another host; RateLimit-* on manifest GET, never on HEAD.
    const dockerhub = await startProxy(token.host);
    dockerhub.rewriteHeaders = (req, headers) =>
      req.method === "GET" && /\/manifests\//.test(req.path)
        ? { ...headers, "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "99;w=21600" }
        : headers;
    stops.push(() => dockerhub.stop());

    // ghcr.io: anonymous pulls need a bearer token; no Referrers API (404).
    const ghcr = await startProxy(token.host, [
      (req) => (/\/referrers\//.test(req.path) ? { status: 404, body: "" } : undefined),
    ]);
    stops.push(() => ghcr.stop());

    // quay.io: Docker token auth, and a 401 on every anonymous /v2/ request until a token is shown.
    const quay = await startProxy(token.host);
    stops.push(() => quay.stop());

    // MCR: anonymous; blob GETs are a 307 to a CDN host.
    const mcr = await startProxy(open.host, [
      (req) => {
        const m = BLOB_OR_MANIFEST.exec(req.path);
        if (!m || m[2] !== "blobs" || req.method !== "GET") return undefined;
        return { status: 307, headers: { location: `http://${cdn.host}${req.path}` } };
      },
    ]);
    stops.push(() => mcr.stop());

    // Artifact Registry: blob GETs are a 302 to Cloud Storage with a presigned query.
    const artifactRegistry = await startProxy(token.host, [
      (req) => {
        const m = BLOB_OR_MANIFEST.exec(req.path);
        if (!m || m[2] !== "blobs" || req.method !== "GET" || !req.headers.authorization) return undefined;
        return {
          status: 302,
          headers: { location: `http://${storage.host}/v2/${m[1]}/blobs/${m[3]}?${PRESIGNED_QUERY}` },
        };
      },
    ]);
    stops.push(() => artifactRegistry.stop());
    // registry.k8s.io's redirect target is a regional Artifact Registry host, which redirects blobs on to storage.
    regionalHost = artifactRegistry.host;

    // A pull-through cache that refuses HEAD (405), as some proxies and caches do.
    const pullThroughNoHead = await startProxy(open.host, [
      (req) => (req.method === "HEAD" ? { status: 405, body: "" } : undefined),
    ]);
    stops.push(() => pullThroughNoHead.stop());

    // ACR: Entra ID token → /oauth2/exchange → refresh token → /oauth2/token per scope; access tokens carry their
    // expiry in the JWT only. The realm is on the registry's own host, as on *.azurecr.io.
    const acrFront = await startProxy(acr.host);
    stops.push(() => acrFront.stop());

    // A TLS-terminating proxy in front of distribution, which builds absolute upload Locations from the request it
    // sees: plain `http:` on the proxy's own host and port.
    const tls = selfSignedCert();
    const tlsProxy = await startProxy(token.host, [], { tls });
    // The lab's registries answer with relative URLs (`relativeurls: true`); one without that setting builds them
    // from the scheme it was reached with, which behind the terminator is http.
    tlsProxy.rewriteHeaders = (_req, headers) =>
      typeof headers.location === "string" && headers.location.startsWith("/")
        ? { ...headers, location: `http://${tlsProxy.host}${headers.location}` }
        : headers;
    stops.push(() => tlsProxy.stop());

    const modes: Record<LabMode, RunningProxy> = {
      k8s,
      dockerhub,
      ghcr,
      quay,
      mcr,
      artifactRegistry,
      pullThroughNoHead,
      acr: acrFront,
      tlsProxy,
    };
    const seedAuth: SeedAuth = (repo) => `Bearer ${tokenServer.mint([`repository:${repo}:pull,push`])}`;
    const acrSeedAuth: SeedAuth = (repo) => `Bearer ${acrTokenServer.mint([`repository:${repo}:pull,push`])}`;
    return {
      open,
      token,
      tokenServer,
      acr,
      acrTokenServer,
      modes,
      ca: tls.cert,
      cdn,
      storage,
      credentialsSeenAt(host) {
        const proxies = [cdn, storage, ...Object.values(modes)];
        return proxies.find((p) => p.host === host)?.seen.filter((r) => r.headers.authorization) ?? [];
      },
      async seed(mode, repository, blobs, reference, manifest, mediaType) {
        const where = backendOf(mode, repository);
        const host = { open: open.host, token: token.host, acr: acr.host }[where.backend];
        const auth = { open: undefined, token: seedAuth, acr: acrSeedAuth }[where.backend];
        for (const blob of blobs) await pushBlob(host, where.repository, blob, auth);
        await pushManifest(host, where.repository, reference, manifest, mediaType, auth);
      },
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}
