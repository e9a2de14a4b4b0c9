/**
 * The `sources:` list of the sync config, validated where it is written (file, line, key) like every other part of
 * it. Each item declares one image source; shared/sources reads it when the config is loaded (it may read files,
 * URLs or a git repository), and the images it yields join the config's entries with their origin.
 *
 * ```yaml
 * sources:
 *   - kubernetes: [deploy/app.yaml, https://example.com/manifests.yaml]
 *   - helmValues: [charts/app/values.yaml]
 *   - serviceConfig: { repo: ../ARO-HCP, commit: main, environment: prod, tagOnly: skip,
 *                      targetRegistryPath: acr.svc.name, pullSecrets: { quay.io: quay-pull } }
 * ```
 */
import { isHost, normaliseRegistry } from "./imageRef";
import type { Field, YamlReader } from "./yamlReader";

export type TagOnlyRule = "skip" | "tag" | "resolve";
const TAG_ONLY: readonly TagOnlyRule[] = ["skip", "tag", "resolve"];

export type SourceDeclaration =
  | { kind: "kubernetes" | "helmValues"; name: string; files: readonly string[]; line: number }
  | {
      kind: "serviceConfig";
      name: string;
      line: number;
      repo: string;
      commit: string;
      environment: string;
      cloud?: string;
      region?: string;
      service?: string;
      tagOnly: TagOnlyRule;
      targetRegistryPath?: string;
      pullSecrets: Readonly<Record<string, string>>;
    };

const ITEM_KEYS = ["name", "kubernetes", "helmValues", "serviceConfig"];
const SERVICE_KEYS = [
  "repo",
  "commit",
  "environment",
  "cloud",
  "region",
  "service",
  "tagOnly",
  "targetRegistryPath",
  "pullSecrets",
];
const MAX_SOURCES = 100;
const MAX_FILES = 1000;

export function readSourceDeclarations(reader: YamlReader, field: Field | undefined): SourceDeclaration[] | undefined {
  if (!field) return [];
  const items = reader.list(field);
  if (!items) return undefined;
  if (items.length > MAX_SOURCES) return reader.fail(field, `at most ${MAX_SOURCES} sources`);
  const out: SourceDeclaration[] = [];
  let ok = true;
  items.forEach((item, index) => {
    const d = readOne(reader, item, index);
    if (d) out.push(d);
    else ok = false;
  });
  return ok ? out : undefined;
}

function readOne(reader: YamlReader, item: Field, index: number): SourceDeclaration | undefined {
  const fields = reader.map(item, ITEM_KEYS);
  if (!fields) return undefined;
  const kinds = (["kubernetes", "helmValues", "serviceConfig"] as const).filter((k) => fields.has(k));
  if (kinds.length !== 1) {
    return reader.fail(item, "give exactly one of kubernetes, helmValues, serviceConfig");
  }
  const kind = kinds[0]!;
  const nameField = fields.get("name");
  const name = nameField ? reader.string(nameField) : `sources[${index}] ${kind}`;
  if (name === undefined) return undefined;
  const value = fields.get(kind)!;
  if (kind !== "serviceConfig") {
    const list = reader.list(value);
    if (!list) return undefined;
    if (list.length === 0 || list.length > MAX_FILES)
      return reader.fail(value, `list 1 to ${MAX_FILES} files (local paths or https URLs)`);
    const files = list.map((f) => reader.string(f));
    if (files.some((f) => f === undefined)) return undefined;
    for (const [i, f] of files.entries()) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(f!) && !/^https:\/\//i.test(f!)) {
        return reader.fail(list[i]!, `"${f}": only local paths and https URLs are read`);
      }
    }
    return { kind, name, files: files as string[], line: item.line };
  }
  const s = reader.map(value, SERVICE_KEYS);
  if (!s) return undefined;
  const str = (key: string, required: boolean): string | undefined | null => {
    const f = s.get(key);
    if (!f) {
      if (required) reader.fail(value, `missing required key "${key}"`);
      return required ? undefined : null;
    }
    return reader.string(f);
  };
  const repo = str("repo", true);
  const commit = str("commit", true);
  const environment = str("environment", true);
  const cloud = str("cloud", false);
  const region = str("region", false);
  const service = str("service", false);
  const targetRegistryPath = str("targetRegistryPath", false);
  const tagOnlyText = str("tagOnly", false);
  let tagOnly: TagOnlyRule = "skip";
  if (typeof tagOnlyText === "string") {
    if (!(TAG_ONLY as readonly string[]).includes(tagOnlyText)) {
      reader.fail(s.get("tagOnly")!, `"${tagOnlyText}" is not one of ${TAG_ONLY.join(", ")}`);
      return undefined;
    }
    tagOnly = tagOnlyText as TagOnlyRule;
  }
  const pullSecrets: Record<string, string> = {};
  const secretsField = s.get("pullSecrets");
  if (secretsField) {
    const secrets = reader.map(secretsField);
    if (!secrets) return undefined;
    for (const [registry, f] of secrets) {
      if (!isHost(registry)) return reader.fail(f, `"${registry}" is not a registry host`);
      const secret = reader.string(f);
      if (secret === undefined) return undefined;
      pullSecrets[normaliseRegistry(registry)] = secret;
    }
  }
  if (repo === undefined || commit === undefined || environment === undefined) return undefined;
  if ([cloud, region, service, targetRegistryPath, tagOnlyText].some((v) => v === undefined)) return undefined;
  return {
    kind,
    name,
    line: item.line,
    repo: repo!,
    commit: commit!,
    environment: environment!,
    ...(cloud ? { cloud } : {}),
    ...(region ? { region } : {}),
    ...(service ? { service } : {}),
    tagOnly,
    ...(targetRegistryPath ? { targetRegistryPath } : {}),
    pullSecrets,
  };
}
