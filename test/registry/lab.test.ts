/**
 * The registry behaviour lab (test/harness/registryLab.ts): every kind of content copied from every modelled public
 * registry into a real registry, then read back with skopeo, whose digests must equal ours.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthManager, type RegistryCredential } from "../../shared/registry/auth";
import { RegistryClient } from "../../shared/registry/client";
import { copyImage } from "../../shared/registry/copy";
import { Transport, isLoopback, type RequestEvent } from "../../shared/registry/transport";
import {
  DOCKER_MANIFEST,
  OCI_MANIFEST,
  blobExists,
  buildImage,
  buildIndex,
  digestOf,
  randomLayer,
  type BuiltImage,
} from "../harness/images";
import {
  FOREIGN_URLS,
  K8S_AR_PREFIX,
  LAB_AAD_TOKEN,
  LAB_MODES,
  LAB_TLS_USER,
  startLab,
  type Lab,
  type LabMode,
} from "../harness/registryLab";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { skopeoRawDigest } from "../harness/skopeo";

const FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

interface Content {
  name: string;
  /** Pushes the content for one mode; returns the digest of what `v1` names and the blobs the target must hold. */
  seed(lab: Lab, mode: LabMode): Promise<{ digest: string; blobs: string[] }>;
}

const sha = (b: Buffer) => digestOf(b);
const imageBlobs = (image: BuiltImage) => [image.config, ...image.layers];

const single = buildImage({ labels: { content: "single" } });
const amd = buildImage({ platform: { os: "linux", architecture: "amd64" }, labels: { content: "multi" } });
const arm = buildImage({
  platform: { os: "linux", architecture: "arm64", variant: "v8" },
  labels: { content: "multi" },
});
const index = buildIndex([amd, arm]);
const zero = buildImage({ layers: [Buffer.alloc(0), randomLayer(512)], labels: { content: "zero" } });

// An OCI 1.1 artifact (an empty config, one blob) whose subject is `single`.
const emptyConfig = Buffer.from("{}");
const signature = Buffer.from(JSON.stringify({ signed: single.digest }));
const artifact = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: "application/vnd.example.signature",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha(emptyConfig), size: emptyConfig.length },
    layers: [
      { mediaType: "application/vnd.example.signature.v1+json", digest: sha(signature), size: signature.length },
    ],
    subject: { mediaType: single.mediaType, digest: single.digest, size: single.manifest.length },
  }),
);

// A Windows-style image: one foreign layer that lives at its URL only, and one ordinary layer.
const foreignBytes = randomLayer(2048);
const ordinary = randomLayer(700);
const foreignConfig = Buffer.from(
  JSON.stringify({
    os: "windows",
    architecture: "amd64",
    rootfs: { type: "layers", diff_ids: [sha(foreignBytes), sha(ordinary)] },
  }),
);
const foreign = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: {
      mediaType: "application/vnd.docker.container.image.v1+json",
      digest: sha(foreignConfig),
      size: foreignConfig.length,
    },
    layers: [
      {
        mediaType: FOREIGN,
        digest: sha(foreignBytes),
        size: foreignBytes.length,
        urls: ["https://go.microsoft.com/fwlink/?linkid=837858"],
      },
      { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: sha(ordinary), size: ordinary.length },
    ],
  }),
);

