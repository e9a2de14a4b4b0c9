/**
 * Real registries for tests and benchmarks: Debian's `docker-registry` (CNCF distribution 2.8) on free loopback
 * ports with temporary storage, optionally behind htpasswd or token auth. Every instance is stopped by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync, createWriteStream } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";

export interface RunningRegistry {
  /** `127.0.0.1:<port>`: what image references and the client use. */
  host: string;
  port: number;
  dir: string;
  /** The registry's log: one access-log line per request. */
  logFile: string;
  stop(): Promise<void>;
}

export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
}

export interface RegistryOptions {
  htpasswd?: Record<string, string>;
  token?: TokenAuthConfig;
  /** Fixed port (to restart an instance on the same address); a free one otherwise. */
  port?: number;
  /**
   * Accept foreign layers whose `urls` match (distribution's `validation.manifests.urls.allow`; without it, 2.8
   * refuses every manifest with a foreign layer, as Docker Hub does not).
   */
  foreignUrlsAllow?: string;
}

export const REGISTRY_BINARY = process.env.DOCKER_REGISTRY_BIN ?? "docker-registry";

export function registryAvailable(): boolean {
  return (
    ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry"].some((p) => existsSync(p)) ||
    !!process.env.DOCKER_REGISTRY_BIN
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Serves `server` on 127.0.0.1:`port`; `stop()` drops open (keep-alive) connections, then closes it. */
export async function listenOnLoopback(
  server: HttpServer,
  port: number,
): Promise<{ host: string; stop(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registry exited early with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`registry at ${url} not ready after ${timeoutMs} ms`);
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "ais-registry-"));
  const port = options.port ?? (await freePort());
  const lines = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog: { disabled: false }",
    "storage:",
    `  filesystem: { rootdirectory: ${join(dir, "data")} }`,
    "  delete: { enabled: true }",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  relativeurls: true",
  ];
  if (options.foreignUrlsAllow) {
    lines.push("validation:", "  manifests:", "    urls:", `      allow: ['${options.foreignUrlsAllow}']`);
  }
  if (options.htpasswd) {
    const file = join(dir, "htpasswd");
    const entries = Object.entries(options.htpasswd).map(([user, pass]) => `${user}:${bcrypt.hashSync(pass, 4)}`);
    writeFileSync(file, entries.join("\n") + "\n");
    lines.push("auth:", `  htpasswd: { realm: test, path: ${file} }`);
  } else if (options.token) {
    const t = options.token;
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${t.realm}`,
      `    service: ${t.service}`,
      `    issuer: ${t.issuer}`,
      `    rootcertbundle: ${t.certFile}`,
    );
  }
  const configFile = join(dir, "config.yml");
  writeFileSync(configFile, lines.join("\n") + "\n");
  const logFile = join(dir, "registry.log");
  const log = createWriteStream(logFile);
  const child = spawn(REGISTRY_BINARY, ["serve", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once("close", () => log.end());
  const host = `127.0.0.1:${port}`;
  try {
    await waitReady(`http://${host}/v2/`, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    host,
    port,
    dir,
    logFile,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
