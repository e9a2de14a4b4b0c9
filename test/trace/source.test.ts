import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSourceError, InvalidCommitError, InvalidPathError } from "../../shared/trace/errors";
import { DirectoryConfigSource, type FetchFunction, HttpConfigSource } from "../../shared/trace/source";

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

function fakeFetch(status: number, body = ""): { fetch: FetchFunction; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: (url, init) => {
      calls.push({ url, init });
      return Promise.resolve(new Response(status === 204 ? null : body, { status }));
    },
  };
}

describe("HttpConfigSource", () => {
  const template = "https://raw.example.test/Azure/ARO-HCP/{commit}/{path}?token=secret";

  it("fills the URL template, encoding each path segment, and sends configured headers", async () => {
    const { fetch, calls } = fakeFetch(200, "a: 1\n");
    const source = new HttpConfigSource(template, { fetch, headers: { authorization: "Bearer t" } });
    expect(await source.readFile(COMMIT.toUpperCase(), "config/my file#1.yaml")).toBe("a: 1\n");
    expect(calls[0]?.url).toBe(
      `https://raw.example.test/Azure/ARO-HCP/${COMMIT}/config/my%20file%231.yaml?token=secret`,
    );
    expect(calls[0]?.init?.headers).toEqual({ authorization: "Bearer t" });
  });

  it("treats 404 as a missing file and other failures as errors that do not leak the query", async () => {
    expect(await new HttpConfigSource(template, { fetch: fakeFetch(404).fetch }).readFile(COMMIT, "x.yaml")).toBeNull();
    const failing = new HttpConfigSource(template, { fetch: fakeFetch(500).fetch });
    await expect(failing.readFile(COMMIT, "x.yaml")).rejects.toThrow(/HTTP 500 fetching x\.yaml/);
    await expect(failing.readFile(COMMIT, "x.yaml")).rejects.not.toThrow(/secret/);
    const broken = new HttpConfigSource(template, {
      fetch: () => Promise.reject(new TypeError("fetch failed")),
    });
    await expect(broken.readFile(COMMIT, "x.yaml")).rejects.toThrow(ConfigSourceError);
  });

  it("validates commit and path before any request", async () => {
    const { fetch, calls } = fakeFetch(200);
    const source = new HttpConfigSource(template, { fetch });
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
    const source = new HttpConfigSource(template, { fetch: fakeFetch(200, "x".repeat(100)).fetch, maxBytes: 10 });
    await expect(source.readFile(COMMIT, "x.yaml")).rejects.toThrow(/larger than 10 bytes/);
  });
});
