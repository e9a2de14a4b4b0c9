/**
 * Mirror benchmark (issue 20): `mirror` of the prod environment of the newest vendored ARO-HCP fixture, its digests
 * replaced by local stand-ins (test/sources/configLab.ts), from one local registry into another standing in for
 * `arohcpsvcprod.azurecr.io`. Phases: the first run (everything copied and verified) and a no-change run. Request
 * counts are exact; times are this machine's. Run: `npm run build && node dist/bench/mirror.bench.js`.
 */
import path from "node:path";
import { mirrorEnvironment, type MirrorReport } from "../shared/mirror/mirror";
import { AuthManager } from "../shared/registry/auth";
import { RegistryClient } from "../shared/registry/client";
import { isLoopback, tallyRequests, Transport } from "../shared/registry/transport";
import { LayeredConfigSource } from "../shared/sources/layeredConfig";
import { GitConfigSource } from "../shared/trace/source";
import { startRegistry } from "../test/harness/registry";
import { startConfigLab } from "../test/sources/configLab";
import { fmt, printTable, writeReport } from "./report";

// dist/bench → the repository → test/fixtures (vendored ARO-HCP configs, see test/fixtures/README.md).
const FIXTURES = process.env.TRACE_FIXTURES_DIR ?? path.resolve(__dirname, "../../test/fixtures");

async function main(): Promise<void> {
  const target = await startRegistry();
  const lab = await startConfigLab({ fixtureDir: path.join(FIXTURES, "aro-hcp") });
  try {
    const client = new RegistryClient(
      new Transport({
        auth: new AuthManager({ credentials: () => Promise.resolve(undefined), allowPlainHttp: isLoopback }),
      }),
    );
    const registryMap = { ...lab.registryMap, "arohcpsvcprod.azurecr.io": target.host };
    const once = async (): Promise<{ report: MirrorReport; byKind: Record<string, number>; seconds: number }> => {
      const started = process.hrtime.bigint();
      const read = await new LayeredConfigSource(
        {
          name: "aro-hcp",
          repo: "ARO-HCP",
          commit: lab.commit,
          environment: "prod",
          tagOnly: "skip",
          targetRegistryPath: "acr.svc.name",
        },
        new GitConfigSource(lab.repo),
      ).read();
      const { result: report, requests } = await tallyRequests(() =>
        mirrorEnvironment({ client, source: read, registryMap }),
      );
      return { report, byKind: requests.byKind, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
    };
    const rows: Array<Record<string, string>> = [];
    const results: Record<string, unknown> = {};
    for (const phase of ["first run", "no change"]) {
      const { report, byKind, seconds } = await once();
      if (!report.ok) throw new Error(`mirror failed: ${report.errors.join("; ")}`);
      const n = report.summary.images;
      const bytes = report.images.reduce((s, r) => s + r.bytes, 0);
      rows.push({
        phase,
        images: String(n),
        copied: String(report.summary.copied),
        verified: String(report.summary.verified),
        requests: String(report.requests),
        "req/image": fmt(report.requests / n),
        "KiB moved": fmt(bytes / 1024, 1),
        seconds: fmt(seconds),
      });
      results[phase] = { seconds, images: n, summary: report.summary, requests: report.requests, byKind, bytes };
    }
    printTable(rows);
    writeReport("mirror", { fixture: "aro-hcp (newest)", environment: "prod", phases: results });
  } finally {
    await lab.stop();
    await target.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
