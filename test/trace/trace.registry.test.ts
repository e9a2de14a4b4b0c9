/**
 * The trace end to end: fixture commits in a git repository, their images on real local registries (open, htpasswd,
 * token auth), Table Storage on Azurite. See lab.ts for how the fixtures' real digests get local stand-ins.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager, type CredentialResolver } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { isLoopback, type RequestEvent, tallyRequests, Transport } from "../../shared/registry/transport";
import { TraceStore } from "../../shared/store/traceStore";
import { Tables } from "../../shared/store/tables";
import {
  answer,
  diffRequest,
  parseDiffQuery,
  parseTraceBody,
  parseTraceQuery,
  type TraceDeps,
  traceRequest,
} from "../../shared/trace/api";
import { builtInCatalogue, type ComponentCatalogue } from "../../shared/trace/catalogue";
import { builtInServiceDefinition, type ServiceDefinition } from "../../shared/trace/definition";
import { CommitNotFoundError, TraceInputError, UnknownEnvironmentError } from "../../shared/trace/errors";
import { LabelReadError, readImageLabels } from "../../shared/trace/labels";
import type { TraceComponent, TraceResponse } from "../../shared/trace/response";
import { DirectoryConfigSource, GitConfigSource } from "../../shared/trace/source";
import { runDiff, runTrace } from "../../cli/traceCommand";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { FIXTURES_DIR, readOracle } from "./fixtures";
import { type Lab, LAB_USER, startLab } from "./lab";
import { startTogether } from "../harness/together";

const NEWEST = { dir: path.join(FIXTURES_DIR, "aro-hcp"), commit: "c3f02f9ef9f19429f4b259f65ab2e32fd3e32773" };
const JULY = {
  dir: path.join(FIXTURES_DIR, "aro-hcp-history/533d5604a3df"),
  commit: "533d5604a3df6bb2f2d6dcfb25238a8bfd3b04e0",
};
const SEPTEMBER = {
  dir: path.join(FIXTURES_DIR, "aro-hcp-history/ac4c5173fe88"),
  commit: "ac4c5173fe88673fe4c5450168db7150b1811014",
};
const DECEMBER = {
  dir: path.join(FIXTURES_DIR, "aro-hcp-history/21f3f7a7d163"),
  commit: "21f3f7a7d163a2dad380f101869dc97a35b004a2",
};
// At 533d5604a3df stg alone reads Cluster Service from arohcpsvcdev.azurecr.io; that image is left out of the lab.
const MISSING = "sha256:64b4fd5d657f17a13a960f37fde59b25310e9d336e5c727ac121ac7ff98788f8";

let lab: Lab;
let azurite: RunningAzurite;
let definition: ServiceDefinition;
let catalogue: ComponentCatalogue;

beforeAll(async () => {
  [lab, azurite] = await startTogether(
    startLab({ fixtures: [JULY, SEPTEMBER, DECEMBER, NEWEST], omit: [MISSING] }),
    startAzurite(),
  );
  definition = await builtInServiceDefinition("aro-hcp");
  catalogue = await builtInCatalogue(definition);
}, 120_000);

afterAll(async () => {
  await Promise.all([lab?.stop(), azurite?.stop()]);
});

function client(credentials: CredentialResolver = lab.credentials): RegistryClient {
  return new RegistryClient(new Transport({ auth: new AuthManager({ credentials, allowPlainHttp: isLoopback }) }));
}

function deps(overrides: Partial<TraceDeps> = {}): TraceDeps {
  return {
    source: new GitConfigSource(lab.repo),
    definition,
    catalogue,
    client: client(),
    registryMap: lab.registryMap,
    ...overrides,
  };
}

const commitOf = (fixture: { commit: string }) => lab.commitOf.get(fixture.commit) ?? "";
const byPath = (trace: TraceResponse, p: string): TraceComponent => {
  const found = trace.components.find((c) => c.path === p);
  if (!found) throw new Error(`no component ${p}`);
  return found;
};
/** The lab image a fixture pins at a path, from the fixture's own oracle (not from the trace). */
function labImage(fixture: { dir: string }, context: string, configPath: string) {
  const real = readOracle(fixture.dir).environments[context]?.[configPath]?.resolvedDigest ?? "";
  const image = lab.images.get(real);
  if (!image) throw new Error(`no lab image for ${configPath}`);
  return image;
}

