/**
 * A local HTTPS stand-in for ARM's `registries/importImage` and its long-running operation: the POST answers 202
 * with `Azure-AsyncOperation` and `Location`; the operation goes Accepted → Running → Succeeded or Failed, one step
 * per poll. The import is real: the stand-in pulls the source (with the credentials in the request) and pushes into
 * the target registry with plain fetch, refusing what ACR refuses — more than 50 manifests, a source without HTTP
 * Range support, `NoForce` onto an existing tag, a write to a locked tag (the target answers 409).
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:https";
import { readBody, selfSignedLoopbackCert } from "./acrStandIn";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, pushBlob } from "./images";
import { freePort } from "./registry";

const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");
const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST]);

export interface ImportBody {
  source?: {
    registryUri?: string;
    resourceId?: string;
    sourceImage?: string;
    credentials?: { username?: string; password?: string };
  };
  targetTags?: string[];
  untaggedTargetRepositories?: string[];
  mode?: "NoForce" | "Force";
}

export interface ImportRecord {
  id: string;
  /** The request body without the source password. */
  body: ImportBody;
  /** Whether credentials came with it (never their value). */
  hadCredentials: boolean;
  status: "Accepted" | "Running" | "Succeeded" | "Failed";
  /** Statuses answered to polls, in order. */
  answered: string[];
  error?: { code: string; message: string };
}

export interface ArmStandInOptions {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  /** Where imports land: `127.0.0.1:<port>` of a registry, or of the ACR stand-in's `/v2` (which enforces locks). */
  targetHost: string;
  /** The bearer token ARM expects; any bearer token when absent. */
  token?: string;
  /** Polls answered Running before the outcome. Default 1 (Accepted → Running → outcome). */
  runningPolls?: number;
  /** Never finish (for timeouts). */
  hang?: boolean;
  /** Fail an import with this error instead of doing it. */
  fail?: (body: ImportBody) => { code: string; message: string } | undefined;
}

export interface ArmStandIn {
  endpoint: string;
  ca: string;
  imports: ImportRecord[];
  seen: Array<{ method: string; path: string; status: number }>;
  stop(): Promise<void>;
}

class ImportFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function doImport(body: ImportBody, targetHost: string): Promise<void> {
  const source = body.source ?? {};
  const host = source.registryUri;
  const image = source.sourceImage ?? "";
  if (!host) throw new ImportFailure("InvalidParameters", "registryUri is required by the stand-in");
  const at = image.indexOf("@");
  const colon = image.lastIndexOf(":");
  const repo = at >= 0 ? image.slice(0, at) : colon >= 0 ? image.slice(0, colon) : image;
  const ref = at >= 0 ? image.slice(at + 1) : colon >= 0 ? image.slice(colon + 1) : "latest";
  const headers: Record<string, string> = {};
  if (source.credentials?.password !== undefined) {
    const user = source.credentials.username ?? "";
    headers.Authorization = `Basic ${Buffer.from(`${user}:${source.credentials.password}`).toString("base64")}`;
  }
  const get = async (path: string, extra: Record<string, string> = {}) =>
    fetch(`http://${host}/v2/${repo}/${path}`, { headers: { ...headers, ...extra } });

