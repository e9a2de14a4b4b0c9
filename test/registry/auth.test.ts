import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegistryCredential } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage, CopyError } from "../../shared/registry/copy";
import { AuthManager } from "../../shared/registry/auth";
import { Transport, isLoopback, type RequestEvent } from "../../shared/registry/transport";
import { buildImage, fetchManifest, pushImage, randomLayer, type SeedAuth } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTokenServer, type TokenServer } from "../harness/tokenServer";

const PASSWORD = "s3cret-Pa55word";

function clientWith(creds: Record<string, RegistryCredential>, events: RequestEvent[] = []): RegistryClient {
  const auth = new AuthManager({ credentials: async (r) => creds[r], allowPlainHttp: isLoopback });
  return new RegistryClient(
    new Transport({ auth, onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxDelayMs: 5 } }),
  );
}

let open: RunningRegistry;
beforeAll(async () => {
  open = await startRegistry();
});
afterAll(async () => open?.stop());

describe("Basic auth (htpasswd)", () => {
  let reg: RunningRegistry;
  const basic: SeedAuth = () => `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}`;
  beforeAll(async () => {
    reg = await startRegistry({ htpasswd: { alice: PASSWORD } });
  });
  afterAll(async () => reg?.stop());

  it("pushes with the configured credentials, learning Basic from the first challenge", async () => {
    const image = buildImage();
    await pushImage(open.host, "src/basic", image, "v1");
    const events: RequestEvent[] = [];
    const client = clientWith({ [reg.host]: { kind: "basic", username: "alice", password: PASSWORD } }, events);
    const result = await copyImage(
      client,
      { registry: open.host, repository: "src/basic", tag: "v1" },
      { registry: reg.host, repository: "dst/basic" },
      ["v1"],
    );
    expect(result.digest).toBe(image.digest);
    expect((await fetchManifest(reg.host, "dst/basic", "v1", basic)).digest).toBe(image.digest);
    // Only the first request to the host meets a 401; afterwards Basic is sent up front.
    expect(events.filter((e) => e.host === reg.host && e.status === 401)).toHaveLength(1);
  });

  it("fails clearly without credentials and never echoes a password", async () => {
    const none = clientWith({});
    await expect(none.manifestHead(reg.host, "dst/basic", "v1")).rejects.toThrow(/requires credentials \(Basic\)/);
    const wrong = clientWith({ [reg.host]: { kind: "basic", username: "alice", password: "nope-wrong-pass" } });
    const err = await wrong.manifestHead(reg.host, "dst/basic", "v1").catch((e: Error) => e);
    expect(String(err)).toMatch(/rejected the configured credentials|unauthorized/);
    expect(String(err)).not.toContain("nope-wrong-pass");
    expect(JSON.stringify(err)).not.toContain("nope-wrong-pass");
  });
});

describe("Bearer token auth (Docker token protocol)", () => {
  let tokens: TokenServer;
  let reg: RunningRegistry;
  const seed: SeedAuth = (repo) => `Bearer ${tokens.mint([`repository:${repo}:pull,push`])}`;
  beforeAll(async () => {
    tokens = await startTokenServer({ users: { bob: PASSWORD }, anonymousPull: true });
    reg = await startRegistry({ token: tokens.auth });
  });
  afterAll(async () => Promise.all([reg?.stop(), tokens?.stop()]));

  it("pulls anonymously with a token from the realm, as Docker Hub needs for public images", async () => {
    const image = buildImage();
    await pushImage(reg.host, "public/app", image, "v1", seed);
    const client = clientWith({});
    const head = await client.manifestHead(reg.host, "public/app", "v1");
    expect(head?.digest).toBe(image.digest);
    const req = tokens.requests.at(-1)!;
    expect(req.authorization).toBeUndefined();
    expect(req.query.scope).toEqual(["repository:public/app:pull"]);
    expect(req.query.service).toEqual(["test-registry"]);
  });

  it("exchanges Basic credentials for a push token and reuses it per scope", async () => {
    const image = buildImage({ layers: [randomLayer(2000), randomLayer(3000)] });
    await pushImage(open.host, "src/token", image, "v1");
    const before = tokens.requests.length;
    const client = clientWith({ [reg.host]: { kind: "basic", username: "bob", password: PASSWORD } });
    await copyImage(
      client,
      { registry: open.host, repository: "src/token", tag: "v1" },
      { registry: reg.host, repository: "dst/token" },
      ["v1", "latest"],
    );
    expect((await fetchManifest(reg.host, "dst/token", "latest", seed)).digest).toBe(image.digest);
    const issued = tokens.requests.slice(before);
    // One token for pull (HEADs) and one for pull,push (uploads and puts): not one per request.
    expect(issued.length).toBeLessThanOrEqual(2);
    expect(issued.every((r) => r.authorization === `Basic ${Buffer.from(`bob:${PASSWORD}`).toString("base64")}`)).toBe(
      true,
    );
  });

  it("recovers from a 401 when a cached token has expired at the registry", async () => {
    const image = buildImage();
    await pushImage(reg.host, "public/expiring", image, "v1", seed);
    const client = clientWith({ [reg.host]: { kind: "basic", username: "bob", password: PASSWORD } });
    tokens.issueExpired(1);
    const before = tokens.requests.length;
    const head = await client.manifestHead(reg.host, "public/expiring", "v1");
    expect(head?.digest).toBe(image.digest);
    expect(tokens.requests.length - before).toBe(2);
    // And the fresh token is now cached: no more token requests.
    await client.manifestHead(reg.host, "public/expiring", "v1");
    expect(tokens.requests.length - before).toBe(2);
  });

  it("refuses wrong credentials at the token endpoint with a clear error", async () => {
    const client = clientWith({ [reg.host]: { kind: "basic", username: "bob", password: "bad-guess-123" } });
    const err = await client.manifestHead(reg.host, "public/app", "v1").catch((e: Error) => e);
    expect(String(err)).toMatch(/token endpoint refused the configured credentials \(401\)/);
    expect(String(err)).not.toContain("bad-guess-123");
  });
});

