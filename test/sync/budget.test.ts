/**
 * The timer's time budget (shared/sync/budget.ts): a run that runs out of time stops planning, leaves a cursor in
 * Table Storage, and the next run starts there, so every entry is reached in turn and none starves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));
const REPOS = ["a", "b", "c", "d", "e"];

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  for (const repo of REPOS) await pushImage(up.host, `team/${repo}`, buildImage(), "v1");
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

const config = (repos: readonly string[], concurrency = 4) =>
  parseSyncConfig(
    [
      `target: { registry: "${acr.host}" }`,
      `defaults: { concurrency: ${concurrency} }`,
      "images:",
      ...repos.map((r) => `  - { source: "${up.host}/team/${r}", tags: ["v1"] }`),
    ].join("\n"),
    "sync.yaml",
  ).config;

const storeFor = (prefix: string) => new SyncStore(new Tables({ connectionString: azurite.connectionString, prefix }));
const repoOf = (key: string) => /team\/([a-z]+):/.exec(key)?.[1];

describe("timer budget", () => {
  it("a budget that runs out at once still plans one entry per run, and the cursor rotates through all of them", async () => {
    const store = storeFor("budgetrot");
    const reached: Array<string | undefined> = [];
    for (let run = 0; run < REPOS.length + 1; run++) {
      const out = await runSync({ client, config: config(REPOS), trigger: "timer", store, budgetMs: 0 });
      expect(out.results).toHaveLength(1);
      reached.push(repoOf(out.results[0]!.key));
      expect(out.warnings.join("\n")).toMatch(/time budget of 0 s reached: 4 of 5 entries not planned/);
      // The first reached entry is always copied: progress every run.
      expect(out.results[0]!.action).toBe(run < REPOS.length ? "copied" : "unchanged");
    }
    // In config order, each once, then round again: no entry starves.
    expect(reached).toEqual([...REPOS, REPOS[0]]);
    for (const repo of REPOS) expect((await fetchManifest(acr.host, `team/${repo}`, "v1")).status).toBe(200);
    const cursor = await store.getCursor();
    expect(cursor).toMatchObject({ entry: 1, total: 5, notReached: 4 });
    // The cursor row does not show up as a run.
    expect((await store.listRuns(100)).every((r) => r.runId !== "sync")).toBe(true);
  });

  it("resumes at the same entry by identity when entries are inserted before it", async () => {
    const store = storeFor("budgetedit");
    await runSync({ client, config: config(REPOS), trigger: "timer", store, budgetMs: 0 });
    await runSync({ client, config: config(REPOS), trigger: "timer", store, budgetMs: 0 });
    expect((await store.getCursor())?.entry).toBe(2); // next: "c"
    // "e" moves to the front: "c" is now at position 3, and the next run starts there.
    const edited = ["e", "a", "b", "c", "d"];
    const out = await runSync({ client, config: config(edited), trigger: "timer", store, budgetMs: 0 });
    expect(out.results.map((r) => repoOf(r.key))).toEqual(["c"]);
    expect((await store.getCursor())?.entry).toBe(4);
  });

  it("a budget that is not reached plans every entry and leaves the cursor where it was", async () => {
    const store = storeFor("budgetroom");
    const out = await runSync({ client, config: config(REPOS), trigger: "timer", store, budgetMs: 600_000 });
    expect(out.results.map((r) => repoOf(r.key))).toEqual(REPOS);
    expect(out.warnings.join("\n")).not.toMatch(/time budget/);
    expect(await store.getCursor()).toMatchObject({ entry: 0, notReached: 0 });
    // Unbudgeted runs (CLI, HTTP) never read or write the cursor.
    const unbudgeted = storeFor("budgetnone");
    await runSync({ client, config: config(REPOS), trigger: "manual", store: unbudgeted });
    expect(await unbudgeted.getCursor()).toBeUndefined();
  });

  it("copies not started when the budget runs out are deferred, and the cursor goes back to their entry", async () => {
    const store = storeFor("budgetdefer");
    const repos = ["f", "g", "h"];
    for (const repo of repos) await pushImage(up.host, `team/${repo}`, buildImage(), "v1");
    // A clock that stands still while the plan runs and jumps past the budget once the first copy finishes.
    let t = Date.parse("2026-01-01T00:00:00Z");
    const now = () => new Date(t);
    const out = await runSync({
      client,
      // One copy at a time, so the later ones see the clock after the first moved it.
      config: config(repos, 1),
      trigger: "timer",
      store,
      budgetMs: 1000,
      now,
      onProgress: (_item, event) => {
        if (event.type === "walk") t += 5000;
      },
    });
    const actions = Object.fromEntries(out.results.map((r) => [repoOf(r.key), r.action]));
    expect(out.results).toHaveLength(3);
    // The first entry's copy always runs; the other two found the budget gone.
    expect(actions).toEqual({ f: "copied", g: "skipped", h: "skipped" });
    const deferred = out.results.filter((r) => r.action === "skipped");
    expect(deferred.every((r) => r.stateAfter === "missing" && /time budget/.test(r.reason ?? ""))).toBe(true);
    expect((await store.getCursor())?.entry).toBe(1);
    expect((await fetchManifest(acr.host, "team/g", "v1")).status).toBe(404);
    expect(out.warnings.join("\n")).toMatch(/copies deferred/);
  });
});
