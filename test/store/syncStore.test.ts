import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeKey, encodeKey, newestFirstKey, timeFromNewestFirstKey } from "../../shared/store/keys";
import { RunLock } from "../../shared/store/runLock";
import { SyncStore, newRunId, type ImageStatus } from "../../shared/store/syncStore";
import { Tables, TABLES } from "../../shared/store/tables";
import { emptyCounts, type ImageResult, type RunRecord } from "../../shared/sync/model";
import { startAzurite, type RunningAzurite } from "../harness/azurite";

let azurite: RunningAzurite;
let tables: Tables;
beforeAll(async () => {
  azurite = await startAzurite();
  tables = new Tables({ connectionString: azurite.connectionString });
});
afterAll(async () => azurite?.stop());

describe("keys", () => {
  it("encode forbidden characters reversibly", () => {
    for (const raw of ["ghcr.io/a/b:tag", "a\\b#c?d", "tab\there", "it's"]) {
      const key = encodeKey(raw);
      // eslint-disable-next-line no-control-regex -- the check is exactly that no control character survives
      expect(key).not.toMatch(/[/\\#?\u0000-\u001f\u007f']/);
      expect(decodeKey(key)).toBe(raw);
    }
    expect(() => encodeKey("x".repeat(600))).toThrow(/key too long/);
  });
  it("sort newest first", () => {
    const older = newestFirstKey(1_700_000_000_000);
    const newer = newestFirstKey(1_800_000_000_000);
    expect(newer < older).toBe(true);
    expect(timeFromNewestFirstKey(newer)).toBe(1_800_000_000_000);
  });
});

describe("SyncStore on Azurite", () => {
  const run = (id: string, startedAt: string, bytes: number): RunRecord => ({
    runId: id,
    trigger: "timer",
    startedAt,
    finishedAt: startedAt,
    verified: true,
    status: "succeeded",
    reportOnly: false,
    countsBefore: { ...emptyCounts(), missing: 2 },
    countsAfter: { ...emptyCounts(), "in-sync": 2 },
    copied: 2,
    failed: 0,
    bytes,
    requests: 10,
    durationMs: 1234,
    errorSummary: "x".repeat(50_000),
  });

  it("lists runs newest first and round-trips Int64 byte counts as numbers", async () => {
    const store = new SyncStore(tables);
    const a = newRunId(Date.parse("2026-11-01T00:00:00Z"));
    const b = newRunId(Date.parse("2026-11-02T00:00:00Z"));
    await store.saveRun(run(a, "2026-11-01T00:00:00Z", 5_000_000_000));
    await store.saveRun(run(b, "2026-11-02T00:00:00Z", 1));
    const runs = await store.listRuns(10);
    expect(runs.map((r) => r.runId)).toEqual([b, a]);
    const first = await store.getRun(a);
    expect(first?.bytes).toBe(5_000_000_000);
    expect(typeof first?.bytes).toBe("number");
    expect(first?.countsBefore.missing).toBe(2);
    // Truncated safely below the 64 KiB property limit, and says so.
    expect(first?.errorSummary?.length).toBeLessThan(17_000);
    expect(first?.errorSummary).toMatch(/more characters\)$/);
    expect(JSON.stringify(runs)).toBeTruthy();
    expect(await store.getRun("nope")).toBeUndefined();
  });

  it("writes more than 100 results in batches and reads them back", async () => {
    const store = new SyncStore(tables);
    const runId = newRunId();
    const results: ImageResult[] = Array.from({ length: 230 }, (_, i) => ({
      key: `acr.example/mirror/app${i}:v1`,
      source: { registry: "docker.io", repository: `library/app${i}`, tag: "v1" },
      sourceDigest: `sha256:${"a".repeat(64)}`,
      target: { registry: "acr.example", repository: `mirror/app${i}`, tag: "v1" },
      state: "missing",
      stateAfter: "in-sync",
      action: "copied",
      bytes: i,
      durationMs: 5,
      origin: `images[${i}]`,
    }));
    await store.saveResults(runId, results);
    const back = await store.listResults(runId);
    expect(back).toHaveLength(230);
    expect(back.find((r) => r.key === "acr.example/mirror/app7:v1")?.bytes).toBe(7);
  });

  it("keeps the latest status per tag and filters outdated ones", async () => {
    const store = new SyncStore(tables);
    const status = (tag: string, state: ImageStatus["state"]): ImageStatus => ({
      key: `acr.example/mirror/web:${tag}`,
      targetRegistry: "acr.example",
      targetRepository: "mirror/web",
      tag,
      source: "ghcr.io/org/web",
      state,
      lastCheckedAt: new Date().toISOString(),
      lastRunId: "r1",
      origin: "images[0]",
    });
    await store.saveStatuses([
      status("1.0", "in-sync"),
      status("1.1", "drifted"),
      status("2.0", "missing"),
      status("0.9", "source-missing"),
    ]);
    await store.saveStatuses([status("1.0", "drifted")]);
    const outdated = await store.listStatuses({ state: "outdated" });
    expect(outdated.map((s) => s.tag).sort()).toEqual(["1.0", "1.1", "2.0"]);
    const counts = await store.countStatuses();
    expect(counts.drifted).toBe(2);
    expect(counts["source-missing"]).toBe(1);
  });

  it("rejects a 101-operation transaction at the service, which is why writes are batched", async () => {
    const client = tables.client(TABLES.results);
    const ops = Array.from({ length: 101 }, (_, i) => ["upsert", { partitionKey: "raw", rowKey: `r${i}` }] as const);
    await expect(client.submitTransaction(ops as never)).rejects.toThrow();
  });
});

describe("RunLock", () => {
  it("lets one holder in, refuses a second while the lease lives, and hands over after it expires", async () => {
    let now = 1_000_000;
    const lock = new RunLock(tables, () => now);
    const a = await lock.acquire("sync", "run-a", 60_000);
    expect(a).toBeDefined();
    expect(a?.tookOver).toBeUndefined();
    expect(await lock.acquire("sync", "run-b", 60_000)).toBeUndefined();
    // A renewal by the holder is not a takeover.
    expect((await lock.acquire("sync", "run-a", 60_000))?.tookOver).toBeUndefined();
    now += 61_000;
    const b = await lock.acquire("sync", "run-b", 60_000);
    expect(b?.holder).toBe("run-b");
    // A's lease ran out unreleased: B knows its predecessor died mid-run.
    expect(b?.tookOver).toBe(true);
    // A's late release must not free B's lease.
    await lock.release(a!);
    expect(await lock.acquire("sync", "run-c", 60_000)).toBeUndefined();
    await lock.release(b!);
    const c = await lock.acquire("sync", "run-c", 60_000);
    expect(c).toBeDefined();
    // After a release, the next holder is not taking over from anyone.
    expect(c?.tookOver).toBeUndefined();
  });

  it("gives the lock to exactly one of many racing holders", async () => {
    const lock = new RunLock(tables);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => lock.acquire("race", `h${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
