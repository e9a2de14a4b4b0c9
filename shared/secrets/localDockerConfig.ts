import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { CredentialResolver, RegistryCredential } from "../registry/auth";
import { normaliseRegistry } from "../registry/reference";
import { runCredentialHelper, type HelperOptions } from "./credentialHelper";
import { DockerConfigError, parseDockerConfig, registryKey, resolverFrom } from "./dockerConfig";

/** `credsStore` and `credHelpers` of a Docker config: which helper holds the secret for which registry. */
export function parseHelpers(text: string, source: string): { store?: string; perRegistry: Map<string, string> } {
  const body = JSON.parse(text) as { credsStore?: unknown; credHelpers?: unknown };
  const perRegistry = new Map<string, string>();
  if (body.credHelpers !== undefined) {
    if (typeof body.credHelpers !== "object" || body.credHelpers === null || Array.isArray(body.credHelpers)) {
      throw new DockerConfigError(source, "`credHelpers` must be an object keyed by registry");
    }
    for (const [entry, helper] of Object.entries(body.credHelpers as Record<string, unknown>)) {
      if (typeof helper === "string" && helper) perRegistry.set(registryKey(entry), helper);
    }
  }
  const store = typeof body.credsStore === "string" && body.credsStore ? body.credsStore : undefined;
  return { ...(store ? { store } : {}), perRegistry };
}

/**
 * The Docker CLI's own lookup: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; none is no credentials.
 * As in the Docker CLI, a registry's `credHelpers` entry wins, then `credsStore`, then the file's own `auths`.
 * A helper's answer is asked once per registry and kept for the process.
 */
export async function localDockerCredentials(
  env: NodeJS.ProcessEnv = process.env,
  helperOptions: HelperOptions = {},
): Promise<CredentialResolver> {
  const file = join(env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return resolverFrom();
    throw err;
  }
  const fromFile = resolverFrom(parseDockerConfig(text, file));
  const helpers = parseHelpers(text, file);
  if (!helpers.store && helpers.perRegistry.size === 0) return fromFile;
  const asked = new Map<string, Promise<RegistryCredential | undefined>>();
  return (registry) => {
    const key = normaliseRegistry(registry);
    const helper = helpers.perRegistry.get(key) ?? helpers.store;
    if (!helper) return fromFile(registry);
    let pending = asked.get(key);
    if (!pending) {
      pending = runCredentialHelper(helper, key, { env, ...helperOptions });
      asked.set(key, pending);
      // A failure is not remembered: the next request asks again (the keychain may have been unlocked since).
      pending.catch(() => asked.delete(key));
    }
    return pending;
  };
}
