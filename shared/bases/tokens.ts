/**
 * Tokens for rebuild triggers and private Dockerfile URLs, from an environment variable (an app setting) or Key
 * Vault. Errors name where the token should have come from and never carry a value.
 */
import type { SecretProvider } from "../secrets/secretProvider";
import type { TokenSource } from "./enrollmentTypes";

export type TokenResolver = (source: TokenSource) => Promise<string>;

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

export function describeToken(source: TokenSource): string {
  return source.kind === "env" ? `environment variable ${source.name}` : `Key Vault secret ${source.secretName}`;
}

export function tokenResolver(options: { env?: NodeJS.ProcessEnv; secrets?: SecretProvider } = {}): TokenResolver {
  const env = options.env ?? process.env;
  return async (source) => {
    if (source.kind === "env") {
      const value = env[source.name];
      if (!value) throw new TokenError(`${describeToken(source)} is not set`);
      return value;
    }
    if (!options.secrets) throw new TokenError(`${describeToken(source)}: no Key Vault is configured`);
    return options.secrets.getSecret(source.secretName);
  };
}
