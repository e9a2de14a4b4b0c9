import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { type DefinitionIssue, InvalidPathError, ServiceDefinitionError } from "./errors";
import { validateRepoPath } from "./paths";

/** How one service lays out its pinned-image config in its repository. */
export interface ServiceDefinition {
  name: string;
  /** Web URL of the config repository, for links; null when unknown. */
  repository: string | null;
  /** The first file; it must exist at every commit traced. */
  baseFile: string;
  /** Merged over the base in this order; one missing at a commit is skipped and reported. */
  overlays: string[];
  /** JSON schema of the resolved config; null means "the `$schema` the merged files name, if any". */
  schema: string | null;
  /** Component catalogue file (source repositories per component), relative to the definition file. */
  components: string | null;
  /** Registry hosts the service's configs pin images in: a trace may read labels there (see trace/guard.ts). */
  registries: string[];
  /**
   * Earlier names of an overlay, tried in order when the file is absent at a commit: a rename in the repository's
   * history (ARO-HCP's overlay was `config.msft.public-cloud-overlay.yaml` before 2025-07-17).
   */
  formerNames?: Readonly<Record<string, readonly string[]>>;
}

const FIELDS = ["name", "repository", "baseFile", "overlays", "schema", "components", "registries", "formerNames"] as const;
const REGISTRY_HOST = /^[a-z0-9](?:[a-z0-9.-]{0,252})(?::\d{1,5})?$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function parseServiceDefinition(text: string, file: string): ServiceDefinition {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number | undefined): number => (offset === undefined ? 0 : lineCounter.linePos(offset).line);
  const fail = (issues: DefinitionIssue[]): never => {
    throw new ServiceDefinitionError(file, issues);
  };

  if (doc.errors.length > 0) {
    fail(doc.errors.map((e) => ({ line: lineAt(e.pos[0]), field: "", detail: e.message })));
  }
  const root = doc.contents;
  if (!isMap(root)) return fail([{ line: 1, field: "", detail: "expected a mapping" }]);

  const issues: DefinitionIssue[] = [];
  const nodes = new Map<string, Node | null>();
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const line = lineAt((pair.key as Node | null)?.range?.[0]);
    if (!(FIELDS as readonly string[]).includes(key)) {
      issues.push({ line, field: key, detail: `unknown field; allowed: ${FIELDS.join(", ")}` });
      continue;
    }
    nodes.set(key, (pair.value as Node | null) ?? null);
  }
  const lineOf = (node: Node | null | undefined): number => lineAt(node?.range?.[0]);

  const str = (field: (typeof FIELDS)[number], required: boolean): string | null => {
    const node = nodes.get(field);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
      if (required) issues.push({ line: node ? lineOf(node) : 0, field, detail: "required" });
      return null;
    }
    if (!isScalar(node) || typeof node.value !== "string" || node.value.trim() === "") {
      issues.push({ line: lineOf(node), field, detail: "must be a non-empty string" });
      return null;
    }
    return node.value;
  };
  const repoPath = (field: string, value: string | null, line: number): string | null => {
    if (value === null) return null;
    try {
      return validateRepoPath(value);
    } catch (err) {
      issues.push({ line, field, detail: err instanceof InvalidPathError ? err.message : String(err) });
      return null;
    }
  };

  const name = str("name", true);
  if (name !== null && !NAME.test(name)) {
    issues.push({
      line: lineOf(nodes.get("name")),
      field: "name",
      detail: "use lower-case letters, digits, '.', '_', '-'",
    });
  }
  const repository = str("repository", false);
  if (repository !== null && !/^https?:\/\/[^\s/]+\/\S*$/.test(repository)) {
    issues.push({ line: lineOf(nodes.get("repository")), field: "repository", detail: "must be an http(s) URL" });
  }
  const baseFile = repoPath("baseFile", str("baseFile", true), lineOf(nodes.get("baseFile")));
  const schema = repoPath("schema", str("schema", false), lineOf(nodes.get("schema")));
  const components = repoPath("components", str("components", false), lineOf(nodes.get("components")));

  const overlays: string[] = [];
  const overlayNode = nodes.get("overlays");
  if (overlayNode && !(isScalar(overlayNode) && overlayNode.value === null)) {
    if (!isSeq(overlayNode)) {
      issues.push({ line: lineOf(overlayNode), field: "overlays", detail: "must be a list of file paths" });
    } else {
      overlayNode.items.forEach((item, i) => {
        const line = lineOf(item as Node);
        const field = `overlays[${i}]`;
        const value = isScalar(item) ? item.value : undefined;
        if (typeof value !== "string") {
          issues.push({ line, field, detail: "must be a file path" });
          return;
        }
        const valid = repoPath(field, value, line);
        if (valid !== null && (valid === baseFile || overlays.includes(valid))) {
          issues.push({ line, field, detail: `${valid} is listed twice` });
        } else if (valid !== null) {
          overlays.push(valid);
        }
      });
    }
  }

  const registries: string[] = [];
  const registryNode = nodes.get("registries");
  if (registryNode && !(isScalar(registryNode) && registryNode.value === null)) {
    if (!isSeq(registryNode)) {
      issues.push({ line: lineOf(registryNode), field: "registries", detail: "must be a list of registry hosts" });
    } else {
      registryNode.items.forEach((item, i) => {
        const value = isScalar(item) ? item.value : undefined;
        if (typeof value !== "string" || !REGISTRY_HOST.test(value)) {
          issues.push({ line: lineOf(item as Node), field: `registries[${i}]`, detail: "must be a registry host" });
        } else registries.push(value);
      });
    }
  }

  const formerNames: Record<string, string[]> = {};
  const formerNode = nodes.get("formerNames");
  if (formerNode && !(isScalar(formerNode) && formerNode.value === null)) {
    if (!isMap(formerNode)) {
      issues.push({
        line: lineOf(formerNode),
        field: "formerNames",
        detail: "must map an overlay to its former paths",
      });
    } else {
      for (const pair of formerNode.items) {
        const key = isScalar(pair.key) && typeof pair.key.value === "string" ? pair.key.value : "";
        const line = lineOf(pair.key as Node | null);
        const field = `formerNames.${key}`;
        if (!overlays.includes(key)) {
          issues.push({ line, field, detail: "must name one of the overlays" });
          continue;
        }
        const value = pair.value as Node | null;
        if (!isSeq(value) || value.items.length === 0) {
          issues.push({ line, field, detail: "must be a non-empty list of file paths" });
          continue;
        }
        const former: string[] = [];
        for (const item of value.items) {
          const text = isScalar(item) && typeof item.value === "string" ? item.value : null;
          if (text === null) issues.push({ line: lineOf(item as Node), field, detail: "must be a file path" });
          const valid = repoPath(field, text, lineOf(item as Node));
          if (valid !== null) former.push(valid);
        }
        formerNames[key] = former;
      }
    }
  }

  if (issues.length > 0 || name === null || baseFile === null) {
    return fail(issues.length > 0 ? issues : [{ line: 0, field: "", detail: "incomplete" }]);
  }
  return {
    name,
    repository,
    baseFile,
    overlays,
    schema,
    components,
    registries,
    ...(Object.keys(formerNames).length > 0 ? { formerNames } : {}),
  };
}

export async function readServiceDefinition(file: string): Promise<ServiceDefinition> {
  return parseServiceDefinition(await readFile(file, "utf8"), file);
}

/**
 * Definitions shipped with the app. They are YAML next to this module, so packaging must copy
 * `shared/trace/services/*.yaml` beside the compiled JavaScript.
 */
export const BUILT_IN_SERVICES_DIR = join(__dirname, "services");

/** TRACE_SERVICE names a definition file rather than a built-in definition: it has a folder or a YAML extension. */
export function isServiceDefinitionPath(value: string): boolean {
  return /[\\/]/.test(value) || /\.ya?ml$/i.test(value);
}

export function builtInServiceDefinition(name: string): Promise<ServiceDefinition> {
  if (!NAME.test(name)) throw new InvalidPathError(name, "not a service name");
  return readServiceDefinition(join(BUILT_IN_SERVICES_DIR, `${name}.yaml`));
}
