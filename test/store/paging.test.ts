/**
 * Paging at scale: a 10,000-tag repository is listed in pages of 1,000 (the Distribution spec's `n` and `Link`), and
 * a 100,000-row status table is read in pages of 1,000 (Table Storage's most per response) without holding every row
 * where only counts are needed. Request counts are exact; time is the benchmark's business (bench/scale.bench.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { TABLES, Tables, upsertBatched, type TableRequest } from "../../shared/store/tables";
import { tableKey } from "../../shared/store/keys";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { startProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { pagedTagListRule, seedTagsOnDisk } from "../harness/seedTags";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let azurite: RunningAzurite;
beforeAll(async () => {
  [up, azurite] = await startTogether(startRegistry(), startAzurite());
});
afterAll(async () => Promise.all([up?.stop(), azurite?.stop()]));

describe("paging at scale", () => {
  it("lists a 10,000-tag repository in exactly 10 pages of 1,000", async () => {
    const image = buildImage();
    await pushImage(up.host, "big/repo", image, "seed");
    const tags = Array.from({ length: 9_999 }, (_, i) => `t${String(i).padStart(5, "0")}`);
    await seedTagsOnDisk(up, "big/repo", image.digest, tags);
    const events: RequestEvent[] = [];
    const client = new RegistryClient(new Transport({ onRequest: (e) => events.push(e) }));
    // distribution 2.8 itself answers every tag in one response, whatever `n` says.
    expect(await client.tagList(up.host, "big/repo")).toHaveLength(10_000);
    expect(events.filter((e) => e.kind === "tag.list")).toHaveLength(1);
    // A registry that pages as the spec says: exactly ten requests, every tag once.
    const paged = await startProxy(up.host, [pagedTagListRule("big/repo", [...tags, "seed"])]);
    try {
      events.length = 0;
      const listed = await client.tagList(paged.host, "big/repo");
      expect(listed).toHaveLength(10_000);
      expect(new Set(listed)).toEqual(new Set([...tags, "seed"]));
      expect(events.filter((e) => e.kind === "tag.list")).toHaveLength(10);
      expect(
        paged.seen
          .filter((r) => r.path.includes("/tags/list"))
          .map((r) => new URL(r.path, "http://x").searchParams.get("n")),
      ).toEqual(Array(10).fill("1000"));
    } finally {
      await paged.stop();
    }
    // A seeded tag is a real tag to the registry: it resolves to the pushed manifest.
    expect((await client.manifestHead(up.host, "big/repo", "t09998"))?.digest).toBe(image.digest);
  });

  it("reads a 100,000-row status table in 100 pages, and counts it without keeping the rows", async () => {
    const requests: TableRequest[] = [];
    const tables = new Tables({
      connectionString: azurite.connectionString,
      prefix: "paging",
      onRequest: (r) => requests.push(r),
    });
    const store = new SyncStore(tables);
    await tables.ensure();
    const rows = 100_000;
    const at = new Date(0).toISOString();
    // 1,000 transactions of 100 rows (one partition per 100-tag repository).
    const seed = (repo: number) =>
      Array.from({ length: 100 }, (_, t) => ({
        partitionKey: tableKey(`acr.example/r${repo}`),
        rowKey: tableKey(`t${t}`),
        key: `acr.example/r${repo}:t${t}`,
        targetRegistry: "acr.example",
        targetRepository: `r${repo}`,
        tag: `t${t}`,
        source: `up.example/r${repo}:t${t}`,
        state: t === 0 ? "drifted" : "in-sync",
        lastCheckedAt: at,
        lastRunId: "seed",
        origin: "sync.yaml:1 images[0]",
      }));
    const client = tables.client(TABLES.status);
    for (let repo = 0; repo < rows / 100; repo += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => upsertBatched(client, seed(repo + k))));
    }
    const reads = () => requests.filter((r) => r.table === "pagingImageStatus" && r.method === "GET").length;

    let before = reads();
    const counts = await store.countStatuses();
    expect(counts["in-sync"]).toBe(99_000);
    expect(counts.drifted).toBe(1_000);
    expect(reads() - before).toBe(100);

    before = reads();
    const byKey = await store.statusByKey();
    expect(byKey.size).toBe(rows);
    expect(reads() - before).toBe(100);

    // A bounded listing reads only the pages it needs.
    before = reads();
    expect(await store.listStatuses({ limit: 2_500 })).toHaveLength(2_500);
    expect(reads() - before).toBe(3);
  }, 300_000);
});
