/**
 * `plan`, `sync`, `status` and `serve`: the same settings (local.settings.json Values under the environment) and the
 * same Runtime as the functions, with flags for what a person changes most (the config file, report-only). With no
 * Table Storage configured, history goes to the embedded local store (./localStore.ts).
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { serveApi } from "../shared/api/server";
import { Runtime, UnknownImageError } from "../shared/runtime";
import { SettingsError, readSettings } from "../shared/settings";
import { ConfigError } from "../shared/sync/configError";
import { planSync } from "../shared/sync/planner";
import { OUTDATED_STATES, countStates, outdated, type ImageResult, type PlanItem } from "../shared/sync/model";
import { EXIT, type Output } from "./copyCommand";
import { cliEnvironment } from "./localSettings";
import { localDataDir, openLocalStore, type LocalStore } from "./localStore";
import { ProgressBars, progressLine } from "./progress";

/** `--exit-code`: outdated or error rows remain. */
export const EXIT_OUTDATED = 3;

interface CommonOpts {
  config?: string;
  json?: boolean;
  exitCode?: boolean;
}

/** A problem with the command line itself: one line, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A command that cannot keep its record (the store would not start or answer): exit 1, saying so. */
class RecordError extends Error {}

interface Session {
  rt: Runtime;
  store?: LocalStore;
}

/**
 * Settings, then the store: Table Storage when TABLES_ENDPOINT or TABLES_CONNECTION_STRING is set, else the local
 * store in the per-user data folder. `needConfig: false` (status) accepts a missing SYNC_CONFIG.
 */
async function openSession(opts: CommonOpts, needConfig = true): Promise<Session> {
  const env = cliEnvironment();
  if (opts.config !== undefined) {
    if (!existsSync(opts.config)) throw new UsageError(`--config ${opts.config}: no such file`);
    env.SYNC_CONFIG = opts.config;
  } else if (needConfig && !env.SYNC_CONFIG?.trim()) {
    throw new UsageError(
      "no sync config: pass --config <file>, set SYNC_CONFIG, or run `acr-image-sync init` to write a starter",
    );
  } else if (needConfig && !/^https?:\/\//i.test(env.SYNC_CONFIG!) && !existsSync(env.SYNC_CONFIG!)) {
    throw new UsageError(`SYNC_CONFIG ${env.SYNC_CONFIG}: no such file`);
  }
  if (!needConfig) env.SYNC_CONFIG ||= "(unused by status)";
  let store: LocalStore | undefined;
  if (!env.TABLES_CONNECTION_STRING?.trim() && !env.TABLES_ENDPOINT?.trim()) {
    // Settings first, so a bad setting is reported before a store is started for nothing.
    readSettings(env, { requireTables: false });
    try {
      store = await openLocalStore(localDataDir(env));
    } catch (err) {
      throw new RecordError(`cannot open the local store: ${err instanceof Error ? err.message : String(err)}`);
    }
    env.TABLES_CONNECTION_STRING = store.connectionString;
  }
  let rt: Runtime;
  try {
    rt = new Runtime(readSettings(env));
  } catch (err) {
    await store?.stop();
    throw err;
  }
  if (!store) {
    // A configured store that does not answer (an Azurite from local.settings.sample.json that is not running) is
    // said once, up front, instead of as a connection error in the middle of a run.
    const which = env.TABLES_CONNECTION_STRING?.trim() ? "TABLES_CONNECTION_STRING" : "TABLES_ENDPOINT";
    await rt.tables!.ping().catch((err: unknown) => {
      const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0];
      throw new RecordError(
        `cannot reach Table Storage (${which}): ${reason}; start it, or unset ${which} to use the local store`,
      );
    });
  }
  return { rt, ...(store ? { store } : {}) };
}

async function withSession<T>(opts: CommonOpts, needConfig: boolean, fn: (s: Session) => Promise<T>): Promise<T> {
  const session = await openSession(opts, needConfig);
  try {
    return await fn(session);
  } finally {
    await session.store?.stop();
  }
}

const short = (d?: string) => (d ? d.slice(7, 19) : "-");

