/**
 * Registry authentication: what credential a registry has, how its challenge is answered, and a cache of tokens per
 * host and scope until they expire. Token endpoints are reached through the transport's raw sender so that every
 * request shares one retry policy and one request counter.
 */
import type { Challenge } from "./challenge";

/** Structurally the same as @azure/core-auth's TokenCredential, so @azure/identity credentials fit without an import. */
export interface AccessTokenSource {
  getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export type RegistryCredential =
  | { kind: "basic"; username: string; password: string }
  /** Docker config `identitytoken`: an OAuth2 refresh token (ACR's `az acr login` writes one). */
  | { kind: "refreshToken"; refreshToken: string }
  /** Entra ID (managed identity) exchanged for an ACR refresh token. */
  | { kind: "entra"; credential: AccessTokenSource; tenantId?: string };

/** Returns the credential for a registry name (`docker.io`, `myacr.azurecr.io`, `127.0.0.1:5000`), if any. */
export type CredentialResolver = (registry: string) => Promise<RegistryCredential | undefined>;

export const ACR_AAD_SCOPE = "https://containerregistry.azure.net/.default";
const REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/** How a token endpoint is called: through the transport, without registry auth, counted as `token`. */
export type RawSender = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<Response>;

export interface AuthOptions {
  credentials?: CredentialResolver;
  now?: () => number;
  /** Whether plain http is acceptable for a token realm on this host (loopback registries in tests and demos). */
  allowPlainHttp?: (host: string) => boolean;
  /**
   * Told when a registry refuses the credentials the resolver gave, so a cached pull secret can be dropped and read
   * again (it may have been rotated).
   */
  onRejected?: (registry: string) => void;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

// Renew a little before the server says, so a request never leaves with a token that expires on the way.
const EXPIRY_MARGIN_MS = 30_000;
// Docker's token spec: a missing expires_in means 60 seconds.
const DEFAULT_TOKEN_SECONDS = 60;
// ACR refresh tokens live 3 hours; renew at 150 minutes as Kargo does.
const ACR_REFRESH_SECONDS = 150 * 60;

export function scopeFor(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}

function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A token answer is a few KiB; anything far bigger is broken or hostile and is not read into memory. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

async function readJson(res: Response, what: string): Promise<Record<string, unknown>> {
  if (!res.ok) {
    await res.body?.cancel();
    throw new AuthError(`${what} answered ${res.status}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > MAX_TOKEN_RESPONSE_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new AuthError(`${what} answered more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // fall through: the body is not JSON
  }
  // Never echo the body: a broken token server may put a secret in it.
  throw new AuthError(`${what} did not answer with a JSON object`);
}

/**
 * Tokens, Basic hosts and ACR refresh tokens are all keyed by origin (scheme, host, port). Credentials from the
 * resolver are used only for the registry's own origin, which the transport names by passing `registry`; a 401 from
 * any other origin (a redirect target, an absolute upload Location) is answered anonymously, with that origin's own
 * challenge and realm, and its token is cached under that origin.
 */
export class AuthManager {
  private readonly tokens = new Map<string, CachedToken & { scopes: readonly string[] }>();
  private readonly refreshTokens = new Map<string, CachedToken>();
  private readonly basicOrigins = new Set<string>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly now: () => number;

  constructor(private readonly options: AuthOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The Authorization header to send before any challenge, from what earlier challenges taught us. A token for a
   * wider scope set of the same origin serves too: a mount's token (push here, pull there) covers the upload that
   * follows a refused mount, so a streamed PUT is not sent unauthenticated and refused after its body is gone.
   */
  async cachedHeader(
    origin: string,
    registry: string | undefined,
    scopes: readonly string[],
  ): Promise<string | undefined> {
    if (this.basicOrigins.has(origin)) return registry ? this.basicHeader(registry) : undefined;
    const now = this.now();
    const cached = this.tokens.get(tokenKey(origin, scopes));
    if (cached && cached.expiresAt > now) return cached.header;
    if (scopes.length === 0) return undefined;
    for (const [key, token] of this.tokens) {
      if (key.startsWith(`${origin}|`) && token.expiresAt > now && scopes.every((s) => token.scopes.includes(s))) {
        return token.header;
      }
    }
    return undefined;
  }

  /**
   * Answers a 401 from `origin`. `registry` is set only when `origin` is the registry's own, and names whose
   * credentials may be used; `rejected` is the header the origin just refused, dropped from the cache.
   */
  async answer(
    origin: string,
    registry: string | undefined,
    scopes: readonly string[],
    challenges: Challenge[],
    send: RawSender,
    rejected?: string,
  ): Promise<string> {
    const key = tokenKey(origin, scopes);
    const where = registry ?? new URL(origin).host;
    if (rejected !== undefined) {
      for (const [k, token] of this.tokens)
        if (k.startsWith(`${origin}|`) && token.header === rejected) this.tokens.delete(k);
      // A token refused although fresh may come from a refresh token whose grant was revoked: exchange again.
      if (rejected.startsWith("Bearer ")) this.refreshTokens.delete(origin);
    } else {
      // Concurrent first requests all meet a 401; the ones that answer after a token arrived reuse it.
      const cached = this.tokens.get(key);
      if (cached && cached.expiresAt > this.now()) return cached.header;
    }
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer) {
      // Concurrent requests for the same scope share one token request.
      const pending = this.inflight.get(key);
      if (pending) return pending;
      const promise = this.fetchToken(origin, registry, scopes, bearer, send).finally(() => this.inflight.delete(key));
      this.inflight.set(key, promise);
      return promise;
    }
    if (basic) {
      if (!registry) {
        throw new AuthError(`${where} asks for Basic credentials; it is not the registry, so none are sent there`);
      }
      const header = await this.basicHeader(registry);
      if (!header) throw new AuthError(`${registry} requires credentials (Basic) and none are configured`);
      if (header === rejected) {
        this.options.onRejected?.(registry);
        throw new AuthError(`${registry} rejected the configured credentials`);
      }
      this.basicOrigins.add(origin);
      return header;
    }
    throw new AuthError(`${where} answered 401 without a Basic or Bearer challenge`);
  }

  private async basicHeader(registry: string): Promise<string | undefined> {
    const cred = await this.options.credentials?.(registry);
    if (cred?.kind === "basic") return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
    if (cred?.kind === "refreshToken") {
      return `Basic ${Buffer.from(`${REFRESH_TOKEN_USER}:${cred.refreshToken}`).toString("base64")}`;
    }
    return undefined;
  }

  private realmOf(challenge: Challenge, registry: string): URL {
    const realm = challenge.params.realm;
    if (!realm) throw new AuthError(`${registry}: Bearer challenge has no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AuthError(`${registry}: Bearer realm is not a URL`);
    }
    const plainOk = this.options.allowPlainHttp?.(url.host) ?? false;
    if (url.protocol !== "https:" && !(url.protocol === "http:" && plainOk)) {
      throw new AuthError(`${registry}: refusing to send credentials to a non-https realm (${url.origin})`);
    }
    return url;
  }

  private async fetchToken(
    origin: string,
    registry: string | undefined,
    scopes: readonly string[],
    challenge: Challenge,
    send: RawSender,
  ): Promise<string> {
    const where = registry ?? new URL(origin).host;
    const realm = this.realmOf(challenge, where);
    const service = challenge.params.service ?? "";
    const challengeScopes = challenge.params.scope ? challenge.params.scope.split(" ").filter(Boolean) : [];
    // Our own scopes name exactly what the request needs (a mount needs two); the challenge's may add more. Another
    // origin names its repositories its own way (a redirect target), so only its challenge's scopes are asked for.
    const allScopes = registry ? [...new Set([...scopes, ...challengeScopes])] : challengeScopes;
    const cred = registry ? await this.options.credentials?.(registry) : undefined;
    let token: string;
    let expiresAt: number;
    if (cred?.kind === "entra" || cred?.kind === "refreshToken") {
      const grant = async (refreshToken: string): Promise<Response> => {
        const body = new URLSearchParams({ grant_type: "refresh_token", service, refresh_token: refreshToken });
        body.set("scope", allScopes.join(" "));
        if (cred.kind === "refreshToken") body.set("client_id", "acr-image-sync");
        return send(realm, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: body.toString(),
        });
      };
      let res: Response;
      if (cred.kind === "entra") {
        res = await grant(await this.acrRefreshToken(origin, realm, service, cred, send));
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          // ACR refused the cached refresh token (revoked, or its role removed): drop it and exchange once more,
          // rather than fail every request until it would have expired.
          await res.body?.cancel();
          this.refreshTokens.delete(origin);
          res = await grant(await this.acrRefreshToken(origin, realm, service, cred, send));
        }
      } else {
        res = await grant(cred.refreshToken);
      }
      if ((res.status === 400 || res.status === 401 || res.status === 403) && registry)
        this.options.onRejected?.(registry);
      ({ token, expiresAt } = this.tokenFrom(await readJson(res, `token endpoint ${realm.origin}`)));
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set("service", service);
      for (const s of allScopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      if (cred?.kind === "basic") {
        headers.Authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
      }
      const res = await send(url, { method: "GET", headers });
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        if (cred && registry) this.options.onRejected?.(registry);
        throw new AuthError(
          `${where}: token endpoint refused ${cred ? "the configured credentials" : "anonymous access"} (${res.status})`,
        );
      }
      ({ token, expiresAt } = this.tokenFrom(await readJson(res, `token endpoint ${realm.origin}`)));
    }
    const header = `Bearer ${token}`;
    this.tokens.set(tokenKey(origin, scopes), { header, expiresAt, scopes: [...scopes] });
    return header;
  }

  private tokenFrom(body: Record<string, unknown>): { token: string; expiresAt: number } {
    const token = typeof body.token === "string" ? body.token : body.access_token;
    if (typeof token !== "string" || !token) throw new AuthError("token endpoint answered without a token");
    // It goes into an Authorization header: anything beyond RFC 6750's token characters (a line break, say) would
    // make the header invalid, and the HTTP stack's error would then quote the token. Never echo it here either.
    if (token.length > 64 * 1024 || !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
      throw new AuthError("token endpoint answered a token with characters not allowed in an Authorization header");
    }
    const issued = typeof body.issued_at === "string" ? Date.parse(body.issued_at) : NaN;
    const from = Number.isFinite(issued) ? Math.min(issued, this.now()) : this.now();
    // ACR's token endpoint gives no expires_in; its tokens are JWTs that carry their own expiry.
    const jwtExp = jwtExpiry(token);
    const seconds =
      typeof body.expires_in === "number" && body.expires_in > 0
        ? body.expires_in
        : jwtExp !== undefined
          ? Math.max(0, (jwtExp - from) / 1000)
          : DEFAULT_TOKEN_SECONDS;
    return { token, expiresAt: from + seconds * 1000 - Math.min(EXPIRY_MARGIN_MS, (seconds * 1000) / 2) };
  }

  /** ACR's `/oauth2/exchange`: an Entra ID token for an ACR refresh token, cached below its lifetime. */
  private async acrRefreshToken(
    origin: string,
    realm: URL,
    service: string,
    cred: { credential: AccessTokenSource; tenantId?: string },
    send: RawSender,
  ): Promise<string> {
    const cached = this.refreshTokens.get(origin);
    if (cached && cached.expiresAt > this.now()) return cached.header;
    // The Entra token is good for every ACR; only the registry itself may see it.
    const registryHost = new URL(origin).hostname;
    if (realm.hostname !== registryHost) {
      throw new AuthError(
        `refusing to send an Entra ID token to ${realm.hostname}, which is not the registry ${registryHost}`,
      );
    }
    const aad = await cred.credential.getToken(ACR_AAD_SCOPE);
    if (!aad) throw new AuthError(`no Entra ID token for ${ACR_AAD_SCOPE}`);
    const body = new URLSearchParams({ grant_type: "access_token", service, access_token: aad.token });
    if (cred.tenantId) body.set("tenant", cred.tenantId);
    const res = await send(new URL("/oauth2/exchange", realm), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
    const json = await readJson(res, `ACR token exchange at ${realm.origin}`);
    const refresh = json.refresh_token;
    if (typeof refresh !== "string" || !refresh)
      throw new AuthError("ACR token exchange answered without a refresh_token");
    const lifetime = Math.min(jwtExpiry(refresh) ?? Infinity, this.now() + ACR_REFRESH_SECONDS * 1000);
    this.refreshTokens.set(origin, { header: refresh, expiresAt: lifetime - EXPIRY_MARGIN_MS });
    return refresh;
  }
}

function tokenKey(origin: string, scopes: readonly string[]): string {
  return `${origin}|${[...scopes].sort().join(" ")}`;
}