  const fetchManifest = async (reference: string) => {
    const res = await get(`manifests/${reference}`, { Accept: ACCEPT });
    if (res.status === 401) throw new ImportFailure("InvalidParameters", "the source registry refused the credentials");
    if (res.status !== 200)
      throw new ImportFailure("ManifestUnknown", `source manifest ${reference} not found (${res.status})`);
    const bytes = Buffer.from(await res.arrayBuffer());
    return {
      bytes,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0]!.trim(),
      digest: res.headers.get("docker-content-digest") ?? reference,
    };
  };
  const root = await fetchManifest(ref);
  const manifests = [root];
  const blobs = new Map<string, number>();
  const collect = (m: { bytes: Buffer; mediaType: string }) => {
    const parsed = JSON.parse(m.bytes.toString("utf8")) as {
      config?: { digest: string; size: number };
      layers?: Array<{ digest: string; size: number }>;
    };
    if (parsed.config) blobs.set(parsed.config.digest, parsed.config.size);
    for (const l of parsed.layers ?? []) blobs.set(l.digest, l.size);
  };
  if (INDEX_TYPES.has(root.mediaType)) {
    const index = JSON.parse(root.bytes.toString("utf8")) as { manifests?: Array<{ digest: string }> };
    if ((index.manifests?.length ?? 0) + 1 > 50) {
      throw new ImportFailure(
        "InvalidParameters",
        `The image has ${(index.manifests?.length ?? 0) + 1} manifests; import supports at most 50 manifests per image.`,
      );
    }
    for (const child of index.manifests ?? []) {
      const m = await fetchManifest(child.digest);
      manifests.push(m);
      collect(m);
    }
  } else {
    collect(root);
  }
  // ACR pulls with Range requests: a source that ignores them cannot be imported.
  const first = [...blobs.keys()][0];
  if (first) {
    const probe = await get(`blobs/${first}`, { Range: "bytes=0-0" });
    await probe.body?.cancel();
    if (probe.status !== 206) {
      throw new ImportFailure(
        "InvalidParameters",
        "The source registry is not RFC 7233 compliant: it ignored a Range request.",
      );
    }
  }
  const targets = (body.targetTags ?? []).map((t) => {
    const c = t.lastIndexOf(":");
    return { repo: c > 0 ? t.slice(0, c) : t, tag: c > 0 ? t.slice(c + 1) : "latest" };
  });
  const repos = new Set([...targets.map((t) => t.repo), ...(body.untaggedTargetRepositories ?? [])]);
  if (body.mode !== "Force") {
    for (const t of targets) {
      const head = await fetch(`http://${targetHost}/v2/${t.repo}/manifests/${t.tag}`, {
        method: "HEAD",
        headers: { Accept: ACCEPT },
      });
      if (head.status === 200)
        throw new ImportFailure("TagAlreadyExists", `Tag ${t.repo}:${t.tag} already exists (mode NoForce).`);
    }
  }
  for (const targetRepo of repos) {
    for (const [digest] of blobs) {
      const res = await get(`blobs/${digest}`);
      if (res.status !== 200) throw new ImportFailure("BlobUnknown", `source blob ${digest}: ${res.status}`);
      await pushBlob(targetHost, targetRepo, Buffer.from(await res.arrayBuffer()));
    }
    for (const m of [...manifests.slice(1), root]) {
      const put = await fetch(`http://${targetHost}/v2/${targetRepo}/manifests/${m.digest}`, {
        method: "PUT",
        headers: { "Content-Type": m.mediaType },
        body: m.bytes,
      });
      await put.body?.cancel();
      if (put.status !== 201) throw new ImportFailure("InternalError", `put manifest ${m.digest}: ${put.status}`);
    }
  }
  for (const t of targets) {
    const put = await fetch(`http://${targetHost}/v2/${t.repo}/manifests/${t.tag}`, {
      method: "PUT",
      headers: { "Content-Type": root.mediaType },
      body: root.bytes,
    });
    await put.body?.cancel();
    if (put.status === 409) throw new ImportFailure("TagLocked", `Tag ${t.repo}:${t.tag} is locked (write disabled).`);
    if (put.status !== 201) throw new ImportFailure("InternalError", `put tag ${t.tag}: ${put.status}`);
  }
}

