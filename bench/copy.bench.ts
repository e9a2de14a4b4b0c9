/**
 * `npm run bench`: copy 20 images (3 layers of 4 MiB, one base layer shared by all) between two local registries,
 * then the same copy again; skopeo on the same images when installed; then one image of one large layer (1 GiB)
 * between the same two registries three ways: a one-pass `curl` GET piped into a PUT (the physical limit of this
 * setup), `skopeo copy` with its blob-info cache cleared, and ours, each with its wall time and peak RSS.
 * Prints a table and writes bench/results/copy.json. Sizes can be lowered with BENCH_IMAGES, BENCH_LAYER_MB and
 * BENCH_BIG_MB for a quick run.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { RegistryClient } from "../shared/registry/client";
import { KnownBlobs, copyImage } from "../shared/registry/copy";
import { mapSettled } from "../shared/registry/limiter";
import { Transport, tallyRequests } from "../shared/registry/transport";
import { digestOfStream, pushBlob, pushManifest, streamOfSize, OCI_MANIFEST } from "../test/harness/images";
import { startRegistry, type RunningRegistry } from "../test/harness/registry";
import { fmt, freshSkopeoEnv, printTable, run, skopeoAvailable, writeReport } from "./report";

const MiB = 1024 * 1024;
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20);
const LAYER_MB = Number(process.env.BENCH_LAYER_MB ?? 4);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
/** Rounds of the three-way big-layer comparison, interleaved so that drifting machine load hits each way alike. */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const IMAGE_CONCURRENCY = 4;

interface Phase {
  name: string;
  seconds: number;
  requests: number;
  byKind: Record<string, number>;
  bytesMoved: number;
  peakRssMiB: number;
  baselineRssMiB: number;
}

function rssSampler(): { stop(): { peak: number; baseline: number } } {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { peak: peak / MiB, baseline: baseline / MiB };
    },
  };
}

async function seedImage(
  host: string,
  repo: string,
  layers: Array<{ digest: string; size: number; open: () => Readable }>,
  tag: string,
): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "vcs-ref": repo } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const configDigest = await digestOfStream(() => streamFrom(config));
  await pushBlob(host, repo, config);
  for (const l of layers) await pushBlob(host, repo, l);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  await pushManifest(host, repo, tag, manifest, OCI_MANIFEST);
}

function streamFrom(buf: Buffer): Readable {
  return Readable.from([buf]);
}

async function layer(seed: string, size: number) {
  const open = streamOfSize(size, seed);
  return { digest: await digestOfStream(open), size, open };
}

