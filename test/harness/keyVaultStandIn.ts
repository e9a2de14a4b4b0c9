/**
 * A local HTTPS stand-in for Key Vault's secret GET, behaving like the service where our adapter can tell: the
 * challenge round (401 without a token), `api-version` required, 404 SecretNotFound, 403 Forbidden for a token
 * without access, and a disabled secret. It records every request so tests can check what the SDK sent.
 */
import { createServer, type Server } from "node:https";
import { freePort } from "./registry";
import { selfSignedCert } from "./tls";

export interface VaultSecret {
  value: string;
  enabled?: boolean;
}

export interface KeyVaultStandIn {
  url: string;
  ca: string;
  secrets: Map<string, VaultSecret>;
  /** Tokens allowed to read; any other bearer token gets 403. */
  allowedTokens: Set<string>;
  requests: Array<{ method: string; path: string; authorization?: string }>;
  stop(): Promise<void>;
}

export async function startKeyVaultStandIn(): Promise<KeyVaultStandIn> {
  const { cert, key } = selfSignedCert();
  const port = await freePort();
  const stand: KeyVaultStandIn = {
    url: `https://127.0.0.1:${port}`,
    ca: cert,
    secrets: new Map(),
    allowedTokens: new Set(),
    requests: [],
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const json = (res: import("node:http").ServerResponse, status: number, body: unknown, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer({ cert, key }, (req, res) => {
    const url = new URL(req.url ?? "/", stand.url);
    const authorization = req.headers.authorization;
    stand.requests.push({ method: req.method ?? "", path: url.pathname, ...(authorization ? { authorization } : {}) });
    req.resume();
    if (!authorization) {
      return json(
        res,
        401,
        { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
        {
          "www-authenticate":
            'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="https://vault.azure.net"',
        },
      );
    }
    const token = authorization.replace(/^Bearer /, "");
    if (!stand.allowedTokens.has(token)) {
      return json(res, 403, {
        error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource." },
      });
    }
    if (!url.searchParams.get("api-version")) {
      return json(res, 400, { error: { code: "BadParameter", message: "api-version is required" } });
    }
    const m = /^\/secrets\/([0-9A-Za-z-]+)\/?$/.exec(url.pathname);
    if (req.method !== "GET" || !m) return json(res, 404, { error: { code: "NotFound", message: "route" } });
    const name = m[1]!;
    const secret = stand.secrets.get(name);
    if (!secret) {
      return json(res, 404, {
        error: { code: "SecretNotFound", message: `A secret with (name/id) ${name} was not found in this key vault.` },
      });
    }
    if (secret.enabled === false) {
      return json(res, 403, {
        error: {
          code: "Forbidden",
          message: "Operation get is not allowed on a disabled secret.",
          innererror: { code: "SecretDisabled" },
        },
      });
    }
    json(res, 200, {
      value: secret.value,
      id: `${stand.url}/secrets/${name}/0123456789abcdef0123456789abcdef`,
      attributes: { enabled: true, created: 1700000000, updated: 1700000000, recoveryLevel: "Recoverable+Purgeable" },
      contentType: "application/json",
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return stand;
}
