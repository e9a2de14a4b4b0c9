// Retention: the pure selection (what goes, what stays and why), then report-only and delete runs through the ACR SDK
// against the stand-in, each entry recorded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcrCatalog,
  AcrClients,
  pinTagDate,
  runRetention,
  selectRetention,
  type AcrManifest,
  type RetentionPolicy,
  type RetentionRecord,
} from "../../shared/acr";
import { startAcrStandIn, type AcrStandIn } from "../harness/acrStandIn";
import { fetchManifest, pushImage, pushManifest } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { FAST_RETRY, seedIndex, smallImage, testCredential } from "./fixtures";

const hex = (c: string) => c.repeat(64);
const d = (c: string) => `sha256:${hex(c)}`;
const pin = (day: string, c: string) => `${day}_sha256_${hex(c)}`;
const manifest = (digest: string, tags: string[], extra: Partial<AcrManifest> = {}): AcrManifest => ({
  digest,
  tags,
  references: [],
  canWrite: true,
  canDelete: true,
  ...extra,
});
const NOW = new Date("2025-06-30T12:00:00Z");
const policy: RetentionPolicy = { maxAgeDays: 30, keepNewest: 2, deleteUntagged: false };

describe("selectRetention (pure)", () => {
  it("reads pin tag dates and ignores tags that only look like one", () => {
    expect(pinTagDate(pin("20250102", "a"))?.toISOString()).toBe("2025-01-02T00:00:00.000Z");
    expect(pinTagDate(pin("20250231", "a"))).toBeUndefined();
    expect(pinTagDate(`20250102_sha256_${"a".repeat(63)}`)).toBeUndefined();
    expect(pinTagDate("latest")).toBeUndefined();
  });

  it("deletes old pin tags except a mirrored tag's digest, the newest K, the young and the locked", () => {
    const snapshot = {
      repository: "mirror/app",
      manifests: [
        manifest(d("a"), ["1.0", pin("20240101", "a")]), // running: a mirrored tag points here
        manifest(d("b"), [pin("20240201", "b")]), // old, nothing else on it: goes
        manifest(d("c"), [pin("20240301", "c")]), // old: goes
        manifest(d("e"), [pin("20240115", "e")], { canDelete: false, canWrite: false }), // locked: stays
        manifest(d("f"), [pin("20250620", "f")]), // young (and newest)
        manifest(d("1"), [pin("20250610", "1")]), // young (second newest)
        manifest(d("2"), [pin("20250601", "2")]), // 29 days: young
        manifest(d("3"), [pin("20250525", "3")]), // 36 days, not among the newest 2: goes
        manifest(d("4"), [`20250231_sha256_${hex("4")}`]), // not a date: a plain tag, its digest protected
        manifest(d("5"), [pin("20240101", "4")]), // names 4's digest, which a (non-pin) tag holds: stays
      ],
    };
    const sel = selectRetention({ snapshot, policy, now: NOW });
    expect(sel.delete.map((x) => (x.kind === "tag" ? x.tag : x.digest))).toEqual([
      pin("20250525", "3"),
      pin("20240301", "c"),
      pin("20240201", "b"),
    ]);
    expect(sel.delete[0]!.reason).toMatch(/^pin tag 36 days old \(> 30\), not among the newest 2/);
    expect(Object.fromEntries(sel.keep.map((k) => [k.tag.slice(0, 8) + k.digest.slice(7, 8), k.reason]))).toEqual({
      "20240101a": "mirrored-digest",
      "202401015": "mirrored-digest",
      "20240115e": "locked",
      "20250620f": "newest",
      "202506101": "newest",
      "202506012": "young",
    });
  });

  it("keepNewest counts every pin tag, protected or not", () => {
    const snapshot = {
      repository: "r",
      manifests: [manifest(d("a"), ["latest", pin("20240105", "a")]), manifest(d("b"), [pin("20240101", "b")])],
    };
    const sel = selectRetention({ snapshot, policy: { ...policy, keepNewest: 1 }, now: NOW });
    expect(sel.delete.map((x) => x.kind === "tag" && x.tag)).toEqual([pin("20240101", "b")]);
  });

  it("deletes untagged manifests only when asked, only ours, parents before children, never one still referred to", () => {
    const snapshot = {
      repository: "r",
      manifests: [
        manifest(d("1"), [pin("20240101", "1")], { references: [d("2"), d("3")] }), // our old index: goes
        manifest(d("2"), []), // its child: goes after it
        manifest(d("3"), []), // also a child of a kept index: stays
        manifest(d("4"), ["stable"], { references: [d("3")] }),
        manifest(d("5"), []), // untagged, not ours: stays
        manifest(d("6"), [pin("20240101", "6")], { canDelete: false }), // ours but protected: the tag stays too
        manifest(d("7"), []), // ours, untagged already: goes
      ],
    };
    const owned = new Set([d("1"), d("6"), d("7")]);
    const off = selectRetention({ snapshot, policy: { ...policy, keepNewest: 0 }, now: NOW, ownedDigests: owned });
    expect(off.delete.filter((x) => x.kind === "manifest")).toEqual([]);
    const on = selectRetention({
      snapshot,
      policy: { ...policy, keepNewest: 0, deleteUntagged: true },
      now: NOW,
      ownedDigests: owned,
    });
    expect(on.delete.map((x) => `${x.kind} ${x.kind === "tag" ? x.tag.slice(0, 8) : x.digest.slice(7, 8)}`)).toEqual([
      "tag 20240101",
      "manifest 1",
      "manifest 2",
      "manifest 7",
    ]);
    expect(on.keep).toEqual([{ tag: pin("20240101", "6"), digest: d("6"), reason: "locked" }]);
  });
});

