/**
 * A 50-image sync through fault-injecting proxies in front of both registries (seeded schedule: 5xx, 429 with
 * Retry-After, resets mid-blob and after the registry acted, truncated and corrupted bodies, delays), plus three
 * images whose faults never stop. Afterwards: every tag the run wrote resolves to the right digest with its whole
 * graph present, no failed image has a tag, and the failures are counted in the run, the metrics and the store.
 * A second run without faults converges. Rerun another schedule with FAULT_SEED=<n>.
 */
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
import {
  FAULT_KINDS,
  requestKey,
  scheduledFault,
  startFaultProxy,
  type FaultKind,
  type FaultSchedule,
  type RunningFaultProxy,
} from "../harness/faultProxy";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { auditRegistry, missingContent, reportFigures, seededLayer, startTogether } from "./support";

const SEED = process.env.FAULT_SEED ?? "11";
const IMAGES = 50;
const DOOMED: Record<string, FaultKind> = { "doomed-corrupt": "corrupt", "doomed-reset": "reset", "doomed-put": "500" };

let up: RunningRegistry;
let acr: RunningRegistry;
let upProxy: RunningFaultProxy;
let acrProxy: RunningFaultProxy;
let azurite: RunningAzurite;

const schedule: FaultSchedule = {
  seed: SEED,
  rate: 0.1,
  // Body faults only fit GETs with a body, a small share of requests: weigh them up so each kind shows.
  weights: { "500": 1, "502": 1, "503": 1, "429": 1, reset: 2, truncate: 4, delay: 1, corrupt: 4 },
  maxPerKey: 2,
  retryAfterSeconds: 1,
  delayMs: 150,
};
const repoOf = (path: string) => /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1] ?? "";
const doomedKind = (path: string) => Object.entries(DOOMED).find(([name]) => repoOf(path).endsWith(name))?.[1];

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  upProxy = await startFaultProxy(up.host, {
    schedule,
    force: [
      // The upstream of two doomed images serves broken blobs, always.
      (req) => {
        const kind = doomedKind(req.path);
        return req.method === "GET" && req.path.includes("/blobs/") && kind !== "500" ? kind : undefined;
      },
    ],
  });
  acrProxy = await startFaultProxy(acr.host, {
    schedule,
    // The target refuses every manifest of the third, always: its blobs land, its tags must not.
    force: [
      (req) =>
        req.method === "PUT" && req.path.includes("/manifests/") && doomedKind(req.path) === "500" ? "500" : undefined,
    ],
  });
});
afterAll(async () => Promise.all([upProxy?.stop(), acrProxy?.stop(), up?.stop(), acr?.stop(), azurite?.stop()]));

describe("the fault schedule", () => {
  it("is a pure function of seed, request key and occurrence", () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `GET /v2/a/blobs/sha256:${i}`);
    const run = (seed: string) => keys.map((k) => scheduledFault({ seed, rate: 0.1 }, k, 0, FAULT_KINDS, 0));
    expect(run("7")).toEqual(run("7"));
    expect(run("7")).not.toEqual(run("8"));
    const hits = run("7").filter(Boolean).length;
    expect(hits).toBeGreaterThan(140);
    expect(hits).toBeLessThan(260);
    // Capped per key so retries get through, and upload session ids do not change the key.
    expect(scheduledFault({ seed: 1, rate: 1, maxPerKey: 2 }, "k", 5, FAULT_KINDS, 2)).toBeUndefined();
    expect(requestKey("PUT", "/v2/a/blobs/uploads/5f3e?_state=xyz&digest=sha256:ab")).toBe(
      "PUT /v2/a/blobs/uploads/*?digest=sha256:ab",
    );
  });
});

