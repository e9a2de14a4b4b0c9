/**
 * A registry with the OCI 1.1 Referrers API, as a stand-in in front of a real `docker-registry` (2.8 has no such
 * API). It behaves as the distribution spec 1.1 says and as ACR and distribution 3 answer:
 * - a manifest PUT with a `subject` is indexed and answered with `OCI-Subject: <subject digest>`;
 * - `GET /v2/<name>/referrers/<digest>` is a 200 OCI index (empty when nothing refers to the digest, never a 404),
 *   each descriptor carrying the manifest's `artifactType` (else its config's media type) and annotations;
 * - `?artifactType=` filters, and the answer says so with `OCI-Filters-Applied: artifactType`.
 * Everything else passes through to the real registry. Referrers are indexed only when pushed through this origin.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import { createHash } from "node:crypto";
import { freePort, listenOnLoopback } from "./registry";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST_PUT = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;
const REFERRERS = /^\/v2\/(.+)\/referrers\/([^/?]+)(?:\?(.*))?$/;

interface Indexed {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ReferrersStandIn {
  host: string;
  /** Requests seen, `METHOD path`. */
  seen: string[];
  stop(): Promise<void>;
}

export async function startReferrersStandIn(targetHost: string): Promise<ReferrersStandIn> {
  const port = await freePort();
  const [targetName, targetPort] = targetHost.split(":");
  const index = new Map<string, Indexed[]>();
  const seen: string[] = [];
  const forward = (
    method: string,
    path: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | NodeJS.ReadableStream,
    done: (status: number, headers: Record<string, string | string[] | undefined>, body: NodeJS.ReadableStream) => void,
    fail: () => void,
  ) => {
    const up = httpRequest(
      { host: targetName, port: Number(targetPort), method, path, headers: { ...headers, host: targetHost } },
      (res) => done(res.statusCode ?? 502, { ...res.headers }, res),
    );
    up.on("error", fail);
    if (Buffer.isBuffer(body)) up.end(body);
    else body.pipe(up);
  };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    const method = req.method ?? "GET";
    seen.push(`${method} ${path}`);
    const fail = () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    };
    const refs = method === "GET" ? REFERRERS.exec(path) : null;
    if (refs) {
      req.resume();
      const artifactType = new URLSearchParams(refs[3] ?? "").get("artifactType");
      const all = index.get(`${refs[1]}@${refs[2]}`) ?? [];
      const manifests = artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
      const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
      res.writeHead(200, {
        "content-type": OCI_INDEX,
        "content-length": String(Buffer.byteLength(body)),
        ...(artifactType ? { "oci-filters-applied": "artifactType" } : {}),
      });
      res.end(body);
      return;
    }
    const put = method === "PUT" ? MANIFEST_PUT.exec(path) : null;
    if (!put) {
      forward(
        method,
        path,
        req.headers,
        req,
        (status, headers, body) => {
          if (typeof headers.location === "string")
            headers.location = headers.location.replace(`//${targetHost}`, `//127.0.0.1:${port}`);
          res.writeHead(status, headers);
          body.pipe(res);
        },
        fail,
      );
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const bytes = Buffer.concat(chunks);
      forward(
        method,
        path,
        req.headers,
        bytes,
        (status, headers, body) => {
          let subject: string | undefined;
          if (status === 201) {
            try {
              const m = JSON.parse(bytes.toString("utf8")) as {
                subject?: { digest?: string };
                artifactType?: string;
                config?: { mediaType?: string };
                mediaType?: string;
                annotations?: Record<string, string>;
              };
              if (typeof m.subject?.digest === "string") {
                subject = m.subject.digest;
                const key = `${put[1]}@${subject}`;
                const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
                const list = index.get(key) ?? [];
                if (!list.some((d) => d.digest === digest)) {
                  const artifactType = m.artifactType ?? m.config?.mediaType;
                  list.push({
                    mediaType: m.mediaType ?? String(req.headers["content-type"]),
                    digest,
                    size: bytes.length,
                    ...(artifactType ? { artifactType } : {}),
                    ...(m.annotations ? { annotations: m.annotations } : {}),
                  });
                }
                index.set(key, list);
              }
            } catch {
              // Not JSON: the registry refused it already or stored it as is; nothing to index.
            }
          }
          res.writeHead(status, { ...headers, ...(subject ? { "oci-subject": subject } : {}) });
          body.pipe(res);
        },
        fail,
      );
    });
  });
  return { ...(await listenOnLoopback(server, port)), seen };
}
