/**
 * `npm run build && node dist/bench/bulk.bench.js`: a no-change run over 1,000 tags in 10 repositories (every tag
 * already mirrored), requests counted per side, for
 * - bulk listings on both sides: quay.io's tag API (or Artifact Registry's tags/list) at the source, ACR's
 *   `/acr/v1/<name>/_manifests` through @azure/container-registry at the target (the local stand-ins);
 * - one HEAD per tag on each side (what the planner does without listings);
 * - `skopeo sync --all` on the same two registries, its requests read from the registries' access logs.
 * Prints a table and JSON, and writes bench/results/bulk.json. BENCH_REPOS, BENCH_TAGS and BENCH_SKOPEO=0 shrink it;
 * BENCH_PLATFORMS=4 makes every tag a 4-platform index (skopeo's cost grows with platforms, a listing's does not).
 */
import { existsSync, readFileSync } from "node:fs";
import {
  AcrCatalog,
  AcrClients,
  AcrTagDigestLister,
  GarTagDigestLister,
  QuayTagDigestLister,
  type AcrRequestEvent,
  type TagDigestLister,
} from "../shared/acr";
import { RegistryClient } from "../shared/registry/client";
import { mapSettled } from "../shared/registry/limiter";
import { Transport, type RequestEvent } from "../shared/registry/transport";
import { startAcrStandIn, startSourceListingStandIn } from "../test/harness/acrStandIn";
import { buildImage, buildIndex, pushBlob, pushImage, pushIndex, randomLayer } from "../test/harness/images";
import { startRegistry, type RunningRegistry } from "../test/harness/registry";
import { printTable, run, skopeoAvailable, skopeoSync, writeReport } from "./report";

const REPOS = Number(process.env.BENCH_REPOS ?? 10);
const TAGS = Number(process.env.BENCH_TAGS ?? 100);
const SKOPEO = process.env.BENCH_SKOPEO !== "0";
/** Platforms per image: 1 pushes plain images, more pushes an index of that many. */
const PLATFORMS = Number(process.env.BENCH_PLATFORMS ?? 1);

interface Side {
  requests: number;
  /** Without token requests and 401 challenge rounds. */
  listing: number;
  byKind: Record<string, number>;
}

interface Row {
  path: string;
  tags: number;
  unchanged: number;
  seconds: number;
  source: Side;
  target: Side;
}

const emptySide = (): Side => ({ requests: 0, listing: 0, byKind: {} });

function count(side: Side, e: { kind: string; status: number }): void {
  side.requests++;
  side.byKind[e.kind] = (side.byKind[e.kind] ?? 0) + 1;
  if (e.kind !== "token" && e.status !== 401) side.listing++;
}