export function planTable(
  items: readonly (Pick<PlanItem, "state" | "key" | "sourceDigest" | "targetDigest" | "reason"> & {
    origin?: string;
  })[],
): string[] {
  const rows = [...items].sort(
    (a, b) => Number(OUTDATED_STATES.has(b.state)) - Number(OUTDATED_STATES.has(a.state)) || a.key.localeCompare(b.key),
  );
  const width = Math.max(5, ...rows.map((r) => r.state.length));
  const tagWidth = Math.max(3, ...rows.map((r) => r.key.length));
  // The origin says where to edit: `sync.yaml:4 images[1]`, or the source file and line an image was read from.
  const line = (state: string, source: string, target: string, tag: string, origin: string, note = "") =>
    `${state.padEnd(width)}  ${source.padEnd(12)}  ${target.padEnd(12)}  ${tag.padEnd(tagWidth)}  ${origin}${note}`.trimEnd();
  return [
    line("STATE", "SOURCE", "TARGET", "TAG", "ORIGIN"),
    ...rows.map((r) =>
      line(
        r.state,
        short(r.sourceDigest),
        short(r.targetDigest),
        r.key,
        r.origin ?? "",
        r.reason && (r.state === "error" || r.state === "removed") ? `  (${r.reason})` : "",
      ),
    ),
  ];
}

/** Maps the errors a person can fix to exit code 2 with the message, everything else to 1. */
async function guarded(out: Output, setExit: (code: number) => void, fn: () => Promise<number>): Promise<void> {
  try {
    setExit(await fn());
  } catch (err) {
    const bad =
      err instanceof SettingsError ||
      err instanceof ConfigError ||
      err instanceof UnknownImageError ||
      err instanceof UsageError;
    const message = err instanceof SettingsError ? settingsLine(err) : err instanceof Error ? err.message : String(err);
    out.stderr(`error: ${message}`);
    setExit(bad ? EXIT.badInput : EXIT.failed);
  }
}

/** One problem on one line (the common case); several stay a list. */
function settingsLine(err: SettingsError): string {
  return err.problems.length === 1 ? `invalid setting: ${err.problems[0]}` : err.message;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError("must be a port number (0-65535)");
  return n;
}

async function portInUse(n: number): Promise<boolean> {
  if (n === 0) return false;
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE" || err.code === "EACCES"));
    probe.listen(n, "127.0.0.1", () => probe.close(() => resolve(false)));
  });
}

const exitCodeOption = () =>
  new Option("--exit-code", `exit ${EXIT_OUTDATED} when outdated or error rows remain (for CI gates)`);

