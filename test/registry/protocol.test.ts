/** Protocol details at the unit level: Retry-After, Location resolution, digests, manifest paths, slot order. */
import { createServer, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient, resolveLocation, withDigest } from "../../shared/registry/client";
import { VerifyingStream, digestOf } from "../../shared/registry/digest";
import { parseManifest } from "../../shared/registry/manifest";
import { isDigest } from "../../shared/registry/reference";
import { parseRetryAfter } from "../../shared/registry/retry";
import { Transport } from "../../shared/registry/transport";
import { freePort } from "../harness/registry";

describe("Retry-After (RFC 9110 §10.2.3)", () => {
  it("takes delay-seconds and IMF-fixdate only", () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("1.5", now)).toBeUndefined();
    expect(parseRetryAfter("-1", now)).toBeUndefined();
    expect(parseRetryAfter("2015-10-21T07:28:10Z", now)).toBeUndefined();
  });
});

describe("upload Locations (RFC 3986 §5)", () => {
  const req = new URL("https://r.example/v2/a/b/blobs/uploads/");
  it("resolves absolute-path, path-relative, dot-segment and query-only references against the request URL", () => {
    expect(resolveLocation("/v2/a/b/blobs/uploads/u1?_state=s", req)).toBe(
      "https://r.example/v2/a/b/blobs/uploads/u1?_state=s",
    );
    expect(resolveLocation("u1?_state=s", req)).toBe("https://r.example/v2/a/b/blobs/uploads/u1?_state=s");
    expect(resolveLocation("../uploads/u2", new URL("https://r.example/v2/a/b/blobs/uploads/u1"))).toBe(
      "https://r.example/v2/a/b/blobs/uploads/u2",
    );
    expect(resolveLocation("?_state=t", new URL("https://r.example/v2/a/b/blobs/uploads/u1?_state=s"))).toBe(
      "https://r.example/v2/a/b/blobs/uploads/u1?_state=t",
    );
    expect(resolveLocation("https://blob.example/up/u1?sig=a%2Fb+c", req)).toBe(
      "https://blob.example/up/u1?sig=a%2Fb+c",
    );
  });

  it("adds the digest without re-encoding a presigned query", () => {
    const signed = "https://storage.example/up/u1?X-Goog-Signature=ab%2Fcd%2Bef+gh~ij&X-Goog-Expires=300";
    expect(withDigest(signed, `sha256:${"a".repeat(64)}`)).toBe(`${signed}&digest=sha256%3A${"a".repeat(64)}`);
    expect(withDigest("https://r.example/u", "sha256:0")).toBe("https://r.example/u?digest=sha256%3A0");
  });
});

describe("digests: sha256 and sha512 verified, other algorithms refused", () => {
  const bytes = Buffer.from("hello registry");
  it("accepts exactly the registered algorithms", () => {
    expect(isDigest(digestOf(bytes, "sha512"))).toBe(true);
    expect(isDigest(digestOf(bytes))).toBe(true);
    expect(isDigest(`md5:${"a".repeat(32)}`)).toBe(false);
    expect(isDigest(`sha384:${"a".repeat(96)}`)).toBe(false);
    expect(isDigest(`sha512:${"a".repeat(64)}`)).toBe(false);
  });

  it("verifies a sha512 blob, and refuses one whose bytes differ", async () => {
    const read = async (digest: string) => {
      const chunks: Buffer[] = [];
      for await (const c of Readable.from([bytes]).pipe(new VerifyingStream(digest, bytes.length, "blob")))
        chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    expect(await read(digestOf(bytes, "sha512"))).toEqual(bytes);
    await expect(read(digestOf(Buffer.from("other"), "sha512"))).rejects.toThrow(/digest mismatch/);
  });

  it("refuses a manifest naming a digest it cannot verify", () => {
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha384:${"a".repeat(96)}`, size: 2 },
      layers: [],
    };
    expect(() => parseManifest(Buffer.from(JSON.stringify(manifest)))).toThrow(/config: missing or invalid digest/);
  });

  it("reads an OCI artifact manifest's blobs and a descriptor without mediaType", () => {
    const d = digestOf(bytes);
    const parsed = parseManifest(
      Buffer.from(
        JSON.stringify({
          mediaType: "application/vnd.oci.artifact.manifest.v1+json",
          artifactType: "application/vnd.example",
          blobs: [{ digest: d, size: bytes.length }],
        }),
      ),
    );
    expect(parsed.layers).toEqual([{ mediaType: "", digest: d, size: bytes.length }]);
  });
});

describe("requests on the wire", () => {
  let port: number;
  let server: ReturnType<typeof createServer>;
  const paths: string[] = [];
  let held: ServerResponse[] = [];
  beforeAll(async () => {
    port = await freePort();
    server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      if (req.method === "PUT") {
        req.resume();
        req.on("end", () => held.push(res));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("keeps the digest's colon in a manifest path", async () => {
    const client = new RegistryClient(new Transport());
    const digest = `sha256:${"c".repeat(64)}`;
    expect(await client.manifestHead(`127.0.0.1:${port}`, "a/b", digest)).toBeNull();
    expect(paths.at(-1)).toBe(`HEAD /v2/a/b/manifests/${digest}`);
  });

  it("opens an upload's source only once a target slot is free", async () => {
    held = [];
    const transport = new Transport({ maxPerHost: 1 });
    const opened: string[] = [];
    const put = (name: string) =>
      transport.send({
        registry: `127.0.0.1:${port}`,
        method: "PUT",
        path: `/v2/a/b/blobs/uploads/${name}`,
        kind: "blob.put",
        scopes: [],
        headers: { "Content-Length": "3" },
        body: async () => {
          opened.push(name);
          return Readable.from([Buffer.from("abc")]);
        },
        retry: false,
      });
    const first = put("one");
    const second = put("two");
    while (held.length < 1) await new Promise((r) => setTimeout(r, 10));
    // The first upload holds the only slot until its answer: the second source is not open yet.
    expect(opened).toEqual(["one"]);
    held.shift()!.writeHead(201).end();
    expect((await first).status).toBe(201);
    while (held.length < 1) await new Promise((r) => setTimeout(r, 10));
    expect(opened).toEqual(["one", "two"]);
    held.shift()!.writeHead(201).end();
    expect((await second).status).toBe(201);
  });
});

describe("keep-alive", () => {
  it("reuses one connection for answers without a body: HEADs, and the empty 202 of an upload start", async () => {
    let connections = 0;
    const server = createServer((req, res) => {
      req.resume();
      if (req.method === "POST") {
        res.writeHead(202, { Location: "/v2/a/b/blobs/uploads/u1", "Content-Length": "0" }).end();
        return;
      }
      res
        .writeHead(200, {
          "Docker-Content-Digest": `sha256:${"a".repeat(64)}`,
          "Content-Type": "application/vnd.oci.image.manifest.v1+json",
          "Content-Length": "100",
        })
        .end();
    });
    server.on("connection", () => connections++);
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      const client = new RegistryClient(new Transport());
      const host = `127.0.0.1:${port}`;
      for (let i = 0; i < 5; i++) {
        expect((await client.manifestHead(host, "a/b", "v1"))?.digest).toBe(`sha256:${"a".repeat(64)}`);
        const mount = await client.blobMount(host, "a/b", `sha256:${"b".repeat(64)}`, "c/d");
        expect(mount.mounted).toBe(false);
      }
      // A caller's cancel() of an empty web body used to destroy the socket: one new connection per upload start.
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
