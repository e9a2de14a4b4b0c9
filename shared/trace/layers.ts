import { type ConfigMap, isConfigMap } from "./configFile";
import { AmbiguousEnvironmentError, ConfigShapeError, UnknownCloudError, UnknownEnvironmentError } from "./errors";
import { deepMerge } from "./merge";

export interface LayerContext {
  cloud: string;
  environment: string;
  region?: string;
}

export interface LayeredConfig {
  /** The resolved, flat config for the context. */
  config: ConfigMap;
  cloud: string;
  environment: string;
  region: string | null;
  /** False when a region was asked for but the file lists none of that name (not an error, as in ARO-Tools). */
  regionFound: boolean;
}

export interface ConfigContext {
  cloud: string;
  environment: string;
  regions: string[];
}

/**
 * ARO-Tools' GetRegionConfiguration: `defaults` → `clouds.<cloud>.defaults` → `clouds.<cloud>.environments.<env>.defaults`
 * → `clouds.<cloud>.environments.<env>.regions.<region>`, later layers winning. Clouds and environments are whatever
 * the (merged) file declares, so a new environment needs no code change.
 */
export function layerConfig(doc: ConfigMap, context: LayerContext): LayeredConfig {
  const clouds = mapAt(doc, ["clouds"]);
  if (!own(clouds, context.cloud)) {
    throw new UnknownCloudError(context.cloud, Object.keys(clouds).sort());
  }
  const environments = mapAt(doc, ["clouds", context.cloud, "environments"]);
  if (!own(environments, context.environment)) {
    throw new UnknownEnvironmentError(context.cloud, context.environment, Object.keys(environments).sort());
  }
  const envPath = ["clouds", context.cloud, "environments", context.environment];
  let config = deepMerge(mapAt(doc, ["defaults"]), mapAt(doc, ["clouds", context.cloud, "defaults"]));
  config = deepMerge(config, mapAt(doc, [...envPath, "defaults"]));
  let regionFound = false;
  if (context.region !== undefined) {
    const regions = mapAt(doc, [...envPath, "regions"]);
    if (own(regions, context.region)) {
      regionFound = true;
      config = deepMerge(config, mapAt(doc, [...envPath, "regions", context.region]));
    }
  }
  return {
    config,
    cloud: context.cloud,
    environment: context.environment,
    region: context.region ?? null,
    regionFound,
  };
}

/** Every cloud/environment pair the file declares, with its listed regions, sorted for stable output. */
export function listContexts(doc: ConfigMap): ConfigContext[] {
  const out: ConfigContext[] = [];
  for (const cloud of Object.keys(mapAt(doc, ["clouds"])).sort()) {
    for (const environment of Object.keys(mapAt(doc, ["clouds", cloud, "environments"])).sort()) {
      const regions = Object.keys(mapAt(doc, ["clouds", cloud, "environments", environment, "regions"])).sort();
      out.push({ cloud, environment, regions });
    }
  }
  return out;
}

// A missing or empty (`key:` with nothing after it) layer is an empty map; any other non-map is a broken file.
function mapAt(doc: ConfigMap, path: readonly string[]): ConfigMap {
  let node: unknown = doc;
  for (const [i, key] of path.entries()) {
    if (node === undefined || node === null) return {};
    if (!isConfigMap(node)) throw new ConfigShapeError(path.slice(0, i).join("."), "expected a mapping");
    node = own(node, key) ? node[key] : undefined;
  }
  if (node === undefined || node === null) return {};
  if (!isConfigMap(node)) throw new ConfigShapeError(path.join("."), "expected a mapping");
  return node;
}

function own(map: ConfigMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(map, key);
}

/**
 * The cloud that declares `environment`, for callers that only name an environment (`?environment=prod`). Ambiguous
 * or unknown names are input errors that list the choices.
 */
export function cloudForEnvironment(doc: ConfigMap, environment: string): string {
  const contexts = listContexts(doc);
  const clouds = contexts.filter((c) => c.environment === environment).map((c) => c.cloud);
  const [only] = clouds;
  if (clouds.length === 1 && only !== undefined) return only;
  const all = contexts.map((c) => `${c.cloud}/${c.environment}`);
  if (clouds.length === 0) throw new UnknownEnvironmentError("*", environment, all);
  throw new AmbiguousEnvironmentError(environment, clouds);
}
