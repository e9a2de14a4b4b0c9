// Bulk tag → digest listings against a real docker-registry: ACR through the SDK and the HTTPS stand-in, quay.io's
// tag API and Artifact Registry's tags/list through the Transport; each checked against one HEAD per tag.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcrCatalog,
  AcrClients,
  AcrTagDigestLister,
  CompositeTagDigestLister,
  GarTagDigestLister,
  QuayTagDigestLister,
  createTagDigestLister,
  listingKindFor,
  type AcrRequestEvent,
} from "../../shared/acr";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, tallyRequests } from "../../shared/registry/transport";
import {
  startAcrStandIn,
  startSourceListingStandIn,
  type AcrStandIn,
  type SourceListingStandIn,
} from "../harness/acrStandIn";
import { pushManifest } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { FAST_RETRY, seedIndex, seedTags, smallImage, testCredential } from "./fixtures";
import { startTogether } from "../harness/together";

let reg: RunningRegistry;
let acr: AcrStandIn;
let quay: SourceListingStandIn;
let gar: SourceListingStandIn;
const transport = new Transport({ retry: FAST_RETRY });
const client = new RegistryClient(transport);
const credential = testCredential();
const events: AcrRequestEvent[] = [];
let paged: Map<string, string>;

const catalog = (pageSize?: number) =>
  new AcrCatalog(
    new AcrClients({
      credential,
      endpoint: () => acr.endpoint,
      tlsCa: acr.ca,
      retry: FAST_RETRY,
      onRequest: (e) => events.push(e),
    }),
    pageSize ? { pageSize } : {},
  );

/** A query string without the SDK's api-version. */
const query = (search: string): string => {
  const q = new URLSearchParams(search);
  q.delete("api-version");
  return q.toString().replaceAll("%3A", ":");
};

async function headAll(host: string, repo: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const tag of await client.tagList(host, repo)) {
    const head = await client.manifestHead(host, repo, tag);
    if (head) out.set(tag, head.digest);
  }
  return out;
}

beforeAll(async () => {
  reg = await startRegistry();
  acr = await startAcrStandIn(reg);
  [quay, gar] = await startTogether(startSourceListingStandIn(reg, "quay"), startSourceListingStandIn(reg, "gar"));
  // mirror/app: three tags on two images (one shared), and an index with two (untagged) children.
  await seedTags(reg.host, "mirror/app", 2, "v");
  const v0 = smallImage("mirror/app-v000");
  await pushManifest(reg.host, "mirror/app", "stable", v0.manifest, v0.mediaType);
  await seedIndex(reg.host, "mirror/app", "multi");
  paged = await seedTags(reg.host, "paged/app", 250);
}, 120_000);

afterAll(async () => {
  await Promise.all([acr?.stop(), quay?.stop(), gar?.stop()]);
  await reg?.stop();
});

describe("ACR listing through @azure/container-registry", () => {
  it("equals one HEAD per tag on the same state, index children included as untagged manifests", async () => {
    const cat = catalog();
    const listed = await new AcrTagDigestLister(cat).list(acr.host, "mirror/app");
    const heads = await headAll(acr.host, "mirror/app");
    expect(listed).toEqual(heads);
    expect([...listed.keys()].sort()).toEqual(["multi", "stable", "v000", "v001"]);
    expect(listed.get("stable")).toBe(listed.get("v000"));
    const snapshot = await cat.snapshot(acr.host, "mirror/app");
    const index = snapshot.manifests.find((m) => m.tags.includes("multi"))!;
    expect(index.references).toHaveLength(2);
    for (const child of index.references) {
      expect(snapshot.manifests.find((m) => m.digest === child)?.tags).toEqual([]);
    }
  });

  it("costs one listing request per page, plus the token rounds, all counted in the caller's tally", async () => {
    events.length = 0;
    const lister = new AcrTagDigestLister(catalog());
    const first = await tallyRequests(() => lister.list(acr.host, "mirror/app"));
    // 401 challenge, exchange, token, listing.
    expect(first.requests.byKind).toEqual({ "tag.list": 2, token: 2 });
    const second = await tallyRequests(() => lister.list(acr.host, "paged/app"));
    // Another repository needs another access token (ACR scopes them per repository); the refresh token is reused.
    expect(second.requests.byKind).toEqual({ "tag.list": 4, token: 1 });
    expect(events.every((e) => e.host === acr.httpsHost)).toBe(true);
    expect(events.filter((e) => e.status === 401)).toHaveLength(2);
  });

  it("pages through 250 tags with Link headers, 100 manifests a page", async () => {
    const before = acr.seen.length;
    const listed = await new AcrTagDigestLister(catalog()).list(acr.host, "paged/app");
    const pages = acr.seen.slice(before).filter((s) => s.path === "/acr/v1/paged/app/_manifests" && s.status === 200);
    expect(pages.map((p) => query(p.query))).toEqual([
      "",
      expect.stringMatching(/^last=sha256:[a-f0-9]{64}&n=100$/),
      expect.stringMatching(/^last=sha256:[a-f0-9]{64}&n=100$/),
    ]);
    expect(listed).toEqual(paged);
    expect(listed).toEqual(await headAll(acr.host, "paged/app"));
  });

  it("asks for bigger pages when told", async () => {
    const before = acr.seen.length;
    const listed = await new AcrTagDigestLister(catalog(1000)).list(acr.host, "paged/app");
    expect(listed.size).toBe(250);
    const pages = acr.seen.slice(before).filter((s) => s.path.endsWith("/_manifests") && s.status === 200);
    expect(pages.map((p) => query(p.query))).toEqual(["n=1000"]);
  });

  it("reads a repository ACR does not know as empty (every tag missing), not as an error", async () => {
    const cat = catalog();
    expect(await new AcrTagDigestLister(cat).list(acr.host, "mirror/none")).toEqual(new Map());
    expect((await cat.snapshot(acr.host, "mirror/none")).exists).toBe(false);
    expect(acr.seen.some((s) => s.path === "/acr/v1/mirror/none/_manifests" && s.status === 404)).toBe(true);
  });

  it("lists each repository once per catalog, however many callers ask", async () => {
    const cat = catalog();
    const before = acr.seen.filter((s) => s.path === "/acr/v1/mirror/app/_manifests" && s.status === 200).length;
    await Promise.all([1, 2, 3].map(() => cat.snapshot(acr.host, "mirror/app")));
    const after = acr.seen.filter((s) => s.path === "/acr/v1/mirror/app/_manifests" && s.status === 200).length;
    expect(after - before).toBe(1);
  });
});

