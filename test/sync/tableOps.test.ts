/**
 * Table Storage operations of a run where nothing changed, counted on the wire against Azurite: every write is a
 * batch (a `$batch` POST of at most 100 rows of one partition), every read a page, never a round trip per tag.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables, type TableRequest } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { seedTagsOnDisk } from "../harness/seedTags";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));
const REPOS = 3;
const TAGS = 150;

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  const image = buildImage();
  for (let r = 0; r < REPOS; r++) {
    await pushImage(up.host, `scale/r${r}`, image, "t000");
    await seedTagsOnDisk(
      up,
      `scale/r${r}`,
      image.digest,
      Array.from({ length: TAGS - 1 }, (_, i) => `t${String(i + 1).padStart(3, "0")}`),
    );
  }
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

const config = () =>
  parseSyncConfig(
    [
      `target: { registry: "${acr.host}" }`,
      "images:",
      ...Array.from({ length: REPOS }, (_, r) => `  - { source: "${up.host}/scale/r${r}", allow: "t[0-9]+" }`),
    ].join("\n"),
    "sync.yaml",
  ).config;

describe("Table operations of a no-change run", () => {
  it("are batches and pages: no round trip per tag", async () => {
    const requests: TableRequest[] = [];
    const tables = new Tables({
      connectionString: azurite.connectionString,
      prefix: "ops",
      onRequest: (r) => requests.push(r),
    });
    const store = new SyncStore(tables);
    const first = await runSync({ client, config: config(), trigger: "timer", store, budgetMs: 600_000 });
    expect(first.results.filter((r) => r.action === "copied")).toHaveLength(REPOS * TAGS);

    requests.length = 0;
    const second = await runSync({
      client,
      config: config(),
      trigger: "timer",
      store,
      verifyTarget: false,
      budgetMs: 600_000,
    });
    expect(
      second.results.filter((r) => r.action !== "unchanged" || !/trusted/.test(r.reason ?? "")).slice(0, 3),
    ).toEqual([]);
    const count = (table: string, method: string) =>
      requests.filter((r) => r.table === `ops${table}` && r.method === method).length;
    const batches = requests.filter((r) => r.method === "POST" && r.url.includes("$batch")).length;
    const n = REPOS * TAGS;
    // Reads: the status table (450 rows: one page), the stored rate limits (one page), the cursor (a point read).
    expect(count("ImageStatus", "GET")).toBe(1);
    expect(count("RegistryLimits", "GET")).toBe(1);
    expect(count("SyncRuns", "GET")).toBe(1);
    // Writes: results in one partition (ceil(450/100) = 5 batches), statuses per repository (3 × ceil(150/100) = 6),
    // the run row; the cursor row is unchanged (every entry reached, same start), so it is not written again.
    expect(batches).toBe(Math.ceil(n / 100) + REPOS * Math.ceil(TAGS / 100));
    expect(count("SyncRuns", "PUT") + count("SyncRuns", "PATCH")).toBe(1);
    // Nothing else: table creation happened in the first run (ensure() is once per process).
    expect(requests.length).toBe(1 + 1 + 1 + batches + 1);
    expect(requests.length).toBeLessThan(n / 20);
  }, 120_000);
});
