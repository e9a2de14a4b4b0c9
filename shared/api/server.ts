/**
 * The HTTP API on localhost, without the Functions host: the same route table and dispatch, behind node:http.
 * Used by `acr-image-sync serve` and the demo. Loopback only: there is no function key to check here.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Runtime } from "../runtime";
import { dispatch, matchRoute } from "./routes";
import type { ApiRequest } from "./http";

const MAX_BODY = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<{ body?: unknown; invalidJson?: boolean; tooLarge?: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY) return { tooLarge: true };
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

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function serveApi(
  runtime: Runtime,
  { port = 0, host = "127.0.0.1", log = () => {} }: { port?: number; host?: string; log?: (line: string) => void } = {},
): Promise<RunningServer> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const send = (status: number, body: unknown, headers: Record<string, string> = {}, html = false) => {
        res.writeHead(status, {
          "content-type": html ? "text/html; charset=utf-8" : "application/json",
          "cache-control": "no-store",
          ...headers,
        });
        res.end(html ? String(body) : JSON.stringify(body));
      };
      if (url.pathname === "/" || url.pathname === "/api") return send(302, {}, { location: "/api/" });
      if (!url.pathname.startsWith("/api/")) return send(404, { error: { code: "NotFound", message: "try /api/" } });
      const path = url.pathname.slice("/api/".length).replace(/\/$/, "") || "status";
      const match = matchRoute(path, req.method ?? "GET");
      if ("status" in match) {
        return send(match.status, {
          error: {
            code: match.status === 404 ? "NotFound" : "MethodNotAllowed",
            message: `${req.method} /api/${path}`,
          },
        });
      }
      const apiReq: ApiRequest = { method: req.method ?? "GET", params: match.params, query: url.searchParams };
      if (req.method === "POST") {
        const body = await readBody(req);
        if (body.tooLarge) return send(413, { error: { code: "BodyTooLarge", message: `at most ${MAX_BODY} bytes` } });
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
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
