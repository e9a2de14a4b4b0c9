/**
 * The function handlers called the way the host calls them (HttpRequest, InvocationContext, a Timer), against real
 * Azurite and real registries: the timer end to end, queue mode with a duplicate delivery, every HTTP route, bad
 * parameters, and no credential in any log line.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpRequest, InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImage } from "../../functions/copyImage";
import { handleHttp } from "../../functions/http";
import { setRuntime } from "../../functions/runtime";
import { syncImages } from "../../functions/syncImages";
import { routes } from "../../shared/api/routes";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { RecordingMetrics } from "../../shared/telemetry/metrics";
import { copyQueueOutput } from "../../functions/copyQueue";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { clientPrincipal } from "../harness/principal";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

const PASSWORD = "pa55-Upstream-Secret";
const basic = () => `Basic ${Buffer.from(`puller:${PASSWORD}`).toString("base64")}`;

let priv: RunningRegistry;
let open: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  process.env.WEBSITE_AUTH_ENABLED = "True";
  [priv, open, acr, azurite] = await startTogether(
    startRegistry({ htpasswd: { puller: PASSWORD } }),
    startRegistry(),
    startRegistry(),
    startAzurite(),
  );
  await pushImage(priv.host, "team/private", buildImage(), "1.0", basic);
  await pushImage(open.host, "library/app", buildImage(), "1.0");
  await pushImage(open.host, "library/app", buildImage(), "2.0");
  dir = mkdtempSync(join(tmpdir(), "functions-"));
  writeFileSync(
    join(dir, "pull-private"),
    JSON.stringify({ auths: { [priv.host]: { auth: Buffer.from(`puller:${PASSWORD}`).toString("base64") } } }),
  );
  for (const [file, prefix] of [
    ["sync.yaml", "mirror"],
    ["sync-queue.yaml", "queued"],
  ])
    writeFileSync(
      join(dir, file!),
      [
        `target: { registry: "${acr.host}", prefix: ${prefix} }`,
        "defaults: { pinTag: true }",
        "credentials:",
        `  "${priv.host}": { keyVaultSecret: pull-private }`,
        "images:",
        `  - { source: "${priv.host}/team/private", tags: ["1.0"] }`,
        `  - { source: "${open.host}/library/app", tags: ["1.0", "2.0"] }`,
      ].join("\n"),
    );
});
afterAll(async () => {
  delete process.env.WEBSITE_AUTH_ENABLED;
  setRuntime(undefined);
  await Promise.all([priv?.stop(), open?.stop(), acr?.stop(), azurite?.stop()]);
});

function runtime(extra: Record<string, string> = {}, prefix = "fn") {
  return new Runtime(
    readSettings({
      SYNC_CONFIG: join(dir, "sync.yaml"),
      TABLES_CONNECTION_STRING: azurite.connectionString,
      LOCAL_SECRETS_DIR: dir,
      ...extra,
    }),
    // Each describe gets its own tables in the one Azurite.
    { metrics: new RecordingMetrics(), tables: new Tables({ connectionString: azurite.connectionString, prefix }) },
  );
}

function context(name: string, extra: Partial<ConstructorParameters<typeof InvocationContext>[0]> = {}) {
  return new InvocationContext({
    functionName: name,
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(" ")}`),
    ...extra,
  });
}

const timer = (isPastDue = false): Timer => ({
  isPastDue,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
});

async function call(
  name: string,
  init: { method?: string; query?: Record<string, string>; params?: Record<string, string>; body?: string } = {},
) {
  const route = routes.find((r) => r.name === name)!;
  const req = new HttpRequest({
    method: init.method ?? route.methods[0]!,
    url: `http://localhost/api/${route.route}`,
    query: init.query ?? {},
    params: init.params ?? {},
    // Signed in by App Service authentication as an Operator (which includes Reader).
    headers: { "x-ms-client-principal": clientPrincipal(["Operator"]) },
    ...(init.body !== undefined ? { body: { string: init.body } } : {}),
  });
  const ctx = context(name, { options: { extraOutputs: route.enqueues ? [copyQueueOutput] : [] } });
  const res = await handleHttp(route, req, ctx);
  return { status: res.status ?? 200, body: res.jsonBody as Record<string, unknown>, ctx };
}

describe("inline mode: timer, then every HTTP route", () => {
  beforeAll(() => setRuntime(runtime()));

  it("the timer copies every image (private one with the pull secret) and records the run", async () => {
    await syncImages(timer(true), context("syncImages"));
    expect(logs.some((l) => /isPastDue/.test(l))).toBe(true);
    expect((await fetchManifest(acr.host, "mirror/team/private", "1.0")).status).toBe(200);
    expect((await fetchManifest(acr.host, "mirror/library/app", "2.0")).status).toBe(200);
    const images = await call("listImages");
    expect(images.status).toBe(200);
    expect((images.body.images as Array<{ state: string }>).map((i) => i.state)).toEqual([
      "in-sync",
      "in-sync",
      "in-sync",
    ]);
  });

  it("summarizes, filters by state, and serves the ci-images-mirror shape", async () => {
    const summary = await call("listImages", { query: { action: "summarize" } });
    expect(summary.body).toMatchObject({ total: 3, outdated: 0 });
    const outdated = await call("listImages", { query: { state: "outdated" } });
    expect(outdated.body.images).toEqual([]);
    expect((await call("mirrorsCompat")).body).toEqual({ total: 0 });
    expect((await call("mirrorsCompat", { query: { action: "show", limit: "5" } })).body).toEqual({
      total: 0,
      mirrors: [],
    });
  });

  it("lists runs and returns one run with its per-image results", async () => {
    const runs = await call("listRuns", { query: { limit: "5" } });
    const list = runs.body.runs as Array<{ runId: string; copied: number }>;
    expect(list).toHaveLength(1);
    expect(list[0]!.copied).toBe(3);
    const one = await call("getRun", { params: { id: list[0]!.runId } });
    expect(one.status).toBe(200);
    expect(one.body.results as unknown[]).toHaveLength(3);
    expect((await call("getRun", { params: { id: "00000000000000-none" } })).status).toBe(404);
  });

  it.each([
    ["listImages", { limit: "abc" }, "limit"],
    ["listImages", { limit: "0" }, "limit"],
    ["listImages", { state: "bogus" }, "state"],
    ["listImages", { action: "delete" }, "action"],
    ["listImages", { $filter: "x" }, "$filter"],
    ["mirrorsCompat", { limit: "-1" }, "limit"],
    ["listRuns", { limit: "99999999999" }, "limit"],
  ])("%s with %j is a 400 naming %s", async (name, query, parameter) => {
    const res = await call(name, { query });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ parameter });
  });

  it("rejects a bad run id and bad sync bodies with a 400, an unknown image with a 404", async () => {
    expect((await call("getRun", { params: { id: "../../etc" } })).status).toBe(400);
    expect((await call("startSync", { body: "{not json" })).body.error).toMatchObject({ code: "InvalidJson" });
    expect((await call("startSync", { body: "[1]" })).status).toBe(400);
    expect((await call("startSync", { body: '{"reportOnly": "yes"}' })).status).toBe(400);
    expect((await call("startSync", { body: '{"force": true}' })).status).toBe(400);
    expect((await call("startSync", { body: '{"image": "../../x"}' })).status).toBe(400);
    expect((await call("startSync", { body: '{"image": "nope/nothing"}' })).status).toBe(404);
  });

  it("POST /api/sync runs now, report-only and for one image", async () => {
    const res = await call("startSync", { body: JSON.stringify({ reportOnly: true, image: "library/app" }) });
    expect(res.status).toBe(200);
    const results = res.body.results as Array<{ source: { repository: string }; state: string }>;
    expect(results.map((r) => r.source.repository)).toEqual(["library/app", "library/app"]);
    expect((res.body.run as { reportOnly: boolean }).reportOnly).toBe(true);
  });

  it("health reports storage, config and the last run", async () => {
    const res = await call("health");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, checks: { storage: { ok: true }, config: { ok: true } } });
    expect((res.body.lastRun as { ageSeconds: number }).ageSeconds).toBeGreaterThanOrEqual(0);
  });
});

describe("queue mode", () => {
  beforeAll(() => setRuntime(runtime({ SYNC_MODE: "queue", SYNC_CONFIG: join(dir, "sync-queue.yaml") }, "queue")));

  it("the timer enqueues one message per outdated tag; the queue function copies each, twice safely", async () => {
    const ctx = context("syncImages", { options: { extraOutputs: [copyQueueOutput] } });
    await syncImages(timer(), ctx);
    const messages = ctx.extraOutputs.get(copyQueueOutput) as unknown[];
    expect(messages).toHaveLength(3);
    // Nothing copied yet, and the status says so.
    const before = await call("listImages", { query: { state: "outdated" } });
    expect((before.body.images as unknown[]).length).toBe(3);

    for (const m of messages) await copyImage(JSON.parse(JSON.stringify(m)), context("copyImage"));
    const after = await call("listImages", { query: { action: "summarize" } });
    expect(after.body).toMatchObject({ total: 3, outdated: 0 });

    // A second delivery of the same message: still in sync, nothing rewritten.
    const again = context("copyImage");
    await copyImage(messages[0], again);
    expect(logs.at(-1)).toMatch(/copied sha256:/);
    const runs = await call("listRuns");
    const runId = (runs.body.runs as Array<{ runId: string }>)[0]!.runId;
    const results = (await call("getRun", { params: { id: runId } })).body.results as Array<{ action: string }>;
    expect(results.filter((r) => r.action === "copied")).toHaveLength(3);
  });

  it("drops a malformed message with a log line instead of retrying it forever", async () => {
    const ctx = context("copyImage");
    await copyImage({ version: 1, runId: "x", item: { source: {} } }, ctx);
    expect(logs.at(-1)).toMatch(/^error copy message rejected/);
  });

  it("a copy that fails throws, so the host retries and finally poisons the message", async () => {
    const ctx = context("syncImages", { options: { extraOutputs: [copyQueueOutput] } });
    await pushImage(open.host, "library/app", buildImage(), "2.0");
    await syncImages(timer(), ctx);
    const [message] = ctx.extraOutputs.get(copyQueueOutput) as Array<{ item: { sourceDigest: string } }>;
    // A digest the source does not have (the pin tag is derived again: one naming the old digest is refused).
    const broken = {
      ...message!,
      item: { ...message!.item, sourceDigest: `sha256:${"0".repeat(64)}`, pinTag: undefined },
    };
    await expect(copyImage(broken, context("copyImage"))).rejects.toThrow(/not found|MANIFEST_UNKNOWN|404/);
  });
});

describe("queue mode over HTTP", () => {
  beforeAll(() => setRuntime(runtime({ SYNC_MODE: "queue", SYNC_CONFIG: join(dir, "sync-queue.yaml") }, "queue")));

  it("POST /api/sync enqueues the outdated tags through the invocation's queue output instead of copying", async () => {
    await pushImage(open.host, "library/app", buildImage(), "1.0");
    const res = await call("startSync", { body: "{}" });
    expect(res.status).toBe(200);
    const queued = (res.body.results as Array<{ action: string }>).filter((r) => r.action === "queued");
    expect(queued.length).toBeGreaterThanOrEqual(1);
    expect(res.ctx.extraOutputs.get(copyQueueOutput) as unknown[]).toHaveLength(queued.length);
  });
});

describe("settings errors", () => {
  it("health answers 503 naming the bad settings instead of crashing the worker", async () => {
    setRuntime(undefined);
    const saved = { ...process.env };
    delete process.env.SYNC_CONFIG;
    process.env.SYNC_MODE = "sometimes";
    try {
      const res = await call("health");
      expect(res.status).toBe(503);
      // Names, never values.
      const settings = (res.body.error as { settings: string[] }).settings;
      expect(settings).toEqual(expect.arrayContaining(["SYNC_CONFIG", "SYNC_MODE"]));
      expect(JSON.stringify(res.body)).not.toContain("sometimes");
    } finally {
      process.env = saved;
    }
  });
});

describe("logs", () => {
  it("no captured log line carries the password, its base64, or an Authorization value", () => {
    expect(logs.length).toBeGreaterThan(5);
    const b64 = Buffer.from(`puller:${PASSWORD}`).toString("base64");
    for (const line of logs) {
      expect(line).not.toContain(PASSWORD);
      expect(line).not.toContain(b64);
      expect(line).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}|Bearer [A-Za-z0-9._-]{8,}/);
    }
  });
});
