/**
 * Secrets: a sync with real credentials (Basic on the source, Docker token protocol with Basic on the target),
 * some of its images failing on purpose (a wrong password, a missing tag, a registry that echoes our
 * Authorization header back in its error), and a CLI copy. Every log line, console line, error message, stored
 * Table row and CLI output is then searched for the passwords, their base64 forms, and anything shaped like a
 * bearer or basic credential or a JWT: none may appear. Credentials never follow a redirect to another host, and
 * Docker config parsing never quotes a secret in its errors.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runCopy } from "../../cli/copyCommand";
import { AuthManager } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { Transport, isLoopback } from "../../shared/registry/transport";
import { DockerConfigError, parseDockerConfig, resolverFrom } from "../../shared/secrets/dockerConfig";
import { localDockerCredentials } from "../../shared/secrets/localDockerConfig";
import { SyncStore } from "../../shared/store/syncStore";
import { TABLES, Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { runSync } from "../../shared/sync/executor";
import { RecordingMetrics } from "../../shared/telemetry/metrics";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage, type SeedAuth } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTokenServer, type TokenServer } from "../harness/tokenServer";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportFigures, seededLayer, startTogether } from "./support";

const SOURCE_PASSWORD = "src-Pa55word-7c1f";
const TARGET_PASSWORD = "dst-Pa55word-93ab";
const WRONG_PASSWORD = "wrong-Pa55word-0d2e";
const IDENTITY_TOKEN = "identity-refresh-token-5b7e1d";
const b64 = (s: string) => Buffer.from(s).toString("base64");

let up: RunningRegistry;
let wrongUp: RunningRegistry;
let tokens: TokenServer;
let acr: RunningRegistry;
let echo: RunningProxy;
let azurite: RunningAzurite;

beforeAll(async () => {
  tokens = await startTokenServer({ users: { bob: TARGET_PASSWORD } });
  [up, wrongUp, acr, azurite] = await startTogether(
    startRegistry({ htpasswd: { alice: SOURCE_PASSWORD } }),
    startRegistry({ htpasswd: { carol: "the-real-password-not-configured" } }),
    startRegistry({ token: tokens.auth }),
    startAzurite(),
  );
  // A registry that quotes the Authorization header it got in its error message, for one repository.
  echo = await startProxy(acr.host, [
    (req) =>
      req.path.includes("/secrets/echo/") && req.method !== "HEAD" && req.headers.authorization
        ? {
            status: 403,
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({
              errors: [
                {
                  code: "DENIED",
                  message: `denied for ${req.headers.authorization ?? "anonymous"} (password=${TARGET_PASSWORD})`,
                },
              ],
            }),
          }
        : undefined,
  ]);
});
afterAll(async () =>
  Promise.all([echo?.stop(), up?.stop(), wrongUp?.stop(), acr?.stop(), tokens?.stop(), azurite?.stop()]),
);

/** Everything that must never appear anywhere we write. */
function findSecrets(haystack: string): string[] {
  const found: string[] = [];
  for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD, WRONG_PASSWORD, IDENTITY_TOKEN]) {
    if (haystack.includes(secret)) found.push(`password/token ${secret.slice(0, 6)}…`);
    if (haystack.includes(b64(secret).slice(0, 12))) found.push(`base64 of ${secret.slice(0, 6)}…`);
  }
  for (const user of ["alice", "bob", "carol"]) {
    for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD, WRONG_PASSWORD]) {
      if (haystack.includes(b64(`${user}:${secret}`))) found.push(`Basic credential of ${user}`);
    }
  }
  for (const m of haystack.matchAll(/\b(?:Bearer|Basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}/gi))
    found.push(`header value ${m[0].slice(0, 14)}…`);
  for (const m of haystack.matchAll(/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/g))
    found.push(`JWT ${m[0].slice(0, 12)}…`);
  return found;
}

