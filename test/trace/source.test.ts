import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSourceError, InvalidCommitError, InvalidInputError, InvalidPathError } from "../../shared/trace/errors";
import { tallyRequests, Transport } from "../../shared/registry/transport";
import { DirectoryConfigSource, GitConfigSource, HttpConfigSource, openConfigSource } from "../../shared/trace/source";

const COMMIT = "21f3f7a7d163a2dad380f101869dc97a35b004a2";

describe("DirectoryConfigSource", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-dir-"));
    mkdirSync(path.join(dir, "config"));
    writeFileSync(path.join(dir, "config", "a.yaml"), "a: 1\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a file and ignores the commit", async () => {
    const source = new DirectoryConfigSource(dir);
    expect(await source.readFile(COMMIT, "config/a.yaml")).toBe("a: 1\n");
    expect(await source.readFile("anything", "config/a.yaml")).toBe("a: 1\n");
  });

  it("returns null for a missing file and throws for a directory", async () => {
    const source = new DirectoryConfigSource(dir);
    expect(await source.readFile(COMMIT, "config/missing.yaml")).toBeNull();
    expect(await source.readFile(COMMIT, "config/a.yaml/below")).toBeNull();
    await expect(source.readFile(COMMIT, "config")).rejects.toThrow(ConfigSourceError);
  });

  it("refuses paths that leave the directory", async () => {
    await expect(new DirectoryConfigSource(dir).readFile(COMMIT, "../a.yaml")).rejects.toThrow(InvalidPathError);
  });
});

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A transport whose fetch is a fake: the source goes through the registry client's one HTTP path. */
function fakeTransport(status: number, body = ""): { transport: Transport; calls: Call[] } {
  const calls: Call[] = [];
  const fetch = ((url: string | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init });
    return Promise.resolve(new Response(status === 204 ? null : body, { status }));
  }) as typeof globalThis.fetch;
  // No waiting between retries: the retry policy is the transport's, and tested there.
  return { calls, transport: new Transport({ fetch, sleep: async () => undefined }) };
}

describe("HttpConfigSource", () => {
  const template = "https://raw.example.test/Azure/ARO-HCP/{commit}/{path}?token=secret";

  it("fills the URL template, encoding each path segment, and sends configured headers", async () => {
    const { transport, calls } = fakeTransport(200, "a: 1\n");
    const source = new HttpConfigSource(template, { transport, headers: { authorization: "Bearer t" } });
    expect(await source.readFile(COMMIT.toUpperCase(), "config/my file#1.yaml")).toBe("a: 1\n");
    expect(calls[0]?.url).toBe(
      `https://raw.example.test/Azure/ARO-HCP/${COMMIT}/config/my%20file%231.yaml?token=secret`,
    );
    expect(calls[0]?.init?.headers).toMatchObject({ authorization: "Bearer t" });
    // Custom headers may be credentials: a redirect must not carry them elsewhere, so none is followed.
    expect(calls[0]?.init?.redirect).toBe("manual");
  });

  it("counts its requests in the registry transport's tally", async () => {
    const { transport } = fakeTransport(200, "a: 1\n");
    const { requests } = await tallyRequests(() =>
      new HttpConfigSource(template, { transport }).readFile(COMMIT, "a.yaml"),
    );
    expect(requests.toJSON()).toMatchObject({ total: 1, byKind: { "file.get": 1 } });
  });

  it("treats 404 as a missing file and other failures as errors that do not leak the query", async () => {
    const missing = new HttpConfigSource(template, { transport: fakeTransport(404).transport });
    expect(await missing.readFile(COMMIT, "x.yaml")).toBeNull();
    const { transport, calls } = fakeTransport(500);
    const failing = new HttpConfigSource(template, { transport });
    await expect(failing.readFile(COMMIT, "x.yaml")).rejects.toThrow(/HTTP 500 fetching x\.yaml/);
    await expect(failing.readFile(COMMIT, "x.yaml")).rejects.not.toThrow(/secret/);
    // The transport's retry policy applies: a 500 is asked again before it is an error.
    expect(calls.length).toBeGreaterThan(2);
    const forbidden = new HttpConfigSource(template, { transport: fakeTransport(403).transport });
    await expect(forbidden.readFile(COMMIT, "x.yaml")).rejects.toThrow(/HTTP 403 fetching/);
    const broken = new HttpConfigSource(template, {
      transport: new Transport({
        fetch: () =>
          Promise.reject(
            new TypeError("fetch failed", {
              cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
            }),
          ),
        sleep: async () => undefined,
      }),
    });
    await expect(broken.readFile(COMMIT, "x.yaml")).rejects.toThrow(ConfigSourceError);
    await expect(broken.readFile(COMMIT, "x.yaml")).rejects.toThrow(/ECONNREFUSED/);
  });

  it("validates commit and path before any request", async () => {
    const { transport, calls } = fakeTransport(200);
    const source = new HttpConfigSource(template, { transport });
    await expect(source.readFile("main", "x.yaml")).rejects.toThrow(InvalidCommitError);
    await expect(source.readFile(COMMIT, "../x.yaml")).rejects.toThrow(InvalidPathError);
    expect(calls).toHaveLength(0);
  });

  it("rejects templates without placeholders or with other schemes", () => {
    expect(() => new HttpConfigSource("https://example.test/{path}")).toThrow(/\{commit\}/);
    expect(() => new HttpConfigSource("file:///repo/{commit}/{path}")).toThrow(/scheme/);
    expect(new HttpConfigSource(template).name).toBe("https://raw.example.test/Azure/ARO-HCP/{commit}/{path}");
  });

  it("refuses bodies above the size cap", async () => {
    const { transport } = fakeTransport(200, "x".repeat(100));
    const source = new HttpConfigSource(template, { transport, maxBytes: 10 });
    await expect(source.readFile(COMMIT, "x.yaml")).rejects.toThrow(/larger than 10 bytes/);
  });

  it("gives up after its timeout", async () => {
    const hanging = new Transport({ fetch: () => new Promise<Response>(() => undefined) });
    const source = new HttpConfigSource(template, { transport: hanging, timeoutMs: 50 });
    await expect(source.readFile(COMMIT, "x.yaml")).rejects.toThrow(/timed out after 50 ms/);
  });
});

describe("openConfigSource", () => {
  it("opens what the setting or --repo names", () => {
    expect(openConfigSource("https://github.com/Azure/ARO-HCP.git").name).toBe(
      "https://raw.githubusercontent.com/Azure/ARO-HCP/{commit}/{path}",
    );
    expect(openConfigSource("https://gitlab.example.com/group/sub/project/").name).toBe(
      "https://gitlab.example.com/group/sub/project/-/raw/{commit}/{path}",
    );
    expect(openConfigSource("https://files.example.test/{commit}/x/{path}")).toBeInstanceOf(HttpConfigSource);
    const dir = mkdtempSync(path.join(tmpdir(), "trace-open-"));
    try {
      expect(openConfigSource(dir)).toBeInstanceOf(DirectoryConfigSource);
      mkdirSync(path.join(dir, ".git"));
      expect(openConfigSource(dir)).toBeInstanceOf(GitConfigSource);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses anything else as bad input", () => {
    for (const spec of [
      "https://example.com/a/b",
      "https://github.com/Azure",
      "https://github.com/a/b?x=1",
      "/no/such/dir",
    ]) {
      expect(() => openConfigSource(spec), spec).toThrow(InvalidInputError);
    }
  });
});
