/**
 * Docker config JSON (`~/.docker/config.json`, a Kubernetes `.dockerconfigjson` pull secret, or a Key Vault secret
 * holding one) turned into registry credentials. Errors never quote the file's content: it is a secret.
 */
import type { CredentialResolver, RegistryCredential } from "../registry/auth";
import { normaliseRegistry } from "../registry/reference";

export class DockerConfigError extends Error {
  constructor(source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.name = "DockerConfigError";
  }
}

/** `https://index.docker.io/v1/` → `docker.io`; `myacr.azurecr.io` → itself. */
export function registryKey(entry: string): string {
  let host = entry.trim();
  if (/^[a-z]+:\/\//i.test(host)) {
    try {
      host = new URL(host).host;
    } catch {
      // Not a URL after all: strip the scheme by hand and let the rules below drop path and user-info.
      host = host.replace(/^[a-z]+:\/\//i, "").toLowerCase();
    }
  }
  host = host.replace(/\/.*$/, "");
  // User-info in a key is a credential written in the wrong place: never carry it into a key or a message.
  host = host.replace(/^.*@/, "");
  return normaliseRegistry(host);
}

export function parseDockerConfig(text: string, source = "docker config"): Map<string, RegistryCredential> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DockerConfigError(source, "not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new DockerConfigError(source, "expected a JSON object with an `auths` map");
  }
  const auths = (body as { auths?: unknown }).auths;
  const out = new Map<string, RegistryCredential>();
  if (auths === undefined) return out;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    throw new DockerConfigError(source, "`auths` must be an object keyed by registry");
  }
  for (const [entry, value] of Object.entries(auths as Record<string, unknown>)) {
    const where = `auths["${registryKey(entry)}"]`;
    if (typeof value !== "object" || value === null) throw new DockerConfigError(source, `${where} must be an object`);
    const v = value as Record<string, unknown>;
    let cred: RegistryCredential | undefined;
    if (typeof v.identitytoken === "string" && v.identitytoken) {
      cred = { kind: "refreshToken", refreshToken: v.identitytoken };
    } else if (typeof v.username === "string" && typeof v.password === "string") {
      cred = { kind: "basic", username: v.username, password: v.password };
    } else if (typeof v.auth === "string" && v.auth) {
      const decoded = Buffer.from(v.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon <= 0) throw new DockerConfigError(source, `${where}.auth is not base64 of "user:password"`);
      cred = { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (cred) out.set(registryKey(entry), cred);
  }
  return out;
}

export function resolverFrom(...maps: Array<Map<string, RegistryCredential>>): CredentialResolver {
  return async (registry) => {
    const key = normaliseRegistry(registry);
    for (const m of maps) {
      const cred = m.get(key);
      if (cred) return cred;
    }
    return undefined;
  };
}