describe("ACR with Entra ID: /oauth2/exchange then /oauth2/token", () => {
  let acr: TokenServer;
  let reg: RunningRegistry;
  const aadToken = "aad-token-for-managed-identity";
  let aadCalls = 0;
  const entra: RegistryCredential = {
    kind: "entra",
    credential: {
      getToken: async (scopes) => {
        aadCalls++;
        expect(scopes).toBe("https://containerregistry.azure.net/.default");
        return { token: aadToken, expiresOnTimestamp: Date.now() + 3600_000 };
      },
    },
  };
  beforeAll(async () => {
    acr = await startTokenServer({ acr: { aadToken } });
    reg = await startRegistry({ token: acr.auth });
  });
  afterAll(async () => Promise.all([reg?.stop(), acr?.stop()]));

  it("copies into the registry with a managed identity, exchanging once for many repositories", async () => {
    const events: RequestEvent[] = [];
    const client = clientWith({ [reg.host]: entra }, events);
    for (const name of ["one", "two"]) {
      const image = buildImage();
      await pushImage(open.host, `src/${name}`, image, "v1");
      const result = await copyImage(
        client,
        { registry: open.host, repository: `src/${name}`, tag: "v1" },
        { registry: reg.host, repository: `acr/${name}` },
        ["v1"],
      );
      expect(result.digest).toBe(image.digest);
    }
    const exchanges = acr.requests.filter((r) => r.path === "/oauth2/exchange");
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]!.form).toMatchObject({
      grant_type: "access_token",
      service: "test-registry",
      access_token: aadToken,
    });
    expect(aadCalls).toBe(1);
    const tokenCalls = acr.requests.filter((r) => r.path === "/oauth2/token");
    expect(tokenCalls.length).toBeGreaterThanOrEqual(2);
    for (const call of tokenCalls) {
      expect(call.form?.grant_type).toBe("refresh_token");
      expect(call.form?.scope).toMatch(/^repository:acr\/(one|two):pull(,push)?/);
      expect(call.form?.refresh_token).toBeTruthy();
    }
    expect(events.filter((e) => e.kind === "token").length).toBe(exchanges.length + tokenCalls.length);
  });

  it("never sends the Entra token to a realm on another host", async () => {
    // The registry is reached as localhost but names 127.0.0.1 as its realm.
    const host = reg.host.replace("127.0.0.1", "localhost");
    const client = clientWith({ [host]: entra });
    const before = acr.requests.length;
    await expect(client.manifestHead(host, "acr/one", "v1")).rejects.toThrow(/refusing to send an Entra ID token/);
    expect(acr.requests.length).toBe(before);
  });
});

describe("redirects", () => {
  let front: RunningProxy;
  let cdn: RunningProxy;
  beforeAll(async () => {
    cdn = await startProxy(open.host);
    front = await startProxy(open.host, [
      // The front demands credentials, like a private registry; its blob GETs redirect to a CDN on another host.
      (req) =>
        req.headers.authorization ? undefined : { status: 401, headers: { "WWW-Authenticate": 'Basic realm="front"' } },
      (req) =>
        req.method === "GET" && /\/blobs\/sha256:/.test(req.path)
          ? { status: 307, headers: { Location: `http://localhost:${cdn.port}${req.path}` } }
          : undefined,
    ]);
  });
  afterAll(async () => Promise.all([front?.stop(), cdn?.stop()]));

  it("follows a blob redirect to another host without the Authorization header", async () => {
    const image = buildImage({ layers: [randomLayer(6000)] });
    await pushImage(open.host, "cdn/app", image, "v1");
    const client = clientWith({ [front.host]: { kind: "basic", username: "carol", password: PASSWORD } });
    const result = await copyImage(
      client,
      { registry: front.host, repository: "cdn/app", tag: "v1" },
      { registry: open.host, repository: "cdn/copy" },
      ["v1"],
    );
    expect(result.blobs.copied).toBe(2);
    const cdnBlobGets = cdn.seen.filter((r) => r.path.includes("/blobs/"));
    expect(cdnBlobGets.length).toBe(2);
    expect(cdnBlobGets.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(front.seen.some((r) => r.headers.authorization?.startsWith("Basic "))).toBe(true);
  });

  it("does not follow a redirect from https to plain http on a non-loopback host", async () => {
    const auth = new AuthManager();
    const fakeFetch = (async (url: URL) =>
      url.host === "registry.example"
        ? new Response(null, { status: 307, headers: { Location: "http://cdn.example/blob" } })
        : new Response("leaked", { status: 200 })) as unknown as typeof fetch;
    const client = new RegistryClient(new Transport({ auth, fetch: fakeFetch }));
    await expect(client.blobGet("registry.example", "a/b", `sha256:${"a".repeat(64)}`)).rejects.toThrow(
      /refusing redirect to insecure/,
    );
  });
});

describe("errors carry no secrets", () => {
  it("a failed copy through auth keeps the password out of its message and partial result", async () => {
    const client = clientWith({ [open.host]: { kind: "basic", username: "u", password: PASSWORD } });
    const err = (await copyImage(
      client,
      { registry: open.host, repository: "nope/none", tag: "x" },
      { registry: open.host, repository: "nope/dst" },
      ["x"],
    ).catch((e: unknown) => e)) as CopyError;
    expect(err).toBeInstanceOf(CopyError);
    expect(JSON.stringify({ message: err.message, partial: err.partial, stack: err.stack })).not.toContain(PASSWORD);
  });
});