describe("tracing a fixture commit", () => {
  let trace: TraceResponse;
  const events: RequestEvent[] = [];

  beforeAll(async () => {
    const recording = new RegistryClient(
      new Transport({
        auth: new AuthManager({ credentials: lab.credentials, allowPlainHttp: isLoopback }),
        onRequest: (e) => events.push(e),
      }),
    );
    trace = await traceRequest(deps({ client: recording }), { commit: commitOf(NEWEST), environment: "prod" });
  });

  it("answers in the seed's shape for every entry of the config", () => {
    expect(trace).toMatchObject({ commit_sha: commitOf(NEWEST), environment: "prod", cloud: "public", ref: null });
    expect(trace.components).toHaveLength(44);
    for (const c of trace.components) {
      expect(Object.keys(c)).toEqual(
        expect.arrayContaining(["name", "registry", "repository", "digest", "source_sha", "source_repo_url", "error"]),
      );
    }
    expect(trace.summary).toMatchObject({ components: 44, pinned: 37 });
  });

  it("reports the source commits the reference notes record for this commit (§4.1)", () => {
    // Independent of the lab: the values shared/reference/aro-hcp.md lists for HEAD c3f02f9e.
    expect(byPath(trace, "clustersService.image").source_sha).toBe("7da8c6d7fadefa20c3d4e002e590e2726bf18752");
    expect(byPath(trace, "maestro.image").source_sha).toBe("36cd08663b9c1542c5d42477fd86589d298f5f2e");
    expect(byPath(trace, "hypershift.image").source_sha).toBe("371975345ed9cf7c19b17d423ccde02210c6129f");
    expect(byPath(trace, "backend.image").source_sha).toBe("55611cd");
    expect(byPath(trace, "frontend.image").source_sha).toBe("f55beeb");
  });

  it("gives every pinned image the commit its labels name, or a no-label error", () => {
    for (const c of trace.components.filter((x) => x.status === "pinned" && x.registry !== null)) {
      const image = labImage(NEWEST, "public/prod", c.path);
      expect(c.digest).toBe(image.localDigest);
      if (image.labelKey === null) {
        expect(c).toMatchObject({ error_kind: "no-label", source_sha: null });
      } else {
        expect(c).toMatchObject({ error: null, source_sha: image.commit, source_sha_from: image.labelKey });
      }
    }
    expect(trace.errors).toEqual([expect.stringMatching(/^Arobit MDSD \(arobit\.mdsd\.image\): no source commit/)]);
  });

  it("falls back to org.opencontainers.image.revision, and to the catalogue for the repository", () => {
    expect(byPath(trace, "hypershift.image")).toMatchObject({
      name: "Hypershift",
      source_sha_from: "org.opencontainers.image.revision",
      source_repo_url: "https://github.com/openshift/hypershift",
      source_repo_from: "catalogue",
      source_url: "https://github.com/openshift/hypershift/tree/371975345ed9cf7c19b17d423ccde02210c6129f",
      read_from: lab.hosts.token,
    });
  });

  it("prefers the image's vcs-url, normalised, and links GitLab sources in GitLab's form", () => {
    expect(byPath(trace, "backend.image")).toMatchObject({
      name: "Backend",
      source_repo_url: "https://github.com/Azure/ARO-HCP",
      source_repo_from: "vcs-url",
      source_url: "https://github.com/Azure/ARO-HCP/tree/55611cd",
      registry: "arohcpsvcdev.azurecr.io",
      read_from: lab.hosts.basic,
    });
    expect(byPath(trace, "clustersService.image").source_url).toBe(
      "https://gitlab.cee.redhat.com/service/aro-hcp-clusters-service/-/tree/7da8c6d7fadefa20c3d4e002e590e2726bf18752",
    );
  });

  it("reads the linux/amd64 child of a multi-arch index, past an attestation and another platform", () => {
    expect(labImage(NEWEST, "public/prod", "maestro.image").index).toBe(true);
    expect(byPath(trace, "maestro.image")).toMatchObject({ platform: "linux/amd64", error: null });
  });

  it("reports entries without a pin as such, not as errors", () => {
    const unpinned = trace.components.filter((c) => c.status !== "pinned");
    expect(unpinned.map((c) => c.path).sort()).toEqual(
      [
        "fleet.image",
        "genevaHealthFunction.image",
        "hcpRecovery.image",
        "mise.image",
        "mise.imageV2",
        "msiCredentialsRefresher.image",
        "quotaizer.image",
      ].sort(),
    );
    for (const c of unpinned) expect(c).toMatchObject({ error: null, error_kind: null, note: expect.any(String) });
  });

  it("reads each of the 31 distinct references once", () => {
    // One manifest and one config blob per reference; the index costs one more manifest. The svc/mgmt prometheus
    // pairs share references and are not read twice. Besides those: auth challenges (401) and token requests only.
    const answered = (kind: string) => events.filter((e) => e.kind === kind && e.status === 200).length;
    expect(answered("blob.get")).toBe(31);
    expect(answered("manifest.get")).toBe(32);
    const rest = events.filter((e) => !(e.status === 200 && (e.kind === "blob.get" || e.kind === "manifest.get")));
    for (const e of rest) expect(e.kind === "token" || e.status === 401, JSON.stringify(e)).toBe(true);
  });

  it("says when the config cannot tell environments apart", () => {
    expect(trace.environment_specific).toBe(false);
    expect(trace.warnings).toContainEqual(expect.stringMatching(/every environment of cloud public pins the same/));
  });
});

