/**
 * The trace over the app's HTTP routes and MCP tools, against the trace lab (fixture commits in a git repository,
 * labelled stand-in images in real registries) and Azurite: the seed's shape, the diff, and 400s for bad input.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path, { join } from "node:path";
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffImagesTool, traceImagesTool } from "../../functions/mcpTools";
import { setRuntime } from "../../functions/runtime";
import { dispatch, routes } from "../../shared/api/routes";
import { AuthManager } from "../../shared/registry/auth";
import { Transport, isLoopback } from "../../shared/registry/transport";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { FIXTURES_DIR } from "../trace/fixtures";
import { startLab, type Lab } from "../trace/lab";
import { READER } from "../harness/principal";
import { startTogether } from "../harness/together";

const withAuth = (auth: AuthManager) => ({ auth, transport: new Transport({ auth }) });

const DECEMBER = {
  dir: path.join(FIXTURES_DIR, "aro-hcp-history/21f3f7a7d163"),
  commit: "21f3f7a7d163a2dad380f101869dc97a35b004a2",
};

let lab: Lab;
let azurite: RunningAzurite;
let rt: Runtime;
let commit: string;

beforeAll(async () => {
  [lab, azurite] = await startTogether(startLab({ fixtures: [DECEMBER] }), startAzurite());
  commit = lab.commitOf.get(DECEMBER.commit)!;
  const dir = mkdtempSync(join(tmpdir(), "traces-app-"));
  writeFileSync(join(dir, "sync.yaml"), 'target: { registry: "127.0.0.1:1" }\nimages: []\n');
  rt = new Runtime(
    readSettings({
      SYNC_CONFIG: join(dir, "sync.yaml"),
      TABLES_CONNECTION_STRING: azurite.connectionString,
      TRACE_CONFIG_SOURCE: lab.repo,
    }),
    {
      ...withAuth(new AuthManager({ credentials: lab.credentials, allowPlainHttp: isLoopback })),
      registryMap: lab.registryMap,
      tables: new Tables({ connectionString: azurite.connectionString, prefix: "traceapp" }),
    },
  );
  setRuntime(rt);
}, 120_000);
afterAll(async () => {
  setRuntime(undefined);
  await Promise.all([lab?.stop(), azurite?.stop()]);
});

async function call(name: string, query: Record<string, string> = {}, body?: unknown, invalidJson = false) {
  const route = routes.find((r) => r.name === name)!;
  return dispatch(route, () => rt, {
    method: route.methods[0]!,
    params: {},
    caller: READER,
    query: new URLSearchParams(query),
    ...(body !== undefined ? { body } : {}),
    ...(invalidJson ? { invalidJson } : {}),
  });
}

type Trace = {
  commit_sha: string;
  environment: string;
  components: Array<{ name: string; digest: string | null; source_sha: string | null; error: string | null }>;
  errors: unknown[];
};

describe("trace routes", () => {
  it("GET /api/traces answers the seed's shape with a source commit per pinned component", async () => {
    const res = await call("getTrace", { commit, environment: "prod" });
    expect(res.status).toBe(200);
    const trace = res.body as Trace;
    expect(trace.commit_sha).toBe(commit);
    expect(trace.environment).toBe("prod");
    expect(trace.components.length).toBeGreaterThan(10);
    expect(trace.components.filter((c) => c.digest && c.source_sha).length).toBeGreaterThan(10);
    expect(Array.isArray(trace.errors)).toBe(true);
  });

  it("POST /api/trace-images takes {commit_sha, environment} and agrees with GET", async () => {
    const post = (await call("traceImages", {}, { commit_sha: commit, environment: "prod" })).body as Trace;
    const get = (await call("getTrace", { commit, environment: "prod" })).body as Trace;
    expect(post.components.map((c) => [c.name, c.source_sha])).toEqual(
      get.components.map((c) => [c.name, c.source_sha]),
    );
  });

  it("GET /api/traces/diff lists the components that differ between int and prod", async () => {
    const res = await call("getTraceDiff", { commit, environment: "int", environment_b: "prod" });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toMatch(/changed/);
  });

  it.each([
    [{ commit, environment: "nowhere" }],
    [{ commit: "../../etc/passwd", environment: "prod" }],
    [{ commit: "zzzz", environment: "prod" }],
    [{ commit, environment: "prod", extra: "1" }],
    [{ environment: "prod" }],
  ])("bad input %j is a 400 with a JSON error", async (query) => {
    const res = await call("getTrace", query);
    expect(res.status).toBe(400);
    expect(res.body).toHaveProperty("error");
  });

  it("a body that is not JSON, or not the seed's shape, is a 400", async () => {
    expect((await call("traceImages", {}, undefined, true)).status).toBe(400);
    expect((await call("traceImages", {}, { commit: commit })).status).toBe(400);
  });
});

describe("MCP tools", () => {
  const ctx = (args: unknown) =>
    new InvocationContext({
      functionName: "traceImagesTool",
      triggerMetadata: { mcptoolargs: args },
      logHandler: () => {},
    });

  it("trace_images returns the trace as JSON text", async () => {
    const text = await traceImagesTool(undefined, ctx({ commit_sha: commit, environment: "int" }));
    const trace = JSON.parse(text) as Trace;
    expect(trace.environment).toBe("int");
    expect(trace.components.length).toBeGreaterThan(10);
  });

  it("diff_images and a bad argument answer with text, not a thrown error", async () => {
    const diff = JSON.parse(
      await diffImagesTool(undefined, ctx({ commit_sha: commit, environment: "int", environment_b: "prod" })),
    );
    expect(diff).toBeTypeOf("object");
    const bad = JSON.parse(await traceImagesTool(undefined, ctx({ commit_sha: commit, environment: "mars" }))) as {
      error: string;
      kind: string;
    };
    expect(bad.kind).toMatch(/Environment/);
  });
});
