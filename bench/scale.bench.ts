/**
 * Scale benchmark: N tags across many repositories, planned by one timer run.
 *   seed — one image pushed per repository, then the tags written straight into the registries' storage
 *          (test/harness/seedTags.ts), on both sides; the status table seeded as this tool's own writes (trusted
 *          state), in batches, on Azurite;
 *   1. no change, trusting its own writes — the timer's usual run: a tag list per repository and a HEAD per tag
 *      upstream, no target request;
 *   2. 1 % of the tags re-pointed upstream to a new image — copied, the rest trusted.
 * Measured per phase: wall time, registry requests per tag (counted by the client), Table Storage requests on the
 * wire (Azurite), and the peak RSS of this process during the run (sampled every 20 ms; the registries and Azurite
 * are child processes and not included), and this process's CPU time (the rest of the wall time is spent waiting on
 * the registries and Azurite, which share the machine's cores). Prints a table and writes bench/results/scale.json.
 * BENCH_SCALE_TAGS (default 10000) and BENCH_SCALE_REPOS (default 100) change the size.
 */
import { RegistryClient } from "../shared/registry/client";
import { Transport, type RequestEvent } from "../shared/registry/transport";
import { SyncStore, type ImageStatus } from "../shared/store/syncStore";
import { Tables, type TableRequest } from "../shared/store/tables";
import { parseSyncConfig } from "../shared/sync/config";
import { runSync, type RunOutcome } from "../shared/sync/executor";
import { startAzurite } from "../test/harness/azurite";
import { buildImage, pushImage } from "../test/harness/images";
import { startRegistry } from "../test/harness/registry";
import { seedTagsOnDisk } from "../test/harness/seedTags";
import { fmt, printTable, writeReport } from "./report";

const TOTAL = Number(process.env.BENCH_SCALE_TAGS ?? 10_000);
const REPOS = Math.min(TOTAL, Number(process.env.BENCH_SCALE_REPOS ?? 100));
const PER_REPO = Math.ceil(TOTAL / REPOS);
const N = REPOS * PER_REPO;
const CHANGED = Math.max(1, Math.round(N / 100));

interface Phase {
  name: string;
  seconds: number;
  tags: number;
  registryRequests: number;
  requestsPerTag: number;
  tableRequests: number;
  tableWrites: number;
  peakRssMiB: number;
  /** RSS when the run started (after seeding and a GC): the run's own growth is the difference. */
  startRssMiB: number;
  /** CPU time of this process during the run (user + system): the rest of the wall time is waiting on the registries and Azurite. */
  cpuSeconds: number;
  copied: number;
}

