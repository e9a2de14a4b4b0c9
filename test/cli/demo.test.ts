/**
 * The demo's setup, run programmatically: three syncs through the timer handler, a drift with its pin tag, a trace
 * and a diff over the service config commits, and the HTTP API and status page served on localhost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type Demo } from "../../cli/demo";
import type { RunningServer } from "../../shared/api/server";
import { fetchManifest } from "../harness/images";

let demo: Demo;
let server: RunningServer;
const lines: string[] = [];

beforeAll(async () => {
  demo = await startDemo((l) => lines.push(l));
  await demo.sync("first");
  await demo.commitServiceConfig("before");
  await demo.sync("second");
  await demo.moveUpstream();
  await demo.sync("third");
  await demo.commitServiceConfig("after");
  server = await demo.serve();
}, 120_000);
afterAll(async () => demo?.stop());

const get = async (path: string) => {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
};

describe("the demo", () => {
  it("copies everything first, then costs one request per tag, then copies only the drifted tag", () => {
    const runs = lines.filter((l) => /run \S+ succeeded/.test(l));
    expect(runs).toHaveLength(3);
    const [first, second, third] = runs.map((l) =>
      /(\d+) tags, copied (\d+).*?(\d+) requests/.exec(l)!.slice(1).map(Number),
    );
    expect(first![1]).toBe(first![0]);
    expect(second![1]).toBe(0);
    expect(second![2]).toBeLessThanOrEqual(second![0]! + 4); // a HEAD per tag, two tag lists, one private-registry auth round
    expect(third![1]).toBe(1);
  });

  it("keeps the old backend digest under its dated pin tag after the drift", async () => {
    const before = await demo.runtime
      .requireStore()
      .listResults((await demo.runtime.requireStore().listRuns(3))[2]!.runId);
    const pin = before.find((r) => String(r.key).endsWith("arohcp/backend:v1"))?.pinTag as string;
    expect(pin).toMatch(/^\d{8}_sha256_[0-9a-f]{64}$/);
    const old = await fetchManifest(demo.hosts.acr, "mirror/arohcp/backend", pin);
    const now = await fetchManifest(demo.hosts.acr, "mirror/arohcp/backend", "v1");
    expect(old.status).toBe(200);
    expect(old.digest).not.toBe(now.digest);
  });

  it("serves the JSON API: all in sync, three runs, health ok", async () => {
    expect(JSON.parse((await get("/api/images?action=summarize")).text)).toMatchObject({ total: 7, outdated: 0 });
    expect((JSON.parse((await get("/api/runs")).text) as { runs: unknown[] }).runs).toHaveLength(3);
    expect(JSON.parse((await get("/api/health")).text)).toMatchObject({ ok: true });
  });

  it("traces the service config and diffs int against prod", async () => {
    const commit = demo.commits.after;
    const trace = JSON.parse((await get(`/api/traces?commit=${commit}&environment=int`)).text) as {
      components: Array<{ name: string; source_sha: string; error: string | null }>;
    };
    expect(trace.components.map((c) => [c.name, c.source_sha, c.error])).toEqual(
      expect.arrayContaining([expect.arrayContaining(["3c1d2e4"]), expect.arrayContaining(["7da8c6d"])]),
    );
    const diff = await get(`/api/traces/diff?commit=${commit}&environment=int&environment_b=prod`);
    expect(diff.text).toMatch(/compare\/3c1d2e4\.\.\.55611cd/);
  });

  it("serves the status page at /api/", async () => {
    const page = await get("/api/");
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/text\/html/);
    expect(page.text).toMatch(/<html/i);
  });
});