const CONTENT: Content[] = [
  {
    name: "multi",
    async seed(lab, mode) {
      for (const child of index.children)
        await lab.seed(mode, "multi", imageBlobs(child), child.digest, child.manifest, child.mediaType);
      await lab.seed(mode, "multi", [], "v1", index.manifest, index.mediaType);
      return { digest: index.digest, blobs: index.children.flatMap(imageBlobs).map(sha) };
    },
  },
  {
    name: "single",
    async seed(lab, mode) {
      await lab.seed(mode, "single", imageBlobs(single), "v1", single.manifest, single.mediaType);
      return { digest: single.digest, blobs: imageBlobs(single).map(sha) };
    },
  },
  {
    name: "artifact",
    async seed(lab, mode) {
      await lab.seed(mode, "artifact", imageBlobs(single), single.digest, single.manifest, single.mediaType);
      await lab.seed(mode, "artifact", [emptyConfig, signature], "v1", artifact, OCI_MANIFEST);
      return { digest: sha(artifact), blobs: [sha(emptyConfig), sha(signature)] };
    },
  },
  {
    name: "foreign",
    async seed(lab, mode) {
      await lab.seed(mode, "foreign", [foreignConfig, ordinary], "v1", foreign, DOCKER_MANIFEST);
      return { digest: sha(foreign), blobs: [sha(foreignConfig), sha(ordinary)] };
    },
  },
  {
    name: "zero",
    async seed(lab, mode) {
      await lab.seed(mode, "zero", imageBlobs(zero), "v1", zero.manifest, zero.mediaType);
      return { digest: zero.digest, blobs: imageBlobs(zero).map(sha) };
    },
  },
];

