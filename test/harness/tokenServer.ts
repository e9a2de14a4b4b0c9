/**
 * A Docker token server (the protocol of Docker Hub, ghcr.io and quay.io): GET /token with Basic credentials,
 * RS256 JWTs carrying an x5c chain the registry trusts. Optionally also ACR's `/oauth2/exchange` and
 * `/oauth2/token` endpoints, checking the form fields an ACR would.
 */
import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { opensslCertificate } from "./tls";
import { freePort, type TokenAuthConfig } from "./registry";

export interface TokenRequestLog {
  path: string;
  method: string;
  authorization?: string;
  query: Record<string, string[]>;
  form?: Record<string, string>;
}

export interface TokenServerOptions {
  /** Users allowed to get tokens; anonymous requests get pull-only tokens when `anonymousPull`. */
  users?: Record<string, string>;
  anonymousPull?: boolean;
  tokenSeconds?: number;
  /** ACR emulation: the Entra token the exchange accepts. */
  acr?: { aadToken: string; refreshTokenSeconds?: number };
}

export interface TokenServer {
  auth: TokenAuthConfig;
  port: number;
  requests: TokenRequestLog[];
  /** The next N tokens are issued already expired (their JWT `exp` is in the past) while claiming a long life. */
  issueExpired(count: number): void;
  /** Revokes every ACR refresh token issued so far: /oauth2/token refuses them from now on. */
  revokeRefreshTokens(): void;
  /** Mints a push/pull token directly, for seeding. */
  mint(scopes: string[]): string;
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseScopes(scopes: string[]): Array<{ type: string; name: string; actions: string[] }> {
  const out: Array<{ type: string; name: string; actions: string[] }> = [];
  for (const scope of scopes.flatMap((s) => s.split(" ")).filter(Boolean)) {
    const [type, ...rest] = scope.split(":");
    const actions = rest.pop() ?? "";
    out.push({ type: type ?? "", name: rest.join(":"), actions: actions.split(",").filter(Boolean) });
  }
  return out;
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = mkdtempSync(join(tmpdir(), "ais-token-"));
  // The registry trusts this certificate's key for the JWTs the server signs (`rootcertbundle` reads the file).
  const { keyFile, certFile } = opensslCertificate(dir, "/CN=test-issuer");
  const key = createPrivateKey(readFileSync(keyFile));
  const certDer = new X509Certificate(readFileSync(certFile)).raw.toString("base64");
  const port = await freePort();
  const service = "test-registry";
  const issuer = "test-issuer";
  const requests: TokenRequestLog[] = [];
  let expiredToIssue = 0;
  const refreshTokens = new Set<string>();

  const mintJwt = (sub: string, scopes: string[], lifetimeSeconds: number): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [certDer] };
    const expired = expiredToIssue > 0;
    if (expired) expiredToIssue--;
    const claims = {
      iss: issuer,
      aud: service,
      sub,
      iat: expired ? now - 7200 : now,
      nbf: expired ? now - 7200 : now - 5,
      exp: expired ? now - 3600 : now + lifetimeSeconds,
      jti: randomUUID(),
      access: parseScopes(scopes),
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${sign("RSA-SHA256", Buffer.from(signingInput), key).toString("base64url")}`;
  };

  const tokenSeconds = options.tokenSeconds ?? 300;
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const query: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
    const entry: TokenRequestLog = { path: url.pathname, method: req.method ?? "GET", query };
    if (req.headers.authorization) entry.authorization = req.headers.authorization;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST") entry.form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    requests.push(entry);

    if (url.pathname === "/token" && req.method === "GET") {
      let user = "anonymous";
      const auth = req.headers.authorization;
      if (auth?.startsWith("Basic ")) {
        const [name, pass] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(/:(.*)/s);
        if (!name || options.users?.[name] === undefined || options.users[name] !== pass)
          return send(401, { details: "bad credentials" });
        user = name;
      } else if (!options.anonymousPull) {
        return send(401, { details: "credentials required" });
      }
      let scopes = query.scope ?? [];
      if (user === "anonymous") scopes = scopes.map((s) => s.replace(/:[a-z,*]+$/, ":pull"));
      return send(200, {
        token: mintJwt(user, scopes, tokenSeconds),
        expires_in: tokenSeconds,
        issued_at: new Date().toISOString(),
      });
    }
    if (options.acr && url.pathname === "/oauth2/exchange" && req.method === "POST") {
      const f = entry.form ?? {};
      if (f.grant_type !== "access_token" || f.service !== service || f.access_token !== options.acr.aadToken) {
        return send(401, { errors: [{ code: "UNAUTHORIZED", message: "exchange refused" }] });
      }
      const now = Math.floor(Date.now() / 1000);
      const refresh = `${b64url("{}")}.${b64url(JSON.stringify({ exp: now + (options.acr.refreshTokenSeconds ?? 10800) }))}.${randomUUID()}`;
      refreshTokens.add(refresh);
      return send(200, { refresh_token: refresh });
    }
    if (options.acr && url.pathname === "/oauth2/token" && req.method === "POST") {
      const f = entry.form ?? {};
      if (
        f.grant_type !== "refresh_token" ||
        f.service !== service ||
        !f.refresh_token ||
        !refreshTokens.has(f.refresh_token) ||
        !f.scope
      ) {
        return send(401, { errors: [{ code: "UNAUTHORIZED", message: "token refused" }] });
      }
      // ACR answers with access_token only: the client must read the expiry from the JWT.
      return send(200, { access_token: mintJwt("acr-identity", f.scope.split(" "), tokenSeconds) });
    }
    send(404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const realmPath = options.acr ? "/oauth2/token" : "/token";
  return {
    auth: { realm: `http://127.0.0.1:${port}${realmPath}`, service, issuer, certFile },
    port,
    requests,
    issueExpired(count) {
      expiredToIssue = count;
    },
    mint: (scopes) => mintJwt("seeder", scopes, 600),
    revokeRefreshTokens() {
      refreshTokens.clear();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