describe("source listings through the Transport", () => {
  it("quay.io's tag API equals HEADs, paging 100 tags at a time", async () => {
    const lister = new QuayTagDigestLister(transport);
    expect(await lister.list(quay.host, "mirror/app")).toEqual(await headAll(reg.host, "mirror/app"));
    const { result, requests } = await tallyRequests(() => lister.list(quay.host, "paged/app"));
    expect(result).toEqual(paged);
    expect(requests.byKind).toEqual({ "tag.list": 3 });
  });

  it("Artifact Registry's manifest map equals HEADs in one request", async () => {
    const lister = new GarTagDigestLister(transport);
    expect(await lister.list(gar.host, "mirror/app")).toEqual(await headAll(reg.host, "mirror/app"));
    const { result, requests } = await tallyRequests(() => lister.list(gar.host, "paged/app"));
    expect(result).toEqual(paged);
    expect(requests.total).toBe(1);
  });

  it("answers undefined (HEAD instead) when a listing lacks a digest or the repository is unknown", async () => {
    quay.withoutDigest.add("v001");
    gar.withoutDigest.add("v001");
    try {
      expect(await new QuayTagDigestLister(transport).list(quay.host, "mirror/app")).toBeUndefined();
      expect(await new GarTagDigestLister(transport).list(gar.host, "mirror/app")).toBeUndefined();
    } finally {
      quay.withoutDigest.clear();
      gar.withoutDigest.clear();
    }
    expect(await new QuayTagDigestLister(transport).list(quay.host, "mirror/none")).toBeUndefined();
    expect(await new GarTagDigestLister(transport).list(gar.host, "mirror/none")).toBeUndefined();
    // A plain registry's tags/list has no manifest map.
    expect(await new GarTagDigestLister(transport).list(reg.host, "mirror/app")).toBeUndefined();
  });
});

describe("the composite lister", () => {
  it("knows registries by name", () => {
    expect(listingKindFor("myacr.azurecr.io")).toBe("acr");
    expect(listingKindFor("quay.io")).toBe("quay");
    expect(listingKindFor("europe-west1-docker.pkg.dev")).toBe("gar");
    expect(listingKindFor("gcr.io")).toBe("gar");
    expect(listingKindFor("eu.gcr.io")).toBe("gar");
    for (const other of ["docker.io", "ghcr.io", "registry.k8s.io", "127.0.0.1:5000", "notazurecr.io"]) {
      expect(listingKindFor(other)).toBeUndefined();
    }
  });

  it("picks by host, sends nothing for an unknown one, and falls back (undefined) when a listing fails", async () => {
    const fallbacks: string[] = [];
    const kinds: Record<string, "acr" | "quay" | "gar"> = {
      [acr.host]: "acr",
      [quay.host]: "quay",
      [gar.host]: "gar",
      "127.0.0.1:1": "quay",
    };
    const lister = createTagDigestLister({
      transport,
      acr: catalog(),
      kindOf: (r) => kinds[r],
      onFallback: (registry, repository, reason) => fallbacks.push(`${registry}/${repository}: ${reason}`),
    });
    expect(lister).toBeInstanceOf(CompositeTagDigestLister);
    const expected = await headAll(reg.host, "mirror/app");
    for (const host of [acr.host, quay.host, gar.host]) expect(await lister.list(host, "mirror/app")).toEqual(expected);
    const { result, requests } = await tallyRequests(() => lister.list(reg.host, "mirror/app"));
    expect(result).toBeUndefined();
    expect(requests.total).toBe(0);
    expect(await lister.list("127.0.0.1:1", "mirror/app")).toBeUndefined();
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/^127\.0\.0\.1:1\/mirror\/app: /);
  });
});
