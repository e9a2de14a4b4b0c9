/**
 * The component catalogue: a display name and a source repository per image entry, for what the image itself does
 * not say. Labels win (`vcs-url`, `org.opencontainers.image.source`); the catalogue is the fallback, because most
 * images carry no source label at all. It is YAML beside the service definition, so a deployment can ship its own.
 *
 * ```yaml
 * components:
 *   - name: Backend
 *     paths: [backend.image]                              # config paths, exact
 *     repositories: [arohcpsvcdev.azurecr.io/arohcpbackend] # registry/repository; `*` matches within one segment
 *     source: https://github.com/Azure/ARO-HCP
 * ```
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { BUILT_IN_SERVICES_DIR, type ServiceDefinition } from "./definition";
import { type DefinitionIssue, ServiceDefinitionError } from "./errors";
import { normaliseRepoUrl } from "./links";

export interface CatalogueEntry {
  name: string;
  paths: string[];
  repositories: string[];
  /** Web URL of the source repository; null when only the name is known. */
  source: string | null;
}

export interface ComponentCatalogue {
  /** Where it was read from, for messages; null for the empty catalogue. */
  file: string | null;
  entries: CatalogueEntry[];
}

export const EMPTY_CATALOGUE: ComponentCatalogue = { file: null, entries: [] };

const ENTRY_FIELDS = ["name", "paths", "repositories", "source"] as const;
const PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+|\[\d+\])*$/;
const REPOSITORY = /^[a-z0-9.*:-]+(\/[a-z0-9._*-]+)+$/;

export function parseCatalogue(text: string, file: string): ComponentCatalogue {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (node: unknown): number => {
    const offset = (node as Node | null | undefined)?.range?.[0];
    return offset === undefined ? 0 : lineCounter.linePos(offset).line;
  };
  const issues: DefinitionIssue[] = [];
  for (const e of doc.errors) issues.push({ line: lineCounter.linePos(e.pos[0]).line, field: "", detail: e.message });
  if (issues.length > 0) throw new ServiceDefinitionError(file, issues);

  const root = doc.contents;
  const list = isMap(root) ? root.get("components", true) : undefined;
  if (!isMap(root) || !isSeq(list)) {
    throw new ServiceDefinitionError(file, [{ line: lineOf(root), field: "components", detail: "expected a list" }]);
  }
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key !== "components") issues.push({ line: lineOf(pair.key), field: key, detail: "unknown field" });
  }

  const entries: CatalogueEntry[] = [];
  const names = new Set<string>();
  const claimedPaths = new Map<string, string>();
  list.items.forEach((item, i) => {
    const where = `components[${i}]`;
    if (!isMap(item)) {
      issues.push({ line: lineOf(item), field: where, detail: "expected a mapping" });
      return;
    }
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!(ENTRY_FIELDS as readonly string[]).includes(key)) {
        issues.push({
          line: lineOf(pair.key),
          field: `${where}.${key}`,
          detail: `unknown field; allowed: ${ENTRY_FIELDS.join(", ")}`,
        });
      }
    }
    const nameNode = item.get("name", true);
    const name = isScalar(nameNode) && typeof nameNode.value === "string" ? nameNode.value.trim() : "";
    if (name === "" || name.length > 100) {
      issues.push({
        line: lineOf(nameNode ?? item),
        field: `${where}.name`,
        detail: "required, at most 100 characters",
      });
    } else if (names.has(name)) {
      issues.push({ line: lineOf(nameNode), field: `${where}.name`, detail: `"${name}" is listed twice` });
    }
    names.add(name);

    const strings = (field: "paths" | "repositories", pattern: RegExp): string[] => {
      const node = item.get(field, true);
      if (node === undefined || (isScalar(node) && node.value === null)) return [];
      if (!isSeq(node)) {
        issues.push({ line: lineOf(node), field: `${where}.${field}`, detail: "must be a list" });
        return [];
      }
      const out: string[] = [];
      node.items.forEach((child, j) => {
        const value = isScalar(child) && typeof child.value === "string" ? child.value : "";
        if (!pattern.test(value)) {
          issues.push({
            line: lineOf(child),
            field: `${where}.${field}[${j}]`,
            detail: `"${value}" is not a valid ${field === "paths" ? "config path" : "registry/repository"}`,
          });
        } else {
          out.push(value);
        }
      });
      return out;
    };
    const paths = strings("paths", PATH);
    const repositories = strings("repositories", REPOSITORY);
    for (const path of paths) {
      const owner = claimedPaths.get(path);
      if (owner !== undefined)
        issues.push({ line: lineOf(item), field: `${where}.paths`, detail: `${path} already belongs to "${owner}"` });
      claimedPaths.set(path, name);
    }
    if (paths.length === 0 && repositories.length === 0) {
      issues.push({ line: lineOf(item), field: where, detail: "needs paths or repositories to match anything" });
    }

    const sourceNode = item.get("source", true);
    let source: string | null = null;
    if (sourceNode !== undefined && !(isScalar(sourceNode) && sourceNode.value === null)) {
      const raw = isScalar(sourceNode) && typeof sourceNode.value === "string" ? sourceNode.value : "";
      source = normaliseRepoUrl(raw);
      if (source === null)
        issues.push({
          line: lineOf(sourceNode),
          field: `${where}.source`,
          detail: "must be an http(s) repository URL",
        });
    }
    entries.push({ name, paths, repositories, source });
  });

  if (issues.length > 0) throw new ServiceDefinitionError(file, issues);
  return { file, entries };
}

export async function readCatalogue(file: string): Promise<ComponentCatalogue> {
  return parseCatalogue(await readFile(file, "utf8"), file);
}

/** The catalogue a definition names (relative to the definition's directory), or the empty one. */
export function catalogueForDefinition(
  definition: ServiceDefinition,
  definitionDir: string,
): Promise<ComponentCatalogue> {
  if (definition.components === null) return Promise.resolve(EMPTY_CATALOGUE);
  return readCatalogue(join(definitionDir, definition.components));
}

/** The catalogue of a built-in definition (see `builtInServiceDefinition`). */
export function builtInCatalogue(definition: ServiceDefinition): Promise<ComponentCatalogue> {
  return catalogueForDefinition(definition, BUILT_IN_SERVICES_DIR);
}

/**
 * The entry for an image: an exact config path first (paths are stable where repositories get renamed), then the
 * first entry whose repository pattern matches `registry/repository`.
 */
export function matchComponent(
  catalogue: ComponentCatalogue,
  path: string,
  registry: string | null,
  repository: string | null,
): CatalogueEntry | undefined {
  const byPath = catalogue.entries.find((e) => e.paths.includes(path));
  if (byPath || registry === null || repository === null) return byPath;
  const name = `${registry}/${repository}`;
  return catalogue.entries.find((e) => e.repositories.some((pattern) => globMatch(pattern, name)));
}

function globMatch(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegex).join("[^/]*")}$`);
  return regex.test(value);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