describe("failures stay with their component", () => {
  it("a missing image fails only that component", async () => {
    const trace = await traceRequest(deps(), { commit: commitOf(JULY), environment: "stg" });
    expect(byPath(trace, "clustersService.image")).toMatchObject({
      error_kind: "not-found",
      // The class and the host; never the registry's own error text.
      error: expect.stringMatching(/^not found on 127\.0\.0\.1:\d+$/),
      source_sha: null,
      source_repo_url: "https://gitlab.cee.redhat.com/service/aro-hcp-clusters-service",
    });
    expect(trace.environment_specific).toBe(true);
    const others = trace.components.filter((c) => c.error !== null && c.path !== "clustersService.image");
    expect(others.every((c) => c.error_kind === "no-label")).toBe(true); // the old genevamdsd image has no labels
    expect(trace.summary.traced).toBeGreaterThan(15);
  });

  it("registries that refuse us fail their components and nobody else's", async () => {
    const trace = await traceRequest(deps({ client: client(async () => undefined) }), {
      commit: commitOf(DECEMBER),
      environment: "prod",
    });
    for (const c of trace.components.filter((x) => x.status === "pinned" && x.registry !== null)) {
      if (c.registry === "quay.io" || c.registry === "arohcpsvcdev.azurecr.io") {
        expect(c.error_kind, c.path).toBe("unauthorized");
      } else {
        expect(c.error_kind === null || c.error_kind === "no-label", c.path).toBe(true);
      }
    }
    expect(trace.errors.length).toBeGreaterThan(10);
    expect(JSON.stringify(trace)).not.toContain(LAB_USER.password);
  });

  it("an unreachable registry host is asked once, not once per image", async () => {
    const map = { ...lab.registryMap, "quay.io": "127.0.0.1:1" }; // nothing listens on port 1
    const { result, requests } = await tallyRequests(() =>
      traceRequest(
        deps({
          registryMap: map,
          client: new RegistryClient(new Transport({ retry: { maxAttempts: 1 } })),
          concurrency: 1, // so the first failure is known before the next quay.io image is read
        }),
        { commit: commitOf(NEWEST), environment: "prod" },
      ),
    );
    const quay = result.components.filter((c) => c.registry === "quay.io" && c.status === "pinned");
    expect(quay.length).toBeGreaterThan(3);
    for (const c of quay) expect(c.error_kind).toBe("unreachable");
    expect(quay.filter((c) => /^not asked: 127\.0\.0\.1:1 failed earlier/.test(c.error ?? ""))).toHaveLength(
      quay.length - 1,
    );
    expect(requests.toJSON().errors).toBe(1);
  });
});

