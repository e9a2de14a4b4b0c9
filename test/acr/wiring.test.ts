// The ACR-native paths wired into a whole sync run (Runtime.sync, settings from the environment contract), the target
// behind the ACR stand-in (in front of a real docker-registry), imports through the ARM stand-in, the source behind a
// quay.io-style tag API, and run history in real Azurite:
// - a no-change run lists each repository once per side, with no per-tag HEAD on either side;
// - LOCK_IMAGES locks what it copied, and drift on a locked tag is reported, never forced (planned or queued);
// - COPY_MODE=import copies through ARM; auto falls back to streaming when ARM refuses;
// - retention in report mode records what would go and deletes nothing; delete mode deletes only old pin tags that
//   no mirrored tag points at (and, with RETENTION_DELETE_UNTAGGED, the manifest left untagged); GET /api/runs/{id}
//   returns the run's retention entries.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AcrClients, type AcrRequestEvent } from "../../shared/acr";
import { getRun } from "../../shared/api/runs";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { Runtime, type AcrOverrides } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { LOCKED_REASON } from "../../shared/sync/planner";
import { toCopyMessages } from "../../shared/sync/copyMessage";
import type { PlanItem } from "../../shared/sync/model";
import {
  startAcrStandIn,
  startSourceListingStandIn,
  type AcrStandIn,
  type SourceListingStandIn,
} from "../harness/acrStandIn";
import { startArmStandIn, type ArmStandIn } from "../harness/armStandIn";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { FAST_RETRY, smallImage, testCredential } from "./fixtures";
import { startTogether } from "../harness/together";

const SUB = "00000000-0000-0000-0000-00000000000a";
const RG = "rg-wiring";
const REGISTRY_NAME = "standinacr";

let up: RunningRegistry;
let dst: RunningRegistry;
let quay: SourceListingStandIn;
let acr: AcrStandIn;
let arm: ArmStandIn;
let refusingArm: ArmStandIn;
let azurite: RunningAzurite;
let dir: string;
const credential = testCredential();
const events: RequestEvent[] = [];
const sdkEvents: AcrRequestEvent[] = [];
const logs: string[] = [];
let clients: AcrClients;

