/**
 * Mirror before deploy, end to end on local registries (issue 20, item 2): the prod environment of the newest
 * vendored ARO-HCP fixture, committed into a git repository with its digests replaced by local stand-ins (configLab),
 * mirrored into a second registry standing in for `arohcpsvcprod.azurecr.io` by the `mirror` command. A first run
 * copies and verifies every digest; a second copies nothing (one HEAD per image); a source that already is the target
 * is skipped and reported; a digest missing upstream exits non-zero naming the image.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { digestTag } from "../../shared/sync/tagRules";
import { isLoopback, tallyRequests, Transport } from "../../shared/registry/transport";
import { builtInServiceDefinition } from "../../shared/trace/definition";
import { GitConfigSource } from "../../shared/trace/source";
import { traceImages, type MirrorCheck } from "../../shared/trace/tracer";
import type { MirrorReport } from "../../shared/mirror/mirror";
import { runMirror } from "../../cli/mirrorCommand";
import { runCli } from "../../cli/main";
import { dispatch, routes } from "../../shared/api/routes";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { type RunningRegistry, startRegistry } from "../harness/registry";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { type ConfigLab, startConfigLab } from "../sources/configLab";
import { FIXTURES_DIR } from "../trace/fixtures";
import { OPERATOR, READER } from "../harness/principal";

const NEWEST = path.join(FIXTURES_DIR, "aro-hcp");
const OLD = path.join(FIXTURES_DIR, "aro-hcp-history/synthetic-pre-20250717");
// The synthetic fixture's stg backend pin; its stand-in is never pushed.
const MISSING = `sha256:${"8".repeat(64)}`;

let lab: ConfigLab;
let oldLab: ConfigLab;
let target: RunningRegistry;

beforeAll(async () => {
  target = await startRegistry();
  lab = await startConfigLab({ fixtureDir: NEWEST });
  oldLab = await startConfigLab({ fixtureDir: OLD, omit: [MISSING], registry: lab.registry });
}, 120_000);

afterAll(async () => {
  await Promise.all([oldLab?.stop(), lab?.stop(), target?.stop()]);
});

const credentials = () => Promise.resolve(undefined);
const client = new RegistryClient(
  new Transport({ auth: new AuthManager({ credentials, allowPlainHttp: isLoopback }) }),
);

async function mirror(
  l: ConfigLab,
  environment: string,
  extra: { target?: string; map?: Record<string, string>; tagOnly?: "skip" | "tag" | "resolve" } = {},
): Promise<{ code: number; report: MirrorReport; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const map = { ...l.registryMap, [`arohcpsvc${environment}.azurecr.io`]: target.host, ...extra.map };
  const code = await runMirror(
    {
      repo: l.repo,
      commit: l.commit,
      environment,
      credentials,
      registryMap: Object.entries(map).map(([a, b]) => `${a}=${b}`),
      ...(extra.target ? { target: extra.target } : {}),
      ...(extra.tagOnly ? { tagOnly: extra.tagOnly } : {}),
    },
    { stdout: (s) => out.push(s), stderr: (s) => err.push(s) },
  );
  return { code, report: JSON.parse(out.join("\n")) as MirrorReport, err };
}

describe("acr-image-sync mirror (newest fixture, prod)", () => {
  let first: MirrorReport;

  it("a first run copies every pinned digest into the environment's ACR, verifies each, and exits 0", async () => {
    const { code, report } = await mirror(lab, "prod");
    first = report;
    expect(code).toBe(0);
    expect(report).toMatchObject({
      ok: true,
      environment: "prod",
      cloud: "public",
      target_registry: "arohcpsvcprod.azurecr.io",
    });
    expect(report.commit).toBe(lab.commit);
    // Every distinct pinned (repository, digest) of prod, from the config itself.
    const pinned = [...lab.images.values()].flatMap((i) => i.locations.map((l) => `${l}@${i.localDigest}`));
    const mirrored = report.images.map((r) => `${r.source}@${r.digest}`);
    expect(mirrored.every((m) => pinned.includes(m))).toBe(true);
    expect(report.summary).toMatchObject({ copied: report.images.length, failed: 0, skipped: 0 });
    expect(report.summary.verified).toBe(report.images.length);
    expect(report.images.length).toBeGreaterThan(20);
    // What the report says is at the target really is: the tag `<hex>` answers the digest.
    for (const r of report.images) {
      const repository = r.source.slice(r.source.indexOf("/") + 1);
      const head = await client.manifestHead(target.host, repository, digestTag(r.digest));
      expect(head?.digest, r.source).toBe(r.digest);
      expect(r.target).toBe(`arohcpsvcprod.azurecr.io/${repository}:${digestTag(r.digest)}`);
    }
    expect(report.images.find((r) => r.paths.includes("backend.image"))?.origin).toMatch(
      /@[0-9a-f]{12} public\/prod backend\.image$/,
    );
  });

  it("a second run copies nothing: one HEAD per image, exit 0", async () => {
    const { code, report } = await mirror(lab, "prod");
    expect(code).toBe(0);
    expect(report.summary).toMatchObject({ images: first.images.length, copied: 0, present: first.images.length });
    expect(report.images.every((r) => r.requests === 1 && r.bytes === 0 && r.verified)).toBe(true);
    expect(report.requests).toBe(first.images.length);
  });

  it("a source that already is the target is skipped and reported, not copied", async () => {
    const { code, report } = await mirror(lab, "prod", {
      target: "arohcpsvcdev.azurecr.io",
      map: { "arohcpsvcdev.azurecr.io": lab.registry.host },
    });
    const skipped = report.images.filter((r) => r.action === "skipped-source-is-target");
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped.every((r) => r.source.startsWith("arohcpsvcdev.azurecr.io/") && r.requests === 0)).toBe(true);
    expect(code).toBe(0);
  });
});

describe("traces and mirrors linked", () => {
  const trace = (mirror: MirrorCheck, environment = "prod") =>
    tallyRequests(async () => {
      return traceImages({
        source: new GitConfigSource(lab.repo),
        definition: await builtInServiceDefinition("aro-hcp"),
        commit: lab.commit,
        environment,
        client,
        registryMap: {
          ...lab.registryMap,
          "arohcpsvcprod.azurecr.io": target.host,
          "arohcpsvcint.azurecr.io": empty.host,
        },
        mirror,
      });
    });
  let empty: RunningRegistry;
  beforeAll(async () => {
    empty = await startRegistry();
  });
  afterAll(async () => {
    await empty?.stop();
  });

  it("a trace says, per component, that its digest is in the environment's ACR (acr.svc.name) under the tag <hex>", async () => {
    const { result, requests } = await trace({});
    const pinned = result.components.filter((c) => c.status === "pinned" && c.registry);
    expect(pinned.length).toBeGreaterThan(20);
    for (const c of pinned) {
      expect(c.mirror, c.path).toEqual({
        registry: "arohcpsvcprod.azurecr.io",
        repository: c.repository,
        tag: c.digest!.slice(7),
        present: true,
        from: "head",
      });
    }
    // One HEAD per distinct (repository, digest), on top of the trace's own label reads (GETs).
    const distinct = new Set(pinned.map((c) => `${c.repository}@${c.digest}`)).size;
    expect(requests.byKind["manifest.head"]).toBe(distinct);
  });

  it("says not present where nothing was mirrored, and uses the image status without a request when it knows", async () => {
    const { result } = await trace({}, "int");
    expect(result.components.filter((c) => c.mirror).every((c) => c.mirror!.present === false)).toBe(true);
    const { result: fromStatus, requests } = await trace({
      status: (_registry, _repository, tag) => Promise.resolve(`sha256:${tag}`),
    });
    expect(
      fromStatus.components.filter((c) => c.mirror).every((c) => c.mirror!.present && c.mirror!.from === "status"),
    ).toBe(true);
    expect(requests.byKind["manifest.head"] ?? 0).toBe(0);
  });
});

describe("tag-only entries", () => {
  it("are never mirrored by tag (a warning says so); resolve needs the tag upstream, else the image is named", async () => {
    const asTag = await mirror(oldLab, "int", { tagOnly: "tag" });
    expect(asTag.code).toBe(0);
    expect(asTag.report.warnings).toContainEqual(
      expect.stringMatching(
        / acrPull\.image: tag only \(mcr\.microsoft\.com\/aks\/msi-acrpull:v0\.1\.14\); not mirrored/,
      ),
    );
    expect(asTag.report.images.map((r) => r.source)).not.toContain("mcr.microsoft.com/aks/msi-acrpull");
    // The lab pushed no image under that tag: resolving it fails, and the mirror says which tag.
    const resolved = await mirror(oldLab, "int", { tagOnly: "resolve" });
    expect(resolved.code).toBe(1);
    expect(resolved.report.errors).toContainEqual(
      expect.stringMatching(/mcr\.microsoft\.com\/aks\/msi-acrpull:v0\.1\.14: tag not found upstream$/),
    );
  });
});

describe("a digest missing upstream", () => {
  it("exits non-zero and names the image; the other images are still mirrored and verified", async () => {
    const { code, report, err } = await mirror(oldLab, "stg");
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    const local = oldLab.images.get(MISSING)!.localDigest;
    const failed = report.images.filter((r) => r.action === "failed");
    expect(failed.map((r) => r.source)).toEqual(["arohcpsvcdev.azurecr.io/arohcpbackend"]);
    expect(failed[0]!.error).toBe(
      `arohcpsvcdev.azurecr.io/arohcpbackend@${local} not found upstream (read from ${lab.registry.host})`,
    );
    expect(report.errors).toEqual([`arohcpsvcdev.azurecr.io/arohcpbackend@${local}: ${failed[0]!.error}`]);
    expect(err).toContain(`error: ${report.errors[0]}`);
    expect(report.images.filter((r) => r.action !== "failed").every((r) => r.verified)).toBe(true);
  });

  it("bad input (unknown environment) exits 2 with the valid choices, through the real command line", async () => {
    const out: string[] = [];
    const code = await runCli(
      ["node", "acr-image-sync", "mirror", "--repo", oldLab.repo, "--commit", oldLab.commit, "--environment", "qa"],
      { stdout: (s) => out.push(s), stderr: (s) => out.push(s) },
    );
    expect(code).toBe(2);
    expect(out.join("\n")).toMatch(
      /unknown environment "qa".*valid environments: dev\/dev, public\/int, public\/prod, public\/stg/,
    );
  });
});

describe("POST /api/mirror", () => {
  let rt: Runtime;
  let dir: string;
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite();
    dir = mkdtempSync(path.join(tmpdir(), "mirror-api-"));
    writeFileSync(path.join(dir, "sync.yaml"), 'target: { registry: "127.0.0.1:1" }\nimages: []\n');
    rt = new Runtime(
      readSettings({
        SYNC_CONFIG: path.join(dir, "sync.yaml"),
        TRACE_CONFIG_SOURCE: oldLab.repo,
        // The mirror writes no table; the trace reads its caches and the image status there.
        TABLES_CONNECTION_STRING: azurite.connectionString,
      }),
      {
        transport: new Transport({ auth: new AuthManager({ credentials, allowPlainHttp: isLoopback }) }),
        registryMap: {
          ...oldLab.registryMap,
          "arohcpsvcint.azurecr.io": target.host,
          "arohcpsvcstg.azurecr.io": target.host,
        },
      },
    );
  }, 60_000);
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await azurite?.stop();
  });

  const call = (body: unknown) => {
    const route = routes.find((r) => r.route === "mirror")!;
    return dispatch(route, () => rt, {
      caller: OPERATOR,
      method: "POST",
      params: {},
      query: new URLSearchParams(),
      body,
    });
  };

  it("is a POST write route beside POST /api/sync", () => {
    const route = routes.find((r) => r.route === "mirror")!;
    const sync = routes.find((r) => r.route === "sync")!;
    expect(route).toMatchObject({ name: "startMirror", methods: sync.methods });
  });

  it("mirrors an environment and answers the report with 200 when every image is verified", async () => {
    const res = await call({ commit_sha: oldLab.commit, environment: "int" });
    expect(res.status).toBe(200);
    const report = res.body as MirrorReport;
    expect(report).toMatchObject({ ok: true, environment: "int", target_registry: "arohcpsvcint.azurecr.io" });
    expect(report.summary.failed).toBe(0);
    expect(report.summary.verified).toBe(report.images.length);
  });

  it("GET /api/traces?mirror=true then says each pinned component is in the environment's ACR", async () => {
    const route = routes.find((r) => r.name === "getTrace")!;
    const res = await dispatch(route, () => rt, {
      caller: READER,
      method: "GET",
      params: {},
      query: new URLSearchParams({ commit: oldLab.commit, environment: "int", mirror: "true" }),
    });
    expect(res.status).toBe(200);
    const components = (res.body as { components: Array<{ status: string; mirror?: { present: boolean } }> })
      .components;
    const pinned = components.filter((c) => c.status === "pinned");
    expect(pinned.length).toBe(5);
    expect(pinned.every((c) => c.mirror?.present === true)).toBe(true);
    const bad = await dispatch(route, () => rt, {
      caller: READER,
      method: "GET",
      params: {},
      query: new URLSearchParams({ commit: oldLab.commit, environment: "int", mirror_target: "not a host" }),
    });
    expect(bad.status).toBe(400);
  });

  it("answers 502 naming the image when a digest is missing upstream", async () => {
    const res = await call({ commit_sha: oldLab.commit, environment: "stg" });
    expect(res.status).toBe(502);
    expect((res.body as MirrorReport).errors.join("\n")).toContain("arohcpsvcdev.azurecr.io/arohcpbackend@");
  });

  it("bad input is a 400 with a JSON body: unknown environment (with the choices), unknown field, bad rule", async () => {
    const unknown = await call({ commit_sha: oldLab.commit, environment: "qa" });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(
      /valid environments: dev\/dev, public\/int, public\/prod, public\/stg/,
    );
    expect((await call({ commit_sha: oldLab.commit, environment: "int", force: true })).status).toBe(400);
    expect((await call({ commit_sha: oldLab.commit, environment: "int", tag_only: "guess" })).status).toBe(400);
    expect((await call({ commit_sha: oldLab.commit, environment: "int", target: "not a host" })).status).toBe(400);
    expect((await call([1])).status).toBe(400);
  });
});
