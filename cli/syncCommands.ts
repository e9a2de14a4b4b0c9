/**
 * `plan`, `sync`, `status` and `serve`: the same settings (environment variables, as in local.settings.json) and
 * the same Runtime as the functions, with flags for the two a person changes most (the config file, report-only).
 */
import type { Command } from "commander";
import { serveApi } from "../shared/api/server";
import { Runtime, UnknownImageError } from "../shared/runtime";
import { SettingsError, readSettings } from "../shared/settings";
import { ConfigError } from "../shared/sync/configError";
import { planSync } from "../shared/sync/planner";
import { OUTDATED_STATES, countStates, outdated, type ImageResult, type PlanItem } from "../shared/sync/model";
import { EXIT, type Output } from "./copyCommand";
import { ProgressBars, progressLine } from "./progress";

interface CommonOpts {
  config?: string;
  json?: boolean;
}

function runtimeFor(opts: CommonOpts, env: NodeJS.ProcessEnv = process.env): Runtime {
  return new Runtime(
    readSettings({ ...env, ...(opts.config ? { SYNC_CONFIG: opts.config } : {}) }, { requireTables: false }),
  );
}

const short = (d?: string) => (d ? d.slice(7, 19) : "-");

export function planTable(
  items: readonly Pick<PlanItem, "state" | "key" | "sourceDigest" | "targetDigest" | "reason">[],
): string[] {
  const rows = [...items].sort(
    (a, b) => Number(OUTDATED_STATES.has(b.state)) - Number(OUTDATED_STATES.has(a.state)) || a.key.localeCompare(b.key),
  );
  const width = Math.max(5, ...rows.map((r) => r.state.length));
  return [
    `${"STATE".padEnd(width)}  ${"SOURCE".padEnd(12)}  ${"TARGET".padEnd(12)}  TAG`,
    ...rows.map(
      (r) =>
        `${r.state.padEnd(width)}  ${short(r.sourceDigest).padEnd(12)}  ${short(r.targetDigest).padEnd(12)}  ${r.key}${r.reason && r.state === "error" ? `  (${r.reason})` : ""}`,
    ),
  ];
}

/** Maps the errors a person can fix to exit code 2 with the message, everything else to 1. */
async function guarded(out: Output, setExit: (code: number) => void, fn: () => Promise<number>): Promise<void> {
  try {
    setExit(await fn());
  } catch (err) {
    const bad = err instanceof SettingsError || err instanceof ConfigError || err instanceof UnknownImageError;
    out.stderr(`error: ${err instanceof Error ? err.message : String(err)}`);
    setExit(bad ? EXIT.badInput : EXIT.failed);
  }
}

