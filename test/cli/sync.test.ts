/** `plan`, `sync` and `status` through runCli, against real registries and Azurite: output, exit codes, bad input. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/main";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;
const saved = { ...process.env };
const savedCwd = process.cwd();

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  await pushImage(up.host, "team/api", buildImage(), "1.0");
  dir = mkdtempSync(join(tmpdir(), "cli-sync-"));
  // Without Table settings the CLI uses its local store: keep it in this test's folder, not the user's.
  process.env.XDG_DATA_HOME = join(dir, "data");
  // The CLI reads local.settings.json from the working folder: run where there is none (a developer may have one).
  process.chdir(dir);
  writeFileSync(
    join(dir, "sync.yaml"),
    [
      `target: { registry: "${acr.host}" }`,
      "images:",
      `  - { source: "${up.host}/team/api", tags: ["1.0", "gone"] }`,
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "bad.yaml"),
    [`target: { registry: "${acr.host}" }`, "images:", "  - { source: x/y, tagz: [a] }"].join("\n"),
  );
});
afterAll(async () => {
  process.chdir(savedCwd);
  process.env = saved;
  await Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]);
});

function capture() {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  return { lines, out: { stdout: (l: string) => lines.stdout.push(l), stderr: (l: string) => lines.stderr.push(l) } };
}

describe("acr-image-sync plan / sync / status", () => {
  it("plan prints a table (outdated first) and exits 0 without storage", async () => {
    delete process.env.TABLES_CONNECTION_STRING;
    const { lines, out } = capture();
    const code = await runCli(["node", "cli", "plan", "--config", join(dir, "sync.yaml")], out);
    expect(code).toBe(0);
    expect(lines.stdout[0]).toMatch(/^STATE\s+SOURCE\s+TARGET\s+TAG\s+ORIGIN$/);
    // Each row names where it came from, so a person knows what to edit.
    expect(lines.stdout[1]).toMatch(/^missing .*team\/api:1\.0\s+\S*sync\.yaml:\d+ images\[\d+\]$/);
    expect(lines.stdout.join("\n")).toMatch(/source-missing .*team\/api:gone/);
  });

  it("plan --json is parseable and counts states", async () => {
    const { lines, out } = capture();
    await runCli(["node", "cli", "plan", "--json", "--config", join(dir, "sync.yaml")], out);
    const plan = JSON.parse(lines.stdout.join("\n")) as { counts: Record<string, number>; outdated: number };
    expect(plan.counts).toMatchObject({ missing: 1, "source-missing": 1 });
    expect(plan.outdated).toBe(1);
  });

  it("a config error exits 2 with file, line and key", async () => {
    const { lines, out } = capture();
    const code = await runCli(["node", "cli", "plan", "--config", join(dir, "bad.yaml")], out);
    expect(code).toBe(2);
    expect(lines.stderr.join("\n")).toMatch(/bad\.yaml:3.*tagz/);
  });

  it("sync copies with plain progress lines off a TTY, records to Azurite, and status reads it back", async () => {
    process.env.TABLES_CONNECTION_STRING = azurite.connectionString;
    const { lines, out } = capture();
    const code = await runCli(["node", "cli", "sync", "--config", join(dir, "sync.yaml")], out);
    expect(code).toBe(0);
    expect(lines.stderr.some((l) => /team\/api:1\.0: tag 1\.0 written/.test(l))).toBe(true);
    expect(lines.stdout.at(-1)).toMatch(/copied 1, failed 0/);
    expect((await fetchManifest(acr.host, "team/api", "1.0")).status).toBe(200);

    const status = capture();
    expect(await runCli(["node", "cli", "status"], status.out)).toBe(0);
    expect(status.lines.stdout.join("\n")).toMatch(/in-sync .*team\/api:1\.0/);
    expect(status.lines.stdout.at(-1)).toMatch(/last run \S+ succeeded/);
  });

  it("an unknown --image exits 2", async () => {
    const { out } = capture();
    expect(await runCli(["node", "cli", "sync", "--config", join(dir, "sync.yaml"), "--image", "nope/none"], out)).toBe(
      2,
    );
  });
});
