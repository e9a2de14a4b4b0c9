/**
 * Credentials stay with their origin; a streamed upload refused with 401 starts a new upload instead of re-sending a
 * consumed body; a refresh token ACR refuses is dropped; stalls are network errors, not hangs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager, type RegistryCredential } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { CopyError, copyImage } from "../../shared/registry/copy";
import { NetworkError } from "../../shared/registry/retry";
import { Transport, isLoopback, type RequestEvent } from "../../shared/registry/transport";
import { buildImage, fetchManifest, pushImage, randomLayer, type SeedAuth } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import {
  freePort,
  listenOnLoopback,
  registryAvailable,
  startRegistry,
  type RunningRegistry,
} from "../harness/registry";
import { startTokenServer, type TokenServer } from "../harness/tokenServer";

const PASSWORD = "origin-Pa55word";

function clientWith(
  creds: Record<string, RegistryCredential>,
  events: RequestEvent[] = [],
  extra: ConstructorParameters<typeof Transport>[0] = {},
): RegistryClient {
  const auth = new AuthManager({ credentials: async (r) => creds[r], allowPlainHttp: isLoopback });
  return new RegistryClient(
    new Transport({ auth, onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...extra }),
  );
}

/** A loopback server driven by `handle`, recording every request's method, path and Authorization. */
async function stubServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  host: string;
  seen: Array<{ method: string; path: string; authorization?: string }>;
  stop(): Promise<void>;
}> {
  const port = await freePort();
  const seen: Array<{ method: string; path: string; authorization?: string }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({
      method: req.method ?? "",
      path: req.url ?? "",
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    handle(req, res);
  });
  return { ...(await listenOnLoopback(server, port)), seen };
}

/** Another origin, challenging every request with `realm`'s token service: it must never see our credentials. */
function challengingServer(realm: TokenServer): ReturnType<typeof stubServer> {
  return stubServer((req, res) => {
    req.resume();
    res.writeHead(401, { "WWW-Authenticate": `Bearer realm="${realm.auth.realm}",service="elsewhere"` });
    res.end();
  });
}

/** Makes `front` answer upload starts with an absolute Location on `host` (the same path, then `query`). */
function redirectUploadStarts(front: RunningProxy, host: string, query = ""): void {
  front.rewriteHeaders = (req, headers) => {
    if (req.method === "POST" && typeof headers.location === "string") {
      const path = new URL(headers.location, "http://x").pathname;
      return { ...headers, location: `http://${host}${path}${query}` };
    }
    return headers;
  };
}

