/**
 * A loopback HTTP proxy in front of a real registry, for faults and redirects: a rule may answer a request itself
 * (a 500, a 429, a redirect to a "CDN") instead of passing it on. Every request is recorded with its headers.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { freePort } from "./registry";

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export type Rule = (
  req: SeenRequest,
) => { status: number; headers?: Record<string, string>; body?: string } | undefined;

export interface RunningProxy {
  host: string;
  port: number;
  seen: SeenRequest[];
  rules: Rule[];
  /** Changes the registry's response headers on the way back (quota headers, say). */
  rewriteHeaders?: (req: SeenRequest, headers: IncomingHttpHeaders) => IncomingHttpHeaders;
  /** Changes the request headers on the way to the registry (a backend credential the client never sees). */
  rewriteRequestHeaders?: (req: SeenRequest, headers: IncomingHttpHeaders) => IncomingHttpHeaders;
  stop(): Promise<void>;
}

export async function startProxy(
  targetHost: string,
  rules: Rule[] = [],
  /** Terminate TLS with this certificate, and speak plain http to the registry behind. */
  options: { tls?: { key: string; cert: string } } = {},
): Promise<RunningProxy> {
  const port = await freePort();
  const seen: SeenRequest[] = [];
  const [targetName, targetPort] = targetHost.split(":");
  const handler: RequestListener = (req, res) => {
    const entry: SeenRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers };
    seen.push(entry);
    for (const rule of proxy.rules) {
      const answer = rule(entry);
      if (answer) {
        req.resume();
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? "");
        return;
      }
    }
    const forwarded = { ...req.headers, host: targetHost };
    const headers = proxy.rewriteRequestHeaders ? proxy.rewriteRequestHeaders(entry, forwarded) : forwarded;
    const upstream = httpRequest(
      { host: targetName, port: Number(targetPort), method: req.method, path: req.url, headers },
      (up) => {
        // Locations the registry makes relative stay relative; absolute ones are rewritten to come back through us,
        // with the registry's own scheme: behind TLS that is the `http:` a terminating proxy is known to leak.
        const out = proxy.rewriteHeaders ? proxy.rewriteHeaders(entry, { ...up.headers }) : { ...up.headers };
        if (typeof out.location === "string")
          out.location = out.location.replace(`//${targetHost}`, `//127.0.0.1:${port}`);
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const proxy: RunningProxy = {
    host: `127.0.0.1:${port}`,
    port,
    seen,
    rules,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return proxy;
}
