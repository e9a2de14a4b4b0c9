/**
 * Tracing your own config repository (issue 15): the non-ARO example definition under examples/trace, read from a
 * real git repository and real registries, by the CLI (with `git rev-parse` commits such as HEAD~1) and by the
 * Functions app's route table with TRACE_SERVICE naming the definition file; an unknown or invalid definition is a
 * settings error (503 with a JSON body on every route, health included), never a 500.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../cli/main";
import { dispatch, ROUTES } from "../../shared/api/routes";
import { Runtime } from "../../shared/runtime";
import { readSettings, SettingsError } from "../../shared/settings";
import { parseRegistryMap } from "../../shared/trace/registryMap";
import { buildImage, pushImage } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { READER } from "../harness/principal";

const EXAMPLES = resolve(__dirname, "../../examples/trace");
const DEFINITION = join(EXAMPLES, "shop.yaml");
const STOREFRONT_SHA = "5f1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";

const PAYMENTS_SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

let registry: RunningRegistry;
let repo: string;
let head: string;
let previous: string;
const saved = { ...process.env };

const git = (...args: string[]) =>
  execFileSync("git", args, {
    cwd: repo,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  }).trim();

beforeAll(async () => {
  registry = await startRegistry();
  const storefront = buildImage({
    labels: {
      "org.opencontainers.image.revision": STOREFRONT_SHA,
      "org.opencontainers.image.source": "https://github.com/example/storefront",
    },
  });
  // A commit label only: the source repository comes from the example's component catalogue.
  const payments = buildImage({ labels: { "vcs-ref": PAYMENTS_SHA } });
  await pushImage(registry.host, "example/storefront", storefront, "v1");
  await pushImage(registry.host, "example/payments", payments, "v1");

  // The example config repository as shipped, then a commit that pins the digests really pushed.
  repo = mkdtempSync(join(tmpdir(), "shop-config-"));
  cpSync(join(EXAMPLES, "shop-config"), repo, { recursive: true });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "example as shipped");
  const file = join(repo, "deploy", "config.yaml");
  writeFileSync(
    file,
    readFileSync(file, "utf8")
      .replace(`sha256:${"1".repeat(64)}`, storefront.digest)
      .replace(`sha256:${"3".repeat(64)}`, payments.digest),
  );
  git("commit", "-q", "-am", "pin what was pushed");
  head = git("rev-parse", "HEAD");
  previous = git("rev-parse", "HEAD~1");
});

afterAll(async () => {
  process.env = saved;
  await registry?.stop();
});

async function cli(...args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(["node", "acr-image-sync", ...args], {
    stdout: (l) => stdout.push(l),
    stderr: (l) => stderr.push(l),
  });
  return { code, stdout, stderr };
}

interface Component {
  name: string;
  source_sha: string | null;
  source_repo_url: string | null;
  error_kind?: string | null;
}

describe.skipIf(!registryAvailable())("a non-ARO service definition (examples/trace/shop.yaml)", () => {
  const common = () => [
    "--repo",
    repo,
    "--environment",
    "prod",
    "--definition",
    DEFINITION,
    "--registry-map",
    `ghcr.io=${registry.host}`,
    "--json",
  ];

  it("traces prod at HEAD: the source commit from the labels, the source repository from the catalogue", async () => {
    const run = await cli("trace", "--commit", "HEAD", ...common());
    expect(run.code, run.stderr.join("\n") + run.stdout.join("\n")).toBe(0);
    const body = JSON.parse(run.stdout.join("\n")) as { commit_sha: string; components: Component[] };
    expect(body.commit_sha).toBe(head);
    const byName = Object.fromEntries(body.components.map((c) => [c.name, c]));
    expect(byName.Storefront).toMatchObject({
      source_sha: STOREFRONT_SHA,
      source_repo_url: "https://github.com/example/storefront",
    });
    expect(byName.Payments).toMatchObject({
      source_sha: PAYMENTS_SHA,
      source_repo_url: "https://github.com/example/payments",
    });
  });

  it("accepts what git rev-parse accepts: HEAD~1 is the commit before (whose placeholder digests do not exist)", async () => {
    const run = await cli("trace", "--commit", "HEAD~1", ...common());
    const body = JSON.parse(run.stdout.join("\n")) as { commit_sha: string; errors: string[] };
    expect(body.commit_sha).toBe(previous);
    expect(run.code).toBe(1);
    expect(body.errors.length).toBeGreaterThan(0);
    // --quiet: the JSON stays, nothing else is printed; the exit code still says a component failed.
    const quiet = await cli("--quiet", "trace", "--commit", "HEAD~1", ...common());
    expect([quiet.code, quiet.stderr, JSON.parse(quiet.stdout.join("\n")).commit_sha]).toEqual([1, [], previous]);
    const table = await cli("--quiet", "trace", "--commit", "HEAD", ...common().filter((a) => a !== "--json"));
    expect(table).toEqual({ code: 0, stdout: [], stderr: [] });
    const bad = await cli("trace", "--commit", "HEAD~9", ...common());
    expect([bad.code, bad.stderr]).toEqual([2, [`error: --commit HEAD~9: not a commit in ${repo}`]]);
  });

  it("the Functions app loads it from TRACE_SERVICE=<file> and answers the trace route", async () => {
    const settings = readSettings(
      { SYNC_CONFIG: "unused.yaml", TRACE_SERVICE: DEFINITION, TRACE_CONFIG_SOURCE: repo },
      { requireTables: false },
    );
    const rt = new Runtime(settings, { registryMap: parseRegistryMap([`ghcr.io=${registry.host}`]) });
    const route = ROUTES.find((r) => r.name === "getTrace")!;
    const query = new URLSearchParams({ commit: head, environment: "prod" });
    const res = await dispatch(route, () => rt, { caller: READER, method: "GET", params: {}, query });
    expect(res.status).toBe(200);
    const body = res.body as { service: string; components: Component[] };
    expect(body.service).toBe("shop");
    expect(body.components.find((c) => c.name === "Storefront")?.source_sha).toBe(STOREFRONT_SHA);
  });

  it("an unknown or invalid definition is a settings error: 503 with JSON on the trace route and on health", async () => {
    const broken = join(mkdtempSync(join(tmpdir(), "bad-def-")), "broken.yaml");
    writeFileSync(broken, "name: shop\nbaseFile: deploy/config.yaml\ncomponent: typo.yaml\n");
    const cases: Array<[string, RegExp]> = [
      ["nope", /TRACE_SERVICE "nope" is not a built-in service definition/],
      [broken, /TRACE_SERVICE .*broken\.yaml:3: component: unknown field/],
      [join(EXAMPLES, "missing.yaml"), /TRACE_SERVICE .*missing\.yaml: no such file/],
    ];
    for (const [value, message] of cases) {
      const env = { SYNC_CONFIG: "unused.yaml", TRACE_SERVICE: value, TRACE_CONFIG_SOURCE: repo };
      // The operator sees the detail (file, line) where settings are read; the HTTP body names the setting only.
      expect(() => readSettings(env)).toThrow(SettingsError);
      expect(() => readSettings(env)).toThrow(message);
      for (const name of ["getTrace", "health"]) {
        const route = ROUTES.find((r) => r.name === name)!;
        const query = new URLSearchParams(name === "getTrace" ? { commit: head, environment: "prod" } : {});
        const res = await dispatch(route, () => new Runtime(readSettings(env)), {
          caller: READER,
          method: "GET",
          params: {},
          query,
        });
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({
          ok: false,
          error: { code: "SettingsInvalid", message: expect.stringMatching(/TRACE_SERVICE/) },
        });
      }
    }
    // Without a trace source the definition is not used, so it is not a reason to refuse to start.
    expect(() =>
      readSettings({ SYNC_CONFIG: "unused.yaml", TRACE_SERVICE: "nope" }, { requireTables: false }),
    ).not.toThrow();
  });
});