describe.skipIf(!registryAvailable())("registry behaviour lab", () => {
  let lab: Lab;
  let target: RunningRegistry;
  const events: RequestEvent[] = [];
  // Credentials for the registries that need none: they must stay with their own origin, whatever redirects.
  const creds: Record<string, RegistryCredential> = {};
  let client: RegistryClient;

  beforeAll(async () => {
    lab = await startLab();
    target = await startRegistry({ foreignUrlsAllow: FOREIGN_URLS });
    creds[lab.modes.k8s.host] = { kind: "basic", username: "k8s-user", password: "k8s-secret-pw" };
    creds[lab.modes.mcr.host] = { kind: "basic", username: "mcr-user", password: "mcr-secret-pw" };
    creds[lab.modes.pullThroughNoHead.host] = { kind: "basic", username: "cache-user", password: "cache-secret-pw" };
    creds[lab.modes.acr.host] = {
      kind: "entra",
      credential: { getToken: async () => ({ token: LAB_AAD_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 }) },
    };
    // The TLS proxy is reached over https with the lab's certificate trusted, as any host but loopback would be.
    const plainHttp = (host: string) => isLoopback(host) && host !== lab.modes.tlsProxy.host;
    const auth = new AuthManager({ credentials: async (r) => creds[r], allowPlainHttp: plainHttp });
    client = new RegistryClient(
      new Transport({
        auth,
        plainHttp,
        ca: lab.ca,
        onRequest: (e) => events.push(e),
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await target?.stop();
    await lab?.stop();
  });

  for (const mode of LAB_MODES) {
    for (const content of CONTENT) {
      it(`${content.name} from ${mode}`, async () => {
        const expected = await content.seed(lab, mode);
        // ACR revokes refresh tokens (a role removed and granted again): each copy must drop its cached one.
        if (mode === "acr") lab.acrTokenServer.revokeRefreshTokens();
        const source = lab.modes[mode].host;
        const repository = `${mode.toLowerCase()}/${content.name}`;
        const result = await copyImage(
          client,
          { registry: source, repository: content.name, tag: "v1" },
          { registry: target.host, repository },
          ["v1"],
        );
        expect(result.digest).toBe(expected.digest);
        expect(result.tags.written).toEqual(["v1"]);
        for (const blob of expected.blobs) expect(await blobExists(target.host, repository, blob)).toBe(true);
        if (content.name === "foreign") {
          expect(result.blobs.foreign).toBe(1);
          expect(await blobExists(target.host, repository, sha(foreignBytes))).toBe(false);
        }
        expect(await skopeoRawDigest(target.host, repository, "v1")).toBe(expected.digest);
      }, 60_000);
    }
  }

  it("pushing through a TLS-terminating proxy stops at its plain-http upload Location: nothing sent in clear, no tag", async () => {
    const tlsHost = lab.modes.tlsProxy.host;
    creds[tlsHost] = { kind: "basic", ...LAB_TLS_USER };
    const image = buildImage({ labels: { content: "to-tls" } });
    await lab.seed("mcr", "to-tls", imageBlobs(image), "v1", image.manifest, image.mediaType);
    const seen0 = lab.modes.tlsProxy.seen.length;
    const err = await copyImage(
      client,
      { registry: lab.modes.mcr.host, repository: "to-tls", tag: "v1" },
      { registry: tlsHost, repository: "pushed/to-tls" },
      ["v1"],
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(String(err?.message)).toMatch(
      new RegExp(
        `refusing to send PUT blob.put to insecure http://${tlsHost.replace(/\./g, "\\.")} \\(the registry named plain http for its own host`,
      ),
    );
    // Over TLS: the upload was started (a 202 with the leaked http: Location); no PUT reached anyone.
    const seen = lab.modes.tlsProxy.seen.slice(seen0);
    expect(seen.some((r) => r.method === "POST")).toBe(true);
    expect(seen.filter((r) => r.method === "PUT")).toEqual([]);
    // The Basic credential went to the token realm only; the registry saw Bearer tokens, over TLS.
    expect(seen.filter((r) => /^Basic /i.test(String(r.headers.authorization)))).toEqual([]);
    // Nothing tagged behind the proxy.
    const tagged = await fetch(`http://${lab.token.host}/v2/pushed/to-tls/manifests/v1`, {
      method: "HEAD",
      headers: { Authorization: `Bearer ${lab.tokenServer.mint(["repository:pushed/to-tls:pull"])}` },
    });
    expect(tagged.status).toBe(404);
  });

  it("a client that does not trust the proxy's certificate fails on it, and never falls back to plain http", async () => {
    const untrusting = new RegistryClient(
      new Transport({
        plainHttp: (host) => isLoopback(host) && host !== lab.modes.tlsProxy.host,
        retry: { maxAttempts: 1 },
      }),
    );
    const seen0 = lab.modes.tlsProxy.seen.length;
    await expect(untrusting.manifestHead(lab.modes.tlsProxy.host, "single", "v1")).rejects.toThrow(
      /self[- ]signed certificate|unable to verify/i,
    );
    expect(lab.modes.tlsProxy.seen.length).toBe(seen0);
  });

  it("never sent one registry's credentials to another origin, and sent none to a CDN or bucket", () => {
    for (const host of [lab.cdn.host, lab.storage.host, lab.modes.artifactRegistry.host]) {
      const basics = lab.credentialsSeenAt(host).filter((r) => /^Basic /i.test(String(r.headers.authorization)));
      expect(basics).toEqual([]);
    }
    expect(lab.credentialsSeenAt(lab.cdn.host)).toEqual([]);
    expect(lab.credentialsSeenAt(lab.storage.host)).toEqual([]);
    // The token realm saw credentials only from the pusher through the TLS proxy, whose realm it is.
    const tlsBasic = `Basic ${Buffer.from(`${LAB_TLS_USER.username}:${LAB_TLS_USER.password}`).toString("base64")}`;
    expect(lab.tokenServer.requests.filter((r) => r.authorization && r.authorization !== tlsBasic)).toEqual([]);
  });

  it("asked registry.k8s.io's redirect host for tokens in that host's own repository names", () => {
    const scopes = lab.tokenServer.requests.flatMap((r) => r.query.scope ?? []);
    const k8sScopes = scopes.filter((s) => s.includes(K8S_AR_PREFIX));
    expect(k8sScopes.length).toBeGreaterThan(0);
    expect(k8sScopes.every((s) => /^repository:k8s-artifacts-prod\/images\/[a-z]+:pull$/.test(s))).toBe(true);
  });

  it("exchanged the Entra token again after each ACR refresh-token revocation, and only with ACR", () => {
    const exchanges = lab.acrTokenServer.requests.filter((r) => r.path === "/oauth2/exchange");
    expect(exchanges.length).toBe(CONTENT.length);
    expect(exchanges.every((r) => r.form?.access_token === LAB_AAD_TOKEN)).toBe(true);
    expect(lab.tokenServer.requests.filter((r) => r.form?.access_token || r.form?.refresh_token)).toEqual([]);
  });

  it("counted no redirect hop or auth re-send as a retry", () => {
    expect(events.filter((e) => e.retry)).toEqual([]);
  });
});
