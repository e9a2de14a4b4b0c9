import { describe, expect, it } from "vitest";
import { parseDockerfile } from "../../shared/bases/dockerfile";
import { parseEnrollment } from "../../shared/bases/enrollment";
import type { Enrollment } from "../../shared/bases/enrollmentTypes";
import { buildBaseGraph, type DockerfileOutcome } from "../../shared/bases/graph";
import { basesSyncEntries, covers, statusKeyOf, type SyncContext } from "../../shared/bases/syncEntries";
import type { ImageEntry } from "../../shared/sync/configTypes";

const DIGEST = `sha256:${"d".repeat(64)}`;

/** An enrollment of managed images named by `name: Dockerfile text`; images live under myacr.azurecr.io/team/. */
function setup(dockerfiles: Record<string, string>, extra: string[] = []) {
  const lines = ["critical: [docker.io/library/debian]", "images:"];
  for (const name of Object.keys(dockerfiles)) {
    lines.push(`  - { name: ${name}, image: myacr.azurecr.io/team/${name}:1, dockerfile: ${name}/Dockerfile }`);
  }
  lines.push(...extra);
  const { enrollment } = parseEnrollment(lines.join("\n") + "\n", "/x/bases.yaml");
  const outcomes = new Map<string, DockerfileOutcome>(
    Object.entries(dockerfiles).map(([name, text]) => [name, { ok: true, parsed: parseDockerfile(text) }]),
  );
  return { enrollment, outcomes };
}

const sync: SyncContext = {
  target: { registry: "myacr.azurecr.io", prefix: "mirror" },
  defaults: { platforms: "all", pinTag: true },
  images: [],
};

function entry(
  source: string,
  rule: ImageEntry["rule"],
  target = `mirror/${source.split("/").slice(1).join("/")}`,
): ImageEntry {
  const [registry, ...path] = source.split("/");
  return {
    origin: { list: "images", index: 0, line: 1 },
    source: { registry: registry!, repository: path.join("/") },
    target: { registry: "myacr.azurecr.io", repository: target },
    platforms: "all",
    pinTag: false,
    rule,
  };
}

describe("buildBaseGraph", () => {
  it("links managed images through managed bases and collects external bases transitively", () => {
    const { enrollment, outcomes } = setup({
      api: "FROM golang:1.22 AS build\nFROM myacr.azurecr.io/team/base:1\n",
      base: "FROM debian:12\n",
      tool: "FROM myacr.azurecr.io/team/api:1\nCOPY --from=busybox:1.36 /bin/sh /sh\n",
    });
    const graph = buildBaseGraph(enrollment, outcomes);
    expect(graph.cycles).toEqual([]);
    expect(graph.order).toEqual(["base", "api", "tool"]);
    const api = graph.images.get("api")!;
    expect(api.managedBases).toEqual(["base"]);
    expect(api.edges.map((e) => [e.base, e.final])).toEqual([
      ["docker.io/library/golang:1.22", false],
      ["myacr.azurecr.io/team/base:1", true],
    ]);
    // Depth first: through api (and its base) before tool's own COPY --from image.
    expect(graph.images.get("tool")!.externalClosure).toEqual([
      "docker.io/library/golang:1.22",
      "docker.io/library/debian:12",
      "docker.io/library/busybox:1.36",
    ]);
    expect(graph.bases.get("myacr.azurecr.io/team/base:1")).toMatchObject({
      kind: "managed",
      managed: "base",
      inTarget: false,
    });
    expect(graph.bases.get("docker.io/library/debian:12")).toMatchObject({
      kind: "external",
      critical: true,
      usedBy: ["base"],
    });
  });

  it("reports cycles once each, including an image built from itself, and keeps their images out of the way", () => {
    const { enrollment, outcomes } = setup({
      a: "FROM myacr.azurecr.io/team/b:1\n",
      b: "FROM myacr.azurecr.io/team/c:1\n",
      c: "FROM myacr.azurecr.io/team/a:1\n",
      self: "FROM myacr.azurecr.io/team/self:1\n",
      ok: "FROM alpine:3.20\n",
      user: "FROM myacr.azurecr.io/team/a:1\n",
    });
    const graph = buildBaseGraph(enrollment, outcomes);
    expect(graph.cycles).toEqual([
      ["a", "b", "c", "a"],
      ["self", "self"],
    ]);
    expect([...graph.images.values()].filter((i) => i.inCycle).map((i) => i.name)).toEqual(["a", "b", "c", "self"]);
    expect(graph.order).toEqual(["ok", "user", "a", "b", "c", "self"]);
  });

  it("keeps the pin on the edge and gives a digest-only base its own key", () => {
    const { enrollment, outcomes } = setup({
      one: `FROM node:20@${DIGEST}\n`,
      two: `FROM node:20\nFROM quay.io/org/base@${DIGEST}\n`,
    });
    const graph = buildBaseGraph(enrollment, outcomes);
    expect(graph.bases.get("docker.io/library/node:20")?.usedBy).toEqual(["one", "two"]);
    expect(graph.images.get("one")!.edges[0]).toMatchObject({ base: "docker.io/library/node:20", pinned: DIGEST });
    expect(graph.images.get("two")!.edges[0]?.pinned).toBeUndefined();
    const digestOnly = graph.bases.get(`quay.io/org/base@${DIGEST}`);
    expect(digestOnly?.digest).toBe(DIGEST);
    expect(digestOnly?.tag).toBeUndefined();
  });

  it("keeps an image whose Dockerfile failed, without bases", () => {
    const { enrollment } = setup({ broken: "FROM scratch\n" });
    const graph = buildBaseGraph(
      enrollment,
      new Map([["broken", { ok: false, problem: "Dockerfile:1: no FROM instruction" }]]),
    );
    expect(graph.images.get("broken")).toMatchObject({ edges: [], problem: "Dockerfile:1: no FROM instruction" });
  });

  it("traces a base named through the mirror back to its upstream", () => {
    const { enrollment, outcomes } = setup({
      app: "FROM myacr.azurecr.io/mirror/library/debian:12\nFROM myacr.azurecr.io/other/thing:2\n",
    });
    const graph = buildBaseGraph(enrollment, outcomes, {
      target: sync.target,
      entries: [entry("docker.io/library/debian", { kind: "tags", tags: ["11"] })],
    });
    expect(graph.bases.get("myacr.azurecr.io/mirror/library/debian:12")).toMatchObject({
      kind: "external",
      inTarget: true,
      mirroredFrom: { registry: "docker.io", repository: "library/debian" },
      // Critical by its upstream name.
      critical: true,
    });
    expect(graph.bases.get("myacr.azurecr.io/other/thing:2")).toMatchObject({ inTarget: true });
    expect(graph.bases.get("myacr.azurecr.io/other/thing:2")?.mirroredFrom).toBeUndefined();
  });
});

