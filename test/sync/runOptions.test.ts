/**
 * Platform filtering, the rate-limit reserve and verify-every-Nth-run, against real registries and real Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, newTally, countInto } from "../../shared/registry/transport";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, buildIndex, fetchManifest, pushImage, pushIndex } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let limited: RunningProxy;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  // Docker Hub style quota headers on every manifest HEAD and GET, counting down from `remaining` on each (stricter
  // than Docker Hub, whose HEAD is free: the reserve must hold whichever way the plan asks).
  let remaining = 14;
  const manifestRequest = (req: { method: string; path: string }) =>
    (req.method === "HEAD" || req.method === "GET") && req.path.includes("/manifests/");
  limited = await startProxy(up.host);
  limited.rules.push((req) => {
    if (manifestRequest(req)) remaining--;
    return undefined;
  });
  limited.rewriteHeaders = (req, headers) =>
    manifestRequest(req)
      ? { ...headers, "ratelimit-limit": "100;w=21600", "ratelimit-remaining": `${remaining};w=21600` }
      : headers;
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop(), limited?.stop()]));

const store = (table: string) =>
  new SyncStore(new Tables({ connectionString: azurite.connectionString, prefix: table }));

describe("platform filtering", () => {
  it("copies only the listed platforms, predicts the filtered digest, and is in sync on the next run", async () => {
    const amd = buildImage({ platform: { os: "linux", architecture: "amd64" } });
    const arm = buildImage({ platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    const index = buildIndex([amd, arm]);
    await pushIndex(up.host, "multi/app", index, "1.0");
    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "images:",
        `  - { source: "${up.host}/multi/app", tags: ["1.0"], platforms: [linux/amd64] }`,
        `  - { source: "${up.host}/multi/app", target: whole/app, tags: ["1.0"] }`,
      ].join("\n"),
      "sync.yaml",
    ).config;
    const s = store("plat");
    const first = await runSync({ client, config, trigger: "manual", store: s });
    expect(first.results.map((r) => r.action)).toEqual(["copied", "copied"]);

    const filtered = await fetchManifest(acr.host, "multi/app", "1.0");
    const doc = JSON.parse(filtered.bytes!.toString()) as { manifests: Array<{ digest: string }> };
    expect(doc.manifests.map((m) => m.digest)).toEqual([amd.digest]);
    expect(filtered.digest).not.toBe(index.digest);
    // The arm64 child never reached the filtered repository; the whole copy keeps the upstream digest.
    expect((await fetchManifest(acr.host, "multi/app", arm.digest)).status).toBe(404);
    expect((await fetchManifest(acr.host, "whole/app", "1.0")).digest).toBe(index.digest);

    // Verified from scratch (no trust): the planner computes the filtered digest and finds it in sync.
    const verified = await runSync({ client, config, trigger: "manual", verifyTarget: true });
    expect(verified.results.map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
    expect(verified.results[0]!.wantDigest).toBe(filtered.digest);

    // Trusted: status knows the filtered digest for this source digest, so no target request and no GET.
    const tally = newTally();
    const trusted = await countInto(tally, () => runSync({ client, config, trigger: "manual", store: s }));
    expect(trusted.results.map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
    expect(tally.byKind).toEqual({ "manifest.head": 2 });
  });

  it("an index with no matching platform is a warning and no copy, for that image only", async () => {
    const arm = buildImage({ platform: { os: "linux", architecture: "arm64" } });
    await pushIndex(up.host, "armonly/app", buildIndex([arm]), "1.0");
    await pushImage(up.host, "fine/app", buildImage(), "1.0");
    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "defaults: { platforms: [linux/amd64] }",
        "images:",
        `  - { source: "${up.host}/armonly/app", tags: ["1.0"] }`,
        `  - { source: "${up.host}/fine/app", tags: ["1.0"] }`,
      ].join("\n"),
      "sync.yaml",
    ).config;
    const run = await runSync({ client, config, trigger: "manual" });
    expect(run.results.map((r) => [r.key, r.action])).toEqual([[`${acr.host}/fine/app:1.0`, "copied"]]);
    expect(run.warnings.join("\n")).toMatch(
      /armonly\/app:1\.0: no platform of the index matches linux\/amd64 \(it has linux\/arm64\); not copied/,
    );
    expect((await fetchManifest(acr.host, "armonly/app", "1.0")).status).toBe(404);
  });
});

describe("a single-platform image and a platform list", () => {
  it("that does not match: a warning and no copy; that matches: copied as is", async () => {
    const arm = buildImage({ platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    await pushImage(up.host, "single/arm", arm, "1.0");
    await pushImage(up.host, "single/amd", buildImage(), "1.0");
    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "defaults: { platforms: [linux/amd64] }",
        "images:",
        `  - { source: "${up.host}/single/arm", tags: ["1.0"] }`,
        `  - { source: "${up.host}/single/amd", tags: ["1.0"] }`,
      ].join("\n"),
      "sync.yaml",
    ).config;
    const run = await runSync({ client, config, trigger: "manual" });
    expect(run.results.map((r) => [r.key, r.action])).toEqual([[`${acr.host}/single/amd:1.0`, "copied"]]);
    expect(run.warnings).toEqual([
      `sync.yaml:4 images[0] ${up.host}/single/arm:1.0: a single-platform image (linux/arm64/v8) matches none of linux/amd64; not copied`,
    ]);
    expect((await fetchManifest(acr.host, "single/arm", "1.0")).status).toBe(404);
  });
});

describe("several rules on one image", () => {
  it("copy the union of their tags into one target repository, each tag once", async () => {
    const img = buildImage();
    for (const tag of ["latest", "1.9.0", "1.10.0", "2.0", "2.1"]) await pushImage(up.host, "rules/app", img, tag);
    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "images:",
        `  - source: "${up.host}/rules/app"`,
        "    target: one/app",
        "    rules:",
        '      - { tags: [latest, "1.10.0"] }',
        '      - { semver: "^1", newest: 1 }',
        '      - { allow: "2\\\\.[0-9]+", newest: 1, order: version }',
      ].join("\n"),
      "sync.yaml",
    ).config;
    const run = await runSync({ client, config, trigger: "manual" });
    expect(run.results.map((r) => [r.key, r.action]).sort()).toEqual(
      ["1.10.0", "2.1", "latest"].map((t) => [`${acr.host}/one/app:${t}`, "copied"]),
    );
    for (const tag of ["latest", "1.10.0", "2.1"])
      expect((await fetchManifest(acr.host, "one/app", tag)).status).toBe(200);
  });
});

describe("rate-limit reserve", () => {
  it("stops asking a host at its reserve, reports the rest as skipped, and the next run skips it early", async () => {
    const img = buildImage();
    for (let i = 0; i < 8; i++) await pushImage(up.host, "quota/app", img, `t${i}`);
    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "defaults: { concurrency: 1 }",
        "images:",
        `  - { source: "${limited.host}/quota/app", tags: [t0, t1, t2, t3, t4, t5, t6, t7] }`,
      ].join("\n"),
      "sync.yaml",
    ).config;
    const s = store("quota");
    const first = await runSync({
      client,
      config,
      trigger: "timer",
      store: s,
      rateLimitReserve: 10,
      verifyTarget: true,
    });
    // 14 → 13, 12, 11, 10: the fourth manifest request reaches the reserve; t4..t7 are never asked upstream. The
    // target repository is new, so each tag is read with one GET (no HEAD), which the copy then uses.
    const states = first.results.map((r) => r.state);
    expect(states.slice(0, 4)).toEqual(["missing", "missing", "missing", "missing"]);
    expect(states.slice(4)).toEqual(["error", "error", "error", "error"]);
    expect(first.results[4]!.reason).toMatch(/skipped: 127\.0\.0\.1:\d+ has 10 pulls left/);
    expect(first.results[4]!.action).toBe("skipped");
    const asked = limited.seen.filter((r) => r.path.includes("/manifests/t"));
    expect(asked.map((r) => r.method)).toEqual(["GET", "GET", "GET", "GET"]);
    const limits = await s.limits();
    expect(limits.get(limited.host)?.remaining).toBe(10);

    const before = limited.seen.length;
    const second = await runSync({ client, config, trigger: "timer", store: s, rateLimitReserve: 10 });
    expect(second.results.every((r) => r.state === "error" && /pulls left/.test(r.reason ?? ""))).toBe(true);
    expect(limited.seen.length).toBe(before);
  });
});

describe("verify every Nth run", () => {
  it("HEADs the target on the first run and then every third run, trusting its own writes in between", async () => {
    await pushImage(up.host, "verify/app", buildImage(), "1.0");
    const config = parseSyncConfig(
      [`target: { registry: "${acr.host}" }`, "images:", `  - { source: "${up.host}/verify/app", tags: ["1.0"] }`].join(
        "\n",
      ),
      "sync.yaml",
    ).config;
    const s = store("verify");
    const flags: boolean[] = [];
    const targetHeads: number[] = [];
    for (let i = 0; i < 7; i++) {
      const tally = newTally();
      const run = await countInto(tally, () => runSync({ client, config, trigger: "timer", store: s, verifyEvery: 3 }));
      flags.push(run.run.verified);
      targetHeads.push((tally.byKind["manifest.head"] ?? 0) - 1);
    }
    expect(flags).toEqual([true, false, false, true, false, false, true]);
    // Run 1 copies (its own HEADs inside the copy count too); later unverified runs never ask the target.
    expect(targetHeads.slice(1)).toEqual([0, 0, 1, 0, 0, 1]);
  });
});
