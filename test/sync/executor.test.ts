import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { RunLock } from "../../shared/store/runLock";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { RecordingMetrics } from "../../shared/telemetry/metrics";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, digestOf, fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let store: SyncStore;
let tables: Tables;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));
beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  tables = new Tables({ connectionString: azurite.connectionString });
  store = new SyncStore(tables);
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

const config = () =>
  parseSyncConfig(
    [
      `target: { registry: "${acr.host}" }`,
      "defaults: { pinTag: true }",
      "images:",
      `  - { source: "${up.host}/team/api", tags: ["stable", "1.0"] }`,
      `  - { source: "${up.host}/team/broken", tags: ["v1"] }`,
    ].join("\n"),
    "sync.yaml",
  ).config;

/** One run with a client that counts its requests; `kinds(host)` tallies them by kind for one host. */
async function countedRun(images: string[], verifyTarget = false) {
  const events: RequestEvent[] = [];
  const counting = new RegistryClient(new Transport({ onRequest: (e) => events.push(e) }));
  const cfg = parseSyncConfig(
    [`target: { registry: "${acr.host}" }`, "images:", ...images.map((i) => `  - ${i}`)].join("\n"),
    "sync.yaml",
  ).config;
  const run = await runSync({ client: counting, config: cfg, trigger: "timer", store, verifyTarget });
  const kinds = (host: string) => {
    const out: Record<string, number> = {};
    for (const e of events.filter((x) => x.host === host)) out[e.kind] = (out[e.kind] ?? 0) + 1;
    return out;
  };
  return { run, kinds };
}