async function allTableRows(tables: Tables): Promise<string[]> {
  const rows: string[] = [];
  for (const name of Object.values(TABLES)) {
    for await (const row of tables.client(name).listEntities())
      rows.push(JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  }
  return rows;
}

describe("no secret in logs, errors, Table rows or outputs", () => {
  it("a sync and a CLI copy with credentials, some failing, leave no password, token or Authorization value anywhere", async () => {
    const seed =
      (host: string, user: string, pass: string): SeedAuth =>
      () =>
        `Basic ${b64(`${user}:${pass}`)}`;
    for (const name of ["app", "echo"]) {
      await pushImage(
        up.host,
        `secrets/${name}`,
        buildImage({ layers: [seededLayer(8000, name)] }),
        "v1",
        seed(up.host, "alice", SOURCE_PASSWORD),
      );
    }
    await pushImage(
      wrongUp.host,
      "secrets/other",
      buildImage(),
      "v1",
      seed(wrongUp.host, "carol", "the-real-password-not-configured"),
    );

    const dockerConfig = JSON.stringify({
      auths: {
        [up.host]: { auth: b64(`alice:${SOURCE_PASSWORD}`) },
        [`http://${echo.host}/v1/`]: { username: "bob", password: TARGET_PASSWORD },
        [acr.host]: { username: "bob", password: TARGET_PASSWORD },
        [wrongUp.host]: { username: "carol", password: WRONG_PASSWORD },
        "unused.example.io": { identitytoken: IDENTITY_TOKEN },
      },
    });
    const credentials = resolverFrom(parseDockerConfig(dockerConfig, "pull-secret"));
    const auth = new AuthManager({ credentials, allowPlainHttp: isLoopback });
    const client = new RegistryClient(
      new Transport({ auth, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }),
    );
    const tables = new Tables({ connectionString: azurite.connectionString });
    const store = new SyncStore(tables);
    const metrics = new RecordingMetrics();

    const consoleLines: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi
        .spyOn(console, level)
        .mockImplementation((...args: unknown[]) => void consoleLines.push(args.map(String).join(" "))),
    );
    const logLines: string[] = [];
    const errors: string[] = [];
    let outcome: Awaited<ReturnType<typeof runSync>> | undefined;
    try {
      const cfg = parseSyncConfig(
        [
          `target: { registry: "${acr.host}", prefix: mirror }`,
          "images:",
          `  - { source: "${up.host}/secrets/app", tags: ["v1"] }`,
          `  - { source: "${up.host}/secrets/missing", tags: ["v1"] }`,
          `  - { source: "${wrongUp.host}/secrets/other", tags: ["v1"] }`,
        ].join("\n"),
        "secrets.yaml",
      ).config;
      outcome = await runSync({ client, config: cfg, trigger: "timer", store, metrics, log: (l) => logLines.push(l) });
      // The echoing registry, copied to directly, must not get our header into the error either.
      await copyImage(
        client,
        { registry: up.host, repository: "secrets/echo", tag: "v1" },
        { registry: echo.host, repository: "secrets/echo" },
        ["v1"],
      ).catch((e: Error) => errors.push(e.message, String(e.stack), JSON.stringify(e)));
      // Wrong credentials straight from the client.
      await client
        .manifestHead(wrongUp.host, "secrets/other", "v1")
        .catch((e: Error) => errors.push(e.message, String(e.stack)));
    } finally {
      for (const s of spies) s.mockRestore();
    }
    const run = outcome!;
    expect(run.results[0]!.action).toBe("copied");
    expect(run.results.slice(1).every((r) => r.action !== "copied")).toBe(true);
    errors.push(
      ...run.results.map((r) => `${r.error ?? ""} ${r.reason ?? ""}`),
      run.run.errorSummary ?? "",
      ...run.warnings,
    );
    expect(errors.join("\n")).toMatch(/DENIED: denied for Bearer \[redacted\] \(password=\[redacted\]\)/);
    expect(errors.join("\n")).toMatch(/rejected the configured credentials|unauthorized/);

    // The CLI with the same credentials, one copy that works and one that fails.
    const cliOut: string[] = [];
    const out = { stdout: (l: string) => cliOut.push(l), stderr: (l: string) => cliOut.push(l) };
    const ok = await runCopy(
      {
        source: `${up.host}/secrets/app:v1`,
        target: `${acr.host}/cli/app`,
        tags: [],
        concurrency: 2,
        credentials,
        plainHttp: [],
      },
      out,
    );
    const failed = await runCopy(
      {
        source: `${wrongUp.host}/secrets/other:v1`,
        target: `${acr.host}/cli/other`,
        tags: [],
        concurrency: 2,
        credentials,
        plainHttp: [],
      },
      out,
    );
    expect([ok, failed]).toEqual([0, 1]);

    const rows = await allTableRows(tables);
    expect(rows.length).toBeGreaterThan(5);
    const metricsText = JSON.stringify(metrics.recorded);
    const places = { logLines, consoleLines, errors, tableRows: rows, cliOutput: cliOut, metrics: [metricsText] };
    const found = Object.entries(places).flatMap(([where, lines]) =>
      findSecrets(lines.join("\n")).map((f) => `${where}: ${f}`),
    );
    expect(found).toEqual([]);
    // The search itself works: it finds what it looks for.
    expect(
      findSecrets(`Basic ${b64(`alice:${SOURCE_PASSWORD}`)} ${tokens.mint(["repository:a:pull"])}`).length,
    ).toBeGreaterThan(1);

    reportFigures("secrets", {
      searched: Object.fromEntries(Object.entries(places).map(([k, v]) => [k, v.length])),
      secretsFound: found.length,
      tokensIssued: tokens.requests.filter((r) => r.path === "/token").length,
    });
  });
});

