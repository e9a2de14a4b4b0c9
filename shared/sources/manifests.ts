/**
 * Kubernetes manifests (multi-document YAML): every `image` of `containers`, `initContainers` and
 * `ephemeralContainers` in Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, and in the
 * items of a `List`. Other kinds are skipped. A value that is a template (`{{ }}`) is only known once rendered and is
 * reported, not guessed.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { imageFromString } from "./references";
import { isTemplated, lineOf, parseYamlDocuments, type ExtractCtx as Ctx } from "./text";
import type { SourceProblem, SourcedImage } from "./types";

const POD_SPEC_PATH: Readonly<Record<string, readonly string[]>> = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};
const CONTAINER_LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;

export interface ExtractResult {
  images: SourcedImage[];
  problems: SourceProblem[];
  warnings: string[];
}

/** Images of every workload in a manifest file's text. A YAML syntax error throws SourceFileError (file, line). */
export function imagesFromManifests(text: string, file: string, source: string): ExtractResult {
  const { documents, lineCounter, neutralised } = parseYamlDocuments(text, file);
  const out: ExtractResult = { images: [], problems: [], warnings: [] };
  const ctx: Ctx = { file, source, lineCounter, neutralised, out };
  documents.forEach((doc, i) => {
    if (doc.contents === null) return;
    if (!isMap(doc.contents)) {
      out.problems.push({
        source,
        file,
        line: lineOf(ctx, doc.contents),
        message: `document ${i + 1} is not a mapping`,
      });
      return;
    }
    workload(ctx, doc.contents, "");
  });
  return out;
}

function scalarText(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

function workload(ctx: Ctx, root: YAMLMap, prefix: string): void {
  const kind = scalarText(root.get("kind", true));
  if (kind === "List") {
    // Kubernetes Lists do not nest; a List inside one is skipped, so a hostile file cannot recurse without bound.
    if (prefix !== "") return;
    const items = root.get("items", true);
    if (isSeq(items)) items.items.forEach((item, i) => isMap(item) && workload(ctx, item, `${prefix}items[${i}].`));
    return;
  }
  const path = kind ? POD_SPEC_PATH[kind] : undefined;
  if (!path) return;
  let node: unknown = root;
  for (const key of path) {
    node = isMap(node) ? node.get(key, true) : undefined;
    if (!isMap(node)) {
      if (node !== undefined && node !== null) {
        ctx.out.problems.push({
          source: ctx.source,
          file: ctx.file,
          line: lineOf(ctx, node as Node),
          message: `${kind} ${prefix}${path.join(".")}: "${key}" is not a mapping`,
        });
      }
      return;
    }
  }
  const spec = node as YAMLMap;
  const specPath = `${prefix}${path.join(".")}`;
  for (const list of CONTAINER_LISTS) {
    const containers = spec.get(list, true);
    if (containers === undefined || containers === null) continue;
    if (!isSeq(containers)) {
      ctx.out.problems.push({
        source: ctx.source,
        file: ctx.file,
        line: lineOf(ctx, containers as Node),
        message: `${specPath}.${list} is not a list`,
      });
      continue;
    }
    containers.items.forEach((container, i) => {
      if (!isMap(container)) return;
      const imageNode = container.get("image", true);
      const valuePath = `${specPath}.${list}[${i}].image`;
      const line = lineOf(ctx, (imageNode as Node | undefined) ?? container);
      const text = scalarText(imageNode);
      if (text === undefined) {
        if (imageNode !== undefined) {
          ctx.out.problems.push({ source: ctx.source, file: ctx.file, line, message: `${valuePath} is not a string` });
        }
        return;
      }
      if (isTemplated(text, ctx.neutralised)) {
        ctx.out.warnings.push(`${ctx.file}:${line} ${valuePath}: templated, known only once rendered; skipped`);
        return;
      }
      const r = imageFromString(text, { kind: "file", file: ctx.file, line, path: valuePath });
      if (!r.ok)
        ctx.out.problems.push({ source: ctx.source, file: ctx.file, line, message: `${valuePath}: ${r.message}` });
      else {
        ctx.out.images.push(r.image);
        if (r.warning) ctx.out.warnings.push(`${ctx.file}:${line} ${valuePath}: ${r.warning}`);
      }
    });
  }
}
