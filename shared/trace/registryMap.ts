/**
 * Registry-host rewrite for reading labels: "for images the config names on host A, ask host B". Responses still
 * report the config's registry (plus `read_from`), so a trace reads the same whatever mirror served it.
 *
 * Uses: a mirror or pull-through cache close to the app (`quay.io=myacr.azurecr.io`), and tests, whose fixture
 * configs name real hosts (`arohcpsvcdev.azurecr.io`) served by local registries. Credentials are looked up for the
 * host actually contacted. Exact host names only, no patterns, so a map entry can never redirect more than it says.
 */
import { HOST, normaliseRegistry } from "../registry/reference";
import { InvalidInputError } from "./errors";

export type RegistryMap = Readonly<Record<string, string>>;

/** Checks every entry and returns a normalised copy (lower-case hosts, `docker.io` for Docker Hub aliases). */
export function validateRegistryMap(map: Readonly<Record<string, string>>): RegistryMap {
  const out: Record<string, string> = {};
  for (const [from, to] of Object.entries(map)) {
    if (!HOST.test(from)) throw new InvalidInputError("registry map", `"${from}" is not a registry host`);
    if (!HOST.test(to)) throw new InvalidInputError("registry map", `"${to}" is not a registry host`);
    Object.defineProperty(out, normaliseRegistry(from), { value: normaliseRegistry(to), enumerable: true });
  }
  return out;
}

/** Parses `from=to` items (CLI flags, a comma-separated app setting). */
export function parseRegistryMap(items: readonly string[]): RegistryMap {
  const map: Record<string, string> = {};
  for (const item of items
    .flatMap((i) => i.split(","))
    .map((i) => i.trim())
    .filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq <= 0 || eq === item.length - 1) {
      throw new InvalidInputError("registry map", `"${item}" is not of the form <config host>=<host to read from>`);
    }
    Object.defineProperty(map, item.slice(0, eq).trim(), { value: item.slice(eq + 1).trim(), enumerable: true });
  }
  return validateRegistryMap(map);
}

/** The host to contact for a registry the config names. */
export function readFrom(map: RegistryMap | undefined, registry: string): string {
  const key = normaliseRegistry(registry);
  return map && Object.prototype.hasOwnProperty.call(map, key) ? (map[key] ?? key) : key;
}
