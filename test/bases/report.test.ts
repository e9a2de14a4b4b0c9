/**
 * The bases report end to end: Dockerfiles on disk, images in two real registries ("upstream" and "ACR"), state in
 * Azurite, a stand-in for GitHub's dispatch API, and a clock the test moves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoverBases } from "../../shared/bases/discovery";
import { dockerfileReader } from "../../shared/bases/dockerfileSource";
import { parseEnrollment } from "../../shared/bases/enrollment";
import { DAY_MS, type Enrollment } from "../../shared/bases/enrollmentTypes";
import {
  basesMetrics,
  basesReport,
  emitBasesMetrics,
  type BasesReport,
  type ManagedReport,
} from "../../shared/bases/report";
import { basesSyncEntries, type SyncContext } from "../../shared/bases/syncEntries";
import { tokenResolver } from "../../shared/bases/tokens";
import { triggerRebuilds } from "../../shared/bases/trigger";
import { RegistryClient } from "../../shared/registry/client";
import { tallyRequests, Transport } from "../../shared/registry/transport";
import { BaseStore } from "../../shared/store/baseStore";
import { SyncStore, type ImageStatus } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { RecordingMetrics } from "../../shared/telemetry/metrics";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import {
  buildImage,
  buildIndex,
  digestOf,
  pushImage,
  pushIndex,
  randomLayer,
  type BuiltImage,
} from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startStandIn, type StandIn } from "./standIn";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let standIn: StandIn;
let dir: string;

beforeAll(async () => {
  [up, acr, azurite, standIn] = await startTogether(startRegistry(), startRegistry(), startAzurite(), startStandIn());
  dir = await mkdtemp(join(tmpdir(), "ais-bases-"));
});
afterAll(async () => {
  await Promise.all([up?.stop(), acr?.stop(), azurite?.stop(), standIn?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const T0 = new Date("2026-03-01T00:00:00Z");
const day = (n: number) => new Date(T0.getTime() + n * DAY_MS);
const TOKEN = "ghs_dispatchTokenValue";

async function file(path: string, text: string): Promise<void> {
  await mkdir(join(dir, path, ".."), { recursive: true });
  await writeFile(join(dir, path), text);
}

/** An image whose layers start with `base`'s, as a build FROM base would produce. */
function builtOn(base: BuiltImage | undefined, extra: Partial<Parameters<typeof buildImage>[0]> = {}): BuiltImage {
  return buildImage({ layers: [...(base?.layers ?? []), randomLayer(256)], ...extra });
}

/** The same image with manifest annotations (what buildx writes), so a new manifest digest. */
function annotated(image: BuiltImage, annotations: Record<string, string>): BuiltImage {
  const manifest = Buffer.from(JSON.stringify({ ...JSON.parse(image.manifest.toString("utf8")), annotations }));
  return { ...image, manifest, digest: digestOf(manifest) };
}

function status(key: string, sourceDigest: string, targetDigest: string, lastCopiedAt: string): ImageStatus {
  const [host, ...rest] = key.split("/");
  const [repository, tag] = rest.join("/").split(":") as [string, string];
  return {
    key,
    targetRegistry: host!,
    targetRepository: repository,
    tag,
    source: "upstream",
    sourceDigest,
    targetDigest,
    writtenDigest: targetDigest,
    state: sourceDigest === targetDigest ? "in-sync" : "drifted",
    lastCheckedAt: lastCopiedAt,
    lastCopiedAt,
    lastRunId: "run",
    origin: "images[0] (line 1)",
  };
}

function managed(report: BasesReport, name: string): ManagedReport {
  const found = report.managed.find((m) => m.name === name);
  if (!found) throw new Error(`no managed image ${name}`);
  return found;
}

function baseOf(image: ManagedReport, key: string) {
  const found = image.bases.find((b) => b.base === key);
  if (!found) throw new Error(`${image.name} has no base ${key}`);
  return found;
}

