/**
 * The Key Vault adapter: `@azure/keyvault-secrets` with the app's managed identity. Errors are mapped onto the
 * SecretProvider's, keeping the vault's status and code but never a value.
 */
import type { TokenCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import { SecretAccessError, SecretNotFoundError, assertSecretName, type SecretProvider } from "./secretProvider";

export class KeyVaultSecretProvider implements SecretProvider {
  private readonly client: SecretClient;

  constructor(
    private readonly vaultUrl: string,
    credential: TokenCredential,
    options: SecretClientOptions = {},
  ) {
    this.client = new SecretClient(vaultUrl, credential, { retryOptions: { maxRetries: 2 }, ...options });
  }

  async getSecret(name: string): Promise<string> {
    assertSecretName(name);
    try {
      const secret = await this.client.getSecret(name);
      if (secret.properties.enabled === false) {
        throw new SecretAccessError(name, this.vaultUrl, undefined, "the secret is disabled");
      }
      if (secret.value === undefined) throw new SecretAccessError(name, this.vaultUrl, undefined, "no value");
      return secret.value;
    } catch (err) {
      if (err instanceof SecretAccessError) throw err;
      const e = err as { statusCode?: number; code?: string; name?: string };
      if (e.statusCode === 404) throw new SecretNotFoundError(name, this.vaultUrl);
      throw new SecretAccessError(name, this.vaultUrl, e.statusCode, e.code ?? e.name ?? "request failed");
    }
  }
}
