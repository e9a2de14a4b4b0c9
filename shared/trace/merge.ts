import { type ConfigMap, type ConfigValue, isConfigMap } from "./configFile";

/**
 * ARO-Tools' MergeConfiguration: maps merge key by key, recursively; anything else in the override (scalars, lists,
 * an explicit null, an empty string, a map over a scalar or a scalar over a map) replaces the base value whole.
 * Keys absent from the override keep the base value. Neither input is modified.
 */
export function deepMerge(base: ConfigMap, override: ConfigMap): ConfigMap {
  const out: ConfigMap = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(override)) {
    const current = Object.prototype.hasOwnProperty.call(out, key) ? out[key] : undefined;
    setOwn(out, key, isConfigMap(current) && isConfigMap(value) ? deepMerge(current, value) : value);
  }
  return out;
}

/** Merges whole documents in order, later ones winning, as MergeRawConfigurationFiles does. */
export function mergeAll(documents: readonly ConfigMap[]): ConfigMap {
  return documents.reduce<ConfigMap>((acc, doc) => deepMerge(acc, doc), {});
}

// Assignment would turn a "__proto__" key from a config file into a prototype change; a config key is only data.
function setOwn(target: ConfigMap, key: string, value: ConfigValue | undefined): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
