/**
 * The HTTP API without a web framework or a host: a request is a method, route parameters, a query and a parsed
 * body; a response is a status and a JSON (or HTML) body. The Functions triggers and the local server adapt their
 * own request types to this, so every route behaves the same in Azure and on a laptop.
 */
import type { PlanItem } from "../sync/model";
import type { Caller } from "./auth";

export interface ApiRequest {
  method: string;
  params: Readonly<Record<string, string | undefined>>;
  query: URLSearchParams;
  /** Parsed JSON body; undefined when there was none. Invalid JSON arrives as `invalidJson`. */
  body?: unknown;
  invalidJson?: boolean;
  /** Who is calling, as the host established it (App Service authentication, or the local server's token). */
  caller?: Caller | undefined;
  /** Set by the host in queue mode: where a run started by this request sends its copies. */
  enqueue?: (items: readonly PlanItem[], runId: string) => Promise<void>;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  /** `html` sends `body` (a string) as text/html. */
  html?: boolean;
  headers?: Record<string, string>;
}

/** A client mistake: 400 (or 404/409) with a JSON body naming the parameter. Never a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The largest request body any transport reads (local server, Functions adapter); past it: 413, unread. */
export const MAX_BODY_BYTES = 64 * 1024;

export const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });

export function errorBody(err: HttpError): { error: { code: string; message: string; parameter?: string } } {
  return { error: { code: err.code, message: err.message, ...(err.parameter ? { parameter: err.parameter } : {}) } };
}

/** Query parameters this route does not know are a mistake worth reporting, not something to ignore. */
export function onlyParams(req: ApiRequest, allowed: readonly string[]): void {
  for (const key of req.query.keys()) {
    // `code` is the Functions key when passed in the query string.
    if (key !== "code" && !allowed.includes(key)) {
      throw new HttpError(
        400,
        "UnknownParameter",
        `unknown query parameter "${key.slice(0, 40)}"; expected ${allowed.join(", ") || "none"}`,
        key.slice(0, 40),
      );
    }
  }
}

export function intParam(
  req: ApiRequest,
  name: string,
  { min, max, fallback }: { min: number; max: number; fallback: number },
): number {
  const raw = req.query.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new HttpError(400, "InvalidParameter", `${name} must be a whole number from ${min} to ${max}`, name);
  }
  return Number(raw);
}

export function enumParam<T extends string>(
  req: ApiRequest,
  name: string,
  values: readonly T[],
  fallback?: T,
): T | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === "") return fallback;
  if (!values.includes(raw as T)) {
    throw new HttpError(400, "InvalidParameter", `${name} must be one of ${values.join(", ")}`, name);
  }
  return raw as T;
}