describe("basesSyncEntries", () => {
  function discovery(
    dockerfiles: Record<string, string>,
    extra: string[] = [],
  ): { enrollment: Enrollment; graph: ReturnType<typeof buildBaseGraph> } {
    const { enrollment, outcomes } = setup(dockerfiles, extra);
    return { enrollment, graph: buildBaseGraph(enrollment, outcomes, { target: sync.target, entries: sync.images }) };
  }

  it("adds enrolled externals and one tags entry per upstream repository, following each tag used", () => {
    const d = discovery(
      { api: "FROM node:20 AS build\nFROM node:22-slim\n", web: "FROM nginx:1.27\nFROM myacr.azurecr.io/team/api:1\n" },
      ["  - { image: redis:7.2 }"],
    );
    const entries = basesSyncEntries(d, sync, {});
    expect(
      entries.map((e) => [`${e.source.registry}/${e.source.repository}`, e.target.repository, e.rule, e.origin.line]),
    ).toEqual([
      ["docker.io/library/redis", "mirror/library/redis", { kind: "tags", tags: ["7.2"] }, 5],
      ["docker.io/library/node", "mirror/library/node", { kind: "tags", tags: ["20", "22-slim"] }, 3],
      ["docker.io/library/nginx", "mirror/library/nginx", { kind: "tags", tags: ["1.27"] }, 4],
    ]);
    expect(entries.map((e) => e.origin.index)).toEqual([0, 1, 2]);
    expect(entries[1]).toMatchObject({ platforms: "all", pinTag: true, target: { registry: "myacr.azurecr.io" } });
  });

  it("adds nothing the sync already selects, and reuses an existing entry's target repository", () => {
    // semver rules select strict versions only, as in the sync: 20.11.1 is covered by >=20 <21, 21 is not.
    const d = discovery({ api: `FROM node:20.11.1\nFROM node:21@${DIGEST}\nFROM nginx:1.27\nFROM alpine:3.20\n` });
    const existing = [
      entry("docker.io/library/node", { kind: "semver", range: ">=20 <21", prerelease: false }, "hub/node"),
      entry("docker.io/library/nginx", { kind: "tags", tags: ["1.27"] }),
      entry("docker.io/library/alpine", { kind: "newest", count: 3, order: "semver", expensive: false }),
    ];
    const entries = basesSyncEntries(d, { ...sync, images: existing });
    expect(entries.map((e) => [e.source.repository, e.target.repository, e.rule])).toEqual([
      ["library/node", "hub/node", { kind: "tags", tags: ["21"] }],
      ["library/node", "hub/node", { kind: "digest", digest: DIGEST }],
      // newest may drop 3.20 at any run, so it does not count as covering it.
      ["library/alpine", "mirror/library/alpine", { kind: "tags", tags: ["3.20"] }],
    ]);
    expect(covers(existing[0]!, { registry: "docker.io", repository: "library/node" }, { tag: "20.11.1" })).toBe(true);
    expect(covers(existing[0]!, { registry: "docker.io", repository: "library/node" }, { tag: "21" })).toBe(false);
  });

  it("adds the upstream of a mirror reference, never the mirror itself, and no managed bases", () => {
    const mirrorSync = { ...sync, images: [entry("docker.io/library/debian", { kind: "tags", tags: ["11"] })] };
    const { enrollment, outcomes } = setup({
      app: "FROM myacr.azurecr.io/mirror/library/debian:12\nFROM myacr.azurecr.io/team/base:1\nFROM myacr.azurecr.io/x/y:1\n",
      base: "FROM scratch\n",
    });
    const graph = buildBaseGraph(enrollment, outcomes, { target: sync.target, entries: mirrorSync.images });
    const entries = basesSyncEntries({ enrollment, graph }, mirrorSync);
    expect(entries.map((e) => [e.source.repository, e.target.repository, e.rule])).toEqual([
      ["library/debian", "mirror/library/debian", { kind: "tags", tags: ["12"] }],
    ]);
    const debian = graph.bases.get("myacr.azurecr.io/mirror/library/debian:12")!;
    expect(statusKeyOf(debian, [...mirrorSync.images, ...entries])).toBe("myacr.azurecr.io/mirror/library/debian:12");
  });
});
