/**
 * Referrers benchmark: the no-change cost of `referrers: true` against `false`, per tag, from a source without the
 * Referrers API (docker-registry 2.8: fallback tag + cosign tags) and from one with it (the OCI 1.1 stand-in), and
 * the cost of a run where one referrer was added upstream to one unchanged image. Every image is signed with cosign
 * (`.sig` tag) and carries one SBOM referrer. Requests are counted by proxies on each side, as in sync.bench.ts.
 * Prints a table and writes bench/results/referrers.json. BENCH_REPOS and BENCH_TAGS change the size.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryClient } from "../shared/registry/client";
import { mapSettled } from "../shared/registry/limiter";
import { Transport } from "../shared/registry/transport";
import { SyncStore } from "../shared/store/syncStore";
import { Tables } from "../shared/store/tables";
import { loadSyncConfigFile } from "../shared/sync/config";
import { runSync } from "../shared/sync/executor";
import { startAzurite } from "../test/harness/azurite";
import { buildImage, pushImage, OCI_INDEX } from "../test/harness/images";
import { startProxy, type RunningProxy } from "../test/harness/proxy";
import { startReferrersStandIn } from "../test/harness/referrersStandIn";
import { startRegistry } from "../test/harness/registry";
import {
  cosignKeyPair,
  pushArtifact,
  pushCosignSignature,
  pushFallbackReferrer,
  subjectOf,
} from "../test/harness/signing";
import { fmt, printTable, writeReport } from "./report";

const REPOS = Number(process.env.BENCH_REPOS ?? 5);
const TAGS = Number(process.env.BENCH_TAGS ?? 4);

interface Row {
  source: "no Referrers API" | "Referrers API";
  referrers: boolean;
  phase: string;
  seconds: number;
  upstreamRequests: number;
  targetRequests: number;
  tags: number;
  copied: number;
}

async function main(): Promise<void> {
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  try {
    const [plain, apiBackend, dst] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    stoppers.push(plain, apiBackend, dst);
    const azurite = await startAzurite();
    stoppers.push(azurite);
    const api = await startReferrersStandIn(apiBackend.host);
    stoppers.push(api);
    const down = await startProxy(dst.host);
    const upPlain = await startProxy(plain.host);
    const upApi = await startProxy(api.host);
    stoppers.push(down, upPlain, upApi);
    const store = new SyncStore(new Tables({ connectionString: azurite.connectionString }));
    const key = cosignKeyPair();
    const repos = Array.from({ length: REPOS }, (_, i) => `bench/svc${i}`);
    const tags = Array.from({ length: TAGS }, (_, i) => `1.${i}.0`);

    const seed = async (host: string, withApi: boolean) => {
      await mapSettled(repos, 4, async (repo) => {
        for (const tag of tags) {
          const image = buildImage();
          await pushImage(host, repo, image, tag);
          await pushCosignSignature(host, repo, image.digest, key);
          const sbom = await pushArtifact(
            host,
            repo,
            subjectOf(image),
            "application/spdx+json",
            Buffer.from(`{"tag":"${tag}"}`),
          );
          if (!withApi) await pushFallbackReferrer(host, repo, image.digest, sbom, "application/spdx+json");
        }
      });
    };
    process.stderr.write(`seeding ${REPOS} repositories × ${TAGS} tags, twice…\n`);
    await seed(plain.host, false);
    await seed(api.host, true);

    const dir = mkdtempSync(join(tmpdir(), "referrers-bench-"));
    const rows: Row[] = [];
    const measure = async (
      source: Row["source"],
      referrers: boolean,
      phase: string,
      up: RunningProxy,
      prefix: string,
    ): Promise<void> => {
      const path = join(dir, `${prefix}.yaml`);
      writeFileSync(
        path,
        [
          `target: { registry: "${down.host}", prefix: ${prefix} }`,
          `defaults: { concurrency: 8, referrers: ${referrers} }`,
          "images:",
          ...repos.map((r) => `  - { source: "${up.host}/${r}", tags: [${tags.map((t) => `"${t}"`).join(", ")}] }`),
        ].join("\n"),
      );
      const { config } = await loadSyncConfigFile(path);
      const up0 = up.seen.length;
      const down0 = down.seen.length;
      const started = performance.now();
      const outcome = await runSync({
        client: new RegistryClient(new Transport()),
        config,
        trigger: "cli",
        store,
        rateLimitReserve: 0,
      });
      if (outcome.run.failed) throw new Error(`sync failed: ${outcome.run.errorSummary}`);
      rows.push({
        source,
        referrers,
        phase,
        seconds: (performance.now() - started) / 1000,
        upstreamRequests: up.seen.length - up0,
        targetRequests: down.seen.length - down0,
        tags: REPOS * TAGS,
        copied: outcome.run.copied,
      });
    };

    for (const [source, up, name] of [
      ["no Referrers API", upPlain, "plain"],
      ["Referrers API", upApi, "api"],
    ] as const) {
      for (const referrers of [false, true]) {
        const prefix = `${name}-${referrers ? "on" : "off"}`;
        await measure(source, referrers, "first sync", up, prefix);
        await measure(source, referrers, "no change", up, prefix);
      }
      // One SBOM added upstream to one unchanged image: only the `on` mirror has work; `off` must not notice.
      const host = name === "plain" ? plain.host : api.host;
      const repo = repos[0]!;
      const head = await fetch(`http://${host}/v2/${repo}/manifests/${tags[0]}`, {
        method: "HEAD",
        headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      const digest = head.headers.get("docker-content-digest")!;
      const size = Number(head.headers.get("content-length"));
      const subject = { digest, size, mediaType: "application/vnd.oci.image.manifest.v1+json" };
      const extra = await pushArtifact(host, repo, subject, "application/vnd.cyclonedx+json", Buffer.from("[]"));
      if (name === "plain") {
        const current = await fetch(`http://${host}/v2/${repo}/manifests/${digest.replace(":", "-")}`, {
          headers: { Accept: OCI_INDEX },
        });
        const index = (await current.json()) as { manifests: unknown[] };
        await pushFallbackReferrer(host, repo, digest, extra, "application/vnd.cyclonedx+json", index.manifests);
      }
      for (const referrers of [false, true])
        await measure(source, referrers, "1 referrer added upstream", up, `${name}-${referrers ? "on" : "off"}`);
    }

    printTable(
      rows.map((r) => ({
        source: r.source,
        referrers: String(r.referrers),
        phase: r.phase,
        seconds: fmt(r.seconds),
        copied: String(r.copied),
        "upstream req/tag": fmt(r.upstreamRequests / r.tags),
        "target req/tag": fmt(r.targetRequests / r.tags),
        "req/tag": fmt((r.upstreamRequests + r.targetRequests) / r.tags),
      })),
    );
    writeReport("referrers", { repos: REPOS, tagsPerRepo: TAGS, node: process.version, rows });
  } finally {
    await Promise.all(stoppers.map((s) => s.stop()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