describe("runSync end to end (real registries, real Azurite)", () => {
  it("a first sync lists each target repository the store does not know, then only writes: exact requests per side", async () => {
    const [a, b, old, fresh] = [buildImage(), buildImage(), buildImage(), buildImage()];
    await pushImage(up.host, "fresh/one", a, "a");
    await pushImage(up.host, "fresh/one", b, "b");
    await pushImage(up.host, "fresh/two", old, "old");
    await pushImage(up.host, "fresh/two", fresh, "new");
    // The target has fresh/two:old already (written by someone else: the store has no row for it).
    await pushImage(acr.host, "fresh/two", old, "old");
    const { run, kinds } = await countedRun(
      [
        `{ source: "${up.host}/fresh/one", tags: ["a", "b"] }`,
        `{ source: "${up.host}/fresh/two", tags: ["old", "new"] }`,
      ],
      true,
    );
    expect(Object.fromEntries(run.results.map((r) => [`${r.target.repository}:${r.target.tag}`, r.action]))).toEqual({
      "fresh/one:a": "copied",
      "fresh/one:b": "copied",
      "fresh/two:old": "unchanged",
      "fresh/two:new": "copied",
    });
    for (const [repo, tag, image] of [
      ["fresh/one", "a", a],
      ["fresh/one", "b", b],
      ["fresh/two", "new", fresh],
    ] as const)
      expect((await fetchManifest(acr.host, repo, tag)).digest).toBe(image.digest);
    // Upstream: a tag the target lacks is read with one GET, which the copy uses (no HEAD first); the tag the target
    // has ("old") with a HEAD; then the config and layer of each new image.
    expect(kinds(up.host)).toEqual({ "manifest.head": 1, "manifest.get": 3, "blob.get": 6 });
    // Target: one tag list per repository. fresh/one is absent (404), so neither its tags, its manifests nor its
    // small blobs are asked about: each image is two uploads (POST + PUT each), its manifest by digest and its tag.
    // fresh/two lists "old" only: one HEAD for it (in sync), none for "new"; the new image's manifest digest and its layer are
    // asked about, its config blob is not.
    expect(kinds(acr.host)).toEqual({
      "tag.list": 2,
      "manifest.head": 2,
      "blob.head": 1,
      "blob.upload": 6,
      "blob.put": 6,
      "manifest.put": 6,
    });
  });

  it("tags of one image into a new repository: the first copy moves the content, the others only tag it", async () => {
    const image = buildImage();
    for (const tag of ["latest", "1.2", "1.2.3"]) await pushImage(up.host, "fresh/same", image, tag);
    const { run, kinds } = await countedRun([`{ source: "${up.host}/fresh/same", tags: ["latest", "1.2", "1.2.3"] }`]);
    expect(run.results.map((r) => r.action)).toEqual(["copied", "copied", "copied"]);
    // Each tag is read upstream once, by GET; the image's blobs once.
    expect(kinds(up.host)).toEqual({ "manifest.get": 3, "blob.get": 2 });
    // The repository was listed empty, but only the first copy may act on that: the two behind it ask for the
    // manifest (there by then), and put nothing but their tags.
    expect(kinds(acr.host)).toEqual({
      "tag.list": 1,
      "manifest.head": 2,
      "blob.upload": 2,
      "blob.put": 2,
      "manifest.put": 4,
    });
  });

  it("reports only, then copies, then costs a HEAD per tag upstream only, then keeps the old digest under a pin tag on drift", async () => {
    const v1 = buildImage();
    await pushImage(up.host, "team/api", v1, "stable");
    await pushImage(up.host, "team/api", v1, "1.0");
    const broken = buildImage();
    await pushImage(up.host, "team/broken", broken, "v1");
    // Delete a layer upstream so that copy fails while the others succeed.
    const layer = digestOf(broken.layers[0]!);
    await fetch(`http://${up.host}/v2/team/broken/blobs/${layer}`, { method: "DELETE" });

    const metrics = new RecordingMetrics();
    const report = await runSync({ client, config: config(), trigger: "manual", reportOnly: true, store, metrics });
    expect(report.results.every((r) => r.action === "reported")).toBe(true);
    expect((await fetchManifest(acr.host, "team/api", "stable")).status).toBe(404);
    expect(metrics.last("outdated_images")).toBe(3);

    const first = await runSync({
      client,
      config: config(),
      trigger: "timer",
      store,
      metrics,
      lock: new RunLock(tables),
    });
    const byKey = Object.fromEntries(first.results.map((r) => [r.target.tag, r.action]));
    expect(byKey).toEqual({ stable: "copied", "1.0": "copied", v1: "failed" });
    expect(first.run.status).toBe("partial");
    expect(metrics.last("outdated_images")).toBe(1);
    expect(metrics.last("synced")).toBe(2);
    expect((await fetchManifest(acr.host, "team/api", "stable")).digest).toBe(v1.digest);
    const pin = first.results.find((r) => r.target.tag === "stable")!.pinTag!;
    expect(pin).toMatch(/^\d{8}_sha256_[a-f0-9]{64}$/);

    const events: Array<{ host: string; kind: string; method: string }> = [];
    const counting = new RegistryClient(
      new Transport({ onRequest: (e) => events.push(e), retry: { baseDelayMs: 1, maxAttempts: 2 } }),
    );
    const second = await runSync({ client: counting, config: config(), trigger: "timer", store });
    // The tags this tool wrote are trusted: no target HEAD for them; upstream, one HEAD per tag.
    const apiEvents = events.filter((e) => !e.kind.startsWith("blob"));
    expect(apiEvents.filter((e) => e.host === up.host && e.kind === "manifest.head")).toHaveLength(3);
    expect(second.results.find((r) => r.target.tag === "stable")?.action).toBe("unchanged");
    expect(second.results.filter((r) => r.state === "in-sync")).toHaveLength(2);
    expect(second.results.find((r) => r.target.tag === "stable")?.reason).toMatch(/trusted/);

    const v2 = buildImage();
    await pushImage(up.host, "team/api", v2, "stable");
    const third = await runSync({ client, config: config(), trigger: "timer", store, verifyTarget: true });
    expect(third.results.find((r) => r.target.tag === "stable")?.state).toBe("drifted");
    expect((await fetchManifest(acr.host, "team/api", "stable")).digest).toBe(v2.digest);
    // The pin tag written for the old digest still holds it.
    expect((await fetchManifest(acr.host, "team/api", pin)).digest).toBe(v1.digest);

    const runs = await store.listRuns(10);
    expect(runs[0]!.runId).toBe(third.run.runId);
    const statuses = await store.listStatuses({ state: "outdated" });
    expect(statuses.map((s) => s.tag)).toEqual(["v1"]);
  });

  it("a second run that overlaps a live one does nothing", async () => {
    const lock = new RunLock(tables);
    const held = await lock.acquire("sync", "someone-else", 60_000);
    const outcome = await runSync({ client, config: config(), trigger: "timer", lock });
    expect(outcome.skipped).toMatch(/lock/);
    expect(outcome.results).toEqual([]);
    await lock.release(held!);
  });

  it("renews its short lease while it runs, so a slow run keeps the lock, and a dead one frees it soon", async () => {
    const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Each upstream manifest HEAD takes 700 ms: the run outlives its 400 ms lease several times over.
    const slowClient = new RegistryClient(
      new Transport({
        retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 },
        fetch: async (input, init) => {
          if ((init?.method ?? "GET") === "HEAD") await delay(700);
          return fetch(input, init);
        },
      }),
    );
    const lock = new RunLock(tables);
    const first = runSync({
      client: slowClient,
      config: config(),
      trigger: "timer",
      lock,
      lockTtlMs: 400,
      lockRenewMs: 100,
    });
    await delay(1200);
    const second = await runSync({
      client,
      config: config(),
      trigger: "timer",
      lock,
      lockTtlMs: 400,
      lockRenewMs: 100,
    });
    expect(second.skipped).toMatch(/lock/);
    expect((await first).skipped).toBeUndefined();
    // A lease nobody renews (its holder died) is free again after its short TTL.
    await lock.acquire("sync", "dead-run", 300);
    await delay(400);
    const third = await runSync({ client, config: config(), trigger: "timer", lock });
    expect(third.skipped).toBeUndefined();
  });
});