beforeAll(async () => {
  [up, dst, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  acr = await startAcrStandIn(dst);
  quay = await startSourceListingStandIn(up, "quay");
  const armOptions = { subscriptionId: SUB, resourceGroup: RG, registryName: REGISTRY_NAME, targetHost: acr.host };
  [arm, refusingArm] = await startTogether(
    startArmStandIn(armOptions),
    startArmStandIn({
      ...armOptions,
      fail: () => ({ code: "InvalidParameters", message: "The source registry is not RFC 7233 compliant." }),
    }),
  );
  clients = new AcrClients({
    credential,
    endpoint: () => acr.endpoint,
    tlsCa: acr.ca,
    retry: FAST_RETRY,
    onRequest: (e) => sdkEvents.push(e),
  });
  dir = mkdtempSync(join(tmpdir(), "acr-wiring-"));
}, 120_000);

afterAll(async () => {
  await Promise.all([arm?.stop(), refusingArm?.stop(), acr?.stop(), quay?.stop()]);
  await Promise.all([up?.stop(), dst?.stop(), azurite?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, images: Array<{ repo: string; tags: string[] }>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `target: { registry: "${acr.host}", prefix: mirror }`,
      "defaults: { pinTag: true }",
      "images:",
      ...images.map(
        (i) => `  - { source: "${quay.host}/${i.repo}", tags: [${i.tags.map((t) => `"${t}"`).join(", ")}] }`,
      ),
    ].join("\n"),
  );
  return file;
}

interface RuntimeOptions {
  config: string;
  env?: Record<string, string>;
  now?: () => Date;
  acr?: Partial<AcrOverrides>;
  prefix?: string;
}

function runtime(o: RuntimeOptions): Runtime {
  return new Runtime(
    readSettings({
      SYNC_CONFIG: o.config,
      TABLES_CONNECTION_STRING: azurite.connectionString,
      ACR_LOGIN_SERVER: acr.host,
      ACR_SUBSCRIPTION_ID: SUB,
      ACR_RESOURCE_GROUP: RG,
      ACR_REGISTRY_NAME: REGISTRY_NAME,
      ...o.env,
    }),
    {
      credential,
      tables: new Tables({ connectionString: azurite.connectionString, prefix: o.prefix ?? "wiring" }),
      transport: new Transport({ retry: FAST_RETRY, onRequest: (e) => events.push(e) }),
      log: (line) => logs.push(line),
      ...(o.now ? { now: o.now } : {}),
      acr: {
        clients,
        isAcr: (registry) => registry === acr.host,
        listingKindOf: (registry) => (registry === quay.host ? "quay" : undefined),
        armEndpoint: arm.endpoint,
        armTlsCa: arm.ca,
        importPollIntervalMs: 5,
        retry: FAST_RETRY,
        ...o.acr,
      },
    },
  );
}

/** Requests of `fn`, by side: our Transport (source and target /v2) and the SDK (ACR's https API). */
async function observed<T>(fn: () => Promise<T>) {
  const [e0, s0, a0, p0] = [events.length, sdkEvents.length, acr.seen.length, acr.proxySeen.length];
  const result = await fn();
  return {
    result,
    transport: events.slice(e0),
    sdk: sdkEvents.slice(s0),
    acrSeen: acr.seen.slice(a0),
    acrProxy: acr.proxySeen.slice(p0),
  };
}

const digestAt = async (repo: string, ref: string) => (await fetchManifest(dst.host, repo, ref)).digest;

describe("a sync run with the target behind ACR", () => {
  const app1 = smallImage("wiring-app-1");
  const app2 = smallImage("wiring-app-2");
  const lib1 = smallImage("wiring-lib-1");
  let config: string;

  beforeAll(async () => {
    await pushImage(up.host, "team/app", app1, "1.0");
    await pushImage(up.host, "team/app", app2, "2.0");
    await pushImage(up.host, "team/lib", lib1, "1.0");
    config = writeConfig("sync.yaml", [
      { repo: "team/app", tags: ["1.0", "2.0"] },
      { repo: "team/lib", tags: ["1.0"] },
    ]);
  });

  it("first run: every tag missing (the repositories do not exist), streamed and locked (LOCK_IMAGES)", async () => {
    const rt = runtime({ config, env: { LOCK_IMAGES: "true" } });
    const { result: out } = await observed(() => rt.sync({ trigger: "manual" }));
    expect(out.results.map((r) => [r.target.tag, r.state, r.action, r.via])).toEqual([
      ["1.0", "missing", "copied", "stream"],
      ["2.0", "missing", "copied", "stream"],
      ["1.0", "missing", "copied", "stream"],
    ]);
    expect(out.results.every((r) => r.lockError === undefined)).toBe(true);
    expect(await digestAt("mirror/team/app", "1.0")).toBe(app1.digest);
    for (const [repo, d] of [
      ["mirror/team/app", app1.digest],
      ["mirror/team/app", app2.digest],
      ["mirror/team/lib", lib1.digest],
    ] as const) {
      expect(acr.attributes(repo, d)).toMatchObject({ writeEnabled: false, deleteEnabled: false });
    }
    // Fresh pin tags only: retention (report, the default) has nothing to say.
    expect(out.run.retention).toEqual({ mode: "report", reported: 0, deleted: 0, failed: 0 });
  });

  it("a no-change run lists each repository once per side and HEADs no tag on either side", async () => {
    const rt = runtime({ config });
    const seen = await observed(() => rt.sync({ trigger: "timer" }));
    const out = seen.result;
    expect(out.results.map((r) => [r.state, r.action])).toEqual([
      ["in-sync", "unchanged"],
      ["in-sync", "unchanged"],
      ["in-sync", "unchanged"],
    ]);
    // Verified from the listing, not trusted from the store.
    expect(out.results.every((r) => !/trusted/.test(r.reason ?? ""))).toBe(true);

    // Source: one quay tag-API page per repository, no HEAD.
    const source = seen.transport.filter((e) => e.host === quay.host);
    expect(source.map((e) => `${e.method} ${e.kind}`)).toEqual(["GET tag.list", "GET tag.list"]);
    // Target: one `_manifests` page per repository (plus ACR's token rounds), nothing on /v2.
    const listings = seen.acrSeen.filter(
      (s) => s.method === "GET" && s.path.endsWith("/_manifests") && s.status === 200,
    );
    expect(listings.map((s) => s.path).sort()).toEqual([
      "/acr/v1/mirror/team/app/_manifests",
      "/acr/v1/mirror/team/lib/_manifests",
    ]);
    expect(seen.transport.filter((e) => e.host === acr.host)).toEqual([]);
    expect(seen.acrProxy).toEqual([]);
    expect(seen.sdk.filter((e) => e.kind !== "tag.list" && e.kind !== "token")).toEqual([]);
    // Every request of the run is in its count: 2 source listings, 2 target listings, their 401s and token rounds.
    expect(out.run.requests).toBe(seen.transport.length + seen.sdk.length);
    expect(out.run.retention).toEqual({ mode: "report", reported: 0, deleted: 0, failed: 0 });
  });

  it("drift on a locked tag is reported, not forced: nothing is written, the tag keeps its digest", async () => {
    const app3 = smallImage("wiring-app-3");
    await pushImage(up.host, "team/app", app3, "1.0");
    const rt = runtime({ config });
    const seen = await observed(() => rt.sync({ trigger: "timer" }));
    const item = seen.result.results.find((r) => r.key.endsWith("mirror/team/app:1.0"))!;
    expect(item).toMatchObject({
      state: "drifted",
      locked: true,
      reason: LOCKED_REASON,
      action: "skipped",
      stateAfter: "drifted",
      sourceDigest: app3.digest,
      targetDigest: app1.digest,
    });
    expect(seen.result.run.status).toBe("succeeded");
    expect(seen.result.run.countsAfter.drifted).toBe(1);
    expect(seen.acrProxy.filter((r) => r.method !== "GET" && r.method !== "HEAD")).toEqual([]);
    expect(await digestAt("mirror/team/app", "1.0")).toBe(app1.digest);
    // The status row says drifted, so the API shows it as outdated.
    expect((await rt.requireStore().getStatus(item.target))?.state).toBe("drifted");

    // A queued copy of the same tag (planned before the lock, say) meets the guard: skipped, not failed, not forced.
    const planned: PlanItem = {
      key: item.key,
      source: item.source,
      sourceDigest: app3.digest,
      target: item.target,
      targetDigest: app1.digest,
      state: "drifted",
      pinTag: item.pinTag!,
      origin: item.origin,
    };
    const [message] = toCopyMessages([planned], seen.result.run.runId);
    const queued = await observed(() => rt.copy(message!));
    expect(queued.result).toMatchObject({ action: "skipped", stateAfter: "drifted", locked: true });
    expect(queued.result.error).toMatch(
      /mirror\/team\/app:1\.0 is locked in ACR at sha256:[a-f0-9]{64}: drift reported, not forced/,
    );
    expect(queued.acrProxy.filter((r) => r.method !== "GET" && r.method !== "HEAD")).toEqual([]);
    expect(await digestAt("mirror/team/app", "1.0")).toBe(app1.digest);

    // Unlocked by hand, the next run copies it.
    acr.setAttributes("mirror/team/app", app1.digest, { writeEnabled: true, deleteEnabled: true });
    const after = await rt.sync({ trigger: "timer" });
    expect(after.results.find((r) => r.key.endsWith("mirror/team/app:1.0"))).toMatchObject({
      action: "copied",
      via: "stream",
    });
    expect(await digestAt("mirror/team/app", "1.0")).toBe(app3.digest);
  });

  it("COPY_MODE=import copies through ARM's importImage by digest, with the mirrored and pin tags together", async () => {
    const imp = smallImage("wiring-imp-1");
    await pushImage(up.host, "team/imp", imp, "1.0");
    const rt = runtime({
      config: writeConfig("import.yaml", [{ repo: "team/imp", tags: ["1.0"] }]),
      env: { COPY_MODE: "import" },
    });
    const before = arm.imports.length;
    const armBefore = arm.seen.length;
    const seen = await observed(() => rt.sync({ trigger: "manual" }));
    const armSeen = arm.seen.slice(armBefore);
    const r = seen.result.results[0]!;
    expect(r).toMatchObject({ action: "copied", via: "import", bytes: 0, targetDigest: imp.digest });
    expect(arm.imports.length).toBe(before + 1);
    expect(arm.imports.at(-1)!.body).toEqual({
      source: { registryUri: quay.host, sourceImage: `team/imp@${imp.digest}` },
      // The pin tag first, as in a streamed copy: the floating tag never exists without its pin.
      targetTags: [`mirror/team/imp:${r.pinTag}`, "mirror/team/imp:1.0"],
      mode: "Force",
    });
    expect(await digestAt("mirror/team/imp", "1.0")).toBe(imp.digest);
    expect(await digestAt("mirror/team/imp", r.pinTag!)).toBe(imp.digest);
    // No manifest or blob went through this process: our only /v2 requests to the target are the read-back HEADs.
    expect(seen.transport.filter((e) => e.host === acr.host).map((e) => e.kind)).toEqual([
      "manifest.head",
      "manifest.head",
    ]);
    expect(seen.transport.filter((e) => e.kind.startsWith("blob") || e.kind === "manifest.put")).toEqual([]);
    expect(armSeen.filter((e) => e.method === "POST" && e.path.endsWith("/importImage"))).toHaveLength(1);
    // ARM's requests (the POST and the polls) count in the run's tally beside everything else.
    expect(seen.result.run.requests).toBe(seen.transport.length + seen.sdk.length + armSeen.length);
    expect(logs.some((l) => /mirror\/team\/imp: import: mode import/.test(l))).toBe(true);
  });

  it("COPY_MODE=auto streams when ARM refuses the import, and says why", async () => {
    const auto = smallImage("wiring-auto-1");
    await pushImage(up.host, "team/auto", auto, "1.0");
    const rt = runtime({
      config: writeConfig("auto.yaml", [{ repo: "team/auto", tags: ["1.0"] }]),
      env: { COPY_MODE: "auto" },
      acr: { armEndpoint: refusingArm.endpoint, armTlsCa: refusingArm.ca, reachable: () => true },
    });
    const out = await rt.sync({ trigger: "manual" });
    const r = out.results[0]!;
    expect(r).toMatchObject({ action: "copied", via: "stream", targetDigest: auto.digest });
    expect(r.fallback).toMatch(/^import failed, streamed instead: .*RFC 7233/);
    expect(refusingArm.imports).toHaveLength(1);
    expect(await digestAt("mirror/team/auto", "1.0")).toBe(auto.digest);
    // The store keeps how it got there.
    const stored = await rt.requireStore().listResults(out.run.runId);
    expect(stored[0]).toMatchObject({ via: "stream", fallback: r.fallback });
  });

  it("COPY_MODE=auto streams a source ACR cannot reach without asking ARM", async () => {
    const near = smallImage("wiring-near-1");
    await pushImage(up.host, "team/near", near, "1.0");
    const rt = runtime({
      config: writeConfig("near.yaml", [{ repo: "team/near", tags: ["1.0"] }]),
      env: { COPY_MODE: "auto" },
    });
    const before = arm.seen.length;
    const out = await rt.sync({ trigger: "manual" });
    expect(out.results[0]).toMatchObject({ action: "copied", via: "stream" });
    expect(out.results[0]!.fallback).toBeUndefined();
    expect(arm.seen.length).toBe(before);
  });
});

describe("retention after a run", () => {
  const r1 = smallImage("wiring-ret-1");
  const r2 = smallImage("wiring-ret-2");
  const r3 = smallImage("wiring-ret-3");
  let config: string;
  const at = (iso: string) => () => new Date(iso);
  const pin = (day: string, digest: string) => `${day}_sha256_${digest.slice(7)}`;

  beforeAll(async () => {
    config = writeConfig("retention.yaml", [{ repo: "team/ret", tags: ["1.0"] }]);
    // Three upstream moves of one tag, a month apart: three pin tags in the mirror, the tag on the last.
    for (const [image, day] of [
      [r1, "2025-01-01"],
      [r2, "2025-01-15"],
      [r3, "2025-02-01"],
    ] as const) {
      await pushImage(up.host, "team/ret", image, "1.0");
      const out = await runtime({ config, now: at(`${day}T12:00:00Z`), prefix: "ret" }).sync({ trigger: "timer" });
      expect(out.results[0]).toMatchObject({ action: "copied" });
    }
    expect(await digestAt("mirror/team/ret", "1.0")).toBe(r3.digest);
  }, 60_000);

  const env = { RETENTION_DAYS: "30", RETENTION_KEEP: "2", RETENTION_DELETE_UNTAGGED: "true" };

  it("report mode lists what would go, deletes nothing, and the run's API answer carries the entries", async () => {
    const rt = runtime({
      config,
      now: at("2025-06-01T12:00:00Z"),
      env: { ...env, RETENTION_MODE: "report" },
      prefix: "ret",
    });
    const seen = await observed(() => rt.sync({ trigger: "timer" }));
    const out = seen.result;
    // The oldest pin: its digest carries no mirrored tag and it is not among the newest two. The manifest it leaves
    // untagged was written by this tool, so it would go too.
    expect(out.retention!.map((e) => [e.kind, e.tag ?? e.digest, e.status])).toEqual([
      ["tag", pin("20250101", r1.digest), "reported"],
      ["manifest", r1.digest, "reported"],
    ]);
    expect(out.run.retention).toEqual({ mode: "report", reported: 2, deleted: 0, failed: 0 });
    expect(seen.acrSeen.filter((s) => s.method === "DELETE")).toEqual([]);
    expect(await digestAt("mirror/team/ret", pin("20250101", r1.digest))).toBe(r1.digest);
    // No copy this run: retention reused the plan's listing of the repository.
    expect(
      seen.acrSeen.filter((s) => s.method === "GET" && s.path.endsWith("/_manifests") && s.status === 200),
    ).toHaveLength(1);

    const res = await getRun(rt.requireStore(), {
      method: "GET",
      params: { id: out.run.runId },
      query: new URLSearchParams(),
    });
    const body = res.body as { run: { retention?: unknown }; retention: Array<Record<string, unknown>> };
    expect(body.run.retention).toEqual({ mode: "report", reported: 2, deleted: 0, failed: 0 });
    expect(body.retention.map((e) => [e.kind, e.tag ?? e.digest, e.status])).toEqual([
      ["tag", pin("20250101", r1.digest), "reported"],
      ["manifest", r1.digest, "reported"],
    ]);
  });

  it("a report-only run (SYNC_IMAGES=false) never deletes, whatever RETENTION_MODE says", async () => {
    const rt = runtime({
      config,
      now: at("2025-06-01T12:00:00Z"),
      env: { ...env, RETENTION_MODE: "delete", SYNC_IMAGES: "false" },
      prefix: "ret",
    });
    const seen = await observed(() => rt.sync({ trigger: "timer" }));
    expect(seen.result.run.retention).toMatchObject({ mode: "report", deleted: 0 });
    expect(seen.acrSeen.filter((s) => s.method === "DELETE")).toEqual([]);
  });

  it("delete mode deletes only the old pin tag no mirrored tag points at, and the manifest it left untagged", async () => {
    const rt = runtime({
      config,
      now: at("2025-06-01T12:00:00Z"),
      env: { ...env, RETENTION_MODE: "delete" },
      prefix: "ret",
    });
    const seen = await observed(() => rt.sync({ trigger: "timer" }));
    const out = seen.result;
    expect(out.retention!.map((e) => [e.kind, e.tag ?? e.digest, e.status])).toEqual([
      ["tag", pin("20250101", r1.digest), "deleted"],
      ["manifest", r1.digest, "deleted"],
    ]);
    expect(out.run.retention).toEqual({ mode: "delete", reported: 0, deleted: 2, failed: 0 });
    expect(seen.sdk.filter((e) => e.kind === "acr.delete" && e.status === 202)).toHaveLength(2);
    // Gone: the old pin and its manifest. Kept: the newest two pins (one of them on the mirrored tag's digest).
    expect((await fetchManifest(dst.host, "mirror/team/ret", pin("20250101", r1.digest))).status).toBe(404);
    expect((await fetchManifest(dst.host, "mirror/team/ret", r1.digest)).status).toBe(404);
    expect(await digestAt("mirror/team/ret", pin("20250115", r2.digest))).toBe(r2.digest);
    expect(await digestAt("mirror/team/ret", pin("20250201", r3.digest))).toBe(r3.digest);
    expect(await digestAt("mirror/team/ret", "1.0")).toBe(r3.digest);
    // Recorded with the run.
    const stored = await rt.requireStore().listRetention(out.run.runId);
    expect(stored.map((e) => [e.tag ?? e.digest, e.status])).toEqual([
      [pin("20250101", r1.digest), "deleted"],
      [r1.digest, "deleted"],
    ]);
    // Nothing left to delete on the next run.
    const again = await rt.sync({ trigger: "timer" });
    expect(again.run.retention).toEqual({ mode: "delete", reported: 0, deleted: 0, failed: 0 });
  });
});

describe("settings", () => {
  it("RETENTION_MODE=off runs no retention; plain registries keep the HEAD path", async () => {
    const plain = await startRegistry();
    try {
      const img = smallImage("wiring-plain");
      await pushImage(up.host, "team/plain", img, "1.0");
      const file = join(dir, "plain.yaml");
      writeFileSync(
        file,
        [
          `target: { registry: "${plain.host}" }`,
          "images:",
          `  - { source: "${up.host}/team/plain", tags: ["1.0"] }`,
        ].join("\n"),
      );
      const rt = runtime({ config: file, env: { RETENTION_MODE: "off", LOCK_IMAGES: "true" } });
      const first = await observed(() => rt.sync({ trigger: "manual" }));
      expect(first.result.results[0]).toMatchObject({ action: "copied", via: "stream" });
      expect(first.result.results[0]!.lockError).toBeUndefined();
      expect(first.transport.some((e) => e.host === plain.host && e.kind === "manifest.head")).toBe(true);
      // The next run: one source HEAD, the target trusted from the store as before; nothing asked of ACR's API.
      const seen = await observed(() => rt.sync({ trigger: "manual" }));
      expect(seen.result.run.retention).toBeUndefined();
      expect(seen.result.retention).toBeUndefined();
      expect([...first.sdk, ...seen.sdk]).toEqual([]);
      expect(seen.transport.map((e) => `${e.host === up.host ? "source" : "target"} ${e.kind}`)).toEqual([
        "source manifest.head",
      ]);
    } finally {
      await plain.stop();
    }
  });
});
