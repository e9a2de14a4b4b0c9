/**
 * The CLI as a newcomer meets it (issue 15): the embedded local store, local.settings.json, `init`, `--version`,
 * `--quiet`, `--exit-code`, one-line errors for bad flags and files, and status that tells the truth (removed rows,
 * errors counted as failed, health on error rows, file:line origins). Real registries, real Azurite.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { packageVersion, runCli } from "../../cli/main";
import { localDataDir, openLocalStore } from "../../cli/localStore";
import { health } from "../../shared/api/health";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { parseSyncConfig } from "../../shared/sync/config";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let root: string;
let cwd: string;
const saved = { ...process.env };
const savedCwd = process.cwd();

function capture() {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  return { lines, out: { stdout: (l: string) => lines.stdout.push(l), stderr: (l: string) => lines.stderr.push(l) } };
}

async function cli(...args: string[]) {
  const { lines, out } = capture();
  const code = await runCli(["node", "acr-image-sync", ...args], out);
  return { code, ...lines };
}

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  await pushImage(up.host, "team/api", buildImage(), "1.0");
  await pushImage(up.host, "team/web", buildImage(), "2.0");
  root = mkdtempSync(join(tmpdir(), "cli-local-"));
});

let n = 0;
beforeEach(() => {
  process.env = { ...saved };
  for (const name of Object.keys(process.env)) {
    if (/^(TABLES_|SYNC_|KEYVAULT_|LOCAL_SECRETS_DIR|TRACE_)/.test(name)) delete process.env[name];
  }
  // Each test its own folder and its own local store.
  cwd = join(root, `t${++n}`);
  mkdirSync(cwd);
  process.chdir(cwd);
  process.env.XDG_DATA_HOME = join(cwd, "data");
  writeFileSync(
    "sync.yaml",
    [`target: { registry: "${acr.host}" }`, "images:", `  - { source: "${up.host}/team/api", tags: ["1.0"] }`, ""].join(
      "\n",
    ),
  );
});

afterAll(async () => {
  process.chdir(savedCwd);
  process.env = saved;
  await Promise.all([up?.stop(), acr?.stop(), azurite?.stop()]);
});

describe.skipIf(!registryAvailable())("the embedded local store", () => {
  it("--help names the data folder; --version prints the package version", async () => {
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.stdout.join("\n")).toContain(join(cwd, "data", "acr-image-sync"));
    const version = await cli("--version");
    expect(version.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")) as { version: string };
    expect(version.stdout).toEqual([pkg.version]);
    expect(packageVersion()).toBe(pkg.version);
  });

  it("sync with nothing set but a config records to the local store, and a later status (a new Azurite) reads it", async () => {
    const sync = await cli("sync", "--config", "sync.yaml");
    expect(sync.code, sync.stderr.join("\n")).toBe(0);
    expect(sync.stdout.at(-1)).toMatch(/succeeded: 1 tags, outdated 1 → 0, copied 1, failed 0/);
    expect((await fetchManifest(acr.host, "team/api", "1.0")).status).toBe(200);
    // Azurite was stopped at the end of the command: nothing is left running for this folder.
    expect(existsSync(join(localDataDir(), "store.json"))).toBe(false);

    const status = await cli("status", "--json");
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout.join("\n")) as {
      lastRun: { status: string } | null;
      images: Array<{ key: string; state: string; origin: string }>;
    };
    expect(body.lastRun?.status).toBe("succeeded");
    expect(body.images).toEqual([
      expect.objectContaining({ key: `${acr.host}/team/api:1.0`, state: "in-sync", origin: "sync.yaml:3 images[0]" }),
    ]);
  });

  it("stops the Azurite it started, and a second command meanwhile joins it instead of opening the files twice", async () => {
    const dir = localDataDir();
    const first = await openLocalStore(dir);
    const second = await openLocalStore(dir);
    expect(first.owned).toBe(true);
    expect(second.owned).toBe(false);
    expect(second.connectionString).toBe(first.connectionString);
    const port = /TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(first.connectionString)![1];
    await second.stop();
    expect((await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) !== undefined).toBe(true);
    await first.stop();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it("serve runs on the local store: the API answers from what sync recorded, and Ctrl-C stops it", async () => {
    expect((await cli("sync", "--config", "sync.yaml")).code).toBe(0);
    const lines: string[] = [];
    const serving = runCli(["node", "acr-image-sync", "serve", "--port", "0", "--config", "sync.yaml"], {
      stdout: (l) => lines.push(l),
      stderr: (l) => lines.push(l),
    });
    let url: string | undefined;
    for (let i = 0; i < 200 && !url; i++) {
      url = /serving (http:\/\/127\.0\.0\.1:\d+)\/api\//.exec(lines.join("\n"))?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    expect(url, lines.join("\n")).toBeDefined();
    try {
      const images = (await (await fetch(`${url}/api/images`)).json()) as {
        images: Array<{ key: string; state: string }>;
      };
      expect(images.images).toEqual([expect.objectContaining({ key: `${acr.host}/team/api:1.0`, state: "in-sync" })]);
      const healthRes = await fetch(`${url}/api/health`);
      expect(healthRes.status).toBe(200);
    } finally {
      process.emit("SIGINT");
    }
    expect(await serving).toBe(0);
    expect(existsSync(join(localDataDir(), "store.json"))).toBe(false);
  });

  it("a configured Table Storage that does not answer is one line saying which setting, exit 1", async () => {
    process.env.TABLES_CONNECTION_STRING =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1/devstoreaccount1";
    const status = await cli("status");
    expect(status.code).toBe(1);
    expect(status.stderr).toEqual([
      expect.stringMatching(
        /^error: cannot reach Table Storage \(TABLES_CONNECTION_STRING\): .*; start it, or unset TABLES_CONNECTION_STRING to use the local store$/,
      ),
    ]);
  });

  it("a run that cannot open its store says so, exits 1, and copies nothing", async () => {
    writeFileSync("not-a-folder", "");
    process.env.XDG_DATA_HOME = join(cwd, "not-a-folder");
    const sync = await cli("sync", "--config", "sync.yaml", "--image", "team/api");
    expect(sync.code).toBe(1);
    expect(sync.stderr).toEqual([expect.stringMatching(/^error: cannot open the local store: .*not-a-folder/)]);
  });
});

describe.skipIf(!registryAvailable())("local.settings.json, init", () => {
  it("reads SYNC_CONFIG from local.settings.json Values; the environment wins", async () => {
    writeFileSync("local.settings.json", JSON.stringify({ IsEncrypted: false, Values: { SYNC_CONFIG: "sync.yaml" } }));
    const plan = await cli("plan");
    expect(plan.code, plan.stderr.join("\n")).toBe(0);
    expect(plan.stdout.join("\n")).toMatch(/^(missing|in-sync) .*team\/api:1\.0\s+\S+:\d+ images\[0\]$/m);

    process.env.SYNC_CONFIG = "elsewhere.yaml";
    const overridden = await cli("plan");
    expect(overridden.code).toBe(2);
    expect(overridden.stderr).toEqual(["error: SYNC_CONFIG elsewhere.yaml: no such file"]);
  });

  it("a broken local.settings.json is one line naming it, exit 2", async () => {
    writeFileSync("local.settings.json", "{ Values: ");
    const plan = await cli("plan", "--config", "sync.yaml");
    expect(plan.code).toBe(2);
    expect(plan.stderr).toHaveLength(1);
    expect(plan.stderr[0]).toMatch(/^error: invalid setting: .*local\.settings\.json: not valid JSON/);
  });

  it("init writes a starter config that loads and a local.settings.json that names it; never overwrites", async () => {
    rmSync("sync.yaml");
    const init = await cli("init", "--target", acr.host);
    expect(init.code).toBe(0);
    const starter = readFileSync("sync.yaml", "utf8");
    expect(starter).toMatch(/^# acr-image-sync sync config/);
    const { config } = parseSyncConfig(starter, "sync.yaml", { baseDir: cwd });
    expect(config.target.registry).toBe(acr.host);
    expect(config.images[0]?.rule).toMatchObject({ kind: "newest", order: "version", count: 3 });
    const settings = JSON.parse(readFileSync("local.settings.json", "utf8")) as { Values: Record<string, string> };
    expect(settings.Values.SYNC_CONFIG).toBe("sync.yaml");
    expect(readSettings({ ...settings.Values }, { requireTables: false }).syncConfig).toBe("sync.yaml");

    const again = await cli("init");
    expect(again.code).toBe(2);
    expect(again.stderr).toEqual(["error: sync.yaml and local.settings.json already exist; --force overwrites"]);
    expect((await cli("init", "--target", "not a host")).code).toBe(2);
  });
});

describe.skipIf(!registryAvailable())("CLI conventions", () => {
  it("a missing --config, a bad --port and a busy port are one line each, naming it", async () => {
    const missing = await cli("sync", "--config", "nope.yaml");
    expect([missing.code, missing.stderr]).toEqual([2, ["error: --config nope.yaml: no such file"]]);
    const noConfig = await cli("plan");
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toEqual([expect.stringMatching(/^error: no sync config: pass --config <file>/)]);

    const badPort = await cli("serve", "--port", "abc");
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toHaveLength(1);
    expect(badPort.stderr[0]).toMatch(/--port.*'abc'.*port number/);

    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as { port: number }).port;
    try {
      const taken = await cli("serve", "--port", String(port), "--config", "sync.yaml");
      expect(taken.code).toBe(1);
      expect(taken.stderr).toEqual([`error: --port ${port}: 127.0.0.1:${port} is already in use`]);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it("--exit-code: plan exits 3 while outdated, 0 once synced; --quiet prints nothing", async () => {
    writeFileSync(
      "web.yaml",
      [`target: { registry: "${acr.host}" }`, "images:", `  - { source: "${up.host}/team/web", tags: ["2.0"] }`].join(
        "\n",
      ),
    );
    expect((await cli("plan", "--config", "web.yaml", "--exit-code")).code).toBe(3);
    // Without the flag an outdated plan is still a successful command.
    expect((await cli("plan", "--config", "web.yaml")).code).toBe(0);
    const quiet = await cli("--quiet", "sync", "--config", "web.yaml", "--exit-code");
    expect(quiet).toEqual({ code: 0, stdout: [], stderr: [] });
    expect((await cli("plan", "--config", "web.yaml", "--exit-code", "--quiet")).code).toBe(0);
    expect((await cli("status", "--exit-code")).code).toBe(0);
  });
});

describe.skipIf(!registryAvailable())("status that tells the truth", () => {
  it("errors count as failed; health fails on error rows; rows of images removed from the config are `removed`", async () => {
    process.env.TABLES_CONNECTION_STRING = azurite.connectionString;
    writeFileSync(
      "two.yaml",
      [
        `target: { registry: "${acr.host}" }`,
        "images:",
        `  - { source: "${up.host}/team/api", tags: ["1.0"] }`,
        // Nothing listens on port 1: this image is an error row.
        `  - { source: "127.0.0.1:1/team/gone", tags: ["1.0"] }`,
      ].join("\n"),
    );
    const first = await cli("sync", "--config", "two.yaml");
    expect(first.code).toBe(1);
    expect(first.stdout.at(-1)).toMatch(/partial: 2 tags, .* failed 1,/);

    const status = await cli("status", "--exit-code");
    expect(status.code).toBe(3);
    expect(status.stdout.join("\n")).toMatch(/^error .*\/team\/gone:1\.0\s+\S+:\d+ images\[1\] {2}\(.+\)$/m);

    const rt = () => new Runtime(readSettings({ ...process.env, SYNC_CONFIG: join(cwd, "sync.yaml") }));
    const req = { method: "GET", params: {}, query: new URLSearchParams() };
    const sick = await health(rt(), req);
    // The service works (200); its body and the status page badge say a tag is in error.
    expect(sick.status).toBe(200);
    expect(sick.body).toMatchObject({
      ok: false,
      status: "degraded",
      checks: { images: { ok: false, class: "failed", hint: expect.stringMatching(/^1 mirrored tag is in error/) } },
    });

    // The broken image leaves the config: its row stays, marked removed, and counts nowhere.
    const second = await cli("sync", "--config", "sync.yaml");
    expect(second.code, second.stderr.join("\n")).toBe(0);
    const after = await cli("status", "--exit-code");
    expect(after.code).toBe(0);
    expect(after.stdout.join("\n")).toMatch(/^removed .*\/team\/gone:1\.0/m);
    expect(after.stdout.at(-1)?.trim()).toMatch(/^1 tags, 0 outdated, 0 errors, 1 removed from the config; last run/);
    const well = await health(rt(), req);
    expect(well.status).toBe(200);
    expect(well.body).toMatchObject({
      ok: true,
      status: "healthy",
      checks: { images: { ok: true, detail: "1 tags, none in error" } },
    });
  });
});
