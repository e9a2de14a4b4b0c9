import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { discoverBases } from "../../shared/bases/discovery";
import { dockerfileReader } from "../../shared/bases/dockerfileSource";
import { loadEnrollmentFile } from "../../shared/bases/enrollment";
import { basesSyncEntries, type SyncContext } from "../../shared/bases/syncEntries";

const EXAMPLE = join(__dirname, "..", "..", "examples", "bases.yaml");

describe("examples/bases.yaml", () => {
  it("loads, and its Dockerfiles give the graph and the sync entries docs/bases.md describes", async () => {
    const { enrollment, warnings } = await loadEnrollmentFile(EXAMPLE);
    expect(warnings).toEqual([]);
    expect(enrollment.images.map((i) => `${i.name}:${i.kind}`)).toEqual([
      "api:managed",
      "base-debian:managed",
      "worker:managed",
      "redis:external",
    ]);
    const sync: SyncContext = {
      target: { registry: "myacr.azurecr.io", prefix: "mirror" },
      defaults: { platforms: "all", pinTag: true },
      images: [],
    };
    const discovery = await discoverBases(enrollment, dockerfileReader(), sync);
    const { graph } = discovery;
    expect([...discovery.dockerfiles.values()].every((d) => d.ok)).toBe(true);
    expect(graph.order).toEqual(["api", "base-debian", "worker"]);
    // The build arg wins over the ARG default, in both stages.
    expect(graph.images.get("api")!.edges.map((e) => [e.base, e.final])).toEqual([
      ["docker.io/library/node:22-bookworm", false],
      ["gcr.io/distroless/nodejs22-debian12:nonroot", true],
    ]);
    expect(graph.images.get("worker")!.managedBases).toEqual(["base-debian"]);
    expect(graph.images.get("worker")!.externalClosure).toEqual([
      "docker.io/library/debian:12-slim",
      "docker.io/library/busybox:1.36",
    ]);
    expect(graph.bases.get("docker.io/library/debian:12-slim")?.critical).toBe(true);
    expect(
      basesSyncEntries(discovery, sync).map(
        (e) => `${e.source.registry}/${e.source.repository} ${JSON.stringify(e.rule)}`,
      ),
    ).toEqual([
      'docker.io/library/redis {"kind":"semver","range":">=7.2 <8","prerelease":false}',
      'docker.io/library/node {"kind":"tags","tags":["22-bookworm"]}',
      'gcr.io/distroless/nodejs22-debian12 {"kind":"tags","tags":["nonroot"]}',
      'docker.io/library/debian {"kind":"tags","tags":["12-slim"]}',
      'docker.io/library/busybox {"kind":"tags","tags":["1.36"]}',
    ]);
  });
});