describe("basesReport on real registries and Azurite", () => {
  it("lists managed images, their bases, which are stale and which are eligible, as the bases move", async () => {
    const U = up.host;
    const A = acr.host;
    const tables = new Tables({ connectionString: azurite.connectionString, prefix: "report" });
    const store = new BaseStore(tables);
    const syncStore = new SyncStore(tables);
    const client = new RegistryClient();

    // Upstream: node:20 is a two-platform index, debian:12 and golang:1.22 single images.
    const nodeV1 = buildIndex([buildImage(), buildImage({ platform: { os: "linux", architecture: "arm64" } })]);
    const debianV1 = buildImage();
    const golang = buildImage();
    await pushIndex(U, "library/node", nodeV1, "20");
    await pushImage(U, "library/debian", debianV1, "12");
    await pushImage(U, "library/golang", golang, "1.22");
    // The sync has mirrored debian:12 already (so its layers can be read from the mirror).
    await pushImage(A, "mirror/library/debian", debianV1, "12");

    // Managed images in the "ACR": base (no labels: known by its layers), api (labels), worker (annotation).
    const baseV1 = builtOn(debianV1);
    await pushImage(A, "team/base", baseV1, "1");
    const api = builtOn(nodeV1.children[0], {
      labels: {
        "org.opencontainers.image.base.name": `${U}/library/node:20`,
        "org.opencontainers.image.base.digest": nodeV1.digest,
      },
    });
    await pushImage(A, "team/api", api, "1");
    const worker = annotated(builtOn(baseV1), { "org.opencontainers.image.base.digest": baseV1.digest });
    await pushImage(A, "team/worker", worker, "1");

    await file(
      "api/Dockerfile",
      [
        "ARG NODE_VERSION=20",
        `FROM --platform=$BUILDPLATFORM ${U}/library/golang:1.22 AS build`,
        "RUN go build -o /out ./...",
        `FROM ${U}/library/node:\${NODE_VERSION}`,
        "COPY --from=build /out /app",
      ].join("\n"),
    );
    await file("base/Dockerfile", `FROM ${U}/library/debian:12\nRUN apt-get update\n`);
    await file("worker/Dockerfile", `FROM ${A}/team/base:1\n`);
    const dispatch = (repo: string) => `${standIn.url}/repos/org/${repo}/actions/workflows/build.yml/dispatches`;
    const enrollmentText = [
      `critical: [${U}/library/debian]`,
      "images:",
      `  - { name: api, image: ${A}/team/api:1, dockerfile: api/Dockerfile,`,
      `      trigger: { github: "${dispatch("api")}", ref: main, token: { env: DISPATCH_TOKEN }, enabled: true } }`,
      `  - { name: base, image: ${A}/team/base:1, dockerfile: base/Dockerfile, build: "https://ci.example/base",`,
      `      trigger: { github: "${dispatch("base")}", ref: main, token: { env: DISPATCH_TOKEN }, enabled: true } }`,
      `  - { name: worker, image: ${A}/team/worker:1, dockerfile: worker/Dockerfile }`,
      `  - { name: redis, image: "${U}/library/redis:7" }`,
    ].join("\n");
    await file("bases.yaml", enrollmentText);
    const { enrollment } = parseEnrollment(enrollmentText, join(dir, "bases.yaml"));
    const sync: SyncContext = {
      target: { registry: A, prefix: "mirror" },
      defaults: { platforms: "all", pinTag: true },
      images: [],
    };
    const debianKey = `${A}/mirror/library/debian:12`;
    await syncStore.saveStatuses([status(debianKey, debianV1.digest, debianV1.digest, "2026-02-20T00:00:00.000Z")]);
    const deps = { enrollment, sync, client, store, status: syncStore, dockerfiles: dockerfileReader() };

    // The discovered bases become sync entries (redis is an enrolled external).
    const discovery = await discoverBases(enrollment, dockerfileReader(), sync);
    expect(basesSyncEntries(discovery, sync).map((e) => [e.source.repository, e.target.repository, e.rule])).toEqual([
      ["library/redis", "mirror/library/redis", { kind: "tags", tags: ["7"] }],
      ["library/golang", "mirror/library/golang", { kind: "tags", tags: ["1.22"] }],
      ["library/node", "mirror/library/node", { kind: "tags", tags: ["20"] }],
      ["library/debian", "mirror/library/debian", { kind: "tags", tags: ["12"] }],
    ]);

    // Day 0: everything is built from what its bases are now.
    const first = await basesReport(deps, { now: T0 });
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(first.counts).toEqual({
      managedImages: 3,
      externalImages: 4,
      rebuildEligible: 0,
      staleImages: 0,
      unknownImages: 0,
    });
    expect(first.order).toEqual(["api", "base", "worker"]);
    expect(first.cycles).toEqual([]);
    expect(first.transitions.map((t) => `${t.name}:${t.from}>${t.to}`)).toEqual([
      "api:none>managed",
      "base:none>managed",
      "worker:none>managed",
      "redis:none>external",
    ]);
    const api0 = managed(first, "api");
    expect(api0).toMatchObject({
      image: `${A}/team/api:1`,
      digest: api.digest,
      dockerfile: "api/Dockerfile",
      state: "current",
      rebuildDelay: "7d",
    });
    expect(api0.bases.map((b) => [b.base, b.state, b.evidence, b.lines, b.platforms])).toEqual([
      [`${U}/library/golang:1.22`, "current", "baseline", [2], ["$BUILDPLATFORM"]],
      [`${U}/library/node:20`, "current", "label", [4], []],
    ]);
    const base0 = managed(first, "base");
    expect(base0).toMatchObject({ build: "https://ci.example/base", state: "current", managedSince: T0.toISOString() });
    // debian: found through the sync's status row, since the sync copied it; known by the image's layers.
    expect(baseOf(base0, `${U}/library/debian:12`)).toMatchObject({
      state: "current",
      evidence: "layers",
      critical: true,
      currentSince: "2026-02-20T00:00:00.000Z",
    });
    expect(baseOf(managed(first, "worker"), `${A}/team/base:1`)).toMatchObject({
      kind: "managed",
      managed: "base",
      state: "current",
      evidence: "label",
    });
    expect(managed(first, "worker").transitiveBases).toEqual([`${U}/library/debian:12`]);
    expect(first.external.find((e) => e.image === `${U}/library/debian:12`)).toMatchObject({
      via: "status",
      usedBy: ["base"],
      critical: true,
    });
    expect(first.external.find((e) => e.enrolledAs === "redis")).toEqual({
      image: `${U}/library/redis`,
      enrolledAs: "redis",
      usedBy: [],
      critical: false,
    });

    // Day 1: node and debian move upstream; the sync has seen debian's new digest but not copied it yet.
    const nodeV2 = buildIndex([buildImage(), buildImage({ platform: { os: "linux", architecture: "arm64" } })]);
    const debianV2 = buildImage();
    await pushIndex(U, "library/node", nodeV2, "20");
    await pushImage(U, "library/debian", debianV2, "12");
    await syncStore.saveStatuses([status(debianKey, debianV2.digest, debianV1.digest, "2026-02-20T00:00:00.000Z")]);
    const second = await basesReport(deps, { now: day(1) });
    expect(second.counts).toMatchObject({ rebuildEligible: 1, staleImages: 2 });
    expect(second.transitions).toEqual([]);
    expect(managed(second, "api")).toMatchObject({
      state: "stale",
      eligible: false,
      staleSince: day(1).toISOString(),
      eligibleAt: day(8).toISOString(),
    });
    expect(baseOf(managed(second, "api"), `${U}/library/node:20`)).toMatchObject({
      state: "stale",
      builtFrom: nodeV1.digest,
      current: nodeV2.digest,
    });
    // debian is critical: eligible at once. worker is not stale yet, but waits for base.
    expect(managed(second, "base")).toMatchObject({ state: "stale", eligible: true, eligibleAt: day(1).toISOString() });
    // base carries no label: its layers match debian's previous digest, read by digest from upstream.
    expect(baseOf(managed(second, "base"), `${U}/library/debian:12`)).toMatchObject({
      evidence: "layers",
      builtFrom: debianV1.digest,
      current: debianV2.digest,
      staleSince: day(1).toISOString(),
    });
    expect(managed(second, "worker")).toMatchObject({ state: "current", waitingFor: ["base"] });
    const metrics = new RecordingMetrics();
    emitBasesMetrics(metrics, second);
    expect(basesMetrics(second)).toEqual({
      managed_images: 3,
      external_images: 4,
      rebuild_eligible: 1,
      stale_images: 2,
    });
    expect(metrics.last("rebuild_eligible")).toBe(1);

    // Triggers: nothing without the global switch; then base's pipeline once per staleness.
    const logs: string[] = [];
    const triggerDeps = {
      enrollment,
      transport: new Transport(),
      tokens: tokenResolver({ env: { DISPATCH_TOKEN: TOKEN } }),
      store,
      log: (l: string) => logs.push(l),
    };
    expect(await triggerRebuilds(second, triggerDeps, { enabled: false, now: day(1) })).toEqual([
      { name: "base", action: "skipped", reason: "rebuild triggers are off" },
    ]);
    expect(standIn.requests).toHaveLength(0);
    expect(await triggerRebuilds(second, triggerDeps, { enabled: true, now: day(1) })).toEqual([
      { name: "base", action: "sent" },
    ]);
    expect(standIn.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ["/repos/org/base/actions/workflows/build.yml/dispatches", `Bearer ${TOKEN}`],
    ]);
    expect(await triggerRebuilds(second, triggerDeps, { enabled: true, now: day(1) })).toEqual([
      {
        name: "base",
        action: "skipped",
        reason: `already triggered at ${day(1).toISOString()} for these base digests`,
      },
    ]);
    expect(standIn.requests).toHaveLength(1);
    expect(logs.join("\n")).not.toContain(TOKEN);

    // Day 9: base has been rebuilt on the new debian (and the sync copied debian); api's delay has passed.
    const baseV2 = builtOn(debianV2);
    await pushImage(A, "team/base", baseV2, "1");
    await pushImage(A, "mirror/library/debian", debianV2, "12");
    await syncStore.saveStatuses([status(debianKey, debianV2.digest, debianV2.digest, day(1).toISOString())]);
    const third = await basesReport(deps, { now: day(9) });
    expect(managed(third, "base")).toMatchObject({ state: "current", digest: baseV2.digest });
    expect(managed(third, "base").trigger).toMatchObject({
      kind: "github",
      enabled: true,
      last: { status: "sent", at: day(1).toISOString() },
    });
    expect(baseOf(managed(third, "base"), `${U}/library/debian:12`)).toMatchObject({
      currentSince: day(1).toISOString(),
      evidence: "layers",
    });
    expect(managed(third, "api")).toMatchObject({ state: "stale", eligible: true });
    expect(managed(third, "worker")).toMatchObject({
      state: "stale",
      eligible: false,
      staleSince: day(9).toISOString(),
      eligibleAt: day(16).toISOString(),
      waitingFor: [],
    });
    expect(third.counts).toMatchObject({ rebuildEligible: 1, staleImages: 2 });
    expect(await triggerRebuilds(third, triggerDeps, { enabled: true, now: day(9) })).toEqual([
      { name: "api", action: "sent" },
    ]);
    expect(JSON.parse(standIn.requests[1]!.body)).toEqual({ ref: "main", inputs: {} });

    // Asking again costs one HEAD per image and per base the sync does not watch: everything else is cached by digest.
    const { result: again, requests } = await tallyRequests(() => basesReport(deps, { now: day(9) }));
    expect(again.managed).toEqual(
      third.managed.map((m) => (m.name === "api" ? { ...m, trigger: { ...m.trigger, last: expect.anything() } } : m)),
    );
    expect(requests.byKind).toEqual({ "manifest.head": 5 });
  });

  it("moves an image from external to managed and back, recording a fresh baseline each time", async () => {
    const U = up.host;
    const A = acr.host;
    const tables = new Tables({ connectionString: azurite.connectionString, prefix: "transitions" });
    const store = new BaseStore(tables);
    const client = new RegistryClient();
    const sync: SyncContext = {
      target: { registry: A, prefix: "mirror" },
      defaults: { platforms: "all", pinTag: false },
      images: [],
    };
    const rust1 = buildImage();
    await pushImage(U, "library/rust", rust1, "1.80");
    await pushImage(A, "team/tool", buildImage(), "1");
    await file(
      "tool/Dockerfile",
      `FROM ${U}/library/rust:1.80 AS build\nFROM scratch\nCOPY --from=build /tool /tool\n`,
    );
    const external = `images:\n  - { name: tool, image: "${U}/org/tool:v1" }\n`;
    const managedText = `images:\n  - { name: tool, image: "${A}/team/tool:1", dockerfile: tool/Dockerfile }\n`;
    const load = (text: string): Enrollment => parseEnrollment(text, join(dir, "bases.yaml")).enrollment;
    const report = (text: string, now: Date) =>
      basesReport({ enrollment: load(text), sync, client, store, dockerfiles: dockerfileReader() }, { now });

    const asExternal = await report(external, day(0));
    expect(asExternal.transitions.map((t) => [t.from, t.to])).toEqual([["none", "external"]]);
    expect(asExternal.counts).toMatchObject({ managedImages: 0, externalImages: 1 });

    const asManaged = await report(managedText, day(1));
    expect(asManaged.transitions.map((t) => [t.from, t.to, t.at])).toEqual([
      ["external", "managed", day(1).toISOString()],
    ]);
    expect(managed(asManaged, "tool")).toMatchObject({ state: "current", managedSince: day(1).toISOString() });
    expect(baseOf(managed(asManaged, "tool"), `${U}/library/rust:1.80`)).toMatchObject({
      evidence: "baseline",
      builtFrom: rust1.digest,
    });

    const rust2 = buildImage();
    await pushImage(U, "library/rust", rust2, "1.80");
    expect(managed(await report(managedText, day(2)), "tool")).toMatchObject({
      state: "stale",
      staleSince: day(2).toISOString(),
    });

    const back = await report(external, day(3));
    expect(back.transitions.map((t) => [t.from, t.to])).toEqual([["managed", "external"]]);
    expect(back.managed).toEqual([]);

    // Managed again: a new baseline, from what rust is now; and the enrollment remembers only current images.
    const again = await report(managedText, day(4));
    expect(again.transitions.map((t) => [t.from, t.to])).toEqual([["external", "managed"]]);
    expect(baseOf(managed(again, "tool"), `${U}/library/rust:1.80`)).toMatchObject({
      state: "current",
      builtFrom: rust2.digest,
    });
    const gone = await report("images: []\n", day(5));
    expect(gone.transitions.map((t) => [t.name, t.from, t.to])).toEqual([["tool", "managed", "removed"]]);
    expect((await store.listEnrollments()).size).toBe(0);
  });

  it("reports cycles and unreadable Dockerfiles without stopping the other images", async () => {
    const A = acr.host;
    const tables = new Tables({ connectionString: azurite.connectionString, prefix: "cycles" });
    await file("a/Dockerfile", `FROM ${A}/team/b:1\n`);
    await file("b/Dockerfile", `FROM ${A}/team/a:1\n`);
    await file("c/Dockerfile", "FROM\n");
    const text = [
      "images:",
      `  - { name: a, image: ${A}/team/a:1, dockerfile: a/Dockerfile }`,
      `  - { name: b, image: ${A}/team/b:1, dockerfile: b/Dockerfile }`,
      `  - { name: c, image: ${A}/team/c:1, dockerfile: c/Dockerfile }`,
      `  - { name: d, image: ${A}/team/d:1, dockerfile: d/Dockerfile }`,
    ].join("\n");
    const { enrollment } = parseEnrollment(text, join(dir, "bases.yaml"));
    const sync: SyncContext = { target: { registry: A }, defaults: { platforms: "all", pinTag: false }, images: [] };
    const report = await basesReport(
      { enrollment, sync, client: new RegistryClient(), store: new BaseStore(tables), dockerfiles: dockerfileReader() },
      { now: T0 },
    );
    expect(report.cycles).toEqual([["a", "b", "a"]]);
    expect(managed(report, "a")).toMatchObject({ inCycle: true, eligible: false });
    expect(managed(report, "a").reasons[0]).toBe("in a dependency cycle: a → b → a");
    expect(managed(report, "c").problems[0]).toBe(
      "c/Dockerfile:1: FROM needs an image: FROM [--platform=…] <image> [AS <name>]",
    );
    expect(managed(report, "d")).toMatchObject({
      state: "unknown",
      problems: ["cannot read d/Dockerfile: ENOENT", expect.stringMatching(/not found/)],
    });
    expect(report.counts).toMatchObject({ managedImages: 4, unknownImages: 4, rebuildEligible: 0 });
  });
});
