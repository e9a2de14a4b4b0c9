/**
 * The CLI's settings: `local.settings.json` `Values` in the working directory, as `func start` reads them, under the
 * environment (a variable that is set wins, as it does for the Functions host).
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { SettingsError } from "../shared/settings";

export const LOCAL_SETTINGS_FILE = "local.settings.json";
const MAX_BYTES = 256 * 1024;

/** The `Values` of a local.settings.json, or {} when there is none; a broken file is a SettingsError naming it. */
export function readLocalSettings(file: string): Record<string, string> {
  let text: string;
  try {
    if (statSync(file).size > MAX_BYTES) throw new SettingsError([`${file}: larger than ${MAX_BYTES} bytes`]);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new SettingsError([`${file}: ${(err as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SettingsError([`${file}: not valid JSON (${(err as Error).message})`]);
  }
  const values = (parsed as { Values?: unknown } | null)?.Values;
  if (values === undefined) return {};
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new SettingsError([`${file}: "Values" must be an object of setting names to strings`]);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "string") out[name] = value;
    else if (typeof value === "number" || typeof value === "boolean") out[name] = String(value);
    else throw new SettingsError([`${file}: Values.${name} must be a string`]);
  }
  return out;
}

/**
 * The environment the CLI runs with: local.settings.json Values from `cwd`, overridden by every variable that is set
 * and not empty in `env`.
 */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): NodeJS.ProcessEnv {
  const local = readLocalSettings(resolve(cwd, LOCAL_SETTINGS_FILE));
  const merged: NodeJS.ProcessEnv = { ...local };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== "") merged[name] = value;
  return merged;
}