describe(`a ${IMAGES}-image sync through faults (seed ${SEED})`, () => {
  it("writes only complete images, no tag for a failed one, counts and records every failure, then converges", async () => {
    // Seed upstream: one base layer shared by every image, every fifth image a two-platform index, three doomed.
    const base = seededLayer(16 * 1024, "base");
    const names = Array.from({ length: IMAGES - 3 }, (_, i) => `app-${String(i).padStart(2, "0")}`);
    names.push(...Object.keys(DOOMED));
    const expected = new Map<string, string>();
    await Promise.all(
      names.map(async (name, i) => {
        const layers = (arch = "") => [
          base,
          seededLayer(24 * 1024 + i, `${name}${arch}`),
          seededLayer(4 * 1024, `${name}${arch}-top`),
        ];
        if (i % 5 === 4) {
          const index = buildIndex([
            buildImage({ layers: layers() }),
            buildImage({ layers: layers("arm64"), platform: { os: "linux", architecture: "arm64", variant: "v8" } }),
          ]);
          await pushIndex(up.host, `faults/${name}`, index, "v1");
          expected.set(name, index.digest);
        } else {
          const image = buildImage({ layers: layers(), labels: { n: String(i) } });
          await pushImage(up.host, `faults/${name}`, image, "v1");
          expected.set(name, image.digest);
        }
      }),
    );
    const yaml = [
      `target: { registry: "${acrProxy.host}", prefix: mirror }`,
      "defaults: { concurrency: 6 }",
      "images:",
      ...names.map((n, i) => `  - { source: "${upProxy.host}/faults/${n}", tags: ["v1"], pinTag: ${i % 7 === 3} }`),
    ].join("\n");
    const config = parseSyncConfig(yaml, "faults.yaml").config;

    const events: RequestEvent[] = [];
    const client = new RegistryClient(
      new Transport({ retry: { baseDelayMs: 5, maxDelayMs: 40 }, onRequest: (e) => events.push(e) }),
    );
    const tables = new Tables({ connectionString: azurite.connectionString });
    const store = new SyncStore(tables);
    const metrics = new RecordingMetrics();
    const started = Date.now();
    const first = await runSync({ client, config, trigger: "timer", store, metrics, lock: new RunLock(tables) });
    const firstSeconds = (Date.now() - started) / 1000;

    const copied = first.results.filter((r) => r.action === "copied");
    const failed = first.results.filter((r) => r.action === "failed");
    const nameOf = (repository: string) => repository.split("/").pop()!;

    // Every tag the run says it wrote resolves to the upstream digest with its whole graph in place.
    for (const r of copied) {
      const name = nameOf(r.target.repository);
      for (const tag of [r.target.tag, ...(r.pinTag ? [r.pinTag] : [])]) {
        expect((await fetchManifest(acr.host, r.target.repository, tag)).digest, `${name}:${tag}`).toBe(
          expected.get(name),
        );
      }
      expect(await missingContent(acr.host, r.target.repository, "v1"), name).toEqual([]);
    }
    // The doomed images failed, with their reason; no failed image has a tag (not even a pin tag).
    for (const name of Object.keys(DOOMED)) {
      expect(
        failed.map((r) => nameOf(r.target.repository)),
        name,
      ).toContain(name);
    }
    for (const r of failed) {
      expect(r.error, r.key).toBeTruthy();
      expect((await fetchManifest(acr.host, r.target.repository, "v1")).status, r.key).toBe(404);
    }
    const audit = await auditRegistry(acr.host);
    expect(audit.problems).toEqual([]);
    expect(audit.tags.length).toBe(copied.length + copied.filter((r) => r.pinTag).length);

    // Counted and recorded: run record, metrics, per-image results and status rows.
    expect(first.results).toHaveLength(IMAGES);
    expect(first.run.failed).toBe(failed.length);
    expect(first.run.copied).toBe(copied.length);
    expect(copied.length + failed.length).toBe(IMAGES);
    expect(first.run.status).toBe("partial");
    expect(metrics.last("failed")).toBe(failed.length);
    expect(metrics.last("synced")).toBe(copied.length);
    expect(metrics.last("outdated_images")).toBe(failed.length);
    const rows = await store.listResults(first.run.runId);
    expect(
      rows
        .filter((r) => r.action === "failed")
        .map((r) => r.key)
        .sort(),
    ).toEqual(failed.map((r) => r.key).sort());
    expect(
      rows.filter((r) => r.action === "failed").every((r) => typeof r.error === "string" && r.error.length > 0),
    ).toBe(true);
    const statuses = await store.listStatuses({ state: "outdated" });
    expect(statuses.map((s) => s.key).sort()).toEqual(failed.map((r) => r.key).sort());
    expect(statuses.every((s) => s.lastError)).toBe(true);

    // 429s were waited out: the retry of a 429'd GET by digest (one request per copy) came Retry-After later.
    const injected = [...upProxy.faults, ...acrProxy.faults];
    for (const proxy of [upProxy, acrProxy]) {
      for (const f of proxy.faults.filter((x) => x.kind === "429" && x.method === "GET" && x.key.includes("sha256:"))) {
        const next = proxy.exchanges.find((e) => e.key === f.key && e.at > f.at);
        if (next) expect(next.at - f.at, f.key).toBeGreaterThanOrEqual(950);
      }
    }
    const scheduled = injected.filter((f) => !f.forced);
    const byKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, scheduled.filter((f) => f.kind === k).length]));
    expect(scheduled.length).toBeGreaterThan(30);
    for (const kind of FAULT_KINDS) expect(byKind[kind], kind).toBeGreaterThan(0);
    const failedRepos = new Set(failed.map((r) => nameOf(r.target.repository)));
    const survived = scheduled.filter((f) => !failedRepos.has(nameOf(repoOf(f.path)))).length;

    // Without faults the next run copies what failed and leaves the rest alone.
    upProxy.schedule = undefined;
    acrProxy.schedule = undefined;
    upProxy.force = [];
    acrProxy.force = [];
    const second = await runSync({ client, config, trigger: "timer", store, metrics, lock: new RunLock(tables) });
    expect(second.run.failed).toBe(0);
    expect(
      second.results
        .filter((r) => r.action === "copied")
        .map((r) => r.key)
        .sort(),
    ).toEqual(failed.map((r) => r.key).sort());
    const after = await auditRegistry(acr.host);
    expect(after.problems).toEqual([]);
    for (const name of names) {
      expect((await fetchManifest(acr.host, `mirror/faults/${name}`, "v1")).digest, name).toBe(expected.get(name));
    }
    expect(metrics.last("outdated_images")).toBe(0);

    reportFigures("faults", {
      seed: SEED,
      images: IMAGES,
      requests: events.length,
      retries: events.filter((e) => e.retry).length,
      faultsScheduled: scheduled.length,
      faultsScheduledByKind: byKind,
      faultsForced: injected.length - scheduled.length,
      survived,
      firstRun: { copied: copied.length, failed: failed.length, seconds: firstSeconds },
      failures: failed.map((r) => ({ image: nameOf(r.target.repository), error: r.error?.slice(0, 240) })),
      secondRun: { copied: second.run.copied, failed: second.run.failed },
      tagsAudited: after.tags.length,
      incompleteTags: after.problems.length,
    });
  }, 120_000);
});