export function registerSyncCommands(
  program: Command,
  out: Output,
  setExit: (code: number) => void,
  isTty = () => Boolean(process.stderr.isTTY),
): void {
  const quiet = () => Boolean((program.opts() as { quiet?: boolean }).quiet);
  const say = (line: string) => {
    if (!quiet()) out.stdout(line);
  };
  const note = (line: string) => {
    if (!quiet()) out.stderr(line);
  };

  program
    .command("plan")
    .description("dry run: the state of every tag the sync config selects, decided by digest; nothing is written")
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .option("--json", "print the plan as JSON")
    .addOption(exitCodeOption())
    .action(async (opts: CommonOpts) =>
      guarded(out, setExit, () =>
        withSession(opts, true, async ({ rt }) => {
          const { config, warnings } = await rt.loadConfig();
          const status = await rt.requireStore().statusByKey();
          const acr = rt.acrWiring();
          const plan = await planSync(rt.client, config, {
            status,
            verifyTarget: false,
            ...(acr.lister ? { lister: acr.lister } : {}),
            ...(acr.locks ? { locks: acr.locks } : {}),
          });
          for (const w of [...warnings.map((w) => `${w.file}:${w.line} ${w.path}: ${w.message}`), ...plan.warnings])
            note(`warning: ${w}`);
          const counts = countStates(plan.items);
          if (opts.json) out.stdout(JSON.stringify({ counts, outdated: outdated(counts), items: plan.items }, null, 2));
          else {
            for (const line of planTable(plan.items)) say(line);
            say(`\n${plan.items.length} tags, ${outdated(counts)} outdated, ${counts.error} errors`);
          }
          if (opts.exitCode && (outdated(counts) > 0 || counts.error > 0)) return EXIT_OUTDATED;
          return counts.error > 0 ? EXIT.failed : EXIT.ok;
        }),
      ),
    );

  program
    .command("sync")
    .description("plan, copy what is outdated, record the run in the store and print a summary")
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .option("--report-only", "plan and record, copy nothing")
    .option("--image <repository>", "only the entries with this source or target repository")
    .option("--json", "print the run and its results as JSON")
    .addOption(exitCodeOption())
    .action(async (opts: CommonOpts & { reportOnly?: boolean; image?: string }) =>
      guarded(out, setExit, () =>
        withSession(opts, true, async ({ rt }) => {
          const bars = !opts.json && !quiet() && isTty() ? new ProgressBars((t) => process.stderr.write(t)) : undefined;
          const outcome = await rt.sync({
            trigger: "cli",
            ...(opts.reportOnly ? { reportOnly: true } : {}),
            ...(opts.image ? { image: opts.image } : {}),
            onProgress: (item, e) => (bars ? bars.event(item.key, e) : note(`${item.key}: ${progressLine(e)}`)),
          });
          bars?.close();
          for (const w of outcome.warnings) note(`warning: ${w}`);
          if (outcome.skipped) {
            out.stderr(`error: skipped: ${outcome.skipped}`);
            return EXIT.failed;
          }
          if (opts.json) out.stdout(JSON.stringify({ run: outcome.run, results: outcome.results }, null, 2));
          else printRun(say, outcome.results, outcome.run);
          const after = outcome.run.countsAfter;
          if (opts.exitCode && (outdated(after) > 0 || after.error > 0)) return EXIT_OUTDATED;
          return outcome.run.failed > 0 || after.error > 0 ? EXIT.failed : EXIT.ok;
        }),
      ),
    );

  program
    .command("status")
    .description("the latest state of every mirrored tag, from the store; outdated first")
    .option("--json", "print JSON")
    .option("--outdated", "only outdated tags")
    .addOption(exitCodeOption())
    .action(async (opts: CommonOpts & { outdated?: boolean }) =>
      guarded(out, setExit, () =>
        // Status reads the store only; the sync config is not needed.
        withSession(opts, false, async ({ rt }) => {
          const store = rt.requireStore();
          const all = await store.listStatuses();
          const statuses = opts.outdated ? all.filter((s) => OUTDATED_STATES.has(s.state)) : all;
          const [last] = await store.listRuns(1);
          if (opts.json) out.stdout(JSON.stringify({ lastRun: last ?? null, images: statuses }, null, 2));
          else {
            for (const line of planTable(statuses.map((s) => ({ ...s, reason: s.lastError })))) say(line);
            const counts = countStates(all);
            say(
              `\n${all.length - counts.removed} tags, ${outdated(counts)} outdated, ${counts.error} errors` +
                (counts.removed ? `, ${counts.removed} removed from the config` : "") +
                (last ? `; last run ${last.runId} ${last.status} at ${last.startedAt}` : "; no run recorded"),
            );
          }
          const counts = countStates(all);
          return opts.exitCode && (outdated(counts) > 0 || counts.error > 0) ? EXIT_OUTDATED : EXIT.ok;
        }),
      ),
    );

  program
    .command("serve")
    .description("serve the HTTP API and the status page on 127.0.0.1 (writes need the token it prints)")
    .option("--port <n>", "port (default 7071, as func start)", port, 7071)
    .option("--config <file>", "sync config (default: $SYNC_CONFIG)")
    .action(async (opts: CommonOpts & { port: number }) =>
      guarded(out, setExit, async () => {
        if (await portInUse(opts.port)) {
          out.stderr(`error: --port ${opts.port}: 127.0.0.1:${opts.port} is already in use`);
          return EXIT.failed;
        }
        return withSession(opts, true, async ({ rt }) => {
          const server = await serveApi(rt, { port: opts.port, log: (l) => out.stderr(l) });
          out.stdout(
            `serving ${server.url}/api/  (status page), ${server.url}/api/images, /api/runs, /api/health — Ctrl-C stops`,
          );
          // Writes (POST /api/sync) need this token, so no other site open in the browser can start one.
          out.stdout(`write token (Authorization: Bearer …): ${server.token}`);
          await new Promise<void>((resolve) => {
            process.once("SIGINT", () => resolve());
            process.once("SIGTERM", () => resolve());
          });
          await server.close();
          return EXIT.ok;
        });
      }),
    );
}

function printRun(
  say: (line: string) => void,
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
    say(
      `${r.action.padEnd(9)} ${r.key}${r.error ? `  ${r.error}` : r.state === "error" && r.reason ? `  ${r.reason}` : ""}`,
    );
  }
  say(
    `run ${run.runId} ${run.status}: ${results.length} tags, outdated ${outdated(run.countsBefore)} → ${outdated(run.countsAfter)}, ` +
      `copied ${run.copied}, failed ${run.failed}, ${run.requests} requests, ${(run.durationMs / 1000).toFixed(1)} s`,
  );
}
