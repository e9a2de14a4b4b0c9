import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { Transport, tallyRequests } from "../../shared/registry/transport";
import { parseSyncConfig } from "../../shared/sync/config";
import { LOCKED_REASON, planSync } from "../../shared/sync/planner";
import { buildImage, pushImage, pushManifest } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
const client = new RegistryClient(new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }));
beforeAll(async () => {
  [up, acr] = await startTogether(startRegistry(), startRegistry());
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop()]));

const config = () =>
  parseSyncConfig(
    [
      `target: { registry: "${acr.host}", prefix: mirror }`,
      "images:",
      `  - { source: "${up.host}/org/app", tags: ["1.0", "2.0", "gone"] }`,
      `  - { source: "${up.host}/org/svc", semver: ">=1.0.0" }`,
      `  - { source: "${up.host}/org/worker", follow: main-latest, sibling: "main-[0-9a-f]{7,}" }`,
      `  - { source: "127.0.0.1:1/org/unreachable", tags: ["v1"] }`,
    ].join("\n"),
    "sync.yaml",
  ).config;

describe("planSync against real registries", () => {
  it("finds every state, then a no-change plan costs one HEAD per tag on each side", async () => {
    const app1 = buildImage();
    const app2 = buildImage();
    await pushImage(up.host, "org/app", app1, "1.0");
    await pushImage(up.host, "org/app", app2, "2.0");
    const svc = buildImage();
    await pushImage(up.host, "org/svc", svc, "1.0.0");
    const worker = buildImage();
    await pushImage(up.host, "org/worker", worker, "main-abc1234");
    for (const t of ["main-latest", "amd64-main-abc1234"])
      await pushManifest(up.host, "org/worker", t, worker.manifest, worker.mediaType);

    // Mirror app 1.0 correctly, and app 2.0 with the wrong digest (drift).
    await copyImage(
      client,
      { registry: up.host, repository: "org/app", tag: "1.0" },
      { registry: acr.host, repository: "mirror/org/app" },
      ["1.0"],
    );
    await copyImage(
      client,
      { registry: up.host, repository: "org/app", tag: "1.0" },
      { registry: acr.host, repository: "mirror/org/app" },
      ["2.0"],
    );
    await copyImage(
      client,
      { registry: up.host, repository: "org/svc", tag: "1.0.0" },
      { registry: acr.host, repository: "mirror/org/svc" },
      ["1.0.0"],
    );
    const svc2 = buildImage();
    await pushImage(up.host, "org/svc", svc2, "1.1.0");

    const plan = await planSync(client, config());
    const state = Object.fromEntries(plan.items.map((i) => [i.key.replace(`${acr.host}/`, ""), i.state]));
    expect(state).toEqual({
      "mirror/org/app:1.0": "in-sync",
      "mirror/org/app:2.0": "drifted",
      "mirror/org/app:gone": "source-missing",
      "mirror/org/svc:1.1.0": "newer-available",
      "mirror/org/svc:1.0.0": "in-sync",
      "mirror/org/worker:main-abc1234": "missing",
      "mirror/org/unreachable:v1": "error",
    });

    // Bring everything in line, then count a no-change plan.
    for (const item of plan.items.filter((i) => ["drifted", "missing", "newer-available"].includes(i.state))) {
      await copyImage(
        client,
        { registry: item.source.registry, repository: item.source.repository, digest: item.sourceDigest! },
        item.target,
        [item.target.tag],
      );
    }
    const { result, requests } = await tallyRequests(() => planSync(client, config()));
    expect(result.items.filter((i) => i.state === "in-sync")).toHaveLength(5);
    // Per side: one HEAD per selected tag (app 3 incl. the gone one upstream, svc 2, worker: main-latest + 1 sibling
    // upstream); target HEADs for the 5 mirrored tags (none for the gone tag); a tag list per listing rule.
    expect(requests.byKind["manifest.get"]).toBeUndefined();
    expect(requests.byKind["tag.list"]).toBe(2);
    // Plus the unreachable host: its one HEAD and one retry (maxAttempts 2), both failing at connect.
    expect(requests.byKind["manifest.head"]).toBe(3 + 2 + 2 + 5 + 2);
  });

  it("trusts a tag it wrote itself and skips the target HEAD unless asked to verify", async () => {
    const cfg = config();
    const first = await planSync(client, cfg);
    const status = new Map(
      first.items
        .filter((i) => i.state === "in-sync")
        .map((i) => [
          i.key,
          {
            key: i.key,
            state: "in-sync" as const,
            sourceDigest: i.sourceDigest,
            writtenDigest: i.sourceDigest,
          } as never,
        ]),
    );
    const trusted = await tallyRequests(() => planSync(client, cfg, { status }));
    const verified = await tallyRequests(() => planSync(client, cfg, { status, verifyTarget: true }));
    expect(status.size).toBe(5);
    expect(verified.requests.byKind["manifest.head"]! - trusted.requests.byKind["manifest.head"]!).toBe(status.size);
    expect(trusted.result.items.filter((i) => i.state === "in-sync")).toHaveLength(5);
  });

  it("with a bulk lister: listed repositories cost no HEAD on either side, and a locked drifted tag is marked", async () => {
    const cfg = config();
    const read = async (registry: string, repository: string) => {
      const out = new Map<string, string>();
      for (const tag of await client.tagList(registry, repository)) {
        const head = await client.manifestHead(registry, repository, tag);
        if (head) out.set(tag, head.digest);
      }
      return out;
    };
    const listings = new Map<string, Map<string, string>>([
      [`${up.host}/org/app`, await read(up.host, "org/app")],
      [`${acr.host}/mirror/org/app`, await read(acr.host, "mirror/org/app")],
      [`${acr.host}/mirror/org/svc`, await read(acr.host, "mirror/org/svc")],
      [`${acr.host}/mirror/org/worker`, new Map()], // as an empty listing (a repository that does not exist) says
    ]);
    const drifted = `sha256:${"d".repeat(64)}`;
    listings.get(`${acr.host}/mirror/org/app`)!.set("2.0", drifted);
    const asked: string[] = [];
    const lister = {
      list: async (registry: string, repository: string) => {
        asked.push(`${registry}/${repository}`);
        return listings.get(`${registry}/${repository}`);
      },
    };
    const locks = {
      lockedDigest: async (_r: string, repository: string, tag: string) =>
        repository === "mirror/org/app" && tag === "2.0" ? drifted : undefined,
    };
    // A status that would trust every tag: the listing reads the target anyway, so trust is never needed.
    const first = await planSync(client, cfg);
    const status = new Map(
      first.items.map((i) => [
        i.key,
        { key: i.key, state: "in-sync" as const, sourceDigest: i.sourceDigest, writtenDigest: i.sourceDigest } as never,
      ]),
    );
    const events: Array<{ host: string; kind: string }> = [];
    const counted = new RegistryClient(
      new Transport({ retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 }, onRequest: (e) => events.push(e) }),
    );
    const plan = await planSync(counted, cfg, { status, lister, locks });
    const byKey = Object.fromEntries(plan.items.map((i) => [i.key.replace(`${acr.host}/`, ""), i]));
    expect(Object.fromEntries(Object.entries(byKey).map(([k, i]) => [k, i.state]))).toEqual({
      "mirror/org/app:1.0": "in-sync",
      "mirror/org/app:2.0": "drifted",
      "mirror/org/app:gone": "source-missing",
      "mirror/org/svc:1.1.0": "in-sync",
      "mirror/org/svc:1.0.0": "in-sync",
      "mirror/org/worker:main-abc1234": "missing",
      "mirror/org/unreachable:v1": "error",
    });
    expect(byKey["mirror/org/app:2.0"]).toMatchObject({ locked: true, reason: LOCKED_REASON, targetDigest: drifted });
    expect(byKey["mirror/org/app:1.0"]!.reason ?? "").not.toMatch(/trusted/);
    // No target request at all; upstream, the listed org/app costs nothing, the others HEAD (and list) as before.
    expect(events.filter((e) => e.host === acr.host)).toEqual([]);
    expect(events.filter((e) => e.host === up.host && e.kind === "manifest.head")).toHaveLength(2 + 2);
    expect(events.filter((e) => e.host === up.host && e.kind === "tag.list")).toHaveLength(2);
    // One listing per repository and side (the unreachable host failed before its target was asked).
    expect(asked.sort()).toEqual(
      [
        `${up.host}/org/app`,
        `${up.host}/org/svc`,
        `${up.host}/org/worker`,
        "127.0.0.1:1/org/unreachable",
        `${acr.host}/mirror/org/app`,
        `${acr.host}/mirror/org/svc`,
        `${acr.host}/mirror/org/worker`,
      ].sort(),
    );
  });
});