async function ours(
  name: string,
  client: RegistryClient,
  from: RunningRegistry,
  to: RunningRegistry,
  repos: string[],
): Promise<Phase> {
  const rss = rssSampler();
  const started = performance.now();
  let bytes = 0;
  const knownBlobs = new KnownBlobs();
  const { requests } = await tallyRequests(async () => {
    const results = await mapSettled(repos, IMAGE_CONCURRENCY, (repo) =>
      copyImage(
        client,
        { registry: from.host, repository: repo, tag: "v1" },
        { registry: to.host, repository: repo },
        ["v1"],
        { knownBlobs },
      ),
    );
    for (const r of results) {
      if (r.status === "rejected") throw r.reason;
      bytes += r.value.bytes;
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const mem = rss.stop();
  return {
    name,
    seconds,
    requests: requests.total,
    byKind: { ...requests.byKind } as Record<string, number>,
    bytesMoved: bytes,
    peakRssMiB: mem.peak,
    baselineRssMiB: mem.baseline,
  };
}

async function skopeo(
  from: RunningRegistry,
  to: RunningRegistry,
  repos: string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const started = performance.now();
  await mapSettled(repos, IMAGE_CONCURRENCY, async (repo) => {
    await run(
      "skopeo",
      [
        "copy",
        "--all",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${from.host}/${repo}:v1`,
        `docker://${to.host}/${repo}:v1`,
      ],
      { env },
    );
  }).then((rs) => {
    const failed = rs.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
  return (performance.now() - started) / 1000;
}

interface Way {
  way: string;
  seconds: number;
  /** Peak RSS of the process(es) doing the copy; for the pipe, both curls together. */
  peakRssMiB: number;
  /** Each round's figures, when the way was measured more than once (seconds and peak RSS are then medians). */
  samples?: Array<{ seconds: number; peakRssMiB: number }>;
}

/** Runs `command` under GNU time and returns its wall seconds and the max RSS lines it printed (KiB, one a process). */
async function timed(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ seconds: number; rssKiB: number[] }> {
  const started = performance.now();
  const { stderr } = await run("bash", ["-o", "pipefail", "-c", command], { maxBuffer: 1 << 20, env });
  const seconds = (performance.now() - started) / 1000;
  const rssKiB = [...stderr.matchAll(/^RSS=(\d+)$/gm)].map((m) => Number(m[1]));
  return { seconds, rssKiB };
}

/** The one-pass curl GET | curl PUT of the layer (config and manifest are not counted: a few hundred bytes). */
async function curlPipe(
  src: RunningRegistry,
  dst: RunningRegistry,
  digest: string,
  size: number,
  round: number,
): Promise<Way> {
  const start = await fetch(`http://${dst.host}/v2/bench/big-pipe${round}/blobs/uploads/`, { method: "POST" });
  await start.body?.cancel();
  const location = new URL(start.headers.get("location") ?? "", `http://${dst.host}`);
  location.searchParams.set("digest", digest);
  const t = "/usr/bin/time -f RSS=%M";
  const { seconds, rssKiB } = await timed(
    `${t} curl -sS --fail http://${src.host}/v2/bench/big/blobs/${digest} | ` +
      `${t} curl -sS --fail -o /dev/null -X PUT -T - -H 'Content-Type: application/octet-stream' ` +
      `-H 'Content-Length: ${size}' '${location.toString()}'`,
  );
  return { way: "curl GET | curl PUT", seconds, peakRssMiB: rssKiB.reduce((a, b) => a + b, 0) / 1024 };
}

async function skopeoOne(src: RunningRegistry, dst: RunningRegistry, round: number): Promise<Way> {
  const cache = freshSkopeoEnv();
  try {
    const { seconds, rssKiB } = await timed(
      `/usr/bin/time -f RSS=%M skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false ` +
        `docker://${src.host}/bench/big:v1 docker://${dst.host}/bench/big-skopeo${round}:v1`,
      cache.env,
    );
    return { way: "skopeo copy", seconds, peakRssMiB: (rssKiB[0] ?? 0) / 1024 };
  } finally {
    cache.dispose();
  }
}

async function oursOne(src: RunningRegistry, dst: RunningRegistry, round: number) {
  const { stdout } = await run(
    process.execPath,
    [join(__dirname, "copyOne.js"), `${src.host}/bench/big:v1`, `${dst.host}/bench/big-ours${round}`],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as {
    seconds: number;
    peakRssMiB: number;
    bytes: number;
    requests: { total: number; byKind: Record<string, number> };
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const registries: RunningRegistry[] = [];
  const start = async () => {
    const r = await startRegistry();
    registries.push(r);
    return r;
  };
  try {
    const [src, dst] = await Promise.all([start(), start()]);
    process.stderr.write(`seeding ${IMAGES} images of 3 × ${LAYER_MB} MiB (one shared base layer)…\n`);
    const base = await layer("base", LAYER_MB * MiB);
    const repos = Array.from({ length: IMAGES }, (_, i) => `bench/app${i}`);
    await mapSettled(repos, 4, async (repo) => {
      const own = [await layer(`${repo}-a`, LAYER_MB * MiB), await layer(`${repo}-b`, LAYER_MB * MiB)];
      await seedImage(src.host, repo, [base, ...own], "v1");
    });

    const client = new RegistryClient(new Transport());
    const first = await ours("first copy", client, src, dst, repos);
    const repeat = await ours("repeat copy", client, src, dst, repos);

    let skopeoFirst: number | undefined;
    let skopeoRepeat: number | undefined;
    if (await skopeoAvailable()) {
      const dst2 = await start();
      // One blob-info cache for both runs, new for the first: the repeat may use what the first learnt.
      const cache = freshSkopeoEnv();
      try {
        skopeoFirst = await skopeo(src, dst2, repos, cache.env);
        skopeoRepeat = await skopeo(src, dst2, repos, cache.env);
      } finally {
        cache.dispose();
      }
    }

    let big: Phase | undefined;
    const ways: Way[] = [];
    if (BIG_MB > 0) {
      process.stderr.write(`seeding one ${BIG_MB} MiB layer…\n`);
      const bigLayer = await layer("big", BIG_MB * MiB);
      await seedImage(src.host, "bench/big", [bigLayer], "v1");
      // The pipe and skopeo are measured under GNU time (for their peak RSS); without it, only ours is measured.
      const withTime = existsSync("/usr/bin/time");
      if (!withTime) process.stderr.write("no /usr/bin/time: the curl pipe and skopeo are not measured\n");
      const withSkopeo = withTime && (await skopeoAvailable());
      const samples: Way[][] = [];
      let one: Awaited<ReturnType<typeof oursOne>> | undefined;
      // Each way starts on a clean disk (the previous way's gigabyte flushed with `sync`), and the order turns every
      // round: a fixed order made one way always run while the one before it was still being written back.
      const contenders: Array<(round: number) => Promise<Way>> = [
        ...(withTime ? [(round: number) => curlPipe(src, dst, bigLayer.digest, bigLayer.size, round)] : []),
        ...(withSkopeo ? [(round: number) => skopeoOne(src, dst, round)] : []),
        async (round: number) => {
          one = await oursOne(src, dst, round);
          return { way: "ours", seconds: one.seconds, peakRssMiB: one.peakRssMiB };
        },
      ];
      for (let round = 0; round < REPEAT; round++) {
        process.stderr.write(`big layer, round ${round + 1} of ${REPEAT}…\n`);
        const row: Way[] = [];
        for (let k = 0; k < contenders.length; k++) {
          await run("sync", []);
          row.push(await contenders[(round + k) % contenders.length]!(round));
        }
        samples.push(row);
      }
      // Round 0 runs in the contenders' own order: pipe, skopeo, ours.
      for (const way of samples[0]!.map((w) => w.way)) {
        const of = samples.map((row) => row.find((w) => w.way === way)!);
        ways.push({
          way,
          seconds: median(of.map((w) => w.seconds)),
          peakRssMiB: median(of.map((w) => w.peakRssMiB)),
          samples: of.map(({ seconds, peakRssMiB }) => ({ seconds, peakRssMiB })),
        });
      }
      const ourWay = ways.find((w) => w.way === "ours")!;
      big = {
        name: `one ${BIG_MB} MiB layer (own process, median of ${REPEAT})`,
        seconds: ourWay.seconds,
        requests: one!.requests.total,
        byKind: one!.requests.byKind,
        bytesMoved: one!.bytes,
        peakRssMiB: ourWay.peakRssMiB,
        baselineRssMiB: 0,
      };
    }

    const phases = [first, repeat, ...(big ? [big] : [])];
    const rows = phases.map((p) => ({
      phase: p.name,
      seconds: fmt(p.seconds),
      requests: String(p.requests),
      "MiB moved": fmt(p.bytesMoved / MiB, 1),
      "peak RSS MiB": fmt(p.peakRssMiB, 0),
      "vs skopeo":
        p === first && skopeoFirst
          ? `${fmt(p.seconds / skopeoFirst)}×`
          : p === repeat && skopeoRepeat
            ? `${fmt(p.seconds / skopeoRepeat)}×`
            : "",
    }));
    console.log(
      `load average at the end: ${loadavg()
        .map((l) => fmt(l))
        .join(" ")}`,
    );
    printTable(rows);
    if (skopeoFirst) console.log(`skopeo copy --all: first ${fmt(skopeoFirst)} s, repeat ${fmt(skopeoRepeat ?? 0)} s`);
    for (const p of phases) console.log(`${p.name} requests by kind: ${JSON.stringify(p.byKind)}`);
    const pipe = ways.find((w) => w.way.startsWith("curl"));
    if (ways.length > 0) {
      console.log(`one ${BIG_MB} MiB layer between the same two registries (median of ${REPEAT} interleaved rounds):`);
      printTable(
        ways.map((w) => ({
          way: w.way,
          seconds: fmt(w.seconds),
          "vs pipe": pipe ? `${fmt(w.seconds / pipe.seconds)}×` : "",
          "peak RSS MiB": fmt(w.peakRssMiB, 0),
          "each round s": (w.samples ?? []).map((x) => fmt(x.seconds)).join(" "),
        })),
      );
    }

    const report = {
      images: IMAGES,
      layerMiB: LAYER_MB,
      bigLayerMiB: BIG_MB,
      bigLayerRounds: REPEAT,
      load: loadavg(),
      node: process.version,
      phases,
      skopeo: skopeoFirst ? { firstSeconds: skopeoFirst, repeatSeconds: skopeoRepeat } : null,
      bigLayerThreeWays: ways,
    };
    writeReport("copy", report);
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
