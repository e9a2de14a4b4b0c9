/**
 * The CLI's embedded store: when no Table Storage is configured, `plan`, `sync`, `status` and `serve` keep their
 * history in Azurite's table service with on-disk persistence in a per-user data folder, so the one Table Storage
 * implementation (shared/store) is used locally too. Azurite is started on demand on a free loopback port and
 * stopped when the command ends; a second command started meanwhile reuses the running one instead of opening the
 * same database file twice.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

const ACCOUNT = "devstoreaccount1";
// Azurite's published development account key (the same for every Azurite): not a secret.
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** `$XDG_DATA_HOME/acr-image-sync`, else `~/.local/share/acr-image-sync` (the XDG base directory default). */
export function localDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME?.trim();
  // The spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const base = xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "share");
  return join(base, "acr-image-sync");
}

export interface LocalStore {
  connectionString: string;
  /** Where the tables live on disk. */
  dir: string;
  /** True when this process started Azurite (and so stops it); false when it joined one already running. */
  owned: boolean;
  stop(): Promise<void>;
}

export class LocalStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalStoreError";
  }
}

function connectionString(port: number): string {
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${ACCOUNT}`,
    `AccountKey=${DEV_KEY}`,
    `TableEndpoint=http://127.0.0.1:${port}/${ACCOUNT}`,
  ].join(";");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

interface Running {
  pid: number;
  port: number;
}

function readRunning(file: string): Running | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<Running>;
    return Number.isInteger(value.pid) && Number.isInteger(value.port) ? (value as Running) : undefined;
  } catch {
    return undefined;
  }
}

function azuriteTableBin(): string {
  // Resolved through Node so it works from the sources and from dist/ alike. The Functions package leaves Azurite
  // out (scripts/package.sh), and an install without it says what to do.
  let pkg: string;
  try {
    pkg = require.resolve("azurite/package.json");
  } catch {
    throw new LocalStoreError(
      "the local store needs the package azurite (npm install azurite), or set TABLES_CONNECTION_STRING",
    );
  }
  return join(dirname(pkg), "dist", "src", "table", "main.js");
}

async function waitReady(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new LocalStoreError(`the local store (Azurite) exited with ${child.exitCode}: ${output().trim()}`);
    }
    if (await answers(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new LocalStoreError(`the local store (Azurite) did not answer on 127.0.0.1:${port} within 20 s`);
}

/** Starts (or joins) the local store in `dir`; throws LocalStoreError saying what went wrong. */
export async function openLocalStore(dir: string): Promise<LocalStore> {
  const tablesDir = join(dir, "tables");
  const runningFile = join(dir, "store.json");
  try {
    mkdirSync(tablesDir, { recursive: true });
  } catch (err) {
    throw new LocalStoreError(`cannot create the local store folder ${tablesDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const running = readRunning(runningFile);
  if (running && running.pid !== process.pid && alive(running.pid) && (await answers(running.port))) {
    return { connectionString: connectionString(running.port), dir: tablesDir, owned: false, stop: async () => {} };
  }

  const port = await freePort();
  let output = "";
  const child = spawn(
    process.execPath,
    [
      azuriteTableBin(),
      "--location",
      tablesDir,
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(port),
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--silent",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr?.on("data", (chunk: Buffer) => {
    if (output.length < 4000) output += chunk.toString("utf8");
  });
  // If this process ends without stop() (an uncaught error, process.exit), Azurite still gets its SIGINT: it saves
  // the tables and exits instead of outliving the command.
  const onExit = () => child.kill("SIGINT");
  process.once("exit", onExit);
  const stop = async (): Promise<void> => {
    process.off("exit", onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      // SIGINT is what Azurite handles: it closes the server and saves the database to disk before exiting.
      child.kill("SIGINT");
      let timer: NodeJS.Timeout | undefined;
      // The timer is cleared, or the CLI would wait it out before exiting.
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    if (readRunning(runningFile)?.pid === child.pid) rmSync(runningFile, { force: true });
  };
  try {
    await waitReady(port, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  writeFileSync(runningFile, JSON.stringify({ pid: child.pid, port }));
  return { connectionString: connectionString(port), dir: tablesDir, owned: true, stop };
}
