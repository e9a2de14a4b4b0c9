/**
 * The upstream pull quota (RegistryLimits) is shared by every copy worker: each takes its pull from the stored
 * figure with an ETag-conditional update, so K workers on K instances together never dip into the reserve.
 * Workers here are separate store clients (their own HTTP pipelines to Azurite), coordinating only through the
 * table, as separate Function instances would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { mapSettled } from "../../shared/registry/limiter";
import { Transport } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { copyFromMessage } from "../../shared/sync/copyMessage";
import type { PlanItem } from "../../shared/sync/model";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

const worker = (prefix: string) => new SyncStore(new Tables({ connectionString: azurite.connectionString, prefix }));
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

describe("shared rate-limit budget", () => {
  it("4 workers taking at once from 30 remaining with a reserve of 10 get exactly 20 pulls between them", async () => {
    const host = "registry-1.docker.io";
    await worker("quota").saveLimit({ host, remaining: 30, resetAt: inAnHour(), observedAt: new Date().toISOString() });
    const workers = Array.from({ length: 4 }, () => worker("quota"));
    const outcomes = await Promise.all(
      workers.map((w) =>
        mapSettled(Array.from({ length: 15 }), 5, () => w.takeFromLimit(host, 1, 10, new Date())).then((all) =>
          all.map((s) => (s.status === "fulfilled" ? s.value.outcome : `error: ${String(s.reason)}`)),
        ),
      ),
    );
    const flat = outcomes.flat();
    expect(flat.filter((o) => o === "taken")).toHaveLength(20);
    expect(flat.filter((o) => o === "refused")).toHaveLength(40);
    expect((await worker("quota").limits()).get(host)?.remaining).toBe(10);
  });

  it("a reading whose window has reset, or none at all, limits nothing", async () => {
    const store = worker("quotanone");
    expect((await store.takeFromLimit("quay.io", 1, 10, new Date())).outcome).toBe("unknown");
    await store.saveLimit({
      host: "quay.io",
      remaining: 0,
      resetAt: new Date(Date.now() - 1000).toISOString(),
      observedAt: new Date().toISOString(),
    });
    expect((await store.takeFromLimit("quay.io", 1, 10, new Date())).outcome).toBe("unknown");
  });

  it("queued copies stop at the reserve: the rest are skipped and recorded, never copied", async () => {
    const store = worker("quotacopy");
    const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxAttempts: 2 } }));
    const image = buildImage();
    const tags = ["a", "b", "c"];
    for (const t of tags) await pushImage(up.host, "team/app", image, t);
    await store.saveLimit({ host: up.host, remaining: 12, resetAt: inAnHour(), observedAt: new Date().toISOString() });
    const item = (tag: string): PlanItem => ({
      key: `${acr.host}/team/app:${tag}`,
      source: { registry: up.host, repository: "team/app", tag },
      target: { registry: acr.host, repository: "team/app", tag },
      sourceDigest: image.digest,
      state: "missing",
      origin: "sync.yaml:3 images[0]",
    });
    // Two workers, side by side.
    const results = await Promise.all(
      tags.map((t, i) =>
        copyFromMessage(
          client,
          { version: 1, runId: "run1", item: item(t) },
          i % 2 ? store : worker("quotacopy"),
          undefined,
          undefined,
          { reserve: 10 },
        ),
      ),
    );
    expect(results.filter((r) => r.action === "copied")).toHaveLength(2);
    const skipped = results.filter((r) => r.action === "skipped");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.error).toMatch(/at or below the reserve/);
    const present = await Promise.all(tags.map(async (t) => (await fetchManifest(acr.host, "team/app", t)).status));
    expect(present.filter((s) => s === 200)).toHaveLength(2);
    expect((await store.getStatus(skipped[0]!.target))?.lastError).toMatch(/reserve/);
    expect((await store.limits()).get(up.host)?.remaining).toBe(10);
  });
});
