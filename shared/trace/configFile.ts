import { LineCounter, parseDocument } from "yaml";
import { ConfigFileError } from "./errors";
import { neutraliseTemplates, restoreTemplates, TooManyTemplatesError, type NeutralisedText } from "./template";
import { parseYamlInWorker } from "./yamlWorker";

/** A parsed config value: what YAML's core schema and JSON can produce. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | ConfigMap;
export interface ConfigMap {
  [key: string]: ConfigValue;
}

export function isConfigMap(value: unknown): value is ConfigMap {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Parses one raw (un-rendered) config file. Template expressions survive as their original text; errors name the
 * file and the line as the author sees it (placeholders are one line long, so line numbers do not move).
 */
export function parseConfigYaml(source: string, file: string): ConfigMap {
  const neutralised = neutralise(source, file);
  const lineCounter = new LineCounter();
  // merge: honour `<<` keys as Go's yaml.v3 does; unique keys stay enforced, as they are there.
  const doc = parseDocument(neutralised.text, { lineCounter, merge: true, prettyErrors: false });
  const [error] = doc.errors;
  if (error) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new ConfigFileError(file, line, col, error.message);
  }
  let value: unknown;
  try {
    // toJS caps alias expansion (maxAliasCount 100), so a "billion laughs" file fails instead of exhausting memory.
    value = doc.toJS();
  } catch (err) {
    throw new ConfigFileError(file, 0, 0, err instanceof Error ? err.message : String(err));
  }
  if (value === null || value === undefined) return {};
  if (!isConfigMap(value)) throw new ConfigFileError(file, 1, 1, "top level must be a mapping");
  return restoreTemplates(value, neutralised) as ConfigMap;
}

/**
 * `parseConfigYaml` with the YAML parse in a worker thread (see yamlWorker.ts): for files from a traced commit, which
 * are untrusted. Same value, same errors.
 */
export async function parseConfigYamlOffThread(source: string, file: string): Promise<ConfigMap> {
  const neutralised = neutralise(source, file);
  const parsed = await parseYamlInWorker(neutralised.text);
  if ("error" in parsed) throw new ConfigFileError(file, parsed.error.line, parsed.error.col, parsed.error.message);
  const value = parsed.value;
  if (value === null || value === undefined) return {};
  if (!isConfigMap(value)) throw new ConfigFileError(file, 1, 1, "top level must be a mapping");
  return restoreTemplates(value, neutralised) as ConfigMap;
}

function neutralise(source: string, file: string): NeutralisedText {
  try {
    return neutraliseTemplates(source);
  } catch (err) {
    if (err instanceof TooManyTemplatesError) throw new ConfigFileError(file, 0, 0, err.message);
    throw err;
  }
}

export function parseJsonFile(source: string, file: string): unknown {
  try {
    return JSON.parse(source) as unknown;
  } catch (err) {
    // V8 reports a character offset ("at position N"); turn it into a line so the error reads like the YAML ones.
    const message = err instanceof Error ? err.message : String(err);
    const offset = /position (\d+)/.exec(message)?.[1];
    if (offset === undefined) throw new ConfigFileError(file, 0, 0, message);
    const before = source.slice(0, Number(offset));
    const line = before.split("\n").length;
    const column = Number(offset) - before.lastIndexOf("\n");
    throw new ConfigFileError(file, line, column, message);
  }
}