const tagName = (i: number) => `t${String(i).padStart(5, "0")}`;
const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  try {
    const [up, acr, azurite] = await Promise.all([startRegistry(), startRegistry(), startAzurite()]);
    stoppers.push(up, acr, azurite);
    const registryEvents: RequestEvent[] = [];
    const tableEvents: TableRequest[] = [];
    const client = new RegistryClient(new Transport({ onRequest: (e) => registryEvents.push(e) }));
    const tables = new Tables({
      connectionString: azurite.connectionString,
      prefix: "scale",
      onRequest: (r) => tableEvents.push(r),
    });
    const store = new SyncStore(tables);

    // Seed.
    const seedStarted = Date.now();
    const image = buildImage();
    const repos = Array.from({ length: REPOS }, (_, r) => `scale/r${String(r).padStart(4, "0")}`);
    const tags = Array.from({ length: PER_REPO }, (_, i) => tagName(i));
    const statuses: ImageStatus[] = [];
    const at = new Date().toISOString();
    for (const repo of repos) {
      for (const side of [up, acr]) {
        await pushImage(side.host, repo, image, tags[0]);
        await seedTagsOnDisk(side, repo, image.digest, tags.slice(1));
      }
      for (const tag of tags) {
        statuses.push({
          key: `${acr.host}/${repo}:${tag}`,
          targetRegistry: acr.host,
          targetRepository: repo,
          tag,
          source: `${up.host}/${repo}:${tag}`,
          sourceDigest: image.digest,
          targetDigest: image.digest,
          writtenDigest: image.digest,
          state: "in-sync",
          lastCheckedAt: at,
          lastRunId: "seed",
          origin: "seed",
        });
      }
    }
    await store.saveStatuses(statuses);
    statuses.length = 0;
    const seedSeconds = (Date.now() - seedStarted) / 1000;

    const config = parseSyncConfig(
      [
        `target: { registry: "${acr.host}" }`,
        "images:",
        ...repos.map((repo) => `  - { source: "${up.host}/${repo}", allow: "t[0-9]+" }`),
      ].join("\n"),
      "sync.yaml",
    ).config;

    const measure = async (name: string): Promise<{ phase: Phase; outcome: RunOutcome }> => {
      registryEvents.length = 0;
      tableEvents.length = 0;
      global.gc?.();
      const startRss = process.memoryUsage().rss;
      let peak = startRss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const outcome = await runSync({
        client,
        config,
        trigger: "timer",
        store,
        verifyTarget: false,
        budgetMs: 1_200_000,
      });
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      const writes = tableEvents.filter((r) => r.method !== "GET").length;
      return {
        outcome,
        phase: {
          name,
          seconds,
          tags: outcome.results.length,
          registryRequests: registryEvents.length,
          requestsPerTag: registryEvents.length / outcome.results.length,
          tableRequests: tableEvents.length,
          tableWrites: writes,
          peakRssMiB: peak / MiB,
          startRssMiB: startRss / MiB,
          cpuSeconds: (used.user + used.system) / 1e6,
          copied: outcome.run.copied,
        },
      };
    };

    // A first run reads the tables into existence (ensure) and writes the cursor; not measured.
    await store.countStatuses();
    const phases: Phase[] = [];
    const noChange = await measure(`no change, ${N} tags, trusted state`);
    if (noChange.outcome.results.some((r) => r.action !== "unchanged"))
      throw new Error("the no-change run changed something: the seed is wrong");
    phases.push(noChange.phase);

    // 1 %: re-point tags upstream to a new image (pushed once per affected repository).
    const changed = Array.from({ length: CHANGED }, (_, i) => ({
      repo: repos[i % REPOS]!,
      tag: tags[Math.floor(i / REPOS) % PER_REPO]!,
    }));
    const next = buildImage();
    const byRepo = new Map<string, string[]>();
    for (const c of changed) byRepo.set(c.repo, [...(byRepo.get(c.repo) ?? []), c.tag]);
    for (const [repo, repoTags] of byRepo) {
      await pushImage(up.host, repo, next);
      await seedTagsOnDisk(up, repo, next.digest, repoTags);
    }
    const onePercent = await measure(`${CHANGED} of ${N} changed (1 %)`);
    if (onePercent.outcome.run.copied !== CHANGED)
      throw new Error(`expected ${CHANGED} copies, got ${onePercent.outcome.run.copied}`);
    phases.push(onePercent.phase);

    printTable(
      phases.map((p) => ({
        phase: p.name,
        seconds: fmt(p.seconds),
        "tags/s": fmt(p.tags / p.seconds, 0),
        "registry req/tag": fmt(p.requestsPerTag, 3),
        "table requests": String(p.tableRequests),
        "table writes": String(p.tableWrites),
        "RSS at start MiB": fmt(p.startRssMiB, 0),
        "peak RSS MiB": fmt(p.peakRssMiB, 0),
        "our CPU s": fmt(p.cpuSeconds),
        copied: String(p.copied),
      })),
    );
    writeReport("scale", {
      tags: N,
      repos: REPOS,
      tagsPerRepo: PER_REPO,
      changed: CHANGED,
      seedSeconds,
      node: process.version,
      targets: { noChangeSeconds: 30, requestsPerTag: 1, peakRssMiB: 300 },
      phases,
    });
  } finally {
    await Promise.all(stoppers.map((s) => s.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
