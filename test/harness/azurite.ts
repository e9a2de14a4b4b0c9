/** Azurite's table (and queue) service on free loopback ports, in memory, with telemetry off. */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { freePort } from "./registry";

export interface RunningAzurite {
  tablePort: number;
  queuePort: number;
  connectionString: string;
  stop(): Promise<void>;
}

const ACCOUNT = "devstoreaccount1";
// Azurite's published development key: not a secret.
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

async function waitPort(port: number, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`azurite not listening on ${port}`);
}

export async function startAzurite(): Promise<RunningAzurite> {
  const [tablePort, queuePort, blobPort] = [await freePort(), await freePort(), await freePort()];
  // Resolved through Node, so this works from the sources and from a build in dist/ alike.
  const bin = join(dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
  const child = spawn(
    process.execPath,
    [
      bin,
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--silent",
      "--skipApiVersionCheck",
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(tablePort),
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      String(queuePort),
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(blobPort),
    ],
    { stdio: "ignore" },
  );
  try {
    await Promise.all([waitPort(tablePort, child), waitPort(queuePort, child)]);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const connectionString = [
    "DefaultEndpointsProtocol=http",
    `AccountName=${ACCOUNT}`,
    `AccountKey=${KEY}`,
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${ACCOUNT}`,
    `QueueEndpoint=http://127.0.0.1:${queuePort}/${ACCOUNT}`,
    `TableEndpoint=http://127.0.0.1:${tablePort}/${ACCOUNT}`,
  ].join(";");
  return {
    tablePort,
    queuePort,
    connectionString,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
