/**
 * The bad-input corpus: hostile or broken config YAML, references and digests, manifests, indexes, tag lists and
 * token answers from a registry, Docker config JSON, Table keys, and sync runs fed all of these. Each case names
 * the clear error it must give (or that it is accepted safely); none may crash the process (an uncaught exception
 * fails the run), take more than a few seconds, or leave anything written half (a tag or a manifest without its
 * content, a partial batch of rows). HTTP and trace inputs are in http.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { sha256Digest } from "../../shared/registry/digest";
import { MAX_MANIFEST_BYTES } from "../../shared/registry/manifest";
import { assertDigest, parseReference } from "../../shared/registry/reference";
import { Transport } from "../../shared/registry/transport";
import { parseDockerConfig } from "../../shared/secrets/dockerConfig";
import { KeyError, decodeKey, encodeKey } from "../../shared/store/keys";
import { SyncStore } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { parseSyncConfig } from "../../shared/sync/config";
import { ConfigError } from "../../shared/sync/configError";
import { runSync } from "../../shared/sync/executor";
import { emptyCounts, type ImageResult } from "../../shared/sync/model";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { freePort } from "../harness/registry";
import { buildImage, buildIndex, digestOf, fetchManifest, pushImage, pushIndex } from "../harness/images";
import { startProxy, type RunningProxy } from "../harness/proxy";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { auditRegistry, reportFigures, seededLayer, startTogether } from "./support";

// ---------------------------------------------------------------------------------------------------------------
// Servers: a real source and target, a proxy that lies about the source, a hand-written hostile registry, Azurite.

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
let hostileHandler: Handler = (_req, res) => res.writeHead(404).end();
let hostile: { host: string; server: Server };
let up: RunningRegistry;
let acr: RunningRegistry;
let liar: RunningProxy;
let azurite: RunningAzurite;
let store: SyncStore;

beforeAll(async () => {
  [up, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
  liar = await startProxy(up.host);
  const port = await freePort();
  const server = createServer((req, res) => {
    req.resume();
    hostileHandler(req, res, new URL(req.url ?? "/", `http://127.0.0.1:${port}`));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  hostile = { host: `127.0.0.1:${port}`, server };
  store = new SyncStore(new Tables({ connectionString: azurite.connectionString }));
});
afterAll(async () => {
  if (hostile) {
    hostile.server.closeAllConnections();
    await new Promise((r) => hostile.server.close(r));
  }
  await Promise.all([liar?.stop(), up?.stop(), acr?.stop(), azurite?.stop()]);
});

const fast = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 };
const client = () => new RegistryClient(new Transport({ retry: fast }));
const DIGEST = `sha256:${"a".repeat(64)}`;

/** The hostile registry answers manifests (HEAD and GET) with these bytes and headers. */
function serveManifest(body: Buffer | string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body);
  hostileHandler = (req, res, url) => {
    if (!url.pathname.includes("/manifests/")) return void res.writeHead(404).end();
    const h = {
      "Content-Type": "application/vnd.oci.image.manifest.v1+json",
      "Content-Length": String(bytes.length),
      ...headers,
    };
    res.writeHead(200, h);
    res.end(req.method === "HEAD" ? undefined : bytes);
  };
}

/** The hostile registry demands a Bearer token from its own /token, which answers `token(res)`. */
function serveToken(answer: (res: ServerResponse) => void, challenge?: string): void {
  hostileHandler = (_req, res, url) => {
    if (url.pathname === "/token") return answer(res);
    res.writeHead(
      401,
      challenge === undefined
        ? { "WWW-Authenticate": `Bearer realm="http://${hostile.host}/token",service="hostile"` }
        : challenge
          ? { "WWW-Authenticate": challenge }
          : {},
    );
    res.end();
  };
}

const json =
  (body: unknown, status = 200) =>
  (res: ServerResponse) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };

const indexWith = (child: Record<string, unknown>) =>
  JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [child] });
const imageWith = (fields: Record<string, unknown>) =>
  JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", ...fields });

const config = (...lines: string[]) => parseSyncConfig(lines.join("\n") + "\n", "bad.yaml");
const HEAD = 'target: { registry: "myacr.azurecr.io" }';
const image = (entry: string) => config(HEAD, "images:", `  - ${entry}`);