describe("retention through the ACR SDK", () => {
  let reg: RunningRegistry;
  let acr: AcrStandIn;
  let clients: AcrClients;
  const A = smallImage("ret-a");
  const B = smallImage("ret-b");
  const C = smallImage("ret-c");
  const D = smallImage("ret-d");
  const E = smallImage("ret-e");
  const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  const pinOf = (day: string, digest: string) => `${day}_sha256_${digest.slice(7)}`;
  const repo = "ret/app";
  let indexDigest: string;
  let indexChildren: string[];

  beforeAll(async () => {
    reg = await startRegistry();
    acr = await startAcrStandIn(reg);
    clients = new AcrClients({
      credential: testCredential(),
      endpoint: () => acr.endpoint,
      tlsCa: acr.ca,
      retry: FAST_RETRY,
    });
    await pushImage(reg.host, repo, A, "1.0");
    await pushManifest(reg.host, repo, pinOf("20240101", A.digest), A.manifest, A.mediaType);
    await pushImage(reg.host, repo, B, pinOf("20240102", B.digest));
    await pushImage(reg.host, repo, C, pinOf("20240103", C.digest));
    await pushImage(reg.host, repo, D, pinOf(today, D.digest));
    await pushImage(reg.host, repo, E, pinOf("20240104", E.digest));
    const index = await seedIndex(reg.host, repo, "tmp");
    indexDigest = index.digest;
    indexChildren = index.children.map((c) => c.digest);
    await pushManifest(reg.host, repo, pinOf("20240105", index.digest), index.manifest, index.mediaType);
    // The index's only tag besides its pin goes away (as a moved tag would leave it).
    acr.state.deleteTagSync(repo, "tmp");
  }, 60_000);

  afterAll(async () => {
    await acr?.stop();
    await reg?.stop();
  });

  const run = (mode: "report" | "delete", records: RetentionRecord[], catalog = new AcrCatalog(clients)) =>
    runRetention({
      catalog,
      registry: acr.host,
      repositories: [repo, "ret/none"],
      policy: { maxAgeDays: 30, keepNewest: 1, deleteUntagged: true },
      ownedDigests: new Set([B.digest, indexDigest]),
      mode,
      record: (r) => void records.push(r),
    });

  it("report-only records what would go and deletes nothing", async () => {
    const records: RetentionRecord[] = [];
    const out = await run("report", records);
    expect(out.errors).toEqual([]);
    expect(records).toEqual(out.records);
    expect(records.every((r) => r.status === "reported")).toBe(true);
    expect(records.map((r) => `${r.kind} ${r.tag ?? r.digest}`).sort()).toEqual(
      [
        `tag ${pinOf("20240102", B.digest)}`,
        `tag ${pinOf("20240103", C.digest)}`,
        `tag ${pinOf("20240104", E.digest)}`,
        `tag ${pinOf("20240105", indexDigest)}`,
        `manifest ${B.digest}`,
        `manifest ${indexDigest}`,
        ...indexChildren.map((c) => `manifest ${c}`),
      ].sort(),
    );
    expect(acr.seen.some((s) => s.method === "DELETE")).toBe(false);
    expect((await fetchManifest(reg.host, repo, pinOf("20240102", B.digest))).status).toBe(200);
  });

  it("delete mode deletes them, keeps the rest, and records a refusal as failed", async () => {
    // Locked after the listing: ACR refuses that one deletion, and the run goes on.
    const catalog = new AcrCatalog(clients);
    await catalog.snapshot(acr.host, repo);
    acr.setAttributes(repo, E.digest, { deleteEnabled: false });
    const records: RetentionRecord[] = [];
    const out = await run("delete", records, catalog);
    const byTarget = Object.fromEntries(records.map((r) => [r.tag ?? r.digest, r.status]));
    expect(byTarget[pinOf("20240102", B.digest)]).toBe("deleted");
    expect(byTarget[pinOf("20240103", C.digest)]).toBe("deleted");
    expect(byTarget[pinOf("20240105", indexDigest)]).toBe("deleted");
    expect(byTarget[B.digest]).toBe("deleted");
    expect(byTarget[indexDigest]).toBe("deleted");
    for (const c of indexChildren) expect(byTarget[c]).toBe("deleted");
    expect(byTarget[pinOf("20240104", E.digest)]).toBe("failed");
    expect(records.find((r) => r.digest === E.digest)!.error).toMatch(/^409 /);
    expect(out.records).toHaveLength(records.length);

    const status = async (ref: string) => (await fetchManifest(reg.host, repo, ref)).status;
    // Gone: old pin tags, our untagged manifests (the index before its children).
    expect(await status(pinOf("20240102", B.digest))).toBe(404);
    expect(await status(pinOf("20240103", C.digest))).toBe(404);
    expect(await status(B.digest)).toBe(404);
    expect(await status(indexDigest)).toBe(404);
    for (const c of indexChildren) expect(await status(c)).toBe(404);
    const deletes = acr.seen.filter((s) => s.method === "DELETE" && s.status === 202).map((s) => s.path);
    expect(deletes.indexOf(`/v2/${repo}/manifests/${indexDigest}`)).toBeLessThan(
      deletes.indexOf(`/v2/${repo}/manifests/${indexChildren[0]}`),
    );
    // Kept: the mirrored digest's pin, the newest pin, a manifest that is not ours (C), the refused one.
    expect(await status(pinOf("20240101", A.digest))).toBe(200);
    expect(await status("1.0")).toBe(200);
    expect(await status(pinOf(today, D.digest))).toBe(200);
    expect(await status(C.digest)).toBe(200);
    expect(await status(pinOf("20240104", E.digest))).toBe(200);
  });

  it("a second run finds nothing more to delete, and keeps the now protected tag as locked", async () => {
    const records: RetentionRecord[] = [];
    const out = await run("report", records);
    expect(records).toEqual([]);
    expect(out.selections[0]!.keep).toContainEqual({
      tag: pinOf("20240104", E.digest),
      digest: E.digest,
      reason: "locked",
    });
  });
});