describe("diff", () => {
  it("int against prod at 21f3f7a7d163: the 23 entries that differ, with compare links", async () => {
    const query = new URLSearchParams({ commit: commitOf(DECEMBER), environment: "int", environment_b: "prod" });
    const diff = await diffRequest(deps(), parseDiffQuery(query));
    const oracle = readOracle(DECEMBER.dir).environments;
    const expected = Object.keys(oracle["public/int"] ?? {}).filter((p) => {
      const a = oracle["public/int"]?.[p];
      const b = oracle["public/prod"]?.[p];
      return a?.resolvedDigest !== b?.resolvedDigest || a?.registry !== b?.registry || a?.repository !== b?.repository;
    });
    expect(expected).toHaveLength(23);
    expect(diff.changed.map((c) => c.path).sort()).toEqual(expected.sort());
    expect(diff.unchanged).toHaveLength(9);
    expect(diff.from).toMatchObject({ environment: "int", cloud: "public" });
    expect(diff.to).toMatchObject({ environment: "prod", cloud: "public" });

    const cs = diff.changed.find((c) => c.path === "clustersService.image");
    const prodCs = labImage(DECEMBER, "public/prod", "clustersService.image");
    expect(cs).toMatchObject({
      change: "changed",
      old_source_sha: "aced51a", // the reference notes' int value at this commit
      new_source_sha: prodCs.commit,
      source_changed: true,
      compare_url: `https://gitlab.cee.redhat.com/service/aro-hcp-clusters-service/-/compare/aced51a...${prodCs.commit}`,
    });
    const backend = diff.changed.find((c) => c.path === "backend.image");
    expect(backend?.new_source_sha).toBe("8289751");
    expect(backend?.compare_url).toBe(`https://github.com/Azure/ARO-HCP/compare/${backend?.old_source_sha}...8289751`);
  });

  it("two commits of one environment: renamed repositories and new entries", async () => {
    const diff = await diffRequest(
      deps(),
      parseDiffQuery(
        new URLSearchParams({ commit: commitOf(SEPTEMBER), commit_b: commitOf(DECEMBER), environment: "prod" }),
      ),
    );
    const cs = diff.changed.find((c) => c.path === "clustersService.image");
    expect(cs).toMatchObject({
      change: "changed",
      old_repository: "app-sre/uhc-clusters-service",
      new_repository: "app-sre/aro-hcp-clusters-service",
    });
    expect(diff.changed.find((c) => c.path === "adminApi.image")).toMatchObject({ change: "added", old_digest: null });
  });
});

