/**
 * Status rows and source commits (issue 20, item 3): `GET /api/images?source_sha=` finds where a source commit is
 * mirrored, and `source_commits=true` adds each row's source commit; both read a digest's labels once, then from the
 * Labels table (Azurite), with no registry request.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatch, routes } from "../../shared/api/routes";
import { AuthManager } from "../../shared/registry/auth";
import { isLoopback, tallyRequests, Transport } from "../../shared/registry/transport";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { type RunningRegistry, startRegistry } from "../harness/registry";
import { READER } from "../harness/principal";
import { startTogether } from "../harness/together";

const APP_SHA = "3f6c1a9e0b7d2c4e5f60718293a4b5c6d7e8f901";
const LIB_SHA = "9a8b7c6d5e4f30211203948576afbecd12345678";
let registry: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;
let rt: Runtime;

beforeAll(async () => {
  [registry, azurite] = await startTogether(startRegistry(), startAzurite());
  await pushImage(registry.host, "team/app", buildImage({ labels: { "vcs-ref": APP_SHA } }), "1.0");
  await pushImage(
    registry.host,
    "team/lib",
    buildImage({ labels: { "org.opencontainers.image.revision": LIB_SHA } }),
    "2.0",
  );
  await pushImage(registry.host, "team/nolabel", buildImage({ labels: {} }), "3.0");
  dir = mkdtempSync(path.join(tmpdir(), "source-sha-"));
  writeFileSync(
    path.join(dir, "sync.yaml"),
    [
      `target: { registry: "${registry.host}", prefix: mirror }`,
      "images:",
      `  - { source: "${registry.host}/team/app", tags: ["1.0"] }`,
      `  - { source: "${registry.host}/team/lib", tags: ["2.0"] }`,
      `  - { source: "${registry.host}/team/nolabel", tags: ["3.0"] }`,
      "",
    ].join("\n"),
  );
  rt = new Runtime(
    readSettings({ SYNC_CONFIG: path.join(dir, "sync.yaml"), TABLES_CONNECTION_STRING: azurite.connectionString }),
    {
      transport: new Transport({
        auth: new AuthManager({ credentials: () => Promise.resolve(undefined), allowPlainHttp: isLoopback }),
      }),
      tables: new Tables({ connectionString: azurite.connectionString, prefix: "sourcesha" }),
    },
  );
  const outcome = await rt.sync({ trigger: "manual" });
  if (outcome.run.copied !== 3) throw new Error(`setup: copied ${outcome.run.copied}`);
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all([registry?.stop(), azurite?.stop()]);
});

const images = (query: Record<string, string>) => {
  const route = routes.find((r) => r.name === "listImages")!;
  return dispatch(route, () => rt, { caller: READER, method: "GET", params: {}, query: new URLSearchParams(query) });
};
type Rows = { images: Array<{ key: string; sourceSha?: string | null }>; total: number };

describe("GET /api/images and source commits", () => {
  it("?source_sha= finds where a source commit is mirrored (a 12-digit prefix or the full id)", async () => {
    const res = await images({ source_sha: APP_SHA.slice(0, 12) });
    expect(res.status).toBe(200);
    expect((res.body as Rows).images.map((r) => [r.key, r.sourceSha])).toEqual([
      [`${registry.host}/mirror/team/app:1.0`, APP_SHA],
    ]);
    const lib = (await images({ source_sha: LIB_SHA })).body as Rows;
    expect(lib.images.map((r) => r.key)).toEqual([`${registry.host}/mirror/team/lib:2.0`]);
    expect(((await images({ source_sha: "0123456789abc" })).body as Rows).total).toBe(0);
  });

  it("reads each digest's labels once: a second lookup makes no registry request (Labels table)", async () => {
    const { result, requests } = await tallyRequests(() => images({ source_commits: "true" }));
    expect(requests.total).toBe(0);
    expect(
      Object.fromEntries(
        (result.body as Rows).images.map((r) => [r.key.replace(`${registry.host}/`, ""), r.sourceSha]),
      ),
    ).toEqual({ "mirror/team/app:1.0": APP_SHA, "mirror/team/lib:2.0": LIB_SHA, "mirror/team/nolabel:3.0": null });
  });

  it("plain listing is unchanged (no label reads), and a bad source_sha is a 400", async () => {
    const { result, requests } = await tallyRequests(() => images({}));
    expect(requests.total).toBe(0);
    expect((result.body as Rows).images.every((r) => !("sourceSha" in r))).toBe(true);
    const bad = await images({ source_sha: "not-a-sha" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: "InvalidParameter", parameter: "source_sha" } });
  });
});
