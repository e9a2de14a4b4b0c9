/**
 * Docker credential helpers (`credsStore`, `credHelpers` in ~/.docker/config.json): `docker-credential-<name> get`
 * with the server on stdin answers `{"ServerURL","Username","Secret"}` on stdout. This is where Docker Desktop,
 * `docker login` with a native store and `az acr login` keep secrets, so ignoring it would silently go anonymous.
 * Protocol: https://github.com/docker/docker-credential-helpers#development and
 * https://docs.docker.com/reference/cli/docker/login/#credential-helpers
 */
import { spawn } from "node:child_process";
import type { RegistryCredential } from "../registry/auth";
import { DOCKER_HUB } from "../registry/reference";

export class CredentialHelperError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialHelperError";
  }
}

export interface HelperOptions {
  env?: NodeJS.ProcessEnv;
  /** A helper may ask the user to unlock a keychain; it gets this long, then it is killed. */
  timeoutMs?: number;
  /** Its answer is a few hundred bytes; more is not read. */
  maxBytes?: number;
}

/** Helper names are a program suffix: nothing that could name a path or an option. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** What helpers print when they hold nothing for the server (docker-credential-helpers `credentials.ErrCredentialsNotFound`). */
const NOT_FOUND = /credentials not found/i;

/** The server name a helper is asked about: Docker Hub's is its legacy index URL, as `docker login` stored it. */
export function helperServerName(registry: string): string {
  return registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
}

/**
 * Runs `docker-credential-<helper> get` for `registry`. Undefined when the helper holds nothing for it; a
 * CredentialHelperError when the helper is missing, fails, stalls or answers nonsense. Never quotes its output.
 */
export function runCredentialHelper(
  helper: string,
  registry: string,
  options: HelperOptions = {},
): Promise<RegistryCredential | undefined> {
  if (!HELPER_NAME.test(helper)) {
    return Promise.reject(new CredentialHelperError(`credential helper name "${helper.slice(0, 64)}" is not valid`));
  }
  const program = `docker-credential-${helper}`;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    // Its own process group, so a stalled helper is stopped with whatever it started (a keychain prompt, a sleep).
    const child = spawn(program, ["get"], {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let errText = "";
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new CredentialHelperError(message));
    };
    const timer = setTimeout(() => fail(`${program} did not answer within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxBytes) fail(`${program} answered more than ${maxBytes} bytes`);
      else out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (errText.length < 4096) errText += chunk.toString("utf8");
    });
    child.stdin.on("error", () => undefined);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(
        new CredentialHelperError(
          err.code === "ENOENT"
            ? `Docker config names credential helper "${helper}" for ${registry}, but ${program} is not on PATH`
            : `${program} could not be started (${err.code ?? "error"})`,
        ),
      );
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const text = Buffer.concat(out).toString("utf8");
      if (code !== 0) {
        if (NOT_FOUND.test(text) || NOT_FOUND.test(errText)) return resolve(undefined);
        return reject(new CredentialHelperError(`${program} get failed for ${registry} (exit ${code})`));
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return reject(new CredentialHelperError(`${program} did not answer with JSON`));
      }
      const v = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (typeof v.Secret !== "string" || !v.Secret) return resolve(undefined);
      const username = typeof v.Username === "string" ? v.Username : "";
      // `<token>` marks an identity token (an OAuth2 refresh token, as `az acr login` stores it).
      if (username === "<token>") return resolve({ kind: "refreshToken", refreshToken: v.Secret });
      resolve({ kind: "basic", username, password: v.Secret });
    });
    child.stdin.end(helperServerName(registry));
  });
}