export async function startArmStandIn(options: ArmStandInOptions): Promise<ArmStandIn> {
  const { key, cert } = selfSignedLoopbackCert();
  const port = await freePort();
  const endpoint = `https://127.0.0.1:${port}`;
  const imports: ImportRecord[] = [];
  const work = new Map<string, Promise<void>>();
  const done = new Set<string>();
  const seen: ArmStandIn["seen"] = [];
  const registryPath = `/subscriptions/${options.subscriptionId}/resourceGroups/${options.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${options.registryName}`;
  const opsPath = `/subscriptions/${options.subscriptionId}/providers/Microsoft.ContainerRegistry/locations/standin`;

  const server = createServer({ key, cert }, async (req, res) => {
    const url = new URL(req.url ?? "/", endpoint);
    const method = req.method ?? "GET";
    const log = { method, path: url.pathname, status: 0 };
    seen.push(log);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      log.status = status;
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    const armError = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    try {
      const bodyText = method === "POST" ? await readBody(req) : "";
      const auth = req.headers.authorization ?? "";
      if (!auth.startsWith("Bearer ") || (options.token && auth !== `Bearer ${options.token}`)) {
        return armError(401, "AuthenticationFailed", "no valid bearer token");
      }
      if (!url.searchParams.get("api-version"))
        return armError(400, "MissingApiVersionParameter", "api-version is required");

      if (method === "POST" && url.pathname.endsWith("/importImage")) {
        if (url.pathname !== `${registryPath}/importImage`) {
          return armError(404, "ResourceNotFound", "The Resource was not found (stand-in knows one registry).");
        }
        let body: ImportBody;
        try {
          body = JSON.parse(bodyText) as ImportBody;
        } catch {
          return armError(400, "InvalidRequestContent", "body is not JSON");
        }
        if (!body.source?.sourceImage || (!body.source.registryUri && !body.source.resourceId)) {
          return armError(400, "InvalidParameters", "source.sourceImage and a registryUri or resourceId are required");
        }
        const id = randomUUID();
        const { credentials, ...sourceRest } = body.source;
        const record: ImportRecord = {
          id,
          body: { ...body, source: sourceRest },
          hadCredentials: credentials?.password !== undefined,
          status: "Accepted",
          answered: [],
        };
        imports.push(record);
        const failure = options.fail?.(body);
        if (failure) {
          work.set(id, Promise.reject(new ImportFailure(failure.code, failure.message)));
        } else if (!options.hang) {
          work.set(id, doImport(body, options.targetHost));
        }
        work.get(id)?.catch(() => undefined);
        const q = `?api-version=${url.searchParams.get("api-version")}`;
        return send(202, undefined, {
          "Azure-AsyncOperation": `${endpoint}${opsPath}/operationStatuses/${id}${q}`,
          Location: `${endpoint}${opsPath}/operationResults/${id}${q}`,
        });
      }
      let m = new RegExp(`^${opsPath}/operationStatuses/([\\w-]+)$`).exec(url.pathname);
      if (m && method === "GET") {
        const record = imports.find((r) => r.id === m![1]);
        if (!record) return armError(404, "NotFound", "operation unknown");
        if (record.status === "Accepted") {
          record.status = "Running";
        } else if (record.status === "Running") {
          const running = record.answered.filter((s) => s === "Running").length;
          const job = work.get(record.id);
          if (job && running >= (options.runningPolls ?? 1)) {
            try {
              await job;
              record.status = "Succeeded";
              done.add(record.id);
            } catch (err) {
              record.status = "Failed";
              record.error =
                err instanceof ImportFailure
                  ? { code: err.code, message: err.message }
                  : { code: "InternalServerError", message: err instanceof Error ? err.message : String(err) };
            }
          }
        }
        record.answered.push(record.status);
        return send(200, {
          id: `${opsPath}/operationStatuses/${record.id}`,
          name: record.id,
          status: record.status,
          ...(record.error ? { error: record.error } : {}),
        });
      }
      m = new RegExp(`^${opsPath}/operationResults/([\\w-]+)$`).exec(url.pathname);
      if (m && method === "GET") {
        if (!done.has(m[1]!)) return send(202, undefined, { Location: `${endpoint}${url.pathname}${url.search}` });
        return send(200, {});
      }
      return armError(404, "NotFound", "no such route in the stand-in");
    } catch (err) {
      if (!res.headersSent) armError(500, "InternalServerError", err instanceof Error ? err.message : String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    endpoint,
    ca: cert,
    imports,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
