import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import type { ApiRequest } from "../shared/api/http";
import { dispatch, routes, type Route } from "../shared/api/routes";
import { copyQueueOutput, queueSink } from "./copyQueue";
import { getRuntime } from "./runtime";

/** Adapts the host's request to the API's and back; everything else lives in shared/api. */
export async function handleHttp(
  route: Route,
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const req: ApiRequest = { method: request.method, params: request.params, query: request.query };
  if (request.method === "POST") {
    const text = await request.text();
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

export function registerRoutes(): void {
  for (const route of routes) {
    app.http(route.name, {
      route: route.route,
      methods: [...route.methods],
      authLevel: "function",
      ...(route.enqueues ? { extraOutputs: [copyQueueOutput] } : {}),
      handler: (request, context) => handleHttp(route, request, context),
    });
  }
}
