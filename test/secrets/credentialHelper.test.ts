/**
 * Docker credential helpers, run for real: small shell scripts named `docker-credential-<name>` on a PATH that only
 * this test uses, answering as the docker-credential-helpers protocol does.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDockerCredentials } from "../../shared/secrets/localDockerConfig";

let dir: string;
let bin: string;

function helper(name: string, script: string): void {
  const file = join(bin, `docker-credential-${name}`);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
}

function config(body: unknown): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(dir, "cfg-"));
  writeFileSync(join(home, "config.json"), JSON.stringify(body));
  return { DOCKER_CONFIG: home, PATH: `${bin}:/usr/bin:/bin` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ais-credhelper-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
  // Records the server it was asked about, then answers with a username and secret.
  helper(
    "fake",
    `server=$(cat); printf '%s' "$server" > "${dir}/asked"; printf '{"ServerURL":"%s","Username":"robot","Secret":"s3cret-from-helper"}' "$server"`,
  );
  helper("acr", `cat >/dev/null; printf '{"ServerURL":"x","Username":"<token>","Secret":"refresh-from-helper"}'`);
  helper("empty", `cat >/dev/null; echo "credentials not found in native keychain"; exit 1`);
  helper("broken", `cat >/dev/null; echo "s3cret-leak" >&2; exit 3`);
  helper("slow", `sleep 5`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Docker credential helpers", () => {
  it("asks the credHelpers entry for its registry, with the server on stdin", async () => {
    const resolve = await localDockerCredentials(config({ credHelpers: { "myacr.azurecr.io": "fake" } }));
    expect(await resolve("myacr.azurecr.io")).toEqual({
      kind: "basic",
      username: "robot",
      password: "s3cret-from-helper",
    });
    expect(readFileSync(join(dir, "asked"), "utf8")).toBe("myacr.azurecr.io");
    // Other registries are not the helper's: the file's auths (none here).
    expect(await resolve("ghcr.io")).toBeUndefined();
  });

  it("asks credsStore about Docker Hub by its legacy index URL, and reads <token> as an identity token", async () => {
    const resolve = await localDockerCredentials(
      config({ credsStore: "fake", credHelpers: { "myacr.azurecr.io": "acr" } }),
    );
    expect(await resolve("docker.io")).toEqual({ kind: "basic", username: "robot", password: "s3cret-from-helper" });
    expect(readFileSync(join(dir, "asked"), "utf8")).toBe("https://index.docker.io/v1/");
    expect(await resolve("myacr.azurecr.io")).toEqual({ kind: "refreshToken", refreshToken: "refresh-from-helper" });
  });

  it("is anonymous when the helper holds nothing for the registry", async () => {
    const resolve = await localDockerCredentials(config({ credsStore: "empty" }));
    expect(await resolve("quay.io")).toBeUndefined();
  });

  it("fails clearly, never anonymously, when a configured helper is missing", async () => {
    const resolve = await localDockerCredentials(config({ credsStore: "desktop" }));
    await expect(resolve("docker.io")).rejects.toThrow(
      /names credential helper "desktop" for docker.io, but docker-credential-desktop is not on PATH/,
    );
  });

  it("fails clearly when the helper fails, without quoting what it printed", async () => {
    const resolve = await localDockerCredentials(config({ credHelpers: { "quay.io": "broken" } }));
    const err = await resolve("quay.io").catch((e: unknown) => e);
    expect(String(err)).toMatch(/docker-credential-broken get failed for quay.io \(exit 3\)/);
    expect(String(err)).not.toContain("s3cret-leak");
  });

  it("kills a helper that does not answer in time", async () => {
    const resolve = await localDockerCredentials(config({ credsStore: "slow" }), { timeoutMs: 200 });
    await expect(resolve("quay.io")).rejects.toThrow(/docker-credential-slow did not answer within 200 ms/);
  });
});
