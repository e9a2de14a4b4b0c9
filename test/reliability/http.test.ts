/**
 * The HTTP API and the trace under hostile input, through the real local server (the same route table and dispatch
 * the Functions host uses), with a real Runtime on Azurite, a private registry and a traced service config:
 * every bad input is a 4xx with a JSON body, nothing is reflected into headers, and no response, log line or Table
 * row carries a password, token, Authorization value or connection string.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveApi, type RunningServer } from "../../shared/api/server";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { TABLES } from "../../shared/store/tables";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { reportFigures } from "./support";
import { startTogether } from "../harness/together";

const PASSWORD = "Http-Suite-Pa55word-9f1c";
const B64 = Buffer.from(`reader:${PASSWORD}`).toString("base64");

let priv: RunningRegistry;
let acr: RunningRegistry;
let azurite: RunningAzurite;
let server: RunningServer;
let commit = "";
const logs: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  [priv, acr, azurite] = await startTogether(
    startRegistry({ htpasswd: { reader: PASSWORD } }),
    startRegistry(),
    startAzurite(),
  );
  const auth = () => `Basic ${B64}`;
  const marked = buildImage({
    labels: {
      "vcs-ref": "abc1234",
      "org.opencontainers.image.description": "<script>alert(1)</script>\u0007\r\nX-Injected: 1",
    },
  });
  await pushImage(priv.host, "svc/api", marked, "v1", auth);
  const dir = mkdtempSync(join(tmpdir(), "http-rel-"));
  mkdirSync(join(dir, "secrets"));
  writeFileSync(join(dir, "secrets", "pull"), JSON.stringify({ auths: { [priv.host]: { auth: B64 } } }));
  writeFileSync(
    join(dir, "sync.yaml"),
    [
      `target: { registry: "${acr.host}" }`,
      "credentials:",
      `  "${priv.host}": { keyVaultSecret: pull }`,
      "images:",
      `  - { source: "${priv.host}/svc/api", tags: [v1] }`,
    ].join("\n"),
  );
  // A service config that pins the private image directly, so the trace reads labels with the pull secret.
  const repo = join(dir, "svc");
  mkdirSync(join(repo, "config"), { recursive: true });
  writeFileSync(
    join(repo, "config", "config.yaml"),
    [
      "defaults:",
      "  api:",
      "    image:",
      `      registry: ${priv.host}`,
      "      repository: svc/api",
      `      digest: ${marked.digest}`,
      "clouds:",
      "  public:",
      "    environments:",
      "      prod: {}",
    ].join("\n"),
  );
  const git = (...a: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", repo, ...a], {
      encoding: "utf8",
    }).trim();
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "pin");
  commit = git("rev-parse", "HEAD");
  const rt = new Runtime(
    readSettings({
      SYNC_CONFIG: join(dir, "sync.yaml"),
      TABLES_CONNECTION_STRING: azurite.connectionString,
      LOCAL_SECRETS_DIR: join(dir, "secrets"),
      TRACE_CONFIG_SOURCE: repo,
    }),
    { log: (l) => logs.push(l) },
  );
  server = await serveApi(rt, { log: (l) => logs.push(l) });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await Promise.all([priv?.stop(), acr?.stop(), azurite?.stop()]);
});

/** Raw request, so paths and headers go out exactly as written (no URL normalisation by fetch). */
function raw(
  method: string,
  path: string,
  body?: string | Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          ...(body ? { "content-type": "application/json" } : {}),
          // Writes need the local server's token; reads go without.
          ...(method === "POST" ? { authorization: `Bearer ${server.token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          responses.push(JSON.stringify(res.headers) + text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        });
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

const figures = { cases: 0, clientErrors: 0, serverErrors: 0 };

const CASES: Array<[string, string, string, number, RegExp?]> = [
  ["GET", "/api/images?limit=-1", "negative limit", 400, /limit/],
  ["GET", "/api/images?limit=abc", "non-numeric limit", 400, /limit/],
  ["GET", "/api/images?limit=1e9", "exponent limit", 400, /limit/],
  ["GET", "/api/images?limit=0x10", "hex limit", 400, /limit/],
  ["GET", "/api/v1/mirrors?limit=-1", "compat negative limit", 400, /limit/],
  ["GET", "/api/images?action=delete", "unknown action", 400, /show, summarize/],
  ["GET", "/api/images?state=gone", "unknown state", 400, /in-sync.*outdated/],
  ["GET", "/api/images?state=x%27%20or%20%27a%27%20eq%20%27a", "OData quote injection", 400, /state/],
  ["GET", "/api/images?state=in-sync%0D%0AX-Injected:%201", "CRLF in a query value", 400],
  ["GET", "/api/images?state=in-sync%00", "NUL in a query value", 400],
  ["GET", "/api/runs/..%2F..%2Fetc", "encoded ../ in a run id", 400],
  ["GET", "/api/runs/%2e%2e%2f%2e%2e%2fetc", "dot-encoded ../ in a run id", 400],
  ["GET", "/api/runs/%252e%252e%252f", "double-encoded ../ in a run id", 400],
  ["GET", "/api/runs/a%5C..%5Cb", "backslashes in a run id", 400],
  ["GET", "/api/runs/../../etc/passwd", "plain ../ in the path", 404],
  ["GET", "/api/traces?commit=..%2F..%2Fetc&environment=prod", "../ as a commit", 400],
  ["GET", "/api/traces?commit=%2Fetc%2Fpasswd&environment=prod", "an absolute path as a commit", 400],
  ["GET", "/api/traces?commit=https%3A%2F%2Fevil.example%2Fx&environment=prod", "a URL as a commit", 400],
  ["GET", "/api/traces?commit=HEAD%0D%0AX:1&environment=prod", "CRLF in a commit", 400],
  ["GET", "/api/traces?commit=abc1234&environment=..%2Fprod", "../ as an environment", 400],
  ["GET", "/api/traces?commit=abc1234&environment=prod%27%20or%201%3D1", "quote injection as an environment", 400],
  ["POST", "/api/sync", "a body that is not JSON", 400, /InvalidJson/],
  ["POST", "/api/trace-images", "a trace body that is not JSON", 400],
  ["GET", "/api/sync", "wrong method", 405],
  ["GET", "/api/../../etc/passwd", "escaping /api/", 404],
];

describe("hostile HTTP input", () => {
  it.each(CASES)("%s %s (%s) → %i with a JSON error", async (method, path, _what, status, message) => {
    const res = await raw(method, path, method === "POST" ? "{not json" : undefined);
    figures.cases++;
    if (res.status >= 500) figures.serverErrors++;
    else figures.clientErrors++;
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toMatch(/application\/json/);
    const body = JSON.parse(res.text) as { error: unknown };
    expect(body.error).toBeDefined();
    if (message) expect(res.text).toMatch(message);
    expect(res.headers["x-injected"]).toBeUndefined();
    expect(res.text).not.toMatch(/\n\s+at |node_modules|AccountKey|DefaultEndpointsProtocol/);
  });

  it("a 10 MB body is refused with 413 before it is read whole", async () => {
    const res = await raw("POST", "/api/sync", Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: "BodyTooLarge" } });
  });
});

describe("secrets across sync, trace and the API", () => {
  it("syncs and traces the private image, and label markup comes back as inert JSON text", async () => {
    const sync = await raw("POST", "/api/sync", "{}");
    expect(sync.status).toBe(200);
    expect((JSON.parse(sync.text) as { run: { copied: number } }).run.copied).toBe(1);
    const trace = await raw("GET", `/api/traces?commit=${commit}&environment=prod`);
    expect(trace.status).toBe(200);
    const body = JSON.parse(trace.text) as { components: Array<{ source_sha: string | null; error: string | null }> };
    expect(body.components[0]).toMatchObject({ source_sha: "abc1234", error: null });
    expect(trace.headers["x-injected"]).toBeUndefined();
    expect(trace.text).not.toContain("<script>");
  });

  it("no response, log line or Table row carries the password, its base64, or an Authorization value", async () => {
    await raw("GET", "/api/images");
    await raw("GET", "/api/runs");
    await raw("GET", "/api/health");
    const rows: string[] = [];
    for (const table of Object.values(TABLES)) {
      const client = TableClient.fromConnectionString(azurite.connectionString, table, {
        allowInsecureConnection: true,
      });
      try {
        for await (const row of client.listEntities()) rows.push(JSON.stringify(row));
      } catch {
        // a table this run never created
      }
    }
    const everything = [...responses, ...logs, ...rows];
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const text of everything) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(B64);
      expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{12,}|Bearer [A-Za-z0-9._-]{12,}|AccountKey=/);
    }
    reportFigures("http", {
      ...figures,
      scanned: { responses: responses.length, logs: logs.length, rows: rows.length },
      secretsFound: 0,
    });
  });
});
