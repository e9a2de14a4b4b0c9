/**
 * Where pull secrets come from: Key Vault in Azure, a directory of files locally. Both raise the same errors, so a
 * missing or forbidden secret becomes one registry's error in a run, never a crash, and never quotes a value.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface SecretProvider {
  /** The secret's current value. Throws SecretNotFoundError, SecretAccessError or SecretNameError. */
  getSecret(name: string): Promise<string>;
}

export class SecretNameError extends Error {
  constructor(name: string) {
    super(`"${name.slice(0, 130)}" is not a Key Vault secret name (1-127 letters, digits and dashes)`);
    this.name = "SecretNameError";
  }
}

export class SecretNotFoundError extends Error {
  constructor(
    readonly secretName: string,
    where: string,
  ) {
    super(`secret "${secretName}" not found in ${where}`);
    this.name = "SecretNotFoundError";
  }
}

export class SecretAccessError extends Error {
  constructor(
    readonly secretName: string,
    where: string,
    readonly status: number | undefined,
    reason: string,
  ) {
    super(`secret "${secretName}" could not be read from ${where}${status ? ` (${status})` : ""}: ${reason}`);
    this.name = "SecretAccessError";
  }
}

const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;

export function assertSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) throw new SecretNameError(name);
}

/**
 * Key Vault's guidance is to cache secrets in memory and read again only when the copy stops working: values live
 * for `ttlMs`, and `invalidate` drops one at once (called when a registry refuses the credentials it held).
 * Concurrent first reads share one request. Failures are not cached: the next run asks again.
 */
export class CachingSecretProvider implements SecretProvider {
  private readonly cache = new Map<string, { value: Promise<string>; expiresAt: number }>();

  constructor(
    private readonly inner: SecretProvider,
    private readonly ttlMs = 30 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  getSecret(name: string): Promise<string> {
    const hit = this.cache.get(name);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const value = this.inner.getSecret(name);
    const entry = { value, expiresAt: this.now() + this.ttlMs };
    this.cache.set(name, entry);
    value.catch(() => {
      if (this.cache.get(name) === entry) this.cache.delete(name);
    });
    return value;
  }

  invalidate(name: string): void {
    this.cache.delete(name);
  }
}

/** Local stand-in for Key Vault: one file per secret, named like the secret, in a directory. */
export class DirectorySecretProvider implements SecretProvider {
  constructor(private readonly dir: string) {}

  async getSecret(name: string): Promise<string> {
    assertSecretName(name);
    try {
      return await readFile(join(this.dir, name), "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new SecretNotFoundError(name, `directory ${this.dir}`);
      throw new SecretAccessError(name, `directory ${this.dir}`, undefined, code ?? "unreadable");
    }
  }
}