export function registerSyncCommands(
  program: Command,
  out: Output,
  setExit: (code: number) => void,
  isTty = () => Boolean(process.stderr.isTTY),
): void {
  program
    .command("plan")
    .description("dry run: the state of every tag the sync config selects, decided by digest; nothing is written")
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .option("--json", "print the plan as JSON")
    .action(async (opts: CommonOpts) =>
      guarded(out, setExit, async () => {
        const rt = runtimeFor(opts);
        const { config, warnings } = await rt.loadConfig();
        const status = rt.store ? await rt.store.statusByKey() : undefined;
        const acr = rt.acrWiring();
        const plan = await planSync(rt.client, config, {
          ...(status ? { status } : {}),
          verifyTarget: !status,
          ...(acr.lister ? { lister: acr.lister } : {}),
          ...(acr.locks ? { locks: acr.locks } : {}),
        });
        for (const w of [...warnings.map((w) => `${w.file}:${w.line} ${w.path}: ${w.message}`), ...plan.warnings])
          out.stderr(`warning: ${w}`);
        const counts = countStates(plan.items);
        if (opts.json) out.stdout(JSON.stringify({ counts, outdated: outdated(counts), items: plan.items }, null, 2));
        else {
          for (const line of planTable(plan.items)) out.stdout(line);
          out.stdout(`\n${plan.items.length} tags, ${outdated(counts)} outdated, ${counts.error} errors`);
        }
        return counts.error > 0 ? EXIT.failed : EXIT.ok;
      }),
    );

  program
    .command("sync")
    .description("plan, copy what is outdated, record the run (with Table Storage configured) and print a summary")
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .option("--report-only", "plan and record, copy nothing")
    .option("--image <repository>", "only the entries with this source or target repository")
    .option("--json", "print the run and its results as JSON")
    .action(async (opts: CommonOpts & { reportOnly?: boolean; image?: string }) =>
      guarded(out, setExit, async () => {
        const rt = runtimeFor(opts);
        const bars = !opts.json && isTty() ? new ProgressBars((t) => process.stderr.write(t)) : undefined;
        const outcome = await rt.sync({
          trigger: "cli",
          ...(opts.reportOnly ? { reportOnly: true } : {}),
          ...(opts.image ? { image: opts.image } : {}),
          onProgress: (item, e) => (bars ? bars.event(item.key, e) : out.stderr(`${item.key}: ${progressLine(e)}`)),
        });
        bars?.close();
        for (const w of outcome.warnings) out.stderr(`warning: ${w}`);
        if (outcome.skipped) {
          out.stderr(`skipped: ${outcome.skipped}`);
          return EXIT.failed;
        }
        if (opts.json) out.stdout(JSON.stringify({ run: outcome.run, results: outcome.results }, null, 2));
        else printRun(out, outcome.results, outcome.run);
        return outcome.run.failed > 0 || outcome.run.countsAfter.error > 0 ? EXIT.failed : EXIT.ok;
      }),
    );

  program
    .command("status")
    .description("the latest state of every mirrored tag, from Table Storage; outdated first")
    .option("--json", "print JSON")
    .option("--outdated", "only outdated tags")
    .action(async (opts: CommonOpts & { outdated?: boolean }) =>
      guarded(out, setExit, async () => {
        // Status reads the store only; the sync config is not needed.
        const rt = new Runtime(readSettings({ SYNC_CONFIG: "(unused by status)", ...process.env }));
        const statuses = await rt.requireStore().listStatuses(opts.outdated ? { state: "outdated" } : {});
        const [last] = await rt.requireStore().listRuns(1);
        if (opts.json) out.stdout(JSON.stringify({ lastRun: last ?? null, images: statuses }, null, 2));
        else {
          for (const line of planTable(statuses)) out.stdout(line);
          const counts = countStates(statuses);
          out.stdout(
            `\n${statuses.length} tags, ${outdated(counts)} outdated${last ? `; last run ${last.runId} ${last.status} at ${last.startedAt}` : "; no run recorded"}`,
          );
        }
        return EXIT.ok;
      }),
    );

  program
    .command("serve")
    .description("serve the HTTP API and the status page on 127.0.0.1 (writes need the token it prints)")
    .option("--port <n>", "port (default 7071, as func start)", "7071")
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .action(async (opts: CommonOpts & { port: string }) =>
      guarded(out, setExit, async () => {
        const rt = new Runtime(readSettings({ ...process.env, ...(opts.config ? { SYNC_CONFIG: opts.config } : {}) }));
        const server = await serveApi(rt, { port: Number(opts.port), log: (l) => out.stderr(l) });
        out.stdout(
          `serving ${server.url}/api/  (status page), ${server.url}/api/images, /api/runs, /api/health — Ctrl-C stops`,
        );
        // Writes (POST /api/sync) need this token, so no other site open in the browser can start one.
        out.stdout(`write token (Authorization: Bearer …): ${server.token}`);
        await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
        await server.close();
        return EXIT.ok;
      }),
    );
}

function printRun(
  out: Output,
  results: readonly ImageResult[],
  run: {
    runId: string;
    status: string;
    copied: number;
    failed: number;
    requests: number;
    durationMs: number;
    countsBefore: Parameters<typeof outdated>[0];
    countsAfter: Parameters<typeof outdated>[0];
  },
): void {
  for (const r of results) {
    if (r.action === "unchanged") continue;
    out.stdout(
      `${r.action.padEnd(9)} ${r.key}${r.error ? `  ${r.error}` : r.state === "error" && r.reason ? `  ${r.reason}` : ""}`,
    );
  }
  out.stdout(
    `run ${run.runId} ${run.status}: ${results.length} tags, outdated ${outdated(run.countsBefore)} → ${outdated(run.countsAfter)}, ` +
      `copied ${run.copied}, failed ${run.failed}, ${run.requests} requests, ${(run.durationMs / 1000).toFixed(1)} s`,
  );
}