describe("caching in Table Storage", () => {
  let store: TraceStore;
  beforeAll(() => {
    store = new TraceStore(new Tables({ connectionString: azurite.connectionString }));
  });

  it("serves the second trace of a commit without a single registry request", async () => {
    const input = { commit: commitOf(NEWEST), environment: "prod" };
    const cold = await tallyRequests(() => traceRequest(deps({ store }), input));
    expect(cold.result.cached).toBe(false);
    expect(cold.requests.total).toBeGreaterThan(60);
    const warm = await tallyRequests(() => traceRequest(deps({ store }), input));
    expect(warm.requests.total).toBe(0);
    expect(warm.result.cached).toBe(true);
    expect(warm.result.components).toEqual(cold.result.components);
    // The trace had a permanent error (an image without labels): that is an answer, and it was cached.
    expect(warm.result.errors).toHaveLength(1);
  });

  it("reuses cached labels for another environment with the same images", async () => {
    const { result, requests } = await tallyRequests(() =>
      traceRequest(deps({ store }), { commit: commitOf(NEWEST), environment: "stg" }),
    );
    expect(result.cached).toBe(false);
    expect(requests.total).toBe(0);
    expect(result.summary.traced).toBe(36);
  });

  it("does not cache a trace with transient failures, and retries only what failed", async () => {
    const input = { commit: commitOf(DECEMBER), environment: "stg" };
    const anonymous = deps({ store, client: client(async () => undefined) });
    const first = await traceRequest(anonymous, input);
    expect(first.errors.some((e) => /unauthorized/.test(e))).toBe(true);
    const second = await tallyRequests(() => traceRequest(anonymous, input));
    expect(second.result.cached).toBe(false);
    // Only quay.io and arohcpsvcdev.azurecr.io images are asked again: the rest have their labels cached.
    const failedRefs = new Set(
      first.components
        .filter((c) => c.error_kind === "unauthorized")
        .map((c) => `${c.registry}/${c.repository}@${c.digest}`),
    );
    expect(second.requests.byKind["manifest.get"]).toBe(failedRefs.size);
    const withCredentials = await traceRequest(deps({ store }), input);
    expect(withCredentials.cached).toBe(false);
    expect(withCredentials.errors.every((e) => /no source commit/.test(e))).toBe(true);
    expect((await traceRequest(deps({ store }), input)).cached).toBe(true);
  });

  it("traces (and caches) a ref or an abbreviation as the full commit it resolves to", async () => {
    const byRef = await traceRequest(deps({ store }), { commit: "main", environment: "prod" });
    // Cached under the full id by the first test of this block.
    expect(byRef).toMatchObject({ commit_sha: commitOf(NEWEST), cached: true, ref: "main" });
    const abbreviated = await traceRequest(deps(), { commit: commitOf(DECEMBER).slice(0, 12), environment: "prod" });
    expect(abbreviated).toMatchObject({ commit_sha: commitOf(DECEMBER), ref: commitOf(DECEMBER).slice(0, 12) });
  });
});

describe("a working directory", () => {
  it("is read as it is, whatever the commit, and its traces are never cached", async () => {
    const store = new TraceStore(new Tables({ connectionString: azurite.connectionString }));
    const source = new DirectoryConfigSource(lab.repo); // the checkout holds the newest fixture
    const input = { commit: commitOf(JULY), environment: "prod" };
    const first = await traceRequest(deps({ source, store }), input);
    const second = await traceRequest(deps({ source, store }), input);
    expect(second.cached).toBe(false);
    expect(second.components).toHaveLength(44); // the newest fixture's entries, not July's 23
    expect(second.warnings).toContainEqual(expect.stringMatching(/is read as it is now, whatever the commit$/));
    expect(second.components).toEqual(first.components);
  });
});

describe("bad input", () => {
  it("is a TraceInputError before anything is read", async () => {
    const queries: Array<Record<string, string>> = [
      {},
      { commit: "a b", environment: "prod" },
      { commit: "main:config/config.yaml", environment: "prod" },
      { commit: "main@{1}", environment: "prod" },
      { commit: "../../etc/passwd", environment: "prod" },
      { commit: "main", environment: "prod/../x" },
      { commit: "-x", environment: "prod" },
      { commit: "HEAD~1", environment: "prod" },
      { commit: commitOf(NEWEST), environment: "" },
      { commit: commitOf(NEWEST), environment: "prod", region: "east us" },
    ];
    for (const query of queries) {
      expect(() => parseTraceQuery(new URLSearchParams(query)), JSON.stringify(query)).toThrow(TraceInputError);
    }
    expect(() => parseTraceBody({ commit_sha: 1234567, environment: "prod" })).toThrow(TraceInputError);
  });

  it("an unknown environment or commit is bad input too, answered with 400", async () => {
    await expect(traceRequest(deps(), { commit: commitOf(NEWEST), environment: "qa" })).rejects.toThrow(
      UnknownEnvironmentError,
    );
    await expect(traceRequest(deps(), { commit: "0123456789abcdef", environment: "prod" })).rejects.toThrow(
      CommitNotFoundError,
    );
    const answered = await answer(() =>
      traceRequest(deps(), parseTraceQuery(new URLSearchParams({ commit: "nope!", environment: "prod" }))),
    );
    expect(answered).toMatchObject({ status: 400, body: { kind: "InvalidCommitError" } });
  });
});

