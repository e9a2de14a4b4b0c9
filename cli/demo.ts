/**
 * `npm run demo`: the whole product on a laptop, with no Azure account. Starts Azurite and three local registries
 * (an open "upstream", a password-protected one, and a stand-in for your ACR), seeds realistic images, writes a sync
 * config and a small ARO-HCP style service config in a git repository, runs the sync through the timer function's
 * own handler, moves an upstream tag and syncs again (drift, and the pin tag that keeps the old digest), traces the
 * service, then serves the HTTP API and the status page until Ctrl-C. `DEMO_ONCE=1` stops after the runs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTimerLocally } from "../functions/localHost";
import { serveApi, type RunningServer } from "../shared/api/server";
import { dispatch, routes } from "../shared/api/routes";
import { Runtime } from "../shared/runtime";
import { readSettings } from "../shared/settings";
import { startAzurite, type RunningAzurite } from "../test/harness/azurite";
import {
  buildImage,
  buildIndex,
  pushImage,
  pushIndex,
  randomLayer,
  type BuiltImage,
  type SeedAuth,
} from "../test/harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../test/harness/registry";

const PULLER = { user: "demo-puller", password: "demo-only-password" };

function hasCommand(name: string): boolean {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** docker-registry for the registries, git for the service config the trace reads at a commit. */
function ensurePackages(): void {
  const missing = [...(registryAvailable() ? [] : ["docker-registry"]), ...(hasCommand("git") ? [] : ["git"])];
  if (missing.length === 0) return;
  const allowed = process.env.DEMO_APT !== "0" && process.getuid?.() === 0;
  if (!allowed) {
    throw new Error(
      `the demo needs Debian's ${missing.join(" and ")}: run \`sudo apt-get install -y ${missing.join(" ")}\``,
    );
  }
  process.stderr.write(`installing ${missing.join(" and ")} with apt-get (set DEMO_APT=0 to refuse)…\n`);
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", ...missing], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

export interface Demo {
  runtime: Runtime;
  hosts: { upstream: string; private: string; acr: string };
  dir: string;
  /** Config commits of the service repository: `before` pins the first sync's digests, `after` moves int on. */
  commits: { before: string; after: string };
  sync(label: string): Promise<void>;
  /** Pushes a new image to the upstream tags the second run will find drifted. */
  moveUpstream(): Promise<void>;
  /** Commits a service config pinning what ACR holds now (int gets the new backend). */
  commitServiceConfig(which: "before" | "after"): Promise<string>;
  serve(port?: number): Promise<RunningServer>;
  stop(): Promise<void>;
}

const labelled = (commit: string, repo: string, base: Buffer, platform?: BuiltImage["platform"]) =>
  buildImage({
    layers: [base, randomLayer(16 * 1024)],
    labels: {
      "vcs-ref": commit,
      "vcs-url": `https://github.com/example/${repo}`,
      "org.opencontainers.image.revision": commit,
    },
    ...(platform ? { platform } : {}),
  });

export async function startDemo(log: (line: string) => void = (l) => console.log(l)): Promise<Demo> {
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  const dir = mkdtempSync(join(tmpdir(), "acr-image-sync-demo-"));
  try {
    const [upstream, priv, acr, azurite]: [RunningRegistry, RunningRegistry, RunningRegistry, RunningAzurite] =
      await Promise.all([
        startRegistry(),
        startRegistry({ htpasswd: { [PULLER.user]: PULLER.password } }),
        startRegistry(),
        startAzurite(),
      ]);
    stoppers.push(upstream, priv, acr, azurite);
    const privAuth: SeedAuth = () => `Basic ${Buffer.from(`${PULLER.user}:${PULLER.password}`).toString("base64")}`;

    log("seeding upstream images…");
    const base = randomLayer(128 * 1024);
    // A semver series, multi-arch.
    for (const v of ["1.25.4", "1.26.0", "1.26.2", "1.27.1", "2.0.0-rc.1"]) {
      const index = buildIndex([
        labelled(`a${v.replaceAll(".", "").replaceAll("-", "").slice(0, 6).padEnd(6, "0")}`, "web", base),
        labelled(`a${v.replaceAll(".", "").replaceAll("-", "").slice(0, 6).padEnd(6, "0")}`, "web", base, {
          os: "linux",
          architecture: "arm64",
          variant: "v8",
        }),
      ]);
      await pushIndex(upstream.host, "library/web", index, v);
    }
    // RunWhen's moving tag with its immutable siblings (and an arch-prefixed look-alike that must be ignored).
    const older = labelled("9f8e7d6", "app", base);
    const current = labelled("abc1234", "app", base);
    await pushImage(upstream.host, "org/app", older, "main-9f8e7d6");
    await pushImage(upstream.host, "org/app", current, "main-abc1234");
    await pushImage(upstream.host, "org/app", current, "main-latest");
    await pushImage(upstream.host, "org/app", current, "amd64-main-abc1234");
    // The service's own components, pinned by the service config below.
    for (const [repo, commit] of [
      ["arohcp/backend", "55611cd"],
      ["arohcp/frontend", "7da8c6d"],
    ] as const) {
      await pushImage(upstream.host, repo, labelled(commit, "ARO-HCP", base), "v1");
    }
    // A private registry: the pull secret comes from a local stand-in for Key Vault.
    await pushImage(priv.host, "tools/probe", labelled("0badf00", "probe", base), "2.1.0", privAuth);

    const secrets = join(dir, "secrets");
    mkdirSync(secrets);
    writeFileSync(
      join(secrets, "pull-private"),
      JSON.stringify({
        auths: { [priv.host]: { auth: Buffer.from(`${PULLER.user}:${PULLER.password}`).toString("base64") } },
      }),
    );
    const syncConfig = join(dir, "sync.yaml");
    writeFileSync(
      syncConfig,
      [
        "# The demo's sync config (see docs/configuration.md).",
        `target: { registry: "${acr.host}", prefix: mirror }`,
        "defaults: { pinTag: true, concurrency: 4 }",
        "credentials:",
        `  "${priv.host}": { keyVaultSecret: pull-private }`,
        "images:",
        `  - { source: "${upstream.host}/library/web", newest: 3, order: semver, allow: "^[0-9]+\\\\.[0-9]+\\\\.[0-9]+$" }`,
        `  - { source: "${upstream.host}/org/app", follow: main-latest, sibling: "^main-[0-9a-f]{7,}$" }`,
        `  - { source: "${upstream.host}/arohcp/backend", tags: [v1] }`,
        `  - { source: "${upstream.host}/arohcp/frontend", tags: [v1] }`,
        `  - { source: "${priv.host}/tools/probe", tags: ["2.1.0"] }`,
      ].join("\n") + "\n",
    );

    const serviceRepo = join(dir, "service");
    mkdirSync(join(serviceRepo, "config"), { recursive: true });
    const git = (...args: string[]) =>
      execFileSync(
        "git",
        ["-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "-C", serviceRepo, ...args],
        { encoding: "utf8" },
      ).trim();
    git("init", "-q", "-b", "main");

    const runtime = new Runtime(
      readSettings({
        SYNC_CONFIG: syncConfig,
        TABLES_CONNECTION_STRING: azurite.connectionString,
        LOCAL_SECRETS_DIR: secrets,
        TRACE_CONFIG_SOURCE: serviceRepo,
        TRACE_SERVICE: "aro-hcp",
        VERIFY_TARGET_EVERY: "6",
      }),
    );

    const digestIn = async (repo: string, tag: string) =>
      (await runtime.client.manifestHead(acr.host, `mirror/${repo}`, tag))?.digest ?? "";
    const commits = { before: "", after: "" };
    const demo: Demo = {
      runtime,
      hosts: { upstream: upstream.host, private: priv.host, acr: acr.host },
      dir,
      commits,
      async sync(label) {
        log(`\n== ${label}`);
        await runTimerLocally(runtime, (level, line) => log(`  [${level}] ${line}`));
      },
      async moveUpstream() {
        log("\n== upstream moves: arohcp/backend:v1 is re-pushed with a new build (commit 3c1d2e4)");
        await pushImage(upstream.host, "arohcp/backend", labelled("3c1d2e4", "ARO-HCP", base), "v1");
      },
      async commitServiceConfig(which) {
        const backend = await digestIn("arohcp/backend", "v1");
        const frontend = await digestIn("arohcp/frontend", "v1");
        if (which === "before") {
          const image = (repo: string, digest: string) => [
            `    image:`,
            `      registry: ${acr.host}`,
            `      repository: mirror/${repo}`,
            `      digest: ${digest}`,
          ];
          writeFileSync(
            join(serviceRepo, "config", "config.yaml"),
            [
              "defaults:",
              "  backend:",
              ...image("arohcp/backend", backend),
              "  frontend:",
              ...image("arohcp/frontend", frontend),
              "clouds:",
              "  public:",
              "    defaults: {}",
              "    environments:",
              "      int:",
              "        defaults: {}",
              "      prod:",
              "        defaults: {}",
            ].join("\n") + "\n",
          );
          git("add", "-A");
          git("commit", "-q", "-m", "pin backend and frontend");
          commits.before = git("rev-parse", "HEAD");
          return commits.before;
        }
        // int runs the new backend; prod stays on the old one (layered overrides, as ARO-HCP rolls out).
        writeFileSync(
          join(serviceRepo, "config", "config.msft.clouds-overlay.yaml"),
          [
            "clouds:",
            "  public:",
            "    environments:",
            "      int:",
            "        defaults:",
            "          backend:",
            "            image:",
            `              digest: ${backend}`,
          ].join("\n") + "\n",
        );
        git("add", "-A");
        git("commit", "-q", "-m", "int: roll out the new backend");
        commits.after = git("rev-parse", "HEAD");
        return commits.after;
      },
      async serve(port = 0) {
        const server = await serveApi(runtime, { port, log: (l) => log(`  [serve] ${l}`) });
        stoppers.push({ stop: () => server.close() });
        return server;
      },
      async stop() {
        await Promise.allSettled(stoppers.reverse().map((s) => s.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return demo;
  } catch (err) {
    await Promise.allSettled(stoppers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function api(
  demo: Demo,
  name: string,
  query: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const route = routes.find((r) => r.name === name)!;
  // The demo's own reads, in process: as a Reader, like the local server's callers.
  return dispatch(route, () => demo.runtime, {
    method: "GET",
    params: {},
    query: new URLSearchParams(query),
    caller: { roles: new Set(["Reader"]) },
  });
}

async function main(): Promise<void> {
  ensurePackages();
  const demo = await startDemo();
  try {
    const { acr, upstream } = demo.hosts;
    console.log(`upstream http://${upstream}  private http://${demo.hosts.private}  ACR stand-in http://${acr}`);
    await demo.sync("first sync: everything is missing, so everything is copied");
    await demo.commitServiceConfig("before");
    await demo.sync("second sync: nothing changed, one HEAD per tag upstream and none at the target");
    await demo.moveUpstream();
    await demo.sync("third sync: backend:v1 drifted; the new digest is copied, the old one keeps its dated pin tag");
    await demo.commitServiceConfig("after");

    const images = (await api(demo, "listImages", { action: "summarize" })).body;
    console.log(`\n== status: ${JSON.stringify(images)}`);
    const diff = (
      await api(demo, "getTraceDiff", { commit: demo.commits.after, environment: "int", environment_b: "prod" })
    ).body as {
      changed?: Array<{ name: string; a?: { source_sha?: string }; b?: { source_sha?: string }; compare_url?: string }>;
    };
    console.log(
      `== trace diff int → prod at ${demo.commits.after.slice(0, 12)}: ${JSON.stringify(diff.changed ?? diff)}`,
    );

    if (process.env.DEMO_ONCE === "1") return;
    const server = await demo.serve(Number(process.env.DEMO_PORT ?? 0));
    console.log(`\nstatus page:  ${server.url}/api/`);
    console.log(`JSON API:     ${server.url}/api/images  ${server.url}/api/runs  ${server.url}/api/health`);
    console.log(
      `start a sync: curl -X POST -H 'Authorization: Bearer ${server.token}' -H 'Content-Type: application/json' ` +
        `-d '{"reportOnly": true}' ${server.url}/api/sync`,
    );
    console.log(`trace:        ${server.url}/api/traces?commit=${demo.commits.after.slice(0, 12)}&environment=int`);
    console.log(
      `diff:         ${server.url}/api/traces/diff?commit=${demo.commits.after.slice(0, 12)}&environment=int&environment_b=prod`,
    );
    console.log("Ctrl-C stops everything.");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  } finally {
    await demo.stop();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