/** Access-log lines of a registry (one per request), from the log file `docker-registry` writes. */
function logRequests(reg: RunningRegistry): number {
  if (!existsSync(reg.logFile)) return 0;
  return readFileSync(reg.logFile, "utf8")
    .split("\n")
    .filter((l) => /"(?:GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\//.test(l)).length;
}

const settle = () => new Promise((r) => setTimeout(r, 500));

async function main(): Promise<void> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    stops.push(
      () => src.stop(),
      () => dst.stop(),
    );
    const acr = await startAcrStandIn(dst);
    const quay = await startSourceListingStandIn(src, "quay");
    const gar = await startSourceListingStandIn(src, "gar");
    stops.unshift(
      () => acr.stop(),
      () => quay.stop(),
      () => gar.stop(),
    );

    const repos = Array.from({ length: REPOS }, (_, i) => `bench/svc${i}`);
    const total = REPOS * TAGS;
    process.stderr.write(
      `seeding ${total} tags (${PLATFORMS > 1 ? `${PLATFORMS}-platform indexes` : "single images"}) in ${REPOS} repositories into both registries…\n`,
    );
    const layer = randomLayer(256);
    const work = repos.flatMap((repo) =>
      Array.from({ length: TAGS }, (_, t) => ({ repo, tag: `v${String(t).padStart(3, "0")}` })),
    );
    // The shared layer first, once per repository: parallel uploads of one blob into one repository race.
    for (const repo of repos) for (const host of [src.host, dst.host]) await pushBlob(host, repo, layer);
    await mapSettled(work, 8, async ({ repo, tag }) => {
      if (PLATFORMS <= 1) {
        const image = buildImage({ layers: [layer], labels: { repo, tag } });
        await pushImage(src.host, repo, image, tag);
        await pushImage(dst.host, repo, image, tag);
        return;
      }
      const children = Array.from({ length: PLATFORMS }, (_, p) =>
        buildImage({ layers: [layer], labels: { repo, tag }, platform: { os: "linux", architecture: `arch${p}` } }),
      );
      const index = buildIndex(children);
      await pushIndex(src.host, repo, index, tag);
      await pushIndex(dst.host, repo, index, tag);
    }).then((rs) => {
      const failed = rs.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    });

    const rows: Row[] = [];
    const credential = {
      getToken: async () => ({ token: "bench-aad-token", expiresOnTimestamp: Date.now() + 3600_000 }),
    };

    // --- bulk listings on both sides ----------------------------------------------------------------------
    for (const [name, persona, pageSize] of [
      ["bulk: quay tag API → ACR _manifests", quay, undefined],
      ["bulk: GAR tags/list → ACR _manifests", gar, undefined],
      ["bulk: quay tag API → ACR _manifests?n=1000", quay, 1000],
    ] as const) {
      const source = emptySide();
      const target = emptySide();
      const transport = new Transport({ onRequest: (e: RequestEvent) => count(source, e) });
      const sourceLister: TagDigestLister =
        persona === quay ? new QuayTagDigestLister(transport) : new GarTagDigestLister(transport);
      const catalog = new AcrCatalog(
        new AcrClients({
          credential,
          endpoint: () => acr.endpoint,
          tlsCa: acr.ca,
          onRequest: (e: AcrRequestEvent) => count(target, e),
        }),
        pageSize ? { pageSize } : {},
      );
      const targetLister = new AcrTagDigestLister(catalog);
      const started = performance.now();
      let unchanged = 0;
      let tags = 0;
      // Repositories one after another: the figure is requests, and the stand-in reads its registry per listing.
      for (const repo of repos) {
        const [want, have] = await Promise.all([
          sourceLister.list(persona.host, repo),
          targetLister.list(acr.host, repo),
        ]);
        if (!want) throw new Error(`${name}: no source listing for ${repo}`);
        for (const [tag, digest] of want) {
          tags++;
          if (have.get(tag) === digest) unchanged++;
        }
      }
      rows.push({ path: name, tags, unchanged, seconds: (performance.now() - started) / 1000, source, target });
    }

    // --- one HEAD per tag on each side --------------------------------------------------------------------
    {
      const source = emptySide();
      const target = emptySide();
      const client = new RegistryClient(
        new Transport({ onRequest: (e) => count(e.host === src.host ? source : target, e) }),
      );
      const started = performance.now();
      let unchanged = 0;
      const outcomes = await mapSettled(work, 8, async ({ repo, tag }) => {
        const [a, b] = await Promise.all([
          client.manifestHead(src.host, repo, tag),
          client.manifestHead(dst.host, repo, tag),
        ]);
        if (a && b && a.digest === b.digest) unchanged++;
      });
      if (outcomes.some((o) => o.status === "rejected")) throw new Error("HEAD phase failed");
      rows.push({
        path: "HEAD per tag, both sides",
        tags: total,
        unchanged,
        seconds: (performance.now() - started) / 1000,
        source,
        target,
      });
    }

    // --- skopeo sync ---------------------------------------------------------------------------------------
    let skopeoNote = "skopeo not installed";
    if (SKOPEO && (await skopeoAvailable())) {
      await settle();
      const srcBefore = logRequests(src);
      const dstBefore = logRequests(dst);
      const started = performance.now();
      await mapSettled(repos, 2, async (repo) => {
        await skopeoSync(`${src.host}/${repo}`, `${dst.host}/bench`);
      }).then((rs) => {
        const failed = rs.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
      });
      const seconds = (performance.now() - started) / 1000;
      await settle();
      const s = logRequests(src) - srcBefore;
      const t = logRequests(dst) - dstBefore;
      rows.push({
        path: "skopeo sync --all (no change)",
        tags: total,
        unchanged: total,
        seconds,
        source: { requests: s, listing: s, byKind: {} },
        target: { requests: t, listing: t, byKind: {} },
      });
      const { stdout } = await run("skopeo", ["--version"]);
      skopeoNote = stdout.trim();
    } else if (!SKOPEO) {
      skopeoNote = "skipped (BENCH_SKOPEO=0)";
    }

    // --- report --------------------------------------------------------------------------------------------
    const per = (n: number, tags: number) => (tags ? n / tags : 0);
    const fmt = (n: number) => (n >= 1 ? n.toFixed(2) : n.toFixed(3));
    const table = rows.map((r) => ({
      path: r.path,
      "unchanged/tags": `${r.unchanged}/${r.tags}`,
      "source req": String(r.source.requests),
      "target req": String(r.target.requests),
      "req/tag source": fmt(per(r.source.requests, r.tags)),
      "req/tag target": fmt(per(r.target.requests, r.tags)),
      "req/tag both": fmt(per(r.source.requests + r.target.requests, r.tags)),
      "req/tag, auth excl.": fmt(per(r.source.listing + r.target.listing, r.tags)),
      seconds: r.seconds.toFixed(2),
    }));
    printTable(table);
    for (const r of rows) {
      if (Object.keys(r.source.byKind).length || Object.keys(r.target.byKind).length) {
        console.log(`${r.path}: source ${JSON.stringify(r.source.byKind)}, target ${JSON.stringify(r.target.byKind)}`);
      }
    }
    console.log(`skopeo: ${skopeoNote}`);
    const report = {
      repos: REPOS,
      tagsPerRepo: TAGS,
      platforms: PLATFORMS,
      node: process.version,
      skopeo: skopeoNote,
      rows,
    };
    writeReport(PLATFORMS > 1 ? `bulk-${PLATFORMS}p` : "bulk", report);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