describe("label reading limits", () => {
  it("refuses a config blob over the cap before downloading it", async () => {
    const huge = buildImage({ labels: { "vcs-ref": "abcdef1", padding: "x".repeat(4 * 1024 * 1024) } });
    await pushImage(lab.hosts.open, "huge/config", huge);
    const { result, requests } = await tallyRequests(() =>
      readImageLabels(client(), lab.hosts.open, "huge/config", huge.digest).catch((err: unknown) => err),
    );
    expect(result).toBeInstanceOf(LabelReadError);
    expect(result).toMatchObject({ kind: "too-large" });
    expect(requests.byKind["blob.get"]).toBeUndefined();
  });
});

describe("the trace and diff commands", () => {
  const lines = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, output: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) } };
  };
  const common = () => ({
    repo: lab.repo,
    credentials: lab.credentials,
    registryMap: Object.entries(lab.registryMap).map(([a, b]) => `${a}=${b}`),
  });

  it("prints a table; an image without labels is reported but is no failure (exit 0)", async () => {
    const { out, output } = lines();
    const code = await runTrace({ ...common(), commit: commitOf(NEWEST), environment: "prod" }, output);
    expect(code).toBe(0); // the mdsd image has no labels: reported, not a failure
    expect(out[0]).toMatch(/^aro-hcp [0-9a-f]{12} public\/prod: 44 components, 37 pinned, 36 traced, 1 failed$/);
    expect(out.find((l) => l.startsWith("Backend "))).toMatch(
      /55611cd\s+https:\/\/github\.com\/Azure\/ARO-HCP\/tree\/55611cd$/,
    );
  });

  it("prints the API's JSON with --json", async () => {
    const { out, output } = lines();
    await runTrace({ ...common(), commit: commitOf(NEWEST), environment: "prod", json: true }, output);
    const parsed = JSON.parse(out.join("\n")) as TraceResponse;
    expect(parsed.components).toHaveLength(44);
  });

  it("diffs two environments", async () => {
    const { out, output } = lines();
    const code = await runDiff(
      { ...common(), commit: commitOf(DECEMBER), environment: "int", environmentB: "prod" },
      output,
    );
    expect(code).toBe(0); // only no-label components
    expect(out[0]).toMatch(/public\/int → [0-9a-f]{12} public\/prod: 23 changed, 9 unchanged$/);
    expect(out.join("\n")).toContain("https://github.com/Azure/ARO-HCP/compare/");
  });

  it("exits 2 on bad input", async () => {
    const { err, output } = lines();
    expect(await runTrace({ ...common(), commit: "not a commit", environment: "prod" }, output)).toBe(2);
    expect(err[0]).toMatch(/^error: --commit not a commit/);
    expect(await runTrace({ ...common(), commit: commitOf(NEWEST), environment: "qa" }, output)).toBe(2);
    expect(
      await runTrace({ ...common(), repo: "/nonexistent/repo", commit: commitOf(NEWEST), environment: "prod" }, output),
    ).toBe(2);
    expect(
      await runTrace({ ...common(), registryMap: ["quay.io"], commit: commitOf(NEWEST), environment: "prod" }, output),
    ).toBe(2);
    expect(await runDiff({ ...common(), commit: commitOf(NEWEST), environment: "prod" }, output)).toBe(2);
  });
});
