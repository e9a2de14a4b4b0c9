import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { callerFromClientPrincipal } from "../shared/api/auth";
import { MAX_BODY_BYTES, type ApiRequest } from "../shared/api/http";
import { dispatch, routes, type Route } from "../shared/api/routes";
import { copyQueueOutput, queueSink } from "./copyQueue";
import { getRuntime } from "./runtime";

/**
 * The platform sets WEBSITE_AUTH_ENABLED=True when App Service authentication is on (the variable
 * Microsoft.Identity.Web reads for the same purpose); only then is `X-MS-CLIENT-PRINCIPAL` the platform's and not
 * the caller's, so without it every route answers 401.
 */
function platformAuthEnabled(): boolean {
  return /^true$/i.test(process.env.WEBSITE_AUTH_ENABLED ?? "");
}

/** The body, at most MAX_BODY_BYTES of it; `undefined` when it is larger (the rest is not read). */
async function cappedText(request: HttpRequest): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return undefined;
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Adapts the host's request to the API's and back; everything else lives in shared/api. */
export async function handleHttp(
  route: Route,
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const caller = platformAuthEnabled()
    ? callerFromClientPrincipal(request.headers.get("x-ms-client-principal"))
    : undefined;
  const req: ApiRequest = { method: request.method, params: request.params, query: request.query, caller };
  if (request.method === "POST" && caller) {
    const text = await cappedText(request);
    if (text === undefined)
      return {
        status: 413,
        jsonBody: { error: { code: "BodyTooLarge", message: `at most ${MAX_BODY_BYTES} bytes` } },
      };
    if (text.trim()) {
      try {
        req.body = JSON.parse(text);
      } catch {
        req.invalidJson = true;
      }
    }
  }
  const runtime = () => {
    const rt = getRuntime();
    // Queue mode reaches HTTP-started runs too: their copies go out through this invocation's queue output.
    const enqueue = route.enqueues ? queueSink(rt, context) : undefined;
    if (enqueue) req.enqueue = enqueue;
    return rt;
  };
  const res = await dispatch(route, runtime, req, (line) => context.error(line));
  if (res.html)
    return {
      status: res.status,
      body: String(res.body),
      headers: { "content-type": "text/html; charset=utf-8", ...res.headers },
    };
  return { status: res.status, jsonBody: res.body, ...(res.headers ? { headers: res.headers } : {}) };
}

/**
 * Anonymous at the Functions level: App Service authentication (Entra ID) signs callers in before the request gets
 * here, and dispatch checks the app role per route. No function key, so none ever sits in a page URL.
 */
export function registerRoutes(): void {
  for (const route of routes) {
    app.http(route.name, {
      route: route.route,
      methods: [...route.methods],
      authLevel: "anonymous",
      ...(route.enqueues ? { extraOutputs: [copyQueueOutput] } : {}),
      handler: (request, context) => handleHttp(route, request, context),
    });
  }
}
