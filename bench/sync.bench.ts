/**
 * Sync benchmark: 100 tags (10 repositories × 10 tags) mirrored between two local registries, each behind a
 * counting proxy so that our requests and skopeo's are counted the same way, per side.
 *   1. first sync (copies everything) — ours and `skopeo sync` into other prefixes, BENCH_SYNC_ROUNDS times (default
 *      3, each round into fresh repositories, the two taking turns at going first), medians reported;
 *   2. no-change run — ours verifying the target (a HEAD per tag on each side), ours trusting its own writes (Table
 *      state in Azurite: a HEAD per tag upstream only), and `skopeo sync`;
 *   3. 10 of the 100 tags re-pushed upstream — ours (trusted) and `skopeo sync`.
 * Ours runs in a child process (bench/syncOne.ts) and is timed from its run's start; skopeo is timed as a process,
 * with a blob-info cache of its own that starts empty.
 * Prints a table and writes bench/results/sync.json. BENCH_REPOS and BENCH_TAGS change the size.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mapSettled } from "../shared/registry/limiter";
import { startAzurite, type RunningAzurite } from "../test/harness/azurite";
import { buildImage, pushImage } from "../test/harness/images";
import { startProxy, type RunningProxy } from "../test/harness/proxy";
import { startRegistry, type RunningRegistry } from "../test/harness/registry";
import { fmt, freshSkopeoEnv, printTable, run, skopeoAvailable, skopeoSync, writeReport } from "./report";

const REPOS = Number(process.env.BENCH_REPOS ?? 10);
const TAGS = Number(process.env.BENCH_TAGS ?? 10);
const CHANGED = Math.min(10, REPOS * TAGS);
/** First syncs measured, each into fresh repositories, ours and skopeo in turns; the table gives the medians. */
const FIRST_ROUNDS = Math.max(1, Number(process.env.BENCH_SYNC_ROUNDS ?? 3));

interface Phase {
  name: string;
  tool: "acr-image-sync" | "skopeo sync";
  seconds: number;
  upstreamRequests: number;
  targetRequests: number;
  tags: number;
  copied?: number;
  /** CPU seconds of this process (the counting proxies) during the phase. */
  benchCpuSeconds: number;
  /** Each round's seconds, when the phase was measured more than once (`seconds` is then their median). */
  rounds?: number[];
}

async function measure(
  name: string,
  tool: Phase["tool"],
  proxies: { up: RunningProxy; down: RunningProxy },
  /** Runs the phase; may return the copied count and its own wall time (a child's, without its process start). */
  fn: () => Promise<{ copied?: number; seconds?: number }>,
): Promise<Phase> {
  const up0 = proxies.up.seen.length;
  const down0 = proxies.down.seen.length;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const { copied, seconds } = await fn();
  const cpu = process.cpuUsage(cpu0);
  return {
    name,
    tool,
    seconds: seconds ?? (performance.now() - started) / 1000,
    upstreamRequests: proxies.up.seen.length - up0,
    targetRequests: proxies.down.seen.length - down0,
    tags: REPOS * TAGS,
    benchCpuSeconds: (cpu.user + cpu.system) / 1e6,
    ...(copied !== undefined ? { copied } : {}),
  };
}

