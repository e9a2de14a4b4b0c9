/**
 * Tracing an ARO-HCP commit from before 2025-07-17 (issue 20, item 4), on the synthetic fixture in that layout
 * (test/fixtures/aro-hcp-history/synthetic-pre-20250717, made up, see its README): the overlay under its old name,
 * bare 64-hex digests, a tag-only entry resolved with one HEAD, and `no-label` that does not fail the exit code.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { isLoopback, tallyRequests, Transport } from "../../shared/registry/transport";
import { builtInServiceDefinition, type ServiceDefinition } from "../../shared/trace/definition";
import type { TraceComponent, TraceResponse } from "../../shared/trace/response";
import { GitConfigSource } from "../../shared/trace/source";
import { traceImages } from "../../shared/trace/tracer";
import { runTrace } from "../../cli/traceCommand";
import { type ConfigLab, startConfigLab } from "../sources/configLab";
import { FIXTURES_DIR } from "./fixtures";

const OLD = path.join(FIXTURES_DIR, "aro-hcp-history/synthetic-pre-20250717");
const BARE_INT = "sha256:7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a";
const BARE_PROD = "sha256:9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f";

let lab: ConfigLab;
let definition: ServiceDefinition;

beforeAll(async () => {
  lab = await startConfigLab({ fixtureDir: OLD, noLabels: [BARE_PROD], pushTags: true });
  definition = await builtInServiceDefinition("aro-hcp");
}, 60_000);

afterAll(async () => {
  await lab?.stop();
});

const client = () =>
  new RegistryClient(
    new Transport({
      auth: new AuthManager({ credentials: () => Promise.resolve(undefined), allowPlainHttp: isLoopback }),
    }),
  );

function trace(environment: string, resolveTags = false): Promise<TraceResponse> {
  return traceImages({
    source: new GitConfigSource(lab.repo),
    definition,
    commit: lab.commit,
    environment,
    client: client(),
    registryMap: lab.registryMap,
    resolveTags,
  });
}

const at = (t: TraceResponse, p: string): TraceComponent => {
  const c = t.components.find((x) => x.path === p);
  if (!c) throw new Error(`no component ${p}`);
  return c;
};

describe("an ARO-HCP commit from before 2025-07-17", () => {
  it("reads the overlay under its old name, so cloud public and its environments exist", async () => {
    const t = await trace("int");
    expect(t.cloud).toBe("public");
    expect(t.config.files).toEqual(["config/config.yaml", "config/config.msft.public-cloud-overlay.yaml"]);
    expect(t.config.skipped_files).toEqual([]);
    // The int overlay's Cluster Service pin, not the default's.
    const cs = lab.images.get("sha256:6666666666666666666666666666666666666666666666666666666666666666")!;
    expect(at(t, "clustersService.image")).toMatchObject({ digest: cs.localDigest, source_sha: cs.commit });
  });

  it("traces a bare 64-hex digest as sha256:, with a warning", async () => {
    const t = await trace("int");
    const image = lab.images.get(BARE_INT)!;
    const c = at(t, "svc.prometheus.prometheusOperator.image");
    expect(c).toMatchObject({ status: "pinned", digest: image.localDigest, source_sha: image.commit, error: null });
    expect(c.note).toMatch(/no algorithm; read as sha256/);
    expect(t.warnings).toContain(
      `svc.prometheus.prometheusOperator.image: digest "${image.localDigest.slice(7)}" has no algorithm; read as sha256`,
    );
  });

  it("leaves a tag-only entry as such by default, and resolves it with exactly one HEAD when asked", async () => {
    const plain = await trace("stg");
    expect(at(plain, "acrPull.image")).toMatchObject({ status: "tag-only", digest: null, error: null });

    const { result, requests } = await tallyRequests(() => trace("stg", true));
    const tagged = lab.tags.get("mcr.microsoft.com/aks/msi-acrpull:v0.1.14");
    const c = at(result, "acrPull.image");
    expect(c).toMatchObject({ status: "resolved-from-tag", digest: tagged, tag: "v0.1.14", source_sha: "7a9e0b1" });
    expect(c.note).toMatch(/^tag v0\.1\.14 resolved with one HEAD/);
    // One HEAD for the one tag-only entry; every other request is a label read (manifest GET + config blob).
    expect(requests.byKind["manifest.head"]).toBe(1);
  });

  it("reports a tag that cannot be resolved on its component only", async () => {
    const t = await traceImages({
      source: new GitConfigSource(lab.repo),
      definition,
      commit: lab.commit,
      environment: "stg",
      client: client(),
      registryMap: { ...lab.registryMap, "mcr.microsoft.com": "127.0.0.1:1" },
      resolveTags: true,
    });
    expect(at(t, "acrPull.image")).toMatchObject({ status: "tag-only", error_kind: "unreachable" });
    expect(at(t, "backend.image").error).toBeNull();
  });

  it("the trace command exits 0 when the only problem is an image without labels, 1 on a real failure", async () => {
    const out: string[] = [];
    const output = { stdout: (l: string) => out.push(l), stderr: (l: string) => out.push(l) };
    const common = {
      repo: lab.repo,
      commit: lab.commit,
      environment: "prod",
      credentials: () => Promise.resolve(undefined),
      registryMap: Object.entries(lab.registryMap).map(([a, b]) => `${a}=${b}`),
    };
    expect(await runTrace(common, output)).toBe(0);
    expect(out[0]).toMatch(/public\/prod: \d+ components, \d+ pinned, \d+ traced, 1 failed$/);
    const unreachable = [...common.registryMap.filter((m) => !m.startsWith("quay.io=")), "quay.io=127.0.0.1:1"];
    expect(await runTrace({ ...common, registryMap: unreachable }, output)).toBe(1);
  });
});
