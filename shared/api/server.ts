/**
 * The HTTP API on localhost, without the Functions host: the same route table and dispatch, behind node:http.
 * Used by `acr-image-sync serve` and the demo.
 *
 * A page on any site the developer visits can send requests to 127.0.0.1, and DNS rebinding can make them look
 * same-origin, so loopback alone proves nothing. Hence: bound to 127.0.0.1 only; `Host` must be 127.0.0.1 or
 * localhost with this server's port (a rebound name is refused); bodies must be JSON (`text/plain` is the
 * content type a cross-site form or simple fetch can send without a preflight); a write with a foreign `Origin` or
 * `Sec-Fetch-Site: cross-site` is refused; and write routes need the token printed at start
 * (`Authorization: Bearer <token>`), which no other site can know.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Runtime } from "../runtime";
import type { Caller } from "./auth";
import { dispatch, matchRoute } from "./routes";
import { MAX_BODY_BYTES, type ApiRequest } from "./http";

const LOOPBACK = "127.0.0.1";
const READER: Caller = { roles: new Set(["Reader"]) };
const OPERATOR: Caller = { roles: new Set(["Reader", "Operator"]) };

async function readBody(req: IncomingMessage): Promise<{ body?: unknown; invalidJson?: boolean; tooLarge?: boolean }> {
  if (Number(req.headers["content-length"] ?? "0") > MAX_BODY_BYTES) return { tooLarge: true };
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) return { tooLarge: true };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    return { body: JSON.parse(text) };
  } catch {
    return { invalidJson: true };
  }
}

/** `application/json` or any `+json` type, with parameters; nothing a cross-site form can send. */
export function isJsonContentType(value: string | undefined): boolean {
  const type = (value ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function sameToken(given: string | undefined, token: string): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(given ?? "");
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface RunningServer {
  url: string;
  /** The write token: `Authorization: Bearer <token>` on POST routes. */
  token: string;
  server: Server;
  close(): Promise<void>;
}

export async function serveApi(
  runtime: Runtime,
  {
    port = 0,
    token = randomBytes(24).toString("base64url"),
    log = () => {},
  }: { port?: number; token?: string; log?: (line: string) => void } = {},
): Promise<RunningServer> {
  if (!/^[A-Za-z0-9_-]{16,200}$/.test(token)) throw new Error("the write token must be 16 to 200 URL-safe characters");
  let ownPort = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}, html = false) => {
        res.writeHead(status, {
          "content-type": html ? "text/html; charset=utf-8" : "application/json",
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
          ...headers,
        });
        res.end(html ? String(body) : JSON.stringify(body));
      };
      const refuse = (status: number, code: string, message: string) => send(status, { error: { code, message } });
      const host = (req.headers.host ?? "").toLowerCase();
      if (host !== `${LOOPBACK}:${ownPort}` && host !== `localhost:${ownPort}`)
        return refuse(421, "HostNotAllowed", `use http://${LOOPBACK}:${ownPort}/ or http://localhost:${ownPort}/`);
      const method = (req.method ?? "GET").toUpperCase();
      const url = new URL(req.url ?? "/", `http://${host}`);
      if (url.pathname === "/" || url.pathname === "/api") return send(302, {}, { location: "/api/" });
      if (!url.pathname.startsWith("/api/")) return refuse(404, "NotFound", "try /api/");
      const path = url.pathname.slice("/api/".length).replace(/\/$/, "") || "status";
      const match = matchRoute(path, method);
      if ("status" in match) {
        return refuse(
          match.status,
          match.status === 404 ? "NotFound" : "MethodNotAllowed",
          `${method} /api/${path.slice(0, 100)}`,
        );
      }
      const writes = method !== "GET" && method !== "HEAD";
      if (writes) {
        const origin = req.headers.origin;
        if (
          (origin !== undefined &&
            origin !== `http://${LOOPBACK}:${ownPort}` &&
            origin !== `http://localhost:${ownPort}`) ||
          req.headers["sec-fetch-site"] === "cross-site"
        )
          return refuse(403, "CrossOriginRefused", "writes are accepted from this server's own origin only");
        if (!isJsonContentType(req.headers["content-type"]))
          return refuse(415, "UnsupportedMediaType", "send the body as application/json");
      }
      const caller = sameToken(req.headers.authorization, token) ? OPERATOR : READER;
      if (match.route.role === "Operator" && caller !== OPERATOR)
        return refuse(401, "TokenRequired", "send Authorization: Bearer <the token printed when the server started>");
      const apiReq: ApiRequest = { method, params: match.params, query: url.searchParams, caller };
      if (method === "POST") {
        const body = await readBody(req);
        if (body.tooLarge) return refuse(413, "BodyTooLarge", `at most ${MAX_BODY_BYTES} bytes`);
        Object.assign(apiReq, body);
      }
      const out = await dispatch(match.route, () => runtime, apiReq, log);
      send(out.status, out.body, out.headers, out.html);
    })().catch((err: unknown) => {
      log(`serve: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "InternalError", message: "see the server log" } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
  ownPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${LOOPBACK}:${ownPort}`,
    token,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
