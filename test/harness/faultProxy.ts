/**
 * A fault-injecting loopback proxy in front of a real registry. Faults follow a seeded schedule: whether a request
 * is hit, and how, is a pure function of (seed, request key, how many times that key was seen), where the key is
 * the method and the path with upload session ids and unrelated query parameters stripped. So a seed gives the
 * same faults whatever order concurrent requests arrive in, except among requests that share a key (two upload
 * starts in one repository), which may swap their decisions.
 *
 * Faults: 500, 502, 503, 429 with Retry-After, a connection reset (mid-body for blob GETs and large uploads; after
 * the registry answered for other requests, so the client cannot tell whether the write happened), a truncated body
 * (a clean end after half the bytes, no length header left to notice it by), a delay, and one corrupted byte.
 * `force` rules apply a fault to every matching request regardless of the schedule (for images meant to fail).
 * Every exchange is recorded with the registry's real status, so tests can count completed writes.
 */
import { createHash } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import type { SeenRequest } from "./proxy";
import { freePort } from "./registry";

export const FAULT_KINDS = ["500", "502", "503", "429", "reset", "truncate", "delay", "corrupt"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that change a response body: only meaningful on a GET that has one. */
const BODY_FAULTS: ReadonlySet<FaultKind> = new Set(["truncate", "corrupt"]);

export interface FaultSchedule {
  seed: number | string;
  /** Chance (0..1) that one request is hit. */
  rate: number;
  /** Relative weights; kinds left out are never chosen. Default: all equal. */
  weights?: Partial<Record<FaultKind, number>>;
  /** Scheduled faults per request key at most, so that a client's retries can get through. Default 2. */
  maxPerKey?: number;
  /** Retry-After on 429. Default 1 (second). */
  retryAfterSeconds?: number;
  /** Added latency for `delay`. Default 250 ms. */
  delayMs?: number;
  /** Which requests the schedule may hit. Default: all. */
  applies?: (req: SeenRequest) => boolean;
}

export interface FaultRecord {
  kind: FaultKind;
  method: string;
  path: string;
  key: string;
  occurrence: number;
  forced: boolean;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface Exchange {
  method: string;
  path: string;
  key: string;
  /** The registry's status; 0 when the request never reached it (answered or dropped by the proxy). */
  upstreamStatus: number;
  /** What the client was given: the registry's status, an injected one, or 0 for a reset. */
  clientStatus: number;
  fault?: FaultKind;
  /** Date.now() when the request arrived. */
  at: number;
}

export type ForceRule = (req: SeenRequest) => FaultKind | undefined;

export interface RunningFaultProxy {
  host: string;
  port: number;
  /** The schedule in force; set to undefined to pass everything through. */
  schedule: FaultSchedule | undefined;
  force: ForceRule[];
  faults: FaultRecord[];
  exchanges: Exchange[];
  /**
   * Called as each request arrives, before any fault (the crash test kills its child from here). Returning "drop"
   * closes the connection without passing the request on, as if the client had died before sending it.
   */
  onRequest?: (req: SeenRequest, index: number) => void | "drop";
  /** Faults applied so far, by kind. */
  counts(): Record<FaultKind, number>;
  /** Forgets faults, exchanges and per-key counters (the schedule restarts from occurrence 0). */
  reset(): void;
  stop(): Promise<void>;
}

/** A uniform number in [0, 1) from the seed and any parts: the schedule's only source of chance. */
export function seededUniform(seed: number | string, ...parts: Array<string | number>): number {
  const hash = createHash("sha256")
    .update([String(seed), ...parts.map(String)].join("\u0000"))
    .digest();
  return hash.readUInt32BE(0) / 0x1_0000_0000;
}

/** The request key: method and path, upload session ids dropped, only the query parameters that name content kept. */
export function requestKey(method: string, url: string): string {
  const parsed = new URL(url, "http://proxy.invalid");
  const path = parsed.pathname.replace(/\/blobs\/uploads\/[^/]+$/, "/blobs/uploads/*");
  const named = ["digest", "mount", "from", "n", "last"]
    .map((p) => [p, parsed.searchParams.get(p)] as const)
    .filter(([, v]) => v !== null)
    .map(([p, v]) => `${p}=${v}`);
  return `${method} ${path}${named.length ? `?${named.join("&")}` : ""}`;
}

/**
 * The scheduled fault for the `occurrence`-th request with `key`, or undefined. `applicable` lists what this request
 * can take (body faults only for GETs); `alreadyHit` is how many scheduled faults this key has had.
 */
export function scheduledFault(
  schedule: FaultSchedule,
  key: string,
  occurrence: number,
  applicable: readonly FaultKind[],
  alreadyHit: number,
): FaultKind | undefined {
  if (alreadyHit >= (schedule.maxPerKey ?? 2)) return undefined;
  if (seededUniform(schedule.seed, "hit", key, occurrence) >= schedule.rate) return undefined;
  const weighted = applicable
    .map((kind) => [kind, schedule.weights ? (schedule.weights[kind] ?? 0) : 1] as const)
    .filter(([, w]) => w > 0);
  const total = weighted.reduce((n, [, w]) => n + w, 0);
  if (total === 0) return undefined;
  let pick = seededUniform(schedule.seed, "kind", key, occurrence) * total;
  for (const [kind, w] of weighted) {
    if (pick < w) return kind;
    pick -= w;
  }
  return weighted.at(-1)![0];
}

const ERROR_BODY = (code: string) =>
  JSON.stringify({ errors: [{ code, message: "injected by the fault proxy", detail: null }] });

export async function startFaultProxy(
  targetHost: string,
  options: { schedule?: FaultSchedule; force?: ForceRule[] } = {},
): Promise<RunningFaultProxy> {
  const port = await freePort();
  const [targetName, targetPort] = targetHost.split(":");
  let seenByKey = new Map<string, number>();
  let hitByKey = new Map<string, number>();
  let arrivals = 0;
  const sockets = new Set<Socket>();

  const decide = (entry: SeenRequest, key: string): { kind: FaultKind; forced: boolean } | undefined => {
    for (const rule of proxy.force) {
      const kind = rule(entry);
      if (kind) return { kind, forced: true };
    }
    const schedule = proxy.schedule;
    if (!schedule || (schedule.applies && !schedule.applies(entry))) return undefined;
    const occurrence = seenByKey.get(key) ?? 0;
    seenByKey.set(key, occurrence + 1);
    const applicable = FAULT_KINDS.filter((k) => !BODY_FAULTS.has(k) || entry.method === "GET");
    const kind = scheduledFault(schedule, key, occurrence, applicable, hitByKey.get(key) ?? 0);
    if (!kind) return undefined;
    hitByKey.set(key, (hitByKey.get(key) ?? 0) + 1);
    return { kind, forced: false };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const entry: SeenRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers };
    const key = requestKey(entry.method, entry.path);
    const verdict = proxy.onRequest?.(entry, arrivals++);
    const at = Date.now();
    const exchange: Exchange = { method: entry.method, path: entry.path, key, upstreamStatus: 0, clientStatus: 0, at };
    proxy.exchanges.push(exchange);
    if (verdict === "drop") {
      req.socket.destroy();
      return;
    }
    const decision = decide(entry, key);
    const record = (kind: FaultKind) => {
      exchange.fault = kind;
      proxy.faults.push({
        kind,
        method: entry.method,
        path: entry.path,
        key,
        occurrence: (seenByKey.get(key) ?? 1) - 1,
        forced: decision?.forced ?? false,
        at,
      });
    };
    const kind = decision?.kind;

    if (kind === "500" || kind === "502" || kind === "503" || kind === "429") {
      record(kind);
      req.resume();
      const headers: OutgoingHttpHeaders = { "Content-Type": "application/json" };
      if (kind === "429") headers["Retry-After"] = String(proxy.schedule?.retryAfterSeconds ?? 1);
      exchange.clientStatus = Number(kind);
      res.writeHead(Number(kind), headers);
      res.end(ERROR_BODY(kind === "429" ? "TOOMANYREQUESTS" : "UNAVAILABLE"));
      return;
    }
    if (kind === "delay") {
      record(kind);
      await new Promise((r) => setTimeout(r, proxy.schedule?.delayMs ?? 250));
    }

    const declared = Number(req.headers["content-length"] ?? NaN);
    const hasBody = Number.isFinite(declared) ? declared > 0 : req.headers["transfer-encoding"] !== undefined;
    // A reset during a large upload cuts the body off; elsewhere it drops the answer after the registry acted.
    const resetUpload = kind === "reset" && hasBody && (!Number.isFinite(declared) || declared > 64 * 1024);

    const upstream = httpRequest(
      {
        host: targetName,
        port: Number(targetPort),
        method: entry.method,
        path: entry.path,
        headers: { ...req.headers, host: targetHost },
      },
      (up) => respond(up),
    );
    let finished = false;
    upstream.on("error", () => {
      if (finished) return;
      finished = true;
      if (!res.headersSent && !res.destroyed) {
        exchange.clientStatus = 502;
        res.writeHead(502);
      }
      res.end();
    });
    // A client that goes away (killed, or its source stream failed) takes its upload with it.
    res.on("close", () => {
      if (!finished) upstream.destroy();
    });

    if (resetUpload) {
      record("reset");
      const cut = Number.isFinite(declared) ? Math.floor(declared / 2) : 32 * 1024;
      let sent = 0;
      req.on("data", (chunk: Buffer) => {
        if (sent >= cut) return;
        const part = chunk.subarray(0, Math.max(0, cut - sent));
        sent += part.length;
        upstream.write(part);
        if (sent >= cut) {
          finished = true;
          upstream.destroy();
          req.socket.destroy();
        }
      });
      return;
    }
    req.pipe(upstream);

    function respond(up: IncomingMessage): void {
      exchange.upstreamStatus = up.statusCode ?? 0;
      const headers: IncomingHttpHeaders = { ...up.headers };
      if (typeof headers.location === "string")
        headers.location = headers.location.replace(`//${targetHost}`, `//127.0.0.1:${port}`);
      const length = Number(up.headers["content-length"] ?? NaN);
      const bodyFault =
        (kind === "truncate" || kind === "corrupt" || kind === "reset") &&
        entry.method === "GET" &&
        up.statusCode === 200 &&
        length > 1;
      if (kind === "reset" && !bodyFault) {
        // The registry did what was asked; the client never hears about it.
        record("reset");
        up.resume();
        up.on("end", () => {
          finished = true;
          res.socket?.destroy();
        });
        return;
      }
      if (!bodyFault) {
        exchange.clientStatus = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
        up.on("end", () => (finished = true));
        return;
      }
      record(kind!);
      exchange.clientStatus = kind === "reset" ? 0 : 200;
      const cut = Math.floor(length / 2);
      const corruptAt = Math.floor(seededUniform(proxy.schedule?.seed ?? 0, "byte", key) * length);
      if (kind === "truncate") delete headers["content-length"];
      res.writeHead(200, headers);
      let offset = 0;
      up.on("data", (chunk: Buffer) => {
        if (res.destroyed) return;
        let out = chunk;
        if (kind === "corrupt" && corruptAt >= offset && corruptAt < offset + chunk.length) {
          out = Buffer.from(chunk);
          out[corruptAt - offset] = out[corruptAt - offset]! ^ 0xff;
        }
        if (kind !== "corrupt" && offset + out.length >= cut) {
          res.write(out.subarray(0, cut - offset));
          offset = cut;
          finished = true;
          up.destroy();
          if (kind === "reset") res.socket?.destroy();
          else res.end();
          return;
        }
        offset += out.length;
        res.write(out);
      });
      up.on("end", () => {
        finished = true;
        if (!res.destroyed) res.end();
      });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  const proxy: RunningFaultProxy = {
    host: `127.0.0.1:${port}`,
    port,
    schedule: options.schedule,
    force: options.force ?? [],
    faults: [],
    exchanges: [],
    counts() {
      const out = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
      for (const f of proxy.faults) out[f.kind]++;
      return out;
    },
    reset() {
      proxy.faults.length = 0;
      proxy.exchanges.length = 0;
      seenByKey = new Map();
      hitByKey = new Map();
      arrivals = 0;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return proxy;
}
