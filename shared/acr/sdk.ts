/**
 * What every Azure SDK client in shared/acr/ shares with the registry Transport: the same retry numbers, and every
 * request counted into the same tally (the caller's `RequestTally`, through the Transport's AsyncLocalStorage) and
 * reported to an optional hook. The SDKs keep their own HTTP pipelines; this is what keeps them from being a second,
 * uncounted HTTP path. A test stand-in's self-signed CA is trusted per client, never through a global variable.
 */
import type { ContainerRegistryClientOptions } from "@azure/container-registry";
import { DEFAULT_RETRY, type RetryPolicy } from "../registry/retry";
import { newTally, type RequestEvent, type RequestKind } from "../registry/transport";

type AdditionalPolicy = NonNullable<ContainerRegistryClientOptions["additionalPolicies"]>[number];

/**
 * Request kinds of the ACR and ARM APIs: `tag.list` and `token` are the Transport's own (a bulk listing is a tag
 * listing; `/oauth2/*` is a token request); `acr.metadata`, `acr.delete`, `arm.import` and `arm.poll` are named by the
 * Transport's `RequestKind` too, so both HTTP paths count into one tally under one vocabulary.
 */
export type AcrRequestKind = RequestKind;

export type AcrRequestEvent = RequestEvent;

export interface SdkPipelineOptions {
  /** Seen for every request on the wire (each retry and each auth round), after the tally. */
  onRequest?: (event: AcrRequestEvent) => void;
  /** Extra CA certificates (PEM) to trust: a test stand-in's self-signed certificate. */
  tlsCa?: string | Buffer;
  /** Defaults to the Transport's policy, so both HTTP paths back off alike. */
  retry?: Partial<RetryPolicy>;
}

/** ACR data-plane kinds by route: `/oauth2/*`, the `/acr/v1` listings, metadata reads and writes, deletions. */
export function acrRequestKind(method: string, path: string): AcrRequestKind {
  const m = method.toUpperCase();
  if (path.startsWith("/oauth2/")) return "token";
  if (m === "DELETE") return "acr.delete";
  if (m === "GET" && /^\/acr\/v1\/.+\/_(?:manifests|tags)$/.test(path)) return "tag.list";
  if (m === "GET" && path === "/acr/v1/_catalog") return "tag.list";
  return "acr.metadata";
}

/** ARM kinds: the import POST, and the GETs that poll its long-running operation. */
export function armRequestKind(method: string, path: string): AcrRequestKind {
  return method.toUpperCase() === "POST" && path.endsWith("/importImage") ? "arm.import" : "arm.poll";
}

function record(event: AcrRequestEvent, hook: SdkPipelineOptions["onRequest"]): void {
  newTally().record(event);
  hook?.(event);
}

/** Pipeline policies: one that counts every request on the wire, and (for tests) one that trusts an extra CA. */
export function sdkPolicies(
  options: SdkPipelineOptions,
  kindOf: (method: string, path: string) => AcrRequestKind,
): AdditionalPolicy[] {
  const policies: AdditionalPolicy[] = [];
  if (options.tlsCa !== undefined) {
    const ca = options.tlsCa;
    policies.push({
      position: "perCall",
      policy: {
        name: "acrImageSyncTestTls",
        sendRequest: (request, next) => {
          request.tlsSettings = { ...request.tlsSettings, ca };
          return next(request);
        },
      },
    });
  }
  // perRetry sits after the retry and auth policies: it sees each attempt and each request of a challenge round.
  // A request object sent again (a retry, or the same request after a 401 challenge) counts as a retry.
  const sent = new WeakSet<object>();
  policies.push({
    position: "perRetry",
    policy: {
      name: "acrImageSyncRequestCounter",
      sendRequest: async (request, next) => {
        const url = new URL(request.url);
        const base = { host: url.host, method: request.method, kind: kindOf(request.method, url.pathname) };
        const retry = sent.has(request);
        sent.add(request);
        try {
          const response = await next(request);
          record({ ...base, status: response.status, retry }, options.onRequest);
          return response;
        } catch (err) {
          record({ ...base, status: 0, retry }, options.onRequest);
          throw err;
        }
      },
    },
  });
  return policies;
}

/** The SDK's retry options from the Transport's policy: same attempts, same base and ceiling. */
export function sdkRetryOptions(retry: Partial<RetryPolicy> | undefined): {
  maxRetries: number;
  retryDelayInMs: number;
  maxRetryDelayInMs: number;
} {
  const policy = { ...DEFAULT_RETRY, ...retry };
  return {
    maxRetries: Math.max(0, policy.maxAttempts - 1),
    retryDelayInMs: policy.baseDelayMs,
    maxRetryDelayInMs: policy.maxDelayMs,
  };
}

/** An SDK error's HTTP status and service code, whatever shape it came in (RestError, or a plain Error). */
export function sdkErrorInfo(err: unknown): { status?: number; code?: string; message: string } {
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown; details?: unknown };
  const out: { status?: number; code?: string; message: string } = {
    message: typeof e?.message === "string" ? e.message : String(err),
  };
  if (typeof e?.statusCode === "number") out.status = e.statusCode;
  if (typeof e?.code === "string") out.code = e.code;
  return out;
}
