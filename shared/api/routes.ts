/**
 * Every HTTP route, once: the Functions app registers each as an HTTP trigger (function-level auth) and the local
 * server matches paths against the same table. Errors are shaped here, so both answer a bad request with a 400 and
 * a JSON body, and only a real fault with a 500 that names no internals.
 */
import { StorageNotConfiguredError, type Runtime } from "../runtime";
import { SettingsError } from "../settings";
import { ConfigError } from "../sync/configError";
import { ServiceDefinitionError, TraceInputError } from "../trace/errors";
import { requireRole, type Role } from "./auth";
import { listBases } from "./bases";
import { health } from "./health";
import { getTrace, getTraceDiff, postTraceImages } from "./traces";
import { HttpError, errorBody, type ApiRequest, type ApiResponse } from "./http";
import { listImages, mirrorsCompat } from "./images";
import { getRun, listRuns } from "./runs";
import { statusPage } from "./statusPage";
import { postMirror } from "./mirror";
import { startSync } from "./sync";

export interface Route {
  /** The Functions function name. */
  name: string;
  /** Functions route syntax under `/api/`: `runs/{id}`. */
  route: string;
  methods: ReadonlyArray<"GET" | "POST">;
  /** Whether the route may send copy messages (queue mode), so the trigger binds the queue output. */
  enqueues?: boolean;
  /** The app role a caller needs: `Operator` for anything that writes, `Reader` for the rest. */
  role: Role;
  /** Served without building the Runtime, so it answers even when settings are broken (the status page). */
  static?: boolean;
  handle(runtime: Runtime, req: ApiRequest, log: (line: string) => void): Promise<ApiResponse>;
}

export const ROUTES: readonly Route[] = [
  {
    name: "listImages",
    route: "images",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req) => listImages(rt.requireStore(), req, rt.sourceCommits()),
  },
  {
    name: "mirrorsCompat",
    route: "v1/mirrors",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req) => mirrorsCompat(rt.requireStore(), req),
  },
  {
    name: "listRuns",
    route: "runs",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req) => listRuns(rt.requireStore(), req),
  },
  {
    name: "getRun",
    route: "runs/{id}",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req) => getRun(rt.requireStore(), req),
  },
  {
    name: "startSync",
    route: "sync",
    methods: ["POST"],
    role: "Operator",
    enqueues: true,
    handle: (rt, req) => startSync(rt, req),
  },
  // A write route like startSync: it copies into the environment's registry.
  {
    name: "startMirror",
    route: "mirror",
    methods: ["POST"],
    role: "Operator",
    handle: (rt, req) => postMirror(rt, req),
  },
  {
    name: "health",
    route: "health",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req, log) => health(rt, req, undefined, log),
  },
  { name: "listBases", route: "bases", methods: ["GET"], role: "Reader", handle: (rt, req) => listBases(rt, req) },
  { name: "getTrace", route: "traces", methods: ["GET"], role: "Reader", handle: (rt, req) => getTrace(rt, req) },
  {
    name: "getTraceDiff",
    route: "traces/diff",
    methods: ["GET"],
    role: "Reader",
    handle: (rt, req) => getTraceDiff(rt, req),
  },
  {
    name: "traceImages",
    route: "trace-images",
    methods: ["POST"],
    role: "Reader",
    handle: (rt, req) => postTraceImages(rt, req),
  },
  {
    name: "statusPage",
    route: "status",
    methods: ["GET"],
    role: "Reader",
    static: true,
    handle: (_rt, req) => statusPage(req),
  },
];

/** Extra routes (trace, bases) register here at startup so both hosts pick them up. */
export const routes: Route[] = [...ROUTES];

export function addRoutes(more: readonly Route[]): void {
  for (const r of more) if (!routes.some((x) => x.name === r.name)) routes.push(r);
}

/** Runs a route with every failure mapped to a status: the trigger and the local server only translate types. */
export async function dispatch(
  route: Route,
  runtime: () => Runtime,
  req: ApiRequest,
  log: (line: string) => void = () => {},
): Promise<ApiResponse> {
  if (!route.methods.includes(req.method.toUpperCase() as "GET")) {
    return {
      status: 405,
      body: errorBody(new HttpError(405, "MethodNotAllowed", `use ${route.methods.join(" or ")}`)),
      headers: { Allow: route.methods.join(", ") },
    };
  }
  try {
    requireRole(req.caller, route.role);
  } catch (err) {
    return { status: (err as HttpError).status, body: errorBody(err as HttpError) };
  }
  if (route.static) return route.handle(undefined as never, req, log);
  let rt: Runtime;
  try {
    rt = runtime();
  } catch (err) {
    if (err instanceof SettingsError) {
      // Names only: a setting's value can be an endpoint or a connection string, so not even the log repeats it.
      log(err.message.replace(/, got "[^"\n]*"/g, ""));
      const settings = [...new Set(err.problems.map((p) => /^[A-Z][A-Z0-9_]*/.exec(p)?.[0]).filter(Boolean))];
      return {
        status: 503,
        body: {
          ok: false,
          error: { code: "SettingsInvalid", message: `invalid app settings: ${settings.join(", ")}`, settings },
        },
      };
    }
    throw err;
  }
  try {
    return await route.handle(rt, req, log);
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, body: errorBody(err) };
    if (isClientError(err))
      return { status: 400, body: { error: { code: (err as Error).name, message: (err as Error).message } } };
    if (err instanceof StorageNotConfiguredError)
      return { status: 503, body: { error: { code: "StorageNotConfigured", message: err.message } } };
    if (err instanceof ConfigError) {
      log(err.message);
      return { status: 503, body: { error: { code: "SyncConfigInvalid", message: err.message } } };
    }
    if (err instanceof ServiceDefinitionError) {
      // The operator's definition, not the caller's request: a settings problem, never a 500.
      log(err.message);
      return { status: 503, body: { error: { code: "TraceDefinitionInvalid", message: err.message } } };
    }
    log(`${route.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return {
      status: 500,
      body: { error: { code: "InternalError", message: "the request failed; see the function's logs" } },
    };
  }
}

/** Domain errors that mean "your input was wrong": an unknown environment, a malformed commit, a path trick. */
function isClientError(err: unknown): boolean {
  return err instanceof TraceInputError;
}

/** `runs/{id}` → a matcher for local paths under `/api/`. */
export function matchRoute(
  path: string,
  method: string,
): { route: Route; params: Record<string, string> } | { status: 404 | 405 } {
  let methodMismatch = false;
  for (const route of routes) {
    const names: string[] = [];
    const pattern = route.route.replace(/\{(\*?)(\w+)\}/g, (_, star: string, name: string) => {
      names.push(name);
      return star ? "(.+)" : "([^/]+)";
    });
    const m = new RegExp(`^${pattern}$`).exec(path);
    if (!m) continue;
    if (!route.methods.includes(method.toUpperCase() as "GET")) {
      methodMismatch = true;
      continue;
    }
    const params: Record<string, string> = {};
    names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        params[n] = m[i + 1]!;
      }
    });
    return { route, params };
  }
  return { status: methodMismatch ? 405 : 404 };
}
