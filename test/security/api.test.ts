/**
 * Attacks on the HTTP surface, black-box: through the Functions adapter (handleHttp, the way the host calls it) and
 * through the local server over real sockets.
 * - the operator's SYNC_IMAGES=false is a ceiling no request lifts;
 * - reads and writes need different app roles, taken only from the platform's client-principal header;
 * - the local server refuses rebinding Hosts, non-JSON bodies, cross-origin writes and writes without its token;
 * - bodies are capped on every transport; a 503 names settings, not values; health names a class, not raw text.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpRequest, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyQueueOutput } from "../../functions/copyQueue";
import { handleHttp } from "../../functions/http";
import { setRuntime } from "../../functions/runtime";
import { routes } from "../../shared/api/routes";
import { serveApi, type RunningServer } from "../../shared/api/server";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { STATUS_PAGE_HTML } from "../../shared/web/statusPage";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { clientPrincipal } from "../harness/principal";
import { freePort, startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let upstream: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;

beforeAll(async () => {
  [upstream, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  await pushImage(upstream.host, "library/app", buildImage(), "1.0");
  dir = mkdtempSync(join(tmpdir(), "sec-api-"));
  writeFileSync(
    join(dir, "sync.yaml"),
    [
      `target: { registry: "${acr.host}", prefix: mirror }`,
      "images:",
      `  - { source: "${upstream.host}/library/app", tags: ["1.0"] }`,
    ].join("\n"),
  );
}, 60_000);
afterAll(async () => {
  setRuntime(undefined);
  await Promise.all([upstream?.stop(), acr?.stop(), azurite?.stop()]);
});

function runtime(extra: Record<string, string>, prefix: string): Runtime {
  return new Runtime(
    readSettings({ SYNC_CONFIG: join(dir, "sync.yaml"), TABLES_CONNECTION_STRING: azurite.connectionString, ...extra }),
    { tables: new Tables({ connectionString: azurite.connectionString, prefix }) },
  );
}

/** The Functions adapter as the host calls it; `principal` is what App Service authentication would inject. */
async function fn(
  name: string,
  { principal, body, headers = {} }: { principal?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const route = routes.find((r) => r.name === name)!;
  const req = new HttpRequest({
    method: route.methods[0]!,
    url: `http://localhost/api/${route.route}`,
    headers: { ...(principal ? { "x-ms-client-principal": principal } : {}), ...headers },
    ...(body !== undefined ? { body: { string: body } } : {}),
  });
  const ctx = new InvocationContext({
    functionName: name,
    invocationId: "sec",
    logHandler: () => {},
    options: { extraOutputs: route.enqueues ? [copyQueueOutput] : [] },
  });
  const res = await handleHttp(route, req, ctx);
  return { status: res.status ?? 200, body: res.jsonBody as Record<string, unknown>, text: String(res.body ?? "") };
}

describe("Functions HTTP: operator settings are a ceiling, roles decide", () => {
  beforeAll(() => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    setRuntime(runtime({ SYNC_IMAGES: "false" }, "secceil"));
  });
  afterAll(() => {
    delete process.env.WEBSITE_AUTH_ENABLED;
  });

  it('POST /api/sync {"reportOnly": false} under SYNC_IMAGES=false copies nothing', async () => {
    const res = await fn("startSync", { principal: clientPrincipal(["Operator"]), body: '{"reportOnly": false}' });
    expect(res.status).toBe(200);
    expect(res.body.run).toMatchObject({ reportOnly: true, copied: 0 });
    expect((await fetchManifest(acr.host, "mirror/library/app", "1.0")).status).toBe(404);
  });

  it("a request cannot ask for retention or triggers either: unknown fields are a 400", async () => {
    for (const body of ['{"retentionMode": "delete"}', '{"triggers": true}', '{"syncImages": true}']) {
      const res = await fn("startSync", { principal: clientPrincipal(["Operator"]), body });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: "UnknownField" } });
    }
  });

  it("without a principal every route is 401; a Reader reads but cannot sync", async () => {
    for (const name of ["listImages", "listRuns", "health", "getTrace", "statusPage", "startSync"]) {
      expect((await fn(name)).status, name).toBe(401);
    }
    const reader = clientPrincipal(["Reader"]);
    expect((await fn("listImages", { principal: reader })).status).toBe(200);
    expect((await fn("statusPage", { principal: reader })).status).toBe(200);
    const sync = await fn("startSync", { principal: reader, body: "{}" });
    expect(sync.status).toBe(403);
    expect(sync.body).toMatchObject({ error: { code: "Forbidden" } });
    // A principal with no app role, or an unreadable header, is nobody.
    expect((await fn("listImages", { principal: clientPrincipal([]) })).status).toBe(403);
    expect((await fn("listImages", { principal: "not base64 json" })).status).toBe(401);
  });

  it("a principal header is not trusted when App Service authentication is off (anyone could send it)", async () => {
    delete process.env.WEBSITE_AUTH_ENABLED;
    try {
      const res = await fn("startSync", { principal: clientPrincipal(["Operator"]), body: "{}" });
      expect(res.status).toBe(401);
    } finally {
      process.env.WEBSITE_AUTH_ENABLED = "True";
    }
  });

  it("the status page carries no key into its API calls", () => {
    expect(STATUS_PAGE_HTML).not.toMatch(/get\("code"\)|set\("code"/);
  });

  it("a body over 64 KiB is a 413 on the Functions adapter too", async () => {
    const res = await fn("startSync", {
      principal: clientPrincipal(["Operator"]),
      body: `{"image": "${"a".repeat(200 * 1024)}"}`,
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: "BodyTooLarge" } });
  });

  it("a 503 for bad settings names the settings, never their values", async () => {
    setRuntime(undefined);
    const saved = { ...process.env };
    process.env.SYNC_CONFIG = join(dir, "sync.yaml");
    process.env.TABLES_CONNECTION_STRING = azurite.connectionString;
    process.env.SYNC_MODE = "secret-looking-value-123";
    try {
      const res = await fn("health", { principal: clientPrincipal(["Reader"]) });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: { code: "SettingsInvalid", settings: ["SYNC_MODE"] } });
      expect(JSON.stringify(res.body)).not.toContain("secret-looking-value-123");
    } finally {
      process.env = saved;
      setRuntime(runtime({ SYNC_IMAGES: "false" }, "secceil"));
    }
  });

  it("health answers a class and a hint, not the raw error text", async () => {
    const port = await freePort();
    const closed = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from("k".repeat(32)).toString("base64")};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    setRuntime(
      new Runtime(readSettings({ SYNC_CONFIG: join(dir, "missing.yaml"), TABLES_CONNECTION_STRING: closed }), {
        tables: new Tables({ connectionString: closed, prefix: "sechealth" }),
      }),
    );
    try {
      const res = await fn("health", { principal: clientPrincipal(["Reader"]) });
      expect(res.status).toBe(503);
      const checks = res.body.checks as Record<string, { ok: boolean; class?: string; hint?: string }>;
      expect(checks.storage).toMatchObject({ ok: false, class: "unreachable" });
      expect(checks.config).toMatchObject({ ok: false, class: "unreachable" });
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/ECONNREFUSED|ENOENT|missing\.yaml|127\.0\.0\.1|\/tmp\//);
    } finally {
      setRuntime(runtime({ SYNC_IMAGES: "false" }, "secceil"));
    }
  }, 60_000);
});

