/**
 * Loads the BUILT entry point (package.json `main`) the way the host does, with a stand-in for the host's
 * `@azure/functions-core` module, and checks what registers: every function's name, trigger, schedule setting,
 * queue binding, route, methods and auth level. This catches "no functions found", a wrong `main`, and ESM/CommonJS
 * breakage, none of which a test importing TypeScript sources can see.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const OUT = join(ROOT, ".tmp", "registration-dist");

interface Registered {
  name: string;
  bindings: Record<string, { type: string; direction: string; [k: string]: unknown }>;
  retryOptions?: unknown;
}

const registered: Registered[] = [];
let setProgrammingModelCalled = false;

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json"), "--outDir", OUT],
    {
      cwd: ROOT,
      stdio: "pipe",
    },
  );
  const fakeCore = {
    version: "4.0.0-test",
    hostVersion: "4.1000.0",
    setProgrammingModel: () => {
      setProgrammingModelCalled = true;
    },
    registerFunction: (metadata: Registered) => {
      registered.push(metadata);
      return { dispose: () => {} };
    },
    registerHook: () => ({ dispose: () => {} }),
    log: () => {},
    getProgrammingModel: () => undefined,
    Disposable: class {
      dispose() {}
    },
  };
  const original = (Module as unknown as { _load: (...a: unknown[]) => unknown })._load;
  (Module as unknown as { _load: (...a: unknown[]) => unknown })._load = function (
    request: unknown,
    ...rest: unknown[]
  ) {
    if (request === "@azure/functions-core") return fakeCore;
    return original.call(this, request, ...rest);
  };
  const main = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { main: string }).main;
  expect(main).toBe("dist/functions/index.js");
  const entry = join(OUT, main.replace(/^dist\//, ""));
  expect(existsSync(entry)).toBe(true);
  // require(), as the Node worker does for a CommonJS `main`.
  createRequire(join(ROOT, "package.json"))(entry);
}, 120_000);

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const byName = (name: string) => registered.find((r) => r.name === name);
const trigger = (r: Registered) =>
  Object.values(r.bindings).find((b) => b.direction === "in" && /Trigger$/.test(b.type))!;

describe("the built app registers every function with the host", () => {
  it("registers the programming model and the expected function names", () => {
    expect(setProgrammingModelCalled).toBe(true);
    expect(registered.map((r) => r.name).sort()).toEqual(
      expect.arrayContaining([
        "copyImage",
        "getRun",
        "health",
        "listImages",
        "listRuns",
        "mirrorsCompat",
        "startSync",
        "startMirror",
        "syncImages",
        "listBases",
        "getTrace",
        "getTraceDiff",
        "traceImages",
        "statusPage",
        "traceImagesTool",
        "diffImagesTool",
      ]),
    );
  });

  it("the timer reads its schedule from SYNC_SCHEDULE, uses the monitor, never runs on startup, and binds the copy queue", () => {
    const t = trigger(byName("syncImages")!);
    expect(t).toMatchObject({
      type: "timerTrigger",
      schedule: "%SYNC_SCHEDULE%",
      useMonitor: true,
      runOnStartup: false,
    });
    const out = Object.values(byName("syncImages")!.bindings).find((b) => b.direction === "out");
    expect(out).toMatchObject({ type: "queue", queueName: "%COPY_QUEUE_NAME%", connection: "AzureWebJobsStorage" });
  });

  it("the queue function triggers on the same queue and connection", () => {
    expect(trigger(byName("copyImage")!)).toMatchObject({
      type: "queueTrigger",
      queueName: "%COPY_QUEUE_NAME%",
      connection: "AzureWebJobsStorage",
    });
  });

  it.each([
    ["listImages", "images", ["GET"]],
    ["mirrorsCompat", "v1/mirrors", ["GET"]],
    ["listRuns", "runs", ["GET"]],
    ["getRun", "runs/{id}", ["GET"]],
    ["startSync", "sync", ["POST"]],
    ["startMirror", "mirror", ["POST"]],
    ["health", "health", ["GET"]],
    ["listBases", "bases", ["GET"]],
    ["getTrace", "traces", ["GET"]],
    ["getTraceDiff", "traces/diff", ["GET"]],
    ["traceImages", "trace-images", ["POST"]],
    ["statusPage", "status", ["GET"]],
  ])(
    "HTTP %s: route %s, methods %j, anonymous to the host (App Service auth and app roles)",
    (name, route, methods) => {
      const t = trigger(byName(name)!);
      expect(t).toMatchObject({ type: "httpTrigger", route, methods, authLevel: "anonymous" });
    },
  );

  it.each([
    ["traceImagesTool", "trace_images", ["commit_sha", "environment"]],
    ["diffImagesTool", "diff_images", ["commit_sha", "environment", "commit_sha_b", "environment_b"]],
  ])("MCP tool %s is %s with described arguments %j", (name, toolName, args) => {
    const t = trigger(byName(name)!);
    expect(t).toMatchObject({ type: "mcpToolTrigger", toolName });
    expect(String(t.description).length).toBeGreaterThan(40);
    const props = JSON.parse(String(t.toolProperties)) as Array<{ propertyName: string; description: string }>;
    for (const a of args) expect(props.find((p) => p.propertyName === a)?.description.length).toBeGreaterThan(10);
  });

  it("no HTTP function uses a function key: the role check in dispatch guards every route", () => {
    const http = registered.map(trigger).filter((t) => t.type === "httpTrigger");
    expect(http.length).toBeGreaterThanOrEqual(6);
    expect(http.every((t) => t.authLevel === "anonymous")).toBe(true);
  });
});
