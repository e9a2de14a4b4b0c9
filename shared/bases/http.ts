/**
 * Plain HTTP calls (rebuild triggers, Dockerfiles by URL) through the project's one HTTP layer, so they share its
 * per-host cap, request counter and redirect rules instead of opening a second path beside it.
 */
import { readBodyCapped } from "../registry/client";
import type { RequestKind, Transport } from "../registry/transport";

const KIND: Record<HttpRequest["method"], RequestKind> = { GET: "file.get", POST: "webhook" };

export interface HttpRequest {
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Retry on 5xx, 429 and network errors. Off for anything that starts work: a retried trigger is a second build. */
  retry: boolean;
  /** Bytes of the answer kept; the rest is dropped. */
  maxBytes?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export class HttpBodyTooLargeError extends Error {
  constructor(max: number) {
    super(`answer is larger than ${max} bytes`);
    this.name = "HttpBodyTooLargeError";
  }
}

/**
 * Sends one request, following no redirect (a request that carries a token must not take it to another host). A 401
 * comes back as a status, like any other: these endpoints are not registries, so the transport does not answer it.
 */
export async function sendHttp(transport: Transport, request: HttpRequest): Promise<HttpAnswer> {
  const url = new URL(request.url);
  const res = await transport.send({
    registry: url.host,
    method: request.method,
    path: url.toString(),
    kind: KIND[request.method],
    scopes: [],
    headers: request.headers ?? {},
    ...(request.body !== undefined ? { body: () => request.body! } : {}),
    retry: request.retry,
  });
  return {
    status: res.status,
    headers: res.headers,
    text: await readText(res, request.maxBytes ?? 1024 * 1024, safeUrl(request.url)),
  };
}

async function readText(res: Response, max: number, what: string): Promise<string> {
  return (await readBodyCapped(res, max, what, () => new HttpBodyTooLargeError(max))).toString("utf8");
}

/** A URL as it may appear in a message: no query (it may carry a token) and no user info. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