describe("the local server", () => {
  let server: RunningServer;
  let rt: Runtime;
  beforeAll(async () => {
    rt = runtime({}, "seclocal");
    server = await serveApi(rt);
  });
  afterAll(async () => server?.close());

  function send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    const port = new URL(server.url).port;
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      if (body) req.write(body);
      req.end();
    });
  }
  const own = () => new URL(server.url).host;
  const runs = async () => (await rt.requireStore().listRuns(10)).length;

  it("listens on 127.0.0.1 only", () => {
    const address = server.server.address();
    expect(typeof address === "object" && address?.address).toBe("127.0.0.1");
  });

  it("the reproduced attack: text/plain, a foreign Origin and a rebinding Host start nothing", async () => {
    const res = await send(
      "POST",
      "/api/sync",
      {
        host: `rebind.evil.example:${new URL(server.url).port}`,
        origin: "https://evil.example",
        "content-type": "text/plain",
      },
      "{}",
    );
    expect(res.status).toBe(421);
    // Each defence alone, with everything else right.
    const token = `Bearer ${server.token}`;
    const json = "application/json";
    const cases: Array<[Record<string, string>, number]> = [
      [{ host: own(), "content-type": "text/plain", authorization: token }, 415],
      [{ host: own(), "content-type": json, origin: "https://evil.example", authorization: token }, 403],
      [{ host: own(), "content-type": json, "sec-fetch-site": "cross-site", authorization: token }, 403],
      [{ host: own(), "content-type": json }, 401],
      [{ host: own(), "content-type": json, authorization: "Bearer wrong-token-wrong-token" }, 401],
    ];
    for (const [headers, status] of cases) {
      const r = await send("POST", "/api/sync", headers, "{}");
      expect(r.status, JSON.stringify(headers)).toBe(status);
      expect(JSON.parse(r.text)).toHaveProperty("error.code");
    }
    expect(await runs()).toBe(0);
    expect((await fetchManifest(acr.host, "mirror/library/app", "1.0")).status).toBe(404);
  });

  it("reads need no token; the token and a JSON body from the own origin start a run", async () => {
    expect((await send("GET", "/api/images", { host: own() })).status).toBe(200);
    expect((await send("GET", "/api/images", { host: `localhost:${new URL(server.url).port}` })).status).toBe(200);
    const ok = await send(
      "POST",
      "/api/sync",
      { host: own(), origin: server.url, "content-type": "application/json", authorization: `Bearer ${server.token}` },
      '{"reportOnly": true}',
    );
    expect(ok.status).toBe(200);
    expect(await runs()).toBe(1);
  });
});