describe("credentials stay with their host", () => {
  let cdn: RunningProxy;
  let front: RunningProxy;
  let open: RunningRegistry;
  beforeAll(async () => {
    // The CDN serves the same blobs without auth (as a pre-signed URL would); the registry in front wants Basic.
    open = await startRegistry();
    cdn = await startProxy(open.host, [
      // A CDN that itself asks for credentials: it must get none, not even after its 401.
      (req) =>
        req.path.includes("/secrets/cdn401/")
          ? { status: 401, headers: { "WWW-Authenticate": 'Basic realm="cdn"' } }
          : undefined,
    ]);
    front = await startProxy(up.host, [
      (req) =>
        req.method === "GET" && /\/blobs\/sha256:/.test(req.path)
          ? { status: 307, headers: { Location: `http://127.0.0.1:${cdn.port}${req.path}` } }
          : undefined,
    ]);
  });
  afterAll(async () => Promise.all([cdn?.stop(), front?.stop(), open?.stop()]));

  it("a blob redirect to another host (another port) carries no Authorization, not even when that host asks", async () => {
    const basic: SeedAuth = () => `Basic ${b64(`alice:${SOURCE_PASSWORD}`)}`;
    for (const name of ["cdn", "cdn401"]) {
      const img = buildImage({ layers: [seededLayer(5000, name)] });
      await pushImage(up.host, `secrets/${name}`, img, "v1", basic);
      await pushImage(open.host, `secrets/${name}`, img, "v1");
    }
    const auth = new AuthManager({
      credentials: async (r) =>
        r === front.host ? { kind: "basic", username: "alice", password: SOURCE_PASSWORD } : undefined,
      allowPlainHttp: isLoopback,
    });
    const client = new RegistryClient(
      new Transport({ auth, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }),
    );
    const other = await startRegistry();
    try {
      await copyImage(
        client,
        { registry: front.host, repository: "secrets/cdn", tag: "v1" },
        { registry: other.host, repository: "c/cdn" },
        ["v1"],
      );
      const err = await copyImage(
        client,
        { registry: front.host, repository: "secrets/cdn401", tag: "v1" },
        { registry: other.host, repository: "c/cdn401" },
        ["v1"],
      ).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).not.toContain(SOURCE_PASSWORD);
    } finally {
      await other.stop();
    }
    expect(front.seen.some((r) => r.headers.authorization?.startsWith("Basic "))).toBe(true);
    expect(cdn.seen.filter((r) => r.path.includes("/blobs/")).length).toBeGreaterThanOrEqual(2);
    expect(cdn.seen.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
  });
});

describe("Docker config parsing never quotes the secret", () => {
  const SECRET = "dc-s3cret-Zq81";
  const bad: Array<[string, string]> = [
    ["truncated JSON", `{"auths": {"ghcr.io": {"password": "${SECRET}"`],
    ["a list", `["${SECRET}"]`],
    ["auths is a string", `{"auths": "${SECRET}"}`],
    ["auths is a list", `{"auths": ["${SECRET}"]}`],
    ["an entry that is the secret", `{"auths": {"ghcr.io": "${SECRET}"}}`],
    ["an entry that is a number", `{"auths": {"ghcr.io": 7}, "x": "${SECRET}"}`],
    ["auth without a colon", `{"auths": {"ghcr.io": {"auth": "${b64(SECRET)}"}}}`],
    ["auth that is not base64", `{"auths": {"ghcr.io": {"auth": "${SECRET}!!"}}}`],
    ["a URL key with user-info", `{"auths": {"https://user:${SECRET}@ghcr.io/v1/": 7}}`],
  ];
  it.each(bad)("%s", (_name, text) => {
    let message = "";
    try {
      parseDockerConfig(text, "pull-secret");
    } catch (err) {
      expect(err).toBeInstanceOf(DockerConfigError);
      message = `${(err as Error).message}\n${(err as Error).stack}`;
    }
    expect(message).not.toBe("");
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(b64(SECRET));
  });

  it("a broken config file names the file, not its content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ais-dc-"));
    try {
      writeFileSync(join(dir, "config.json"), `{"auths": {"ghcr.io": {"password": "${SECRET}"}`);
      const err = await localDockerCredentials({ DOCKER_CONFIG: dir }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/config\.json: not valid JSON/);
      expect((err as Error).message).not.toContain(SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // BUG shared/secrets/dockerConfig.ts registryKey: an `auths` key that is a URL new URL() cannot parse is used
  // as written (lower-cased), so the error for its entry quotes the key, user-info and all.
  it("a malformed URL key with user-info is not quoted in the error", () => {
    const lower = SECRET.toLowerCase();
    let message = "";
    try {
      parseDockerConfig(`{"auths": {"https://user:${lower}@[ghcr.io/v1/": 7}}`, "pull-secret");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/must be an object/);
    expect(message).not.toContain(lower);
  });
});

// Trace and HTTP API secrets: test/reliability/http.test.ts.
