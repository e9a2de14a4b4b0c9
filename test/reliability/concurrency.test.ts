/**
 * Concurrency: two sync runs started together copy each image once (the run lock in shared/store/runLock.ts), a
 * lease that expired is taken over by exactly one of two racing runs, and one copy delivered twice (a queue
 * message seen twice, one after the other or side by side) is idempotent. Writes are counted at a recording proxy
 * in front of the target registry: a blob, manifest or tag written twice is duplicate work.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { Transport } from "../../shared/registry/transport";
import { RunLock } from "../../shared/store/runLock";
import { SyncStore } from "../../shared/store/syncStore";
import { TABLES, Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { startFaultProxy, type RunningFaultProxy } from "../harness/faultProxy";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { auditRegistry, completedWrites, reportFigures, repeatedWrites, seededLayer, startTogether } from "./support";

let up: RunningRegistry;
let acr: RunningRegistry;
let acrProxy: RunningFaultProxy;
let azurite: RunningAzurite;
let tables: Tables;
const newClient = () => new RegistryClient(new Transport({ retry: { baseDelayMs: 5, maxDelayMs: 40 } }));
const isWrite = (e: { method: string }) => ["POST", "PUT", "PATCH", "DELETE"].includes(e.method);
const figures: Record<string, unknown> = {};

const index = buildIndex([
  buildImage({ layers: [seededLayer(40_000, "cc-base"), seededLayer(30_000, "cc-amd")] }),
  buildImage({
    layers: [seededLayer(40_000, "cc-base"), seededLayer(30_000, "cc-arm")],
    platform: { os: "linux", architecture: "arm64" },
  }),
]);
const singles = ["one", "two", "three", "four"].map((n) =>
  buildImage({ layers: [seededLayer(40_000, "cc-base"), seededLayer(20_000, `cc-${n}`)] }),
);

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  acrProxy = await startFaultProxy(acr.host);
  tables = new Tables({ connectionString: azurite.connectionString });
  await pushIndex(up.host, "cc/multi", index, "v1");
  await pushIndex(up.host, "cc/multi", index, "stable");
  for (const [i, image] of singles.entries()) await pushImage(up.host, `cc/single-${i}`, image, "v1");
});
afterAll(async () => Promise.all([acrProxy?.stop(), up?.stop(), acr?.stop(), azurite?.stop()]));

const config = (prefix: string, tags = '["v1"]') =>
  parseSyncConfig(
    [
      `target: { registry: "${acrProxy.host}", prefix: ${prefix} }`,
      "images:",
      `  - { source: "${up.host}/cc/multi", tags: ${tags}, pinTag: true }`,
      ...singles.map((_, i) => `  - { source: "${up.host}/cc/single-${i}", tags: ["v1"] }`),
    ].join("\n"),
    `${prefix}.yaml`,
  ).config;

describe("two sync runs started together", () => {
  it("copy each image once: one takes the run lock, the other does nothing", async () => {
    acrProxy.reset();
    const store = new SyncStore(tables);
    const [a, b] = await Promise.all(
      [newClient(), newClient()].map((client) =>
        runSync({ client, config: config("pair"), trigger: "timer", store, lock: new RunLock(tables) }),
      ),
    );
    const ran = [a!, b!].filter((o) => !o.skipped);
    const skipped = [a!, b!].filter((o) => o.skipped);
    expect(ran).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.results).toEqual([]);
    expect(ran[0]!.run.copied).toBe(5);
    const writes = completedWrites(acrProxy.exchanges);
    expect(repeatedWrites(writes)).toEqual([]);
    expect((await auditRegistry(acr.host, (r) => r.startsWith("pair/"))).problems).toEqual([]);
    // The lock is free again: a later run goes ahead and, with nothing changed, writes nothing.
    acrProxy.reset();
    const again = await runSync({
      client: newClient(),
      config: config("pair"),
      trigger: "timer",
      store,
      lock: new RunLock(tables),
    });
    expect(again.skipped).toBeUndefined();
    expect(again.run.copied).toBe(0);
    expect(acrProxy.exchanges.filter(isWrite)).toEqual([]);
    figures.runsStartedTogether = { ran: 1, skipped: 1, duplicateWrites: 0, writesByRepeatRun: 0 };
  });

  it("racing for a lease that expired, exactly one run takes it over", async () => {
    const lock = new RunLock(tables);
    const dead = await lock.acquire("sync", "crashed-run", 1);
    expect(dead).toBeDefined();
    await new Promise((r) => setTimeout(r, 20));
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        runSync({ client: newClient(), config: config("lease"), trigger: "timer", lock: new RunLock(tables) }),
      ),
    );
    expect(outcomes.filter((o) => !o.skipped)).toHaveLength(1);
    expect(outcomes.filter((o) => o.skipped)).toHaveLength(3);
    // Nothing is left holding the lock.
    const row = await tables
      .client(TABLES.locks)
      .getEntity("lock", "sync")
      .catch((e: { statusCode?: number }) => e.statusCode);
    expect(row).toBe(404);
    figures.expiredLeaseRace = { runs: 4, tookOver: 1 };
  });
});

describe("one copy delivered twice (a queue message seen twice)", () => {
  it("one after the other: the second delivery writes nothing", async () => {
    acrProxy.reset();
    const item = () =>
      copyImage(
        newClient(),
        { registry: up.host, repository: "cc/multi", tag: "v1" },
        { registry: acrProxy.host, repository: "twice/seq" },
        ["v1"],
      );
    const first = await item();
    const firstWrites = acrProxy.exchanges.filter(isWrite).length;
    const second = await item();
    expect(second.digest).toBe(first.digest);
    expect(second.tags.unchanged).toEqual(["v1"]);
    expect(acrProxy.exchanges.filter(isWrite).length).toBe(firstWrites);
    // The same holds for a sync restricted to one image.
    const one = parseSyncConfig(
      [
        `target: { registry: "${acrProxy.host}", prefix: once }`,
        "images:",
        `  - { source: "${up.host}/cc/single-0", tags: ["v1"] }`,
      ].join("\n"),
      "one.yaml",
    ).config;
    const store = new SyncStore(tables);
    await runSync({ client: newClient(), config: one, trigger: "queue", store });
    acrProxy.reset();
    const repeat = await runSync({ client: newClient(), config: one, trigger: "queue", store });
    expect(repeat.results.map((r) => r.action)).toEqual(["unchanged"]);
    expect(acrProxy.exchanges.filter(isWrite)).toEqual([]);
    figures.sequentialRedelivery = { writesBySecondDelivery: 0 };
  });

  it("side by side: both deliveries succeed and the target holds the image once, complete", async () => {
    // Two copies of one index into a fresh repository at once, many times: distribution can refuse one of two
    // simultaneous PUTs of the same manifest (DIGEST_INVALID); the client must see that the bytes are there.
    const rounds = 12;
    const failures: string[] = [];
    acrProxy.reset();
    for (let i = 0; i < rounds; i++) {
      const outcomes = await Promise.allSettled(
        [newClient(), newClient()].map((client) =>
          copyImage(
            client,
            { registry: up.host, repository: "cc/multi", tag: "v1" },
            { registry: acrProxy.host, repository: `twice/par-${i}` },
            ["v1", "stable"],
          ),
        ),
      );
      for (const o of outcomes) if (o.status === "rejected") failures.push(String((o.reason as Error).message));
      expect((await fetchManifest(acr.host, `twice/par-${i}`, "stable")).digest).toBe(index.digest);
    }
    expect(failures).toEqual([]);
    expect((await auditRegistry(acr.host, (r) => r.startsWith("twice/par-"))).problems).toEqual([]);
    const writes = completedWrites(acrProxy.exchanges);
    const repeated = repeatedWrites(writes).length;
    figures.parallelRedelivery = { rounds, failures: failures.length, resourcesWrittenTwice: repeated };
  });

  it("a manifest PUT refused with DIGEST_INVALID is tried again, and counts as done when the bytes are there", async () => {
    let refused = 0;
    const front: RunningProxy = await startProxy(acr.host, [
      (req) =>
        req.method === "PUT" && req.path.includes("/manifests/sha256") && refused++ === 0
          ? {
              status: 400,
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({
                errors: [{ code: "DIGEST_INVALID", message: "provided digest did not match uploaded content" }],
              }),
            }
          : undefined,
    ]);
    try {
      const result = await copyImage(
        newClient(),
        { registry: up.host, repository: "cc/single-1", tag: "v1" },
        { registry: front.host, repository: "refused/once" },
        ["v1"],
      );
      expect(result.digest).toBe(singles[1]!.digest);
      expect(refused).toBeGreaterThan(1);
      expect((await fetchManifest(acr.host, "refused/once", "v1")).digest).toBe(singles[1]!.digest);
    } finally {
      await front.stop();
    }
  });
});

describe("one image under several tags in one run", () => {
  // BUG (shared/sync/executor.ts, runSync/execute): every (image, tag) plan item is its own copyImage, run side by
  // side, so an image mirrored under two tags is copied twice at once: its manifests, mounts and pin tag are written
  // twice, and on distribution the two simultaneous manifest PUTs used to fail one tag with DIGEST_INVALID (the
  // registry client now absorbs that). Items that share a source digest and target repository should be one copy
  // with all their tags. Flip to `it` once fixed.
  it("is copied once, not once per tag", async () => {
    acrProxy.reset();
    // Slow target HEADs make the overlap certain rather than likely.
    acrProxy.force = [(req) => (req.method === "HEAD" && req.path.includes("/manifests/") ? "delay" : undefined)];
    try {
      const outcome = await runSync({
        client: newClient(),
        config: config("tags", '["v1", "stable"]'),
        trigger: "timer",
      });
      expect(outcome.run.failed).toBe(0);
      const repeated = repeatedWrites(completedWrites(acrProxy.exchanges));
      figures.severalTagsOneImage = { resourcesWrittenTwice: repeated.length };
      expect(repeated).toEqual([]);
    } finally {
      acrProxy.force = [];
      reportFigures("concurrency", figures);
    }
  });
});