async function main(): Promise<void> {
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  try {
    const [src, dst]: RunningRegistry[] = await Promise.all([startRegistry(), startRegistry()]);
    const azurite: RunningAzurite = await startAzurite();
    stoppers.push(src!, dst!, azurite);
    const up = await startProxy(src!.host);
    const down = await startProxy(dst!.host);
    stoppers.push(up, down);
    const proxies = { up, down };

    process.stderr.write(`seeding ${REPOS} repositories × ${TAGS} tags…\n`);
    const repos = Array.from({ length: REPOS }, (_, i) => `bench/svc${i}`);
    const tags = Array.from({ length: TAGS }, (_, i) => `1.${i}.0`);
    await mapSettled(repos, 4, async (repo) => {
      for (const tag of tags) await pushImage(src!.host, repo, buildImage(), tag);
    });

    const dir = mkdtempSync(join(tmpdir(), "sync-bench-"));
    const configFor = (prefix: string) => {
      const path = join(dir, `${prefix}.yaml`);
      writeFileSync(
        path,
        [
          `target: { registry: "${down.host}", prefix: ${prefix} }`,
          "defaults: { concurrency: 8 }",
          "images:",
          ...repos.map((r) => `  - { source: "${up.host}/${r}", tags: [${tags.map((t) => `"${t}"`).join(", ")}] }`),
        ].join("\n"),
      );
      return path;
    };
    const configPath = configFor("mirror");
    // Ours runs in a child process, as skopeo does: the counting proxies live in this process, and sharing its
    // event loop with them cost our first sync about 40% of its time (measured: the proxies took 1.4 s of CPU for
    // skopeo's 1,600 requests).
    const ours = (verifyTarget: boolean, config = configPath) => async () => {
      const { stdout } = await run(
        process.execPath,
        [join(__dirname, "syncOne.js"), config, azurite.connectionString, verifyTarget ? "verify" : "trust"],
        { maxBuffer: 1 << 20 },
      );
      return JSON.parse(stdout) as { copied: number; seconds: number };
    };
    const hasSkopeo = await skopeoAvailable();
    // skopeo starts from an empty blob-info cache, kept for its later phases as a cron job's would be.
    const skopeoCache = hasSkopeo ? freshSkopeoEnv() : undefined;
    if (skopeoCache) stoppers.push({ stop: async () => skopeoCache.dispose() });
    const skopeoInto = (prefix: string, env: NodeJS.ProcessEnv | undefined) => async () => {
      await mapSettled(repos, 4, (repo) =>
        skopeoSync(`${up.host}/${repo}`, `${down.host}/${prefix}/${repo.split("/")[0]}`, env),
      ).then((rs) => {
        const failed = rs.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
      });
      return {};
    };
    const skopeo = skopeoInto("skopeo", skopeoCache?.env);

    const phases: Phase[] = [];
    // First syncs: round 0 into the repositories the later phases use; later rounds into fresh ones (skopeo with a
    // fresh blob-info cache each), the two tools taking turns at going first.
    const firsts: Record<Phase["tool"], Phase[]> = { "acr-image-sync": [], "skopeo sync": [] };
    for (let round = 0; round < FIRST_ROUNDS; round++) {
      process.stderr.write(`first sync, round ${round + 1} of ${FIRST_ROUNDS}…\n`);
      const fresh = round > 0 && hasSkopeo ? freshSkopeoEnv() : undefined;
      const turns: Array<() => Promise<void>> = [
        async () => {
          const config = round === 0 ? configPath : configFor(`mirror${round}`);
          firsts["acr-image-sync"].push(await measure("first sync", "acr-image-sync", proxies, ours(true, config)));
        },
        ...(hasSkopeo
          ? [
              async () => {
                const sync = round === 0 ? skopeo : skopeoInto(`skopeo${round}`, fresh?.env);
                firsts["skopeo sync"].push(await measure("first sync", "skopeo sync", proxies, sync));
              },
            ]
          : []),
      ];
      if (round % 2 === 1) turns.reverse();
      try {
        for (const turn of turns) await turn();
      } finally {
        fresh?.dispose();
      }
    }
    for (const tool of ["acr-image-sync", "skopeo sync"] as const) {
      const all = firsts[tool];
      if (!all.length) continue;
      const secs = all.map((p) => p.seconds);
      phases.push({ ...all[0]!, seconds: median(secs), rounds: secs });
    }
    phases.push(await measure("no change, verify target", "acr-image-sync", proxies, ours(true)));
    phases.push(await measure("no change, trust own writes", "acr-image-sync", proxies, ours(false)));
    if (hasSkopeo) phases.push(await measure("no change", "skopeo sync", proxies, skopeo));

    // Re-push CHANGED tags upstream with new content.
    const changed = Array.from({ length: CHANGED }, (_, i) => ({
      repo: repos[i % REPOS]!,
      tag: tags[Math.floor(i / REPOS) % TAGS]!,
    }));
    for (const c of changed) await pushImage(src!.host, c.repo, buildImage(), c.tag);
    phases.push(await measure(`${CHANGED} of ${REPOS * TAGS} changed`, "acr-image-sync", proxies, ours(false)));
    if (hasSkopeo) phases.push(await measure(`${CHANGED} of ${REPOS * TAGS} changed`, "skopeo sync", proxies, skopeo));

    const skopeoFor = (name: string) => phases.find((p) => p.tool === "skopeo sync" && name.startsWith(p.name));
    printTable(
      phases.map((p) => {
        const peer = p.tool === "acr-image-sync" ? skopeoFor(p.name) : undefined;
        return {
          phase: p.name,
          tool: p.tool,
          seconds: fmt(p.seconds),
          "upstream req/tag": fmt(p.upstreamRequests / p.tags),
          "target req/tag": fmt(p.targetRequests / p.tags),
          "req/tag": fmt((p.upstreamRequests + p.targetRequests) / p.tags),
          "time vs skopeo": peer ? `${fmt(p.seconds / peer.seconds)}×` : "",
          "proxy CPU s": fmt(p.benchCpuSeconds),
          "rounds s": (p.rounds ?? []).map((x) => fmt(x)).join(" "),
        };
      }),
    );
    writeReport("sync", {
      repos: REPOS,
      tagsPerRepo: TAGS,
      changed: CHANGED,
      node: process.version,
      skopeo: hasSkopeo,
      phases,
    });
  } finally {
    await Promise.all(stoppers.map((s) => s.stop()));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
