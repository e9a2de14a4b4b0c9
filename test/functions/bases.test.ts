/**
 * Base-image tracking wired into the app: with BASES_CONFIG set, a sync mirrors the bases found in the enrolled
 * Dockerfiles, and GET /api/bases reports which managed image is stale and when it becomes eligible for a rebuild.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatch, routes } from "../../shared/api/routes";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { RecordingMetrics } from "../../shared/telemetry/metrics";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage, randomLayer } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { READER } from "../harness/principal";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;
const baseLayer = randomLayer(2048);

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  await pushImage(up.host, "library/debian", buildImage({ layers: [baseLayer] }), "12");
  // Our own image, built on that base: its layers start with the base's.
  await pushImage(acr.host, "team/api", buildImage({ layers: [baseLayer, randomLayer(512)] }), "latest");
  dir = mkdtempSync(join(tmpdir(), "bases-app-"));
  mkdirSync(join(dir, "api"));
  writeFileSync(join(dir, "api", "Dockerfile"), `FROM ${up.host}/library/debian:12 AS base\nRUN true\n`);
  writeFileSync(
    join(dir, "bases.yaml"),
    ["images:", "  - name: api", `    image: ${acr.host}/team/api:latest`, "    dockerfile: api/Dockerfile"].join("\n"),
  );
  writeFileSync(
    join(dir, "sync.yaml"),
    [`target: { registry: "${acr.host}", prefix: mirror }`, "images: []"].join("\n"),
  );
});
afterAll(async () => Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]));

describe("bases in the app", () => {
  let clock = new Date("2026-06-01T00:00:00Z");
  const metrics = new RecordingMetrics();
  const rt = () =>
    new Runtime(
      readSettings({
        SYNC_CONFIG: join(dir, "sync.yaml"),
        BASES_CONFIG: join(dir, "bases.yaml"),
        TABLES_CONNECTION_STRING: azurite.connectionString,
      }),
      {
        metrics,
        tables: new Tables({ connectionString: azurite.connectionString, prefix: "bases" }),
        now: () => clock,
      },
    );
  const getBases = async (runtime: Runtime) => {
    const route = routes.find((r) => r.name === "listBases")!;
    return dispatch(route, () => runtime, { method: "GET", params: {}, query: new URLSearchParams(), caller: READER });
  };

  it("mirrors the discovered base and reports the managed image fresh", async () => {
    const runtime = rt();
    const outcome = await runtime.sync({ trigger: "manual" });
    expect(outcome.warnings.filter((w) => w.startsWith("base images"))).toEqual([]);
    expect(outcome.results.map((r) => r.key)).toEqual([`${acr.host}/mirror/library/debian:12`]);
    expect((await fetchManifest(acr.host, "mirror/library/debian", "12")).status).toBe(200);
    expect(metrics.last("managed_images")).toBe(1);
    const res = await getBases(runtime);
    expect(res.status).toBe(200);
    const report = res.body as {
      counts: { managedImages: number; staleImages: number };
      managed: Array<{ name: string; stale: boolean }>;
    };
    expect(report.counts.managedImages).toBe(1);
    expect(report.managed[0]).toMatchObject({ name: "api", stale: false });
  });

  it("a new upstream base digest makes the image stale, and eligible once the delay has passed", async () => {
    await pushImage(up.host, "library/debian", buildImage({ layers: [randomLayer(2048)] }), "12");
    clock = new Date("2026-06-02T00:00:00Z");
    const runtime = rt();
    await runtime.sync({ trigger: "timer" });
    const stale = (await getBases(runtime)).body as { managed: Array<{ stale: boolean; eligible: boolean }> };
    expect(stale.managed[0]).toMatchObject({ stale: true, eligible: false });
    clock = new Date("2026-06-10T00:00:00Z");
    const later = (await getBases(rt())).body as {
      managed: Array<{ stale: boolean; eligible: boolean }>;
      counts: { rebuildEligible: number };
    };
    expect(later.managed[0]).toMatchObject({ stale: true, eligible: true });
    expect(later.counts.rebuildEligible).toBe(1);
  });

  it("answers 404 with a JSON reason when the feature is off", async () => {
    const off = new Runtime(
      readSettings({ SYNC_CONFIG: join(dir, "sync.yaml"), TABLES_CONNECTION_STRING: azurite.connectionString }),
    );
    const res = await getBases(off);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: "BasesNotEnabled" } });
  });
});
