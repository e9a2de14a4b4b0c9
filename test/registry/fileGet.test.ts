/** fileGet: a plain file through the one Transport — size cap, 404 as null, and no caller token across a redirect. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileGet } from "../../shared/registry/fileGet";
import { Transport } from "../../shared/registry/transport";
import { freePort } from "../harness/registry";

let origin: Server;
let other: Server;
let originPort: number;
let otherPort: number;
const seen: Array<{ server: string; path: string; headers: IncomingHttpHeaders }> = [];

beforeAll(async () => {
  [originPort, otherPort] = await Promise.all([freePort(), freePort()]);
  other = createServer((req, res) => {
    seen.push({ server: "other", path: req.url ?? "", headers: req.headers });
    res.end("from the other host");
  });
  origin = createServer((req, res) => {
    seen.push({ server: "origin", path: req.url ?? "", headers: req.headers });
    if (req.url === "/moved") {
      res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/file.yaml` });
      return res.end();
    }
    if (req.url === "/big") return res.end("x".repeat(2048));
    if (req.url === "/here") return res.end("hello");
    res.writeHead(404);
    res.end();
  });
  await Promise.all([
    new Promise<void>((r) => origin.listen(originPort, "127.0.0.1", r)),
    new Promise<void>((r) => other.listen(otherPort, "127.0.0.1", r)),
  ]);
});
afterAll(async () => {
  await Promise.all([new Promise((r) => origin.close(r)), new Promise((r) => other.close(r))]);
});

describe("fileGet", () => {
  const transport = new Transport({ retry: { maxAttempts: 1 } });
  const url = (path: string) => new URL(`http://127.0.0.1:${originPort}${path}`);

  it("reads a file, answers null for a 404, and refuses a body over the cap", async () => {
    expect(await fileGet(transport, url("/here"))).toBe("hello");
    expect(await fileGet(transport, url("/absent"))).toBeNull();
    await expect(fileGet(transport, url("/big"), { maxBytes: 1024 })).rejects.toThrow(/larger than 1024 bytes/);
  });

  it("follows a redirect to another host without the caller's token", async () => {
    const text = await fileGet(transport, url("/moved"), {
      headers: { Authorization: "token SECRET-123", Accept: "text/plain" },
    });
    expect(text).toBe("from the other host");
    const first = seen.find((s) => s.server === "origin" && s.path === "/moved")!;
    const hop = seen.find((s) => s.server === "other")!;
    expect(first.headers.authorization).toBe("token SECRET-123");
    expect(hop.headers.authorization).toBeUndefined();
    expect(hop.headers.accept).toBe("text/plain");
  });
});
