/**
 * RunWhen semantics (issue 20, item 5), on real local registries: `follow` + `followPlatform` picks the immutable
 * sibling by one platform's child digest (as RunWhen's `get_arch_child_digest` does), and `dateTag` writes RunWhen's
 * USE_DATE_TAG immutable `<YYYYMMDDHHMMSS>` tag beside a moving tag when it is copied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { tallyRequests, Transport } from "../../shared/registry/transport";
import { parseSyncConfig } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { runSync } from "../../shared/sync/executor";
import { planSync } from "../../shared/sync/planner";
import { buildImage, buildIndex, pushImage, pushIndex } from "../harness/images";
import { type RunningRegistry, startRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));
const amd64 = buildImage({ layers: [Buffer.from("amd64 build")] });
const arm64a = buildImage({ layers: [Buffer.from("arm64 build a")], platform: { os: "linux", architecture: "arm64" } });
const arm64b = buildImage({ layers: [Buffer.from("arm64 build b")], platform: { os: "linux", architecture: "arm64" } });
const otherAmd64 = buildImage({ layers: [Buffer.from("older amd64 build")] });
// main-latest and main-1a2b3c4 are different indexes (rebuilt: another arm64 child) with the same amd64 child.
const latest = buildIndex([amd64, arm64a]);
const sameAmd64 = buildIndex([amd64, arm64b]);
const older = buildIndex([otherAmd64, arm64a]);

beforeAll(async () => {
  [up, acr] = await startTogether(startRegistry(), startRegistry());
  await pushIndex(up.host, "rw/collection", latest, "main-latest");
  await pushIndex(up.host, "rw/collection", sameAmd64, "main-1a2b3c4");
  await pushIndex(up.host, "rw/collection", older, "main-0f0e0d0");
  await pushImage(up.host, "rw/local", buildImage({ layers: [Buffer.from("rwl v1")] }), "latest");
  await pushImage(up.host, "rw/local", buildImage({ layers: [Buffer.from("rwl 1.0")] }), "1.0");
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop()]));

const config = (image: string) =>
  parseSyncConfig([`target: { registry: "${acr.host}" }`, "images:", `  - ${image}`, ""].join("\n"), "sync.yaml")
    .config;

describe("follow by one platform's digest", () => {
  it("without followPlatform no sibling shares the index digest; with it the amd64 child picks main-1a2b3c4", async () => {
    const plain = await planSync(client, config(`{ source: "${up.host}/rw/collection", follow: main-latest }`));
    expect(plain.items).toEqual([]);
    expect(plain.warnings.join("\n")).toMatch(/no tag matching .* shares main-latest's digest/);

    const cfg = config(`{ source: "${up.host}/rw/collection", follow: main-latest, followPlatform: linux/amd64 }`);
    const { result, requests } = await tallyRequests(() => planSync(client, cfg));
    expect(result.items).toEqual([
      expect.objectContaining({
        key: `${acr.host}/rw/collection:main-1a2b3c4`,
        source: { registry: up.host, repository: "rw/collection", tag: "main-1a2b3c4" },
        // The sibling's own index is what gets mirrored, not the amd64 child that chose it.
        sourceDigest: sameAmd64.digest,
        state: "missing",
      }),
    ]);
    // One tag list, one manifest GET per compared tag (the followed tag and its two candidates), one HEAD of the
    // chosen sibling, one HEAD of the target.
    expect(requests.byKind).toMatchObject({ "tag.list": 1, "manifest.get": 3, "manifest.head": 2 });
  });

  it("a platform no tag has picks nothing, with a warning", async () => {
    const cfg = config(`{ source: "${up.host}/rw/collection", follow: main-latest, followPlatform: linux/s390x }`);
    const plan = await planSync(client, cfg);
    expect(plan.items).toEqual([]);
    expect(plan.warnings.join("\n")).toMatch(/digest of "main-latest" unknown/);
  });

  it("followPlatform needs follow and a platform", () => {
    const issues = (image: string) => {
      try {
        config(image);
        return [];
      } catch (err) {
        return (err as ConfigError).issues.map((i) => `${i.path}: ${i.detail}`);
      }
    };
    expect(issues(`{ source: "${up.host}/rw/collection", tags: [a], followPlatform: linux/amd64 }`)).toEqual([
      "images[0].followPlatform: only applies together with follow",
    ]);
    expect(issues(`{ source: "${up.host}/rw/collection", follow: main-latest, followPlatform: amd64 }`)).toEqual([
      'images[0].followPlatform: "amd64" is not a platform such as linux/amd64 or linux/arm64/v8',
    ]);
  });
});

describe("dateTag (RunWhen's USE_DATE_TAG)", () => {
  it("writes <YYYYMMDDHHMMSS> beside a moving tag when it is copied, never again while it is in sync", async () => {
    const cfg = config(`{ source: "${up.host}/rw/local", tags: [latest, "1.0"], dateTag: true }`);
    const first = await runSync({
      client,
      config: cfg,
      trigger: "manual",
      now: () => new Date("2026-01-02T03:04:05Z"),
    });
    expect(first.results.map((r) => [r.target.tag, r.action, r.pinTag ?? null])).toEqual([
      ["latest", "copied", "20260102030405"],
      ["1.0", "copied", null],
    ]);
    const latestDigest = (await client.manifestHead(up.host, "rw/local", "latest"))?.digest;
    expect((await client.manifestHead(acr.host, "rw/local", "20260102030405"))?.digest).toBe(latestDigest);
    expect((await client.manifestHead(acr.host, "rw/local", "latest"))?.digest).toBe(latestDigest);

    const second = await runSync({
      client,
      config: cfg,
      trigger: "manual",
      now: () => new Date("2026-01-03T00:00:00Z"),
    });
    expect(second.results.map((r) => r.action)).toEqual(["unchanged", "unchanged"]);
    expect(await client.manifestHead(acr.host, "rw/local", "20260103000000")).toBeNull();
  });
});
