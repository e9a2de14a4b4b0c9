/**
 * Image sources (issue 20, item 1): Kubernetes manifests and Helm values from `examples/`, the layered service config
 * of the vendored ARO-HCP fixtures for several environments (checked against each fixture's independently derived
 * `expected-images.json`), origins, and bad input: unknown environment and config path list the valid choices, a
 * malformed manifest names its file and line, and one bad source never stops the others.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ConfigPathError,
  describeOrigin,
  FileImageSource,
  LayeredConfigSource,
  readAllSources,
  toSyncEntries,
  type ImageSource,
  type SourceReadResult,
} from "../../shared/sources";
import { UnknownEnvironmentError } from "../../shared/trace/errors";
import { DirectoryConfigSource } from "../../shared/trace/source";
import { FIXTURES_DIR, readOracle } from "../trace/fixtures";

const ROOT = path.resolve(__dirname, "../..");
const EXAMPLES = path.join(ROOT, "examples/sources");
const rel = (p: string) => path.relative(ROOT, p);
const tmp = mkdtempSync(path.join(tmpdir(), "sources-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const refOf = (i: { registry: string; repository: string; tag: string | null; digest: string | null }) =>
  `${i.registry}/${i.repository}${i.tag ? `:${i.tag}` : ""}${i.digest ? `@${i.digest}` : ""}`;
const where = (r: SourceReadResult) =>
  r.images.map((i) => [i.origin.kind === "file" ? `${i.origin.line} ${i.origin.path}` : i.origin.path, refOf(i)]);

describe("Kubernetes manifests (examples/sources/kubernetes)", () => {
  it("finds every container, initContainer and ephemeralContainer image of every workload kind, with its line", async () => {
    const file = rel(path.join(EXAMPLES, "kubernetes/workloads.yaml"));
    const r = await new FileImageSource({ name: "k8s", kind: "kubernetes", files: [path.join(ROOT, file)] }).read();
    expect(where(r)).toEqual([
      ["11 spec.template.spec.initContainers[0].image", "ghcr.io/example/api-migrate:1.4.2"],
      [
        "14 spec.template.spec.containers[0].image",
        "ghcr.io/example/api@sha256:0f3c2b9a1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
      ],
      ["16 spec.template.spec.containers[1].image", "docker.io/envoyproxy/envoy:v1.31.0"],
      ["27 spec.template.spec.containers[0].image", "docker.io/library/postgres:16.4"],
      ["38 spec.template.spec.containers[0].image", "quay.io/prometheus/node-exporter:v1.8.2"],
      ["52 spec.jobTemplate.spec.template.spec.containers[0].image", "ghcr.io/example/report:2025.09.1"],
      ["62 spec.containers[0].image", "docker.io/library/busybox:latest"],
      ["65 spec.ephemeralContainers[0].image", "ghcr.io/example/debug-tools:0.3.0"],
    ]);
    // The ConfigMap's `image` key is data, not a container.
    expect(r.images.map(refOf)).not.toContain("docker.io/this/is/not:an-image");
    expect(r.warnings).toEqual([expect.stringMatching(/workloads\.yaml:62 .*"busybox" names no tag: read as :latest/)]);
    expect(r.problems).toEqual([]);
  });

  it("reads Lists, ReplicaSets and Jobs, and skips a templated image with a warning", async () => {
    const r = await new FileImageSource({
      name: "k8s",
      kind: "kubernetes",
      files: [path.join(EXAMPLES, "kubernetes/more-workloads.yaml")],
    }).read();
    expect(where(r)).toEqual([["14 items[0].spec.template.spec.containers[0].image", "ghcr.io/example/worker:3.2.1"]]);
    expect(r.warnings).toEqual([expect.stringMatching(/:24 items\[1\]\..*image: templated, known only once rendered/)]);
  });
});

describe("Helm values (examples/sources/helm)", () => {
  it("reads image maps {registry, repository, tag, digest} and image strings at any depth, tags as written", async () => {
    const r = await new FileImageSource({
      name: "helm",
      kind: "helmValues",
      files: [path.join(EXAMPLES, "helm/values.yaml")],
    }).read();
    expect(where(r)).toEqual([
      ["3 image", "us-docker.pkg.dev/runwhen-nonprod-shared/public-images/runwhen-local:main-latest"],
      [
        "9 runner.image",
        "ghcr.io/example/runner@sha256:7d2e1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d",
      ],
      ["15 sidecar.image", "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"],
      ["18 grafana.image", "docker.io/grafana/grafana:11.2.0"],
      ["21 grafana.initChownData.image", "docker.io/library/busybox:1.36"],
      ["29 workers[0].image", "ghcr.io/example/worker-a:1.0.0"],
      ["32 workers[1].image", "ghcr.io/example/worker-b:1.10"],
    ]);
    expect(r.warnings).toEqual([expect.stringMatching(/values\.yaml:25 exporter\.image: no tag and no digest/)]);
  });
});

describe("a layered service config (vendored ARO-HCP fixtures)", () => {
  const fixtures = [
    { dir: path.join(FIXTURES_DIR, "aro-hcp"), name: "newest" },
    { dir: path.join(FIXTURES_DIR, "aro-hcp-history/21f3f7a7d163"), name: "21f3f7a7d163" },
    { dir: path.join(FIXTURES_DIR, "aro-hcp-history/533d5604a3df"), name: "533d5604a3df" },
  ];
  const source = (
    dir: string,
    environment: string,
    extra: Partial<ConstructorParameters<typeof LayeredConfigSource>[0]> = {},
  ) =>
    new LayeredConfigSource(
      {
        name: "aro-hcp",
        repo: "ARO-HCP",
        commit: "0123456789abcdef0123456789abcdef01234567",
        environment,
        tagOnly: "skip",
        targetRegistryPath: "acr.svc.name",
        ...extra,
      },
      new DirectoryConfigSource(dir),
    );

  for (const fixture of fixtures) {
    for (const environment of ["int", "stg", "prod"]) {
      it(`${fixture.name} ${environment}: every pinned image the oracle lists, with its config path, and the ACR from acr.svc.name`, async () => {
        const r = await source(fixture.dir, environment).read();
        const oracle = readOracle(fixture.dir).environments[`public/${environment}`] ?? {};
        const expected = Object.entries(oracle)
          .filter(([, e]) => e.resolvedDigest && e.registry && e.repository && e.registry !== "empty-sentinel")
          .map(([p, e]) => {
            const host = e.registry!.split("/")[0]!;
            const sub = e.registry!.split("/").slice(1).join("/");
            return [p, `${host}/${sub ? `${sub}/` : ""}${e.repository}${e.tag ? `:${e.tag}` : ""}@${e.resolvedDigest}`];
          })
          .sort();
        expect(where(r).sort()).toEqual(expected);
        expect(r.targetRegistry).toBe(`arohcpsvc${environment}.azurecr.io`);
        expect(r.problems).toEqual([]);
        expect(r.images[0]?.origin).toMatchObject({ kind: "config", cloud: "public", environment, region: null });
      });
    }
  }

  it("the origin names repository, commit, context and config path", async () => {
    const r = await source(fixtures[0]!.dir, "prod").read();
    const backend = r.images.find((i) => i.origin.kind === "config" && i.origin.path === "backend.image")!;
    expect(describeOrigin(backend.origin)).toBe("ARO-HCP@0123456789ab public/prod backend.image");
  });

  it("tag-only entries follow the stated rule: skip, tag, or resolve with one lookup", async () => {
    const old = path.join(FIXTURES_DIR, "aro-hcp-history/synthetic-pre-20250717");
    const skip = await source(old, "stg").read();
    expect(skip.images.map(refOf)).not.toContain("mcr.microsoft.com/aks/msi-acrpull:v0.1.14");
    expect(skip.warnings).toContain(
      "acrPull.image: tag only (mcr.microsoft.com/aks/msi-acrpull:v0.1.14); skipped (tagOnly: skip)",
    );
    const tag = await source(old, "stg", { tagOnly: "tag" }).read();
    expect(tag.images.map(refOf)).toContain("mcr.microsoft.com/aks/msi-acrpull:v0.1.14");
    const asked: string[] = [];
    const digest = `sha256:${"ab".repeat(32)}`;
    const resolved = await new LayeredConfigSource(
      { name: "old", repo: "old", commit: "0000000", environment: "stg", tagOnly: "resolve" },
      new DirectoryConfigSource(old),
      (registry, repository, t) => {
        asked.push(`${registry}/${repository}:${t}`);
        return Promise.resolve(digest);
      },
    ).read();
    expect(asked).toEqual(["mcr.microsoft.com/aks/msi-acrpull:v0.1.14"]);
    expect(resolved.images.map(refOf)).toContain(`mcr.microsoft.com/aks/msi-acrpull:v0.1.14@${digest}`);
    expect(resolved.resolvedTags).toEqual({ "mcr.microsoft.com/aks/msi-acrpull:v0.1.14": digest });
  });

  it("reads a pre-2025-07-17 layout: old overlay name, a bare-hex digest as sha256 with a warning", async () => {
    const old = path.join(FIXTURES_DIR, "aro-hcp-history/synthetic-pre-20250717");
    const r = await source(old, "int").read();
    expect(r.images.map(refOf)).toContain(
      `mcr.microsoft.com/oss/v2/prometheus/prometheus-operator@sha256:${"7a".repeat(32)}`,
    );
    expect(r.warnings).toContain(
      `svc.prometheus.prometheusOperator.image: digest "${"7a".repeat(32)}" has no algorithm; read as sha256`,
    );
    expect(r.targetRegistry).toBe("arohcpsvcint.azurecr.io");
  });

  it("an unknown environment lists the valid ones", async () => {
    const err = await source(fixtures[0]!.dir, "qa")
      .read()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownEnvironmentError);
    expect((err as Error).message).toBe(
      'unknown environment "qa" in cloud "*"; valid environments: dev/ci00, dev/ci01, dev/cspr, dev/dev, dev/perf, dev/pers, public/int, public/prod, public/stg',
    );
  });

  it("a config path that does not exist lists the keys that do", async () => {
    const err = await source(fixtures[0]!.dir, "prod", { targetRegistryPath: "acr.svcc.name" })
      .read()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigPathError);
    expect((err as Error).message).toMatch(
      /^config path "acr\.svcc\.name" does not exist \(acr exists\); valid keys under acr: .*\bocp\b.*\bsvc\b/,
    );
  });
});

describe("bad input", () => {
  it("a malformed manifest names its file and line, and the other files of the source still count", async () => {
    const bad = path.join(tmp, "bad.yaml");
    writeFileSync(bad, "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      image: [unclosed\n");
    const good = path.join(EXAMPLES, "kubernetes/more-workloads.yaml");
    const r = await new FileImageSource({ name: "k8s", kind: "kubernetes", files: [bad, good] }).read();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ file: bad, line: expect.any(Number) });
    expect(r.problems[0]!.message).toMatch(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: not valid YAML`),
    );
    expect(r.problems[0]!.line).toBeGreaterThanOrEqual(6);
    expect(r.images.map(refOf)).toEqual(["ghcr.io/example/worker:3.2.1"]);
  });

  it("an invalid image reference names file, line and path", async () => {
    const bad = path.join(tmp, "invalid-ref.yaml");
    writeFileSync(bad, "kind: Pod\nspec:\n  containers:\n    - name: a\n      image: Not/A/Valid:Ref:x\n");
    const r = await new FileImageSource({ name: "k8s", kind: "kubernetes", files: [bad] }).read();
    expect(r.problems).toEqual([
      expect.objectContaining({
        file: bad,
        line: 5,
        message: expect.stringMatching(/^spec\.containers\[0\]\.image: invalid image reference/),
      }),
    ]);
  });

  it("one source that fails (missing file, unknown environment, a throw) never stops the others", async () => {
    const throwing: ImageSource = { name: "broken", read: () => Promise.reject(new Error("boom")) };
    const results = await readAllSources([
      new FileImageSource({ name: "missing", kind: "helmValues", files: [path.join(tmp, "nope.yaml")] }),
      throwing,
      new LayeredConfigSource(
        { name: "aro-qa", repo: "ARO-HCP", commit: "0000000", environment: "qa", tagOnly: "skip" },
        new DirectoryConfigSource(path.join(FIXTURES_DIR, "aro-hcp")),
      ),
      new FileImageSource({ name: "helm", kind: "helmValues", files: [path.join(EXAMPLES, "helm/values.yaml")] }),
    ]);
    expect(results.map((r) => [r.source, r.images.length, r.problems.map((p) => p.message)])).toEqual([
      ["missing", 0, [`${path.join(tmp, "nope.yaml")}: no such file`]],
      ["broken", 0, ["boom"]],
      [
        "aro-qa",
        0,
        [
          expect.stringMatching(
            /^unknown environment "qa".*valid environments: dev\/ci00, .*public\/int, public\/prod, public\/stg$/,
          ),
        ],
      ],
      ["helm", 7, []],
    ]);
  });

  it("refuses a scheme other than a local path or https", async () => {
    const r = await new FileImageSource({
      name: "x",
      kind: "kubernetes",
      files: ["http://example.invalid/a.yaml"],
    }).read();
    expect(r.problems[0]?.message).toMatch(/only local files and https URLs are read/);
  });
});

describe("sourced images become sync entries that keep their origin", () => {
  it("digests are mirrored by digest, tags as tags, duplicates once, under the target prefix", async () => {
    const r = await new FileImageSource({
      name: "k8s",
      kind: "kubernetes",
      files: [path.join(EXAMPLES, "kubernetes/workloads.yaml"), path.join(EXAMPLES, "kubernetes/workloads.yaml")],
    }).read();
    const entries = toSyncEntries(r.images, { registry: "myacr.azurecr.io", prefix: "mirror" });
    expect(entries).toHaveLength(8);
    expect(entries[1]).toMatchObject({
      source: { registry: "ghcr.io", repository: "example/api" },
      target: { registry: "myacr.azurecr.io", repository: "mirror/example/api" },
      rule: { kind: "digest", digest: "sha256:0f3c2b9a1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8" },
      origin: { list: "sources", line: 14 },
    });
    expect(entries[1]!.origin.described).toMatch(/workloads\.yaml:14 spec\.template\.spec\.containers\[0\]\.image$/);
    expect(entries[0]).toMatchObject({ rule: { kind: "tags", tags: ["1.4.2"] } });
  });
});

describe("hostile manifests", () => {
  it("a deeply nested List is not walked (Lists do not nest), and an alias bomb is never expanded", async () => {
    const deep = path.join(tmp, "deep.yaml");
    let text = "kind: Pod\nspec: { containers: [ { name: a, image: ghcr.io/x/deep:1 } ] }\n";
    for (let i = 0; i < 2000; i++) text = `kind: List\nitems:\n${text.replace(/^/gm, "  ").replace(/^ {2}/, "- ")}`;
    writeFileSync(deep, text);
    const r = await new FileImageSource({ name: "deep", kind: "kubernetes", files: [deep] }).read();
    expect(r.images).toEqual([]);
    const bomb = path.join(tmp, "bomb.yaml");
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(", ")}]`,
      );
    writeFileSync(bomb, `kind: Pod\n${lines.join("\n")}\n`);
    const b = await new FileImageSource({ name: "bomb", kind: "helmValues", files: [bomb] }).read();
    expect(b.images).toEqual([]);
  });
});
