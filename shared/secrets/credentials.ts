/**
 * Which credentials each registry gets in a run: the app's managed identity for our own ACR, the pull secret the
 * sync config names for an upstream (a Key Vault secret or a Docker config file, each holding Docker config JSON),
 * and a fallback (the local Docker config) for everything else. Secrets are read once and cached; a registry that
 * refuses them makes us read them again next time, since they may have been rotated.
 */
import { readFile } from "node:fs/promises";
import type { AccessTokenSource, CredentialResolver, RegistryCredential } from "../registry/auth";
import { normaliseRegistry } from "../registry/reference";
import { DockerConfigError, parseDockerConfig } from "./dockerConfig";
import type { SecretProvider } from "./secretProvider";

/** Same shape as the sync config's `credentials` values; kept here so secrets does not depend on sync. */
export type PullSecretSource = { kind: "keyVault"; secretName: string } | { kind: "dockerConfig"; path: string };

export interface CredentialSetup {
  /** Keyed by registry host, as in the sync config. */
  pullSecrets?: Readonly<Record<string, PullSecretSource>>;
  secrets?: SecretProvider & { invalidate?(name: string): void };
  /** Registries reached with Entra ID (our ACR, through the managed identity). */
  entra?: { registries: readonly string[]; credential: AccessTokenSource; tenantId?: string };
  /** Asked when nothing above names the registry. */
  fallback?: CredentialResolver;
  readText?: (path: string) => Promise<string>;
}

export interface Credentials {
  resolve: CredentialResolver;
  /** Pass to the AuthManager's `onRejected`: forgets the cached secret behind `registry`. */
  rejected(registry: string): void;
}

export class PullSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PullSecretError";
  }
}

export function credentialsFor(setup: CredentialSetup): Credentials {
  const readText = setup.readText ?? ((path: string) => readFile(path, "utf8"));
  const entraHosts = new Set((setup.entra?.registries ?? []).map(normaliseRegistry));
  const secrets = new Map<string, PullSecretSource>();
  for (const [host, source] of Object.entries(setup.pullSecrets ?? {})) secrets.set(normaliseRegistry(host), source);
  const files = new Map<string, Promise<Map<string, RegistryCredential>>>();

  const load = (source: PullSecretSource): Promise<Map<string, RegistryCredential>> => {
    if (source.kind === "keyVault") {
      if (!setup.secrets) {
        return Promise.reject(
          new PullSecretError(
            `Key Vault secret "${source.secretName}" named, but no vault is configured: on Azure set KEYVAULT_URI ` +
              `to the vault holding it; locally set LOCAL_SECRETS_DIR to a folder with a file named ` +
              `"${source.secretName}" holding Docker config JSON (or use dockerConfig: <file> in the sync config)`,
          ),
        );
      }
      return setup.secrets
        .getSecret(source.secretName)
        .then((text) => parseDockerConfig(text, `Key Vault secret "${source.secretName}"`));
    }
    let pending = files.get(source.path);
    if (!pending) {
      pending = readText(source.path).then(
        (text) => parseDockerConfig(text, `Docker config ${source.path}`),
        (err: NodeJS.ErrnoException) => {
          throw new DockerConfigError(`Docker config ${source.path}`, err.code ?? "unreadable");
        },
      );
      files.set(source.path, pending);
      pending.catch(() => files.delete(source.path));
    }
    return pending;
  };

  return {
    async resolve(registry) {
      const host = normaliseRegistry(registry);
      if (entraHosts.has(host) && setup.entra) {
        return {
          kind: "entra",
          credential: setup.entra.credential,
          ...(setup.entra.tenantId ? { tenantId: setup.entra.tenantId } : {}),
        };
      }
      const source = secrets.get(host);
      if (!source) return setup.fallback?.(registry);
      const map = await load(source);
      const cred = map.get(host);
      if (!cred) {
        const where =
          source.kind === "keyVault" ? `Key Vault secret "${source.secretName}"` : `Docker config ${source.path}`;
        throw new PullSecretError(`${where} has no entry for ${host} under "auths"`);
      }
      return cred;
    },
    rejected(registry) {
      const source = secrets.get(normaliseRegistry(registry));
      if (source?.kind === "keyVault") setup.secrets?.invalidate?.(source.secretName);
      else if (source?.kind === "dockerConfig") files.delete(source.path);
    },
  };
}