function aliasBomb(levels: number): string[] {
  const lines = ['  l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (let i = 1; i < levels; i++)
    lines.push(
      `  l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(", ")}]`,
    );
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus.

type Outcome = { error: RegExp; type?: string } | { ok: (value: unknown) => void | Promise<void> };

interface BadCase {
  area:
    | "config"
    | "reference"
    | "manifest"
    | "tag list"
    | "token"
    | "redirect"
    | "copy"
    | "docker config"
    | "table key"
    | "store"
    | "sync";
  what: string;
  run: () => unknown;
  expect: Outcome;
  /** Checked after the case: nothing written half. */
  after?: () => Promise<void>;
}

const noTag = (repo: string) => async () => {
  const audit = await auditRegistry(acr.host, (r) => r === repo);
  expect(audit.tags).toEqual([]);
  expect(audit.problems).toEqual([]);
};

const cases: BadCase[] = [
  // --- config YAML: hostile structure
  {
    area: "config",
    what: "alias bomb (9 levels of 9) under an unknown key",
    run: () => config(HEAD, "bomb:", ...aliasBomb(9), "images: []"),
    expect: { error: /bomb: unknown key; allowed: target/, type: "ConfigError" },
  },
  {
    area: "config",
    what: "alias bomb expanded where images go",
    run: () => config(HEAD, "x:", ...aliasBomb(9), "images: *l8"),
    expect: { error: /images\[0\]: expected a map, got a list/ },
  },
  {
    area: "config",
    what: "20 000 nested flow lists",
    run: () => config(HEAD, `images: ${"[".repeat(20_000)}${"]".repeat(20_000)}`),
    expect: { error: /bad\.yaml:2: YAML syntax: Maximum call stack size exceeded/ },
  },
  {
    area: "config",
    what: "binary garbage",
    run: () => parseSyncConfig("\u0000\u0001\u0002\ufffd\u0007garbage: [\n", "bad.yaml"),
    expect: { error: /bad\.yaml:\d+: YAML syntax/ },
  },
  {
    area: "config",
    what: "two YAML documents",
    run: () => config(HEAD, "images: []", "---", HEAD),
    expect: { error: /multiple documents/ },
  },
  {
    area: "config",
    what: "tab indentation",
    run: () => config("target:", "\tregistry: a.io"),
    expect: { error: /Tabs are not allowed as indentation/ },
  },
  {
    area: "config",
    what: "duplicate key",
    run: () => config(HEAD, HEAD, "images: []"),
    expect: { error: /Map keys must be unique/ },
  },
  { area: "config", what: "empty file", run: () => config(""), expect: { error: /empty config/ } },
  {
    area: "config",
    what: "only comments",
    run: () => config("# nothing", "# here"),
    expect: { error: /empty config/ },
  },
  {
    area: "config",
    what: "a top-level list",
    run: () => config("- target", "- images"),
    expect: { error: /expected a map, got a list/ },
  },
  {
    area: "config",
    what: "!!js/function tag",
    run: () => config(HEAD, 'images: !!js/function "function () { return 1 }"'),
    expect: { error: /images: expected a list, got string/ },
  },
  {
    area: "config",
    what: "merge key << (YAML 1.1 only)",
    run: () => config(HEAD, 'base: &b { tags: ["v1"] }', "images:", '  - { <<: *b, source: "ghcr.io/a/b" }'),
    expect: { error: /base: unknown key/ },
  },
  {
    area: "config",
    what: "a 10 MB comment is refused by the size cap, before parsing",
    run: () => config(HEAD, "images: []", `# ${"x".repeat(10 * 1024 * 1024)}`),
    expect: { error: /larger than 1048576 bytes/ },
  },
  {
    area: "config",
    what: "BOM at the start",
    run: () => parseSyncConfig(`\ufeff${HEAD}\nimages: []\n`, "bad.yaml"),
    expect: {
      ok: (v) =>
        expect((v as { config: { target: { registry: string } } }).config.target.registry).toBe("myacr.azurecr.io"),
    },
  },
  // --- config YAML: wrong types and unknown keys
  {
    area: "config",
    what: "unknown top-level key",
    run: () => config(HEAD, "imagez: []"),
    expect: { error: /imagez: unknown key; allowed: target, defaults, credentials, images, serviceConfigs, sources/ },
  },
  {
    area: "config",
    what: "misspelt tag rule (semvar)",
    run: () => image('{ source: "ghcr.io/a/b", semvar: ">=1" }'),
    expect: { error: /images\[0\]\.semvar: unknown key/ },
  },
  {
    area: "config",
    what: "target is a list",
    run: () => config("target: [a.io]", "images: []"),
    expect: { error: /target: expected a map, got a list/ },
  },
  {
    area: "config",
    what: "images is a map",
    run: () => config(HEAD, "images: { a: 1 }"),
    expect: { error: /images: expected a list, got a map/ },
  },
  {
    area: "config",
    what: "tags is a string",
    run: () => image('{ source: "ghcr.io/a/b", tags: "v1" }'),
    expect: { error: /images\[0\]\.tags: expected a list/ },
  },
  {
    area: "config",
    what: "concurrency as text",
    run: () => config(HEAD, 'defaults: { concurrency: "8" }', "images: []"),
    expect: { error: /defaults\.concurrency: expected a whole number, got string "8"/ },
  },
  {
    area: "config",
    what: "concurrency of a million",
    run: () => config(HEAD, "defaults: { concurrency: 1000000 }", "images: []"),
    expect: { error: /must be between 1 and 64, got 1000000/ },
  },
  {
    area: "config",
    what: "pinTag yes",
    run: () => config(HEAD, 'defaults: { pinTag: "yes" }', "images: []"),
    expect: { error: /defaults\.pinTag: expected true or false/ },
  },
  {
    area: "config",
    what: "tag true (a boolean)",
    run: () => image('{ source: "ghcr.io/a/b", tags: [true] }'),
    expect: { error: /expected a string, got boolean true \(quote it/ },
  },
  {
    area: "config",
    what: "tag of 200 characters",
    run: () => image(`{ source: "ghcr.io/a/b", tags: ["${"t".repeat(200)}"] }`),
    expect: { error: /is not a valid tag/ },
  },
  {
    area: "config",
    what: "regex that does not compile",
    run: () => image('{ source: "ghcr.io/a/b", allow: "(" }'),
    expect: { error: /images\[0\]\.allow: / },
  },
  {
    area: "config",
    what: "both keyVaultSecret and dockerConfig",
    run: () => config(HEAD, "credentials:", "  ghcr.io: { keyVaultSecret: a, dockerConfig: ./b }", "images: []"),
    expect: { error: /either keyVaultSecret or dockerConfig, not both/ },
  },
  {
    area: "config",
    what: "Key Vault secret name with punctuation",
    run: () => config(HEAD, "credentials:", '  ghcr.io: { keyVaultSecret: "a_b!" }', "images: []"),
    expect: { error: /is not a Key Vault secret name/ },
  },
  {
    area: "config",
    what: "credentials for a non-host",
    run: () => config(HEAD, "credentials:", '  "not a host": { keyVaultSecret: a }', "images: []"),
    expect: { error: /"not a host" is not a registry host/ },
  },
  // --- config YAML: references and digests
  {
    area: "config",
    what: "source with a tag",
    run: () => image('{ source: "ghcr.io/a/b:latest", tags: ["v1"] }'),
    expect: { error: /has a tag/ },
  },
  {
    area: "config",
    what: "source with upper case",
    run: () => image('{ source: "ghcr.io/Org/App", tags: ["v1"] }'),
    expect: { error: /"Org" is not a valid path component/ },
  },
  {
    area: "config",
    what: "source with ../",
    run: () => image('{ source: "ghcr.io/../../etc/passwd", tags: ["v1"] }'),
    expect: { error: /"\.\." is not a valid path component/ },
  },
  {
    area: "config",
    what: "source with a NUL byte",
    run: () => image('{ source: "ghcr.io/a\\0b", tags: ["v1"] }'),
    expect: { error: /is not a valid path component/ },
  },
  {
    area: "config",
    what: "source with credentials in the host",
    run: () => image('{ source: "user:pass@ghcr.io/a/b", tags: ["v1"] }'),
    expect: { error: /"user:pass@ghcr\.io\/a\/b" "ghcr\.io\/a\/b" is not a sha256 digest/ },
  },
  {
    area: "config",
    what: "sha512 digest",
    run: () => image(`{ source: "ghcr.io/a/b@sha512:${"a".repeat(128)}" }`),
    expect: { error: /is not a sha256 digest/ },
  },
  {
    area: "config",
    what: "short digest",
    run: () => image('{ source: "ghcr.io/a/b@sha256:abc" }'),
    expect: { error: /"sha256:abc" is not a sha256 digest/ },
  },
  {
    area: "config",
    what: "service pin with upper-case hex",
    run: () =>
      config(HEAD, "serviceConfigs:", `  - { registry: ghcr.io, repository: a/b, digest: "sha256:${"A".repeat(64)}" }`),
    expect: { error: /is not a sha256 digest/ },
  },
  // --- references and digests given to the registry client
  {
    area: "reference",
    what: "empty reference",
    run: () => parseReference(""),
    expect: { error: /invalid image reference "": empty/ },
  },
  {
    area: "reference",
    what: "white space (header injection)",
    run: () => parseReference("a/b\r\nX-Injected: 1"),
    expect: { error: /contains white space/ },
  },
  {
    area: "reference",
    what: "2 000 characters",
    run: () => parseReference(`ghcr.io/${"a".repeat(2000)}`),
    expect: { error: /longer than 1024 characters/ },
  },
  {
    area: "reference",
    what: "empty path component",
    run: () => parseReference("ghcr.io/a//b"),
    expect: { error: /empty path component/ },
  },
  {
    area: "reference",
    what: "path traversal",
    run: () => parseReference("ghcr.io/../../v2/_catalog"),
    expect: { error: /component "\.\." must be lower-case/ },
  },
  {
    area: "reference",
    what: "scheme in the reference",
    run: () => parseReference("http://ghcr.io/a/b"),
    expect: { error: /"http:" is not a valid registry host/ },
  },
  {
    area: "reference",
    what: "non-ASCII host",
    run: () => parseReference("ɡhcr.io/a/b:v1"),
    expect: { error: /is not a valid registry host|must be lower-case/ },
  },
  {
    area: "reference",
    what: "digest with upper-case hex",
    run: () => parseReference(`a/b@sha256:${"A".repeat(64)}`),
    expect: { error: /is not a valid digest/ },
  },
  {
    area: "reference",
    what: "digest with a path in it",
    run: () => assertDigest("sha256:../../etc/passwd"),
    expect: { error: /not a valid digest/ },
  },
  {
    area: "reference",
    what: "repository with ../ given to the client",
    run: () => client().manifestHead(hostile.host, "../../admin", "v1"),
    expect: { error: /invalid image reference "\.\.\/\.\.\/admin": not a valid repository name/ },
  },
  {
    area: "reference",
    what: "repository with a query given to the client",
    run: () => client().tagList(hostile.host, "a/b?n=1&last=x"),
    expect: { error: /not a valid repository name/ },
  },
  // --- manifests and indexes from a registry
  {
    area: "manifest",
    what: "manifest over 4 MiB, declared",
    run: () => (
      serveManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 32)),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /4194305 bytes is over the 4194304-byte limit/, type: "ManifestError" },
  },
  {
    area: "manifest",
    what: "manifest over 4 MiB, streamed without a length",
    run: () => {
      hostileHandler = (_q, res) => {
        res.writeHead(200, { "Content-Type": "application/vnd.oci.image.manifest.v1+json" });
        res.end(Buffer.alloc(MAX_MANIFEST_BYTES + 100, 32));
      };
      return client().manifestGet(hostile.host, "bad/x", "v1");
    },
    expect: { error: /body is over the 4194304-byte limit/ },
  },
  {
    area: "manifest",
    what: "a status HTTP has no meaning for (600)",
    run: () => {
      hostileHandler = (_q, res) => void res.writeHead(600).end();
      return client().manifestHead(hostile.host, "bad/x", "v1");
    },
    expect: { error: /HEAD 127\.0\.0\.1:\d+\/v2\/bad\/x\/manifests\/v1 answered with status 600/ },
  },
  {
    area: "manifest",
    what: "an HTML page (captive portal)",
    run: () => (
      serveManifest("<html><body>Sign in</body></html>", { "Content-Type": "text/html" }),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /manifest is not valid JSON/ },
  },
  {
    area: "manifest",
    what: "a JSON array",
    run: () => (serveManifest("[1,2,3]"), client().manifestGet(hostile.host, "bad/x", "v1")),
    expect: { error: /manifest is not an object/ },
  },
  {
    area: "manifest",
    what: "Docker schema 1",
    run: () => (
      serveManifest(JSON.stringify({ schemaVersion: 1, name: "a", fsLayers: [] })),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /schema 1 manifests are not supported/ },
  },
  {
    area: "manifest",
    what: "unknown media type",
    run: () => (
      serveManifest(JSON.stringify({ schemaVersion: 2, mediaType: "application/x-evil" }), {
        "Content-Type": "application/x-evil",
      }),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /unsupported manifest media type "application\/x-evil"/ },
  },
  {
    area: "manifest",
    what: "index child with a path for a digest",
    run: () => (
      serveManifest(
        indexWith({
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: "sha256:../../../v2/_catalog",
          size: 10,
        }),
        { "Content-Type": "application/vnd.oci.image.index.v1+json" },
      ),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /manifests\[0\]: missing or invalid digest/ },
  },
  {
    area: "manifest",
    what: "negative size",
    run: () => (
      serveManifest(indexWith({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: DIGEST, size: -1 })),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /manifests\[0\]: missing or invalid size/ },
  },
  {
    area: "manifest",
    what: "size beyond 2^53",
    run: () => (
      serveManifest(imageWith({ config: { digest: DIGEST, size: 2 ** 60 }, layers: [] })),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /config: missing or invalid size/ },
  },
  {
    area: "manifest",
    what: "layers not a list",
    run: () => (
      serveManifest(imageWith({ config: { digest: DIGEST, size: 2 }, layers: { a: 1 } })),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /layers: not a list/ },
  },
  {
    area: "manifest",
    what: "image without a config",
    run: () => (serveManifest(imageWith({ layers: [] })), client().manifestGet(hostile.host, "bad/x", "v1")),
    expect: { error: /image manifest has no config/ },
  },
  {
    area: "manifest",
    what: "Docker-Content-Digest that lies",
    run: () => (
      serveManifest(imageWith({ config: { digest: DIGEST, size: 2 }, layers: [] }), {
        "Docker-Content-Digest": DIGEST,
      }),
      client().manifestGet(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /digest mismatch, expected sha256:a{64}/, type: "DigestMismatchError" },
  },
  {
    area: "manifest",
    what: "an error body of 50 MB is not read",
    run: () => {
      hostileHandler = (_q, res) => {
        res.writeHead(403, { "Content-Type": "application/json" });
        res.write('{"errors":[{"code":"DENIED","message":"');
        res.end("x".repeat(50 * 1024 * 1024));
      };
      return client().manifestGet(hostile.host, "bad/x", "v1");
    },
    expect: { error: /answered 403/ },
  },
  // --- tag lists
  {
    area: "tag list",
    what: "not JSON",
    run: () => {
      hostileHandler = (_q, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<html>");
      return client().tagList(hostile.host, "bad/x");
    },
    expect: { error: /tag list of 127\.0\.0\.1:\d+\/bad\/x is not JSON/ },
  },
  {
    area: "tag list",
    what: "tags is not a list",
    run: () => {
      hostileHandler = (_q, res) => res.writeHead(200).end('{"tags":"v1"}');
      return client().tagList(hostile.host, "bad/x");
    },
    expect: { error: /is not a list/ },
  },
  {
    area: "tag list",
    what: "next page on another host",
    run: () => {
      hostileHandler = (_q, res) =>
        res.writeHead(200, { Link: '<http://169.254.169.254/metadata?x=1>; rel="next"' }).end('{"tags":["a"]}');
      return client().tagList(hostile.host, "bad/x");
    },
    expect: { error: /next page points at another host \(169\.254\.169\.254\)/ },
  },
  {
    area: "tag list",
    what: "pagination that loops",
    run: () => {
      hostileHandler = (_q, res) =>
        res.writeHead(200, { Link: '</v2/bad/x/tags/list?n=1000>; rel="next"' }).end('{"tags":["a"]}');
      return client().tagList(hostile.host, "bad/x");
    },
    expect: { error: /pagination loops back/ },
  },
  // --- token answers and challenges
  {
    area: "token",
    what: "token endpoint answers HTML",
    run: () => (serveToken(json("<html>login</html>")), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /did not answer with a JSON object/, type: "AuthError" },
  },
  {
    area: "token",
    what: "token endpoint answers a JSON array",
    run: () => (serveToken(json([1, 2])), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /did not answer with a JSON object/ },
  },
  {
    area: "token",
    what: "token endpoint answers {}",
    run: () => (serveToken(json({})), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /answered without a token/ },
  },
  {
    area: "token",
    what: "token is a number",
    run: () => (serveToken(json({ token: 42 })), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /answered without a token/ },
  },
  {
    area: "token",
    what: "token with a line break (header injection)",
    run: () => (serveToken(json({ token: "abc\r\nX-Evil: 1" })), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /token with characters not allowed in an Authorization header/ },
  },
  {
    area: "token",
    what: "token answer of 20 MB",
    run: () => (
      serveToken(json({ token: "a".repeat(20 * 1024 * 1024) })),
      client().manifestHead(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /answered more than 1048576 bytes/ },
  },
  {
    area: "token",
    what: "token endpoint redirects",
    run: () => (
      serveToken((res) => res.writeHead(302, { Location: "http://127.0.0.1:1/steal" }).end()),
      client().manifestHead(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /redirected; not following with credentials/ },
  },
  {
    area: "token",
    what: "Bearer challenge without a realm",
    run: () => (serveToken(json({}), 'Bearer service="x"'), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /Bearer challenge has no realm/ },
  },
  {
    area: "token",
    what: "realm that is not a URL",
    run: () => (serveToken(json({}), 'Bearer realm="not a url"'), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /Bearer realm is not a URL/ },
  },
  {
    area: "token",
    what: "realm on plain http off loopback (metadata endpoint)",
    run: () => (
      serveToken(json({}), 'Bearer realm="http://169.254.169.254/metadata/identity/oauth2/token"'),
      client().manifestHead(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /refusing to send credentials to a non-https realm/ },
  },
  {
    area: "token",
    what: "realm with a file: URL",
    run: () => (
      serveToken(json({}), 'Bearer realm="file:///etc/passwd"'),
      client().manifestHead(hostile.host, "bad/x", "v1")
    ),
    expect: { error: /non-https realm/ },
  },
  {
    area: "token",
    what: "401 without any challenge",
    run: () => (serveToken(json({}), ""), client().manifestHead(hostile.host, "bad/x", "v1")),
    expect: { error: /answered 401 without a Basic or Bearer challenge/ },
  },
  {
    area: "token",
    what: "challenge header of 60 KB",
    run: () => (
      serveToken(json({}), `Bearer ${"a=b,".repeat(15_000)}realm="x"`),
      client().manifestHead(hostile.host, "bad/x", "v1")
    ),
    expect: {
      error: /HEAD 127\.0\.0\.1:\d+\/v2\/bad\/x\/manifests\/v1: Parse Error: Header overflow \(HPE_HEADER_OVERFLOW\)/,
    },
  },
  // --- redirects
  {
    area: "redirect",
    what: "blob redirect loop",
    run: () => {
      hostileHandler = (req, res) => res.writeHead(307, { Location: req.url ?? "/" }).end();
      return client().blobGet(hostile.host, "bad/x", DIGEST);
    },
    expect: { error: /answered 307/ },
  },
  {
    area: "redirect",
    what: "blob redirect to file:",
    run: () => {
      hostileHandler = (_q, res) => res.writeHead(307, { Location: "file:///etc/passwd" }).end();
      return client().blobGet(hostile.host, "bad/x", DIGEST);
    },
    expect: { error: /refusing redirect to insecure/ },
  },
  // --- copies from a registry that lies: nothing is written half
  {
    area: "copy",
    what: "a layer shorter than its descriptor says",
    run: async () => {
      const img = buildImage({ layers: [seededLayer(5000, "short")] });
      await pushImage(up.host, "bad/short", img, "v1");
      const layer = digestOf(img.layers[0]!);
      liar.rules = [
        (req) =>
          req.method === "GET" && req.path.endsWith(layer) ? { status: 200, body: "x".repeat(100) } : undefined,
      ];
      return copyImage(
        client(),
        { registry: liar.host, repository: "bad/short", tag: "v1" },
        { registry: acr.host, repository: "bad/short" },
        ["v1"],
      );
    },
    expect: { error: /size mismatch, expected 5000 bytes, got 100/ },
    after: noTag("bad/short"),
  },
  {
    area: "copy",
    what: "an index whose child manifest the registry no longer has",
    run: async () => {
      const child = buildImage({ layers: [seededLayer(3000, "orphan")] });
      const idx = buildIndex([child]);
      await pushIndex(up.host, "bad/orphan", idx, "v1");
      liar.rules = [
        (req) =>
          decodeURIComponent(req.path).endsWith(`/manifests/${child.digest}`)
            ? { status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' }
            : undefined,
      ];
      return copyImage(
        client(),
        { registry: liar.host, repository: "bad/orphan", tag: "v1" },
        { registry: acr.host, repository: "bad/orphan" },
        ["v1"],
      );
    },
    expect: { error: /answered 404 \(MANIFEST_UNKNOWN: manifest unknown\)/ },
    after: noTag("bad/orphan"),
  },
  {
    area: "copy",
    what: "a 10 MB label in the image config is copied as the blob it is",
    run: async () => {
      const img = buildImage({ labels: { "org.opencontainers.image.description": "x".repeat(10 * 1024 * 1024) } });
      await pushImage(up.host, "bad/biglabel", img, "v1");
      const result = await copyImage(
        client(),
        { registry: up.host, repository: "bad/biglabel", tag: "v1" },
        { registry: acr.host, repository: "bad/biglabel" },
        ["v1"],
      );
      return { result, digest: img.digest };
    },
    expect: {
      ok: async (v) => {
        const { result, digest } = v as { result: { digest: string }; digest: string };
        expect(result.digest).toBe(digest);
        expect((await auditRegistry(acr.host, (r) => r === "bad/biglabel")).problems).toEqual([]);
      },
    },
  },
  // --- Docker config JSON
  {
    area: "docker config",
    what: "not JSON",
    run: () => parseDockerConfig('{"auths": {"ghcr.io": {"password": "s3cret"'),
    expect: { error: /docker config: not valid JSON/, type: "DockerConfigError" },
  },
  {
    area: "docker config",
    what: "a JSON array",
    run: () => parseDockerConfig("[]"),
    expect: { error: /expected a JSON object with an `auths` map/ },
  },
  {
    area: "docker config",
    what: "auths is a list",
    run: () => parseDockerConfig('{"auths": []}'),
    expect: { error: /`auths` must be an object keyed by registry/ },
  },
  {
    area: "docker config",
    what: "an entry that is a string",
    run: () => parseDockerConfig('{"auths": {"ghcr.io": "s3cret"}}'),
    expect: { error: /auths\["ghcr\.io"\] must be an object/ },
  },
  {
    area: "docker config",
    what: "auth that is not base64 of user:password",
    run: () =>
      parseDockerConfig(`{"auths": {"ghcr.io": {"auth": "${Buffer.from("no-colon-s3cret").toString("base64")}"}}}`),
    expect: { error: /auths\["ghcr\.io"\]\.auth is not base64 of "user:password"/ },
  },
  // --- Table keys
  {
    area: "table key",
    what: "forbidden characters / \\ # ? and controls round-trip",
    run: () => {
      const raw = "a/b\\c#d?e\u0000\u0001\u001f\u007f\u0085'\"%";
      const key = encodeKey(raw);
      return { raw, key };
    },
    expect: {
      ok: (v) => {
        const { raw, key } = v as { raw: string; key: string };
        expect(
          [...key].filter(
            (ch) =>
              "/\\#?'".includes(ch) ||
              ch.charCodeAt(0) < 0x20 ||
              (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f),
          ),
        ).toEqual([]);
        expect(decodeKey(key)).toBe(raw);
      },
    },
  },
  {
    area: "table key",
    what: "a key longer than 1 KiB",
    run: () => encodeKey("a/".repeat(300)),
    expect: { error: /key too long \(\d+ characters encoded; max 512\)/, type: "KeyError" },
  },
  {
    area: "store",
    what: "keys with forbidden characters survive Azurite",
    run: async () => {
      const tag = "t/\\#?\u0001'x";
      await store.saveStatuses([
        {
          key: `r.io/a/b:${tag}`,
          targetRegistry: "r.io",
          targetRepository: "a/b#?",
          tag,
          source: "s",
          state: "in-sync",
          lastCheckedAt: "2025-01-01T00:00:00Z",
          lastRunId: "r1",
          origin: "o",
        },
      ]);
      return store.listStatuses();
    },
    expect: { ok: (v) => expect((v as Array<{ tag: string }>).map((s) => s.tag)).toContain("t/\\#?\u0001'x") },
  },
  {
    area: "store",
    what: "an OData injection in a run id",
    run: () => store.listResults("x' or PartitionKey ne 'x"),
    expect: { ok: (v) => expect(v).toEqual([]) },
  },
  {
    area: "store",
    what: "a batch with one key too long for Table Storage is stored under a hashed key, the name kept intact",
    run: async () => {
      const results = Array.from({ length: 150 }, (_, i) =>
        resultRow(i === 120 ? `r.io/${"a/".repeat(300)}x:v1` : `r.io/batch/img-${i}:v1`),
      );
      return store.saveResults("run-batch", results);
    },
    expect: { ok: () => undefined },
    after: async () => {
      const rows = await store.listResults("run-batch");
      expect(rows).toHaveLength(150);
      expect(rows.map((r) => r.key)).toContain(`r.io/${"a/".repeat(300)}x:v1`);
    },
  },
  {
    area: "store",
    what: "a 10 MB error summary is cut, not refused",
    run: async () => {
      const run = {
        runId: "run-big",
        trigger: "manual" as const,
        startedAt: "2025-01-01T00:00:00Z",
        status: "failed" as const,
        reportOnly: false,
        verified: false,
        countsBefore: emptyCounts(),
        countsAfter: emptyCounts(),
        copied: 0,
        failed: 1,
        bytes: 0,
        requests: 0,
        durationMs: 0,
        errorSummary: "e".repeat(10 * 1024 * 1024),
      };
      await store.saveRun(run);
      return store.getRun("run-big");
    },
    expect: { ok: (v) => expect((v as { errorSummary: string }).errorSummary.length).toBeLessThan(17_000) },
  },
  // --- sync runs fed bad upstreams
  {
    area: "sync",
    what: "an unreachable source host is an error per entry, not a crash",
    run: async () => {
      const port = await freePort();
      const cfg = config(
        `target: { registry: "${acr.host}" }`,
        "images:",
        `  - { source: "127.0.0.1:${port}/gone/app", tags: ["v1"] }`,
      ).config;
      return runSync({ client: client(), config: cfg, trigger: "manual" });
    },
    expect: {
      ok: (v) => {
        const o = v as { run: { status: string }; results: ImageResult[] };
        expect(o.run.status).not.toBe("succeeded");
        expect(o.results[0]!.state).toBe("error");
        expect(o.results[0]!.reason).toMatch(/ECONNREFUSED/);
      },
    },
  },
  {
    area: "sync",
    what: "a registry answering garbage manifests fails that image only",
    run: async () => {
      serveManifest("{not json", { "Docker-Content-Digest": sha256Digest(Buffer.from("{not json")) });
      const good = buildImage({ layers: [seededLayer(1000, "good")] });
      await pushImage(up.host, "bad/good", good, "v1");
      const cfg = config(
        `target: { registry: "${acr.host}" }`,
        "images:",
        `  - { source: "${hostile.host}/bad/garbage", tags: ["v1"] }`,
        `  - { source: "${up.host}/bad/good", tags: ["v1"] }`,
      ).config;
      return runSync({ client: client(), config: cfg, trigger: "manual" });
    },
    expect: {
      ok: async (v) => {
        const o = v as { results: ImageResult[] };
        expect(o.results.map((r) => r.action)).toEqual(["failed", "copied"]);
        expect(o.results[0]!.error).toMatch(/manifest is not valid JSON/);
        expect((await fetchManifest(acr.host, "bad/garbage", "v1")).status).toBe(404);
      },
    },
  },
];

function resultRow(key: string): ImageResult {
  return {
    key,
    source: { registry: "s.io", repository: "a" },
    target: { registry: "r.io", repository: "a", tag: "v1" },
    state: "missing",
    origin: "o",
    action: "copied",
    stateAfter: "in-sync",
    bytes: 1,
    durationMs: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------------

const tally = {
  cases: cases.length,
  byArea: {} as Record<string, number>,
  errors: 0,
  accepted: 0,
  crashes: 0,
  slowest: { what: "", ms: 0 },
};
for (const c of cases) tally.byArea[c.area] = (tally.byArea[c.area] ?? 0) + 1;

describe(`bad-input corpus (${cases.length} cases)`, () => {
  it.each(cases.map((c) => [`${c.area}: ${c.what}`, c] as const))("%s", async (_name, c) => {
    const started = Date.now();
    let value: unknown;
    let error: unknown;
    try {
      value = await c.run();
    } catch (err) {
      error = err;
    }
    const ms = Date.now() - started;
    if (ms > tally.slowest.ms) tally.slowest = { what: `${c.area}: ${c.what}`, ms };
    expect(ms, "took too long").toBeLessThan(8000);
    if ("error" in c.expect) {
      expect(error, `expected an error, got ${JSON.stringify(value)?.slice(0, 200)}`).toBeInstanceOf(Error);
      const err = error as Error;
      expect(err.message).toMatch(c.expect.error);
      // Clear: one readable message, not a dump.
      expect(err.message.length).toBeLessThan(20_000);
      if (c.expect.type) expect(err.name).toBe(c.expect.type);
      tally.errors++;
    } else {
      if (error) throw error;
      await c.expect.ok(value);
      tally.accepted++;
    }
    await c.after?.();
  });

  it("counts", () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    reportFigures("badInput", { ...tally, todo: TODO.length, knownBugs: KNOWN_BUGS });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Known bugs outside shared/registry, kept visible: each `it.fails` passes while the bug is there. Flip to `it`
// once fixed.

const KNOWN_BUGS = 0;

describe("known bugs (shared/sync, shared/store)", () => {
  // BUG shared/sync/config.ts readImage/targetRepository: prefix + path is not checked against distribution's
  // 255-character limit, so a config the registry can never serve is accepted (and its Table keys can overflow).
  it("a target repository longer than 255 characters (prefix + path) is refused", () => {
    const run = () =>
      config(
        `target: { registry: "myacr.azurecr.io", prefix: "${"p".repeat(200)}" }`,
        "images:",
        `  - { source: "ghcr.io/${"r".repeat(200)}", tags: ["v1"] }`,
      );
    expect(run).toThrow(/longer than 255/);
  });

  // BUG shared/sync/config.ts parseSyncConfig: no size cap. yaml's uniqueKeys check is quadratic in the keys of one
  // map (measured: 40 000 keys, 389 KB → 30 s; 200 000 keys, 2 MB → minutes), so a large or hostile file stalls the
  // loader. Expected: refuse files over a cap (say 1 MiB) before parsing, or check duplicate keys with a Set.
  it("a config over 1 MiB is refused before it is parsed", () => {
    expect(() => config(HEAD, "images: []", `# ${"x".repeat(1100 * 1024)}`)).toThrow(/too large|larger than/);
  });

  // BUG shared/sync/config.ts parseSyncConfig: yaml's parser throws RangeError (stack overflow) on deeply nested
  // block collections, and it escapes as a bare "Maximum call stack size exceeded" instead of a ConfigError with the
  // file and line (flow nesting is reported properly). Expected: catch it, "nested too deeply".
  it("3 000 nested block lists give a ConfigError", () => {
    const nested = Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i * 2)}- `);
    expect(() => config(HEAD, "images:", ...nested, "x")).toThrow(ConfigError);
  });

  // BUG shared/store/keys.ts encodeKey: a lone UTF-16 surrogate makes encodeURIComponent throw URIError "URI
  // malformed" instead of a KeyError naming the problem.
  it("a key with a lone surrogate gives a KeyError", () => {
    expect(() => encodeKey("tag\ud800")).toThrow(KeyError);
  });

  // BUG shared/sync/executor.ts runSync (record phase) with shared/store/keys.ts: a target whose encoded key passes
  // 512 characters (long names with many `/`, each encoded as %2F) makes saveResults throw KeyError after saveRun
  // has written the run row: runSync rejects after copying, the run row says it finished, and no result or status
  // is stored. Expected: the run resolves with the over-long key reported as that image's error.
  it("a sync whose target key is too long for Table Storage still records its run", async () => {
    // 254 characters with 124 slashes: a valid repository name whose encoded key is 527 characters.
    const prefix = `${"p/".repeat(122)}p`;
    const cfg = config(
      `target: { registry: "${acr.host}", prefix: "${prefix}" }`,
      "images:",
      `  - { source: "${up.host}/bad/good", tags: ["v1"] }`,
    ).config;
    const outcome = await runSync({ client: client(), config: cfg, trigger: "manual", store });
    expect(await store.listResults(outcome.run.runId)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP API and trace label-reader inputs live in http.test.ts (and test/trace/trace.registry.test.ts for an oversized image config).

// The HTTP API and trace inputs once listed here are covered by test/reliability/http.test.ts and test/trace/.
const TODO: string[] = [];
