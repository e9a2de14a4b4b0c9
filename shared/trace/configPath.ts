/**
 * Values named by a dotted config path in a resolved (layered) config, such as ARO-HCP's `acr.svc.name`: a missing
 * step lists what is there instead, and the context variables `{{ .ctx.cloud }}`, `{{ .ctx.environment }}` and
 * `{{ .ctx.region }}` are filled in (any other template is refused rather than guessed).
 */
import { type ConfigMap, isConfigMap } from "./configFile";
import { TraceInputError } from "./errors";

/** A config path that does not exist, with the keys that do at the deepest level reached. */
export class ConfigPathError extends TraceInputError {
  constructor(path: string, reached: string, choices: readonly string[]) {
    super(
      `config path "${path}" does not exist${reached ? ` (${reached} exists)` : ""}; valid keys ${reached ? `under ${reached}` : "at the top"}: ${choices.length ? choices.join(", ") : "(none)"}`,
    );
    this.name = "ConfigPathError";
  }
}

/** The value at a dotted path of a resolved config; a missing step lists what is there instead. */
export function valueAtPath(config: ConfigMap, path: string): unknown {
  let node: unknown = config;
  const steps = path.split(".");
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (!isConfigMap(node) || !Object.prototype.hasOwnProperty.call(node, step)) {
      const reached = steps.slice(0, i).join(".");
      throw new ConfigPathError(path, reached, isConfigMap(node) ? Object.keys(node).sort() : []);
    }
    node = node[step];
  }
  return node;
}

const CTX_TEMPLATE = /\{\{\s*\.ctx\.(cloud|environment|region)\s*\}\}/g;

/** Fills the three context variables; refuses any other template. */
export function renderContext(
  value: string,
  ctx: { cloud: string; environment: string; region: string | null },
  what: string,
): string {
  const out = value.replace(CTX_TEMPLATE, (whole, name: "cloud" | "environment" | "region") => {
    const v = ctx[name];
    if (v === null) throw new TraceInputError(`${what} "${value}" needs a region: give one`);
    return v;
  });
  if (out.includes("{{")) throw new TraceInputError(`${what} "${value}" holds a template this tool does not render`);
  return out;
}

/** `arohcpsvcprod` → `arohcpsvcprod.azurecr.io`; a host (with a dot or a port) stays as it is. */
export function registryFromConfigValue(value: string): string {
  const v = value.trim().toLowerCase();
  return /[.:]/.test(v) ? v : `${v}.azurecr.io`;
}