describe.skipIf(!registryAvailable())("credentials keyed by origin", () => {
  let open: RunningRegistry;
  let tokens: TokenServer;
  let reg: RunningRegistry;
  let evil: TokenServer;
  let other: Awaited<ReturnType<typeof stubServer>>;
  let front: RunningProxy;
  const seed: SeedAuth = (repo) => `Bearer ${tokens.mint([`repository:${repo}:pull,push`])}`;

  beforeAll(async () => {
    open = await startRegistry();
    tokens = await startTokenServer({ users: { bob: PASSWORD }, anonymousPull: true });
    reg = await startRegistry({ token: tokens.auth });
    // Another origin with a token realm of its own: whatever it is, it must never see our credentials.
    evil = await startTokenServer({ anonymousPull: true });
    other = await challengingServer(evil);
    // The registry's front answers upload starts with an absolute Location on the other origin.
    front = await startProxy(reg.host);
    redirectUploadStarts(front, other.host, "?_state=abc");
  });
  afterAll(async () => {
    await Promise.all([front?.stop(), other?.stop(), evil?.stop(), reg?.stop(), tokens?.stop(), open?.stop()]);
  });

  it("answers a 401 from an upload Location on another origin without the registry's Basic credentials", async () => {
    const image = buildImage();
    await pushImage(open.host, "src/origin", image, "v1");
    const client = clientWith({ [front.host]: { kind: "basic", username: "bob", password: PASSWORD } });
    const err = await copyImage(
      client,
      { registry: open.host, repository: "src/origin", tag: "v1" },
      { registry: front.host, repository: "dst/origin" },
      ["v1"],
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect(other.seen.length).toBeGreaterThan(0);
    expect(other.seen.filter((r) => r.authorization?.startsWith("Basic"))).toEqual([]);
    expect(evil.requests.length).toBeGreaterThan(0);
    expect(evil.requests.filter((r) => r.authorization)).toEqual([]);
    // Only the challenge's own scopes are asked of another origin: none here, so none of our repository names.
    expect(evil.requests.flatMap((r) => r.query.scope ?? [])).toEqual([]);
    expect((await fetchManifest(reg.host, "dst/origin", "v1", seed)).status).toBe(404);
  }, 20_000);
});

describe.skipIf(!registryAvailable())("ACR refresh tokens", () => {
  let acr: TokenServer;
  let reg: RunningRegistry;
  let front: RunningProxy;
  let other: Awaited<ReturnType<typeof stubServer>>;
  let evil: TokenServer;
  let open: RunningRegistry;
  const aadToken = "aad-token-origin-test";
  const entra: RegistryCredential = {
    kind: "entra",
    credential: { getToken: async () => ({ token: aadToken, expiresOnTimestamp: Date.now() + 3600_000 }) },
  };
  const seed: SeedAuth = (repo) => `Bearer ${acr.mint([`repository:${repo}:pull,push`])}`;

  beforeAll(async () => {
    open = await startRegistry();
    acr = await startTokenServer({ acr: { aadToken } });
    reg = await startRegistry({ token: acr.auth });
    evil = await startTokenServer({ anonymousPull: true });
    other = await challengingServer(evil);
    front = await startProxy(reg.host);
  });
  afterAll(async () => {
    await Promise.all([front?.stop(), other?.stop(), evil?.stop(), reg?.stop(), acr?.stop(), open?.stop()]);
  });

  it("drops a refresh token ACR refuses and exchanges again, instead of failing until it expires", async () => {
    for (const repo of ["team/a", "team/b"]) await pushImage(reg.host, repo, buildImage(), "v1", seed);
    const client = clientWith({ [reg.host]: entra });
    expect(await client.manifestHead(reg.host, "team/a", "v1")).not.toBeNull();
    const exchanges = () => acr.requests.filter((r) => r.path === "/oauth2/exchange").length;
    expect(exchanges()).toBe(1);
    acr.revokeRefreshTokens();
    // A new scope needs a new access token; the cached refresh token is refused, dropped, and exchanged afresh.
    expect(await client.manifestHead(reg.host, "team/b", "v1")).not.toBeNull();
    expect(exchanges()).toBe(2);
  });

  it("never posts the ACR refresh token or the Entra token to another origin's realm", async () => {
    redirectUploadStarts(front, other.host);
    const client = clientWith({ [front.host]: entra });
    await pushImage(open.host, "team/src", buildImage(), "v1");
    const err = await copyImage(
      client,
      { registry: open.host, repository: "team/src", tag: "v1" },
      { registry: front.host, repository: "team/dst" },
      ["v1"],
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect(evil.requests.length).toBeGreaterThan(0);
    for (const r of evil.requests) {
      expect(r.authorization).toBeUndefined();
      expect(r.form?.refresh_token).toBeUndefined();
      expect(r.form?.access_token).toBeUndefined();
    }
  }, 20_000);
});

describe.skipIf(!registryAvailable())("a streamed upload refused with 401", () => {
  let open: RunningRegistry;
  let tokens: TokenServer;
  let reg: RunningRegistry;
  let front: RunningProxy;
  const seed: SeedAuth = (repo) => `Bearer ${tokens.mint([`repository:${repo}:pull,push`])}`;

  beforeAll(async () => {
    open = await startRegistry();
    tokens = await startTokenServer({ users: { bob: PASSWORD } });
    reg = await startRegistry({ token: tokens.auth });
    front = await startProxy(reg.host);
  });
  afterAll(async () => Promise.all([front?.stop(), reg?.stop(), tokens?.stop(), open?.stop()]));

  it("starts a new upload session after a token revoked mid-upload, never re-sending the consumed body", async () => {
    const image = buildImage({ layers: [randomLayer(300_000)] });
    await pushImage(open.host, "src/revoked", image, "v1");
    let refused = 0;
    // The registry refuses the first blob PUT as it would a revoked token: the real challenge, before the body.
    front.rules = [
      (req) => {
        if (req.method !== "PUT" || !req.path.includes("/blobs/uploads/") || refused > 0) return undefined;
        refused++;
        return {
          status: 401,
          headers: {
            "www-authenticate": `Bearer realm="${tokens.auth.realm}",service="${tokens.auth.service}",scope="repository:dst/revoked:pull,push"`,
          },
          body: '{"errors":[{"code":"UNAUTHORIZED"}]}',
        };
      },
    ];
    const events: RequestEvent[] = [];
    const client = clientWith({ [front.host]: { kind: "basic", username: "bob", password: PASSWORD } }, events);
    const result = await copyImage(
      client,
      { registry: open.host, repository: "src/revoked", tag: "v1" },
      { registry: front.host, repository: "dst/revoked" },
      ["v1"],
    );
    expect(result.digest).toBe(image.digest);
    expect(refused).toBe(1);
    // Two blobs, plus one new upload session for the refused one.
    expect(events.filter((e) => e.kind === "blob.upload" && e.status === 202)).toHaveLength(3);
    // The two blobs go up side by side, so the refused PUT's answer may come before or after the other blob's.
    expect(
      events
        .filter((e) => e.kind === "blob.put")
        .map((e) => e.status)
        .sort(),
    ).toEqual([201, 201, 401]);
    expect((await fetchManifest(reg.host, "dst/revoked", "v1", seed)).digest).toBe(image.digest);
  }, 20_000);

  it("uploads after a refused mount with the mount's token, without meeting a 401 on the PUT", async () => {
    front.rules = [];
    const image = buildImage({ layers: [randomLayer(200_000)] });
    await pushImage(open.host, "src/mount", image, "v1");
    const events: RequestEvent[] = [];
    const client = clientWith({ [front.host]: { kind: "basic", username: "bob", password: PASSWORD } }, events);
    const result = await copyImage(
      client,
      { registry: open.host, repository: "src/mount", tag: "v1" },
      { registry: front.host, repository: "dst/mount" },
      ["v1"],
      { mountFrom: ["elsewhere/nothing"] },
    );
    expect(result.blobs.mounted).toBe(0);
    expect(result.blobs.copied).toBe(2);
    expect(events.filter((e) => e.kind === "blob.put" && e.status === 401)).toEqual([]);
    expect((await fetchManifest(reg.host, "dst/mount", "v1", seed)).digest).toBe(image.digest);
  }, 20_000);
});

describe("timeouts are retryable network errors", () => {
  let stalled: Awaited<ReturnType<typeof stubServer>>;
  let halfBody: Awaited<ReturnType<typeof stubServer>>;
  beforeAll(async () => {
    // Accepts, reads nothing, never answers.
    stalled = await stubServer(() => undefined);
    // Answers a blob GET with its headers and half the body, then goes quiet.
    halfBody = await stubServer((_req, res) => {
      res.writeHead(200, { "Content-Length": "1000", "Content-Type": "application/octet-stream" });
      res.write(Buffer.alloc(500));
    });
  });
  afterAll(async () => Promise.all([stalled?.stop(), halfBody?.stop()]));

  it("gives up on a request with no answer after the response timeout, retrying it like a reset", async () => {
    const events: RequestEvent[] = [];
    const client = clientWith({}, events, { timeouts: { responseMs: 150, idleMs: 150 } });
    const err = await client.manifestHead(stalled.host, "a/b", "v1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(String(err)).toMatch(/no response within 150 ms/);
    expect(events.map((e) => e.status)).toEqual([0, 0, 0, 0]);
    expect(events.filter((e) => e.retry)).toHaveLength(3);
  }, 10_000);

  it("fails a body that stops arriving after the idle timeout", async () => {
    const client = clientWith({}, [], { timeouts: { responseMs: 1000, idleMs: 150 } });
    const digest = `sha256:${"a".repeat(64)}`;
    const stream = await client.blobGet(halfBody.host, "a/b", digest, 1000);
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(String(err)).toMatch(/no bytes for 150 ms/);
  }, 10_000);

  it("fails a streamed upload that makes no progress after the idle timeout", async () => {
    const transport = new Transport({ timeouts: { responseMs: 1000, idleMs: 150 } });
    const body = Readable.from([Buffer.alloc(64 * 1024 * 1024)]);
    const err = await transport
      .send({
        registry: stalled.host,
        method: "PUT",
        path: "/v2/a/b/blobs/uploads/x?digest=sha256:0",
        kind: "blob.put",
        scopes: ["repository:a/b:pull,push"],
        headers: { "Content-Length": String(64 * 1024 * 1024) },
        body: () => body,
        retry: false,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(String(err)).toMatch(/no bytes for 150 ms/);
  }, 10_000);
});

describe("plain http on the registry's own host name", () => {
  it("refuses an http: Location from an https registry and sends no credentials over it", async () => {
    const seen: Array<{ url: string; authorization?: string }> = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      const headers = new Headers(init?.headers);
      seen.push({ url, ...(headers.get("authorization") ? { authorization: headers.get("authorization")! } : {}) });
      if (!headers.get("authorization")) {
        return new Response(null, { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } });
      }
      return new Response(null, {
        status: 202,
        headers: { location: "http://registry.example/v2/a/b/blobs/uploads/u1?_state=s" },
      });
    };
    const auth = new AuthManager({
      credentials: async () => ({ kind: "basic", username: "u", password: "secret-pw" }),
    });
    const client = new RegistryClient(new Transport({ auth, fetch: fakeFetch, plainHttp: () => false }));
    const err = await client
      .blobPut("registry.example", "a/b", `sha256:${"b".repeat(64)}`, 3, async () =>
        Readable.from([Buffer.from("abc")]),
      )
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/refusing to send PUT blob.put to insecure http:\/\/registry.example/);
    expect(seen.every((r) => r.url.startsWith("https://"))).toBe(true);
  });
});
