/**
 * Helm values files: every `image:` that is a reference string (`image: "quay.io/org/app:1.2"`) or a map in one of
 * the common shapes (`{registry, repository, tag, digest}`, `{repository: host/path, tag}`), at any depth. Keys of a
 * map under `image` other than those (pullPolicy, pullSecrets...) are ignored. Templated values are skipped with a
 * warning: they are known only once rendered.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import type { ExtractResult } from "./manifests";
import { imageFromFields, imageFromString, type ImageFields, type ReferenceOutcome } from "./references";
import { isTemplated, lineOf, parseYamlDocuments, type ExtractCtx as Ctx } from "./text";

const IMAGE_KEY = /^(image|.+Image)$/;
const FIELDS = ["registry", "repository", "tag", "digest"] as const;
const MAX_DEPTH = 64;

export function imagesFromHelmValues(text: string, file: string, source: string): ExtractResult {
  const { documents, lineCounter, neutralised } = parseYamlDocuments(text, file);
  const out: ExtractResult = { images: [], problems: [], warnings: [] };
  const ctx = { file, source, lineCounter, neutralised, out };
  for (const doc of documents) walk(ctx, doc.contents, "", 0);
  return out;
}

function walk(ctx: Ctx, node: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (isSeq(node)) {
    node.items.forEach((item, i) => walk(ctx, item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const childPath = path ? `${path}.${key}` : key;
    const value = pair.value as Node | null;
    if (IMAGE_KEY.test(key) && isScalar(value) && typeof value.value === "string") {
      if (value.value.trim() === "") continue;
      record(ctx, value.value, childPath, lineOf(ctx, value), (origin) =>
        imageFromString(value.value as string, origin),
      );
      continue;
    }
    if (IMAGE_KEY.test(key) && isMap(value) && value.has("repository")) {
      const fields = imageFields(value);
      if (fields) {
        const joined = FIELDS.map((f) => fields[f] ?? "").join(" ");
        record(ctx, joined, childPath, lineOf(ctx, value), (origin) => imageFromFields(fields, origin));
        continue;
      }
    }
    walk(ctx, value, childPath, depth + 1);
  }
}

function imageFields(map: YAMLMap): ImageFields | undefined {
  const fields: ImageFields = {};
  for (const f of FIELDS) {
    const node = map.get(f, true);
    if (node === undefined || node === null) continue;
    if (!isScalar(node)) return undefined;
    // A tag written as a number (`tag: 1.10`) is the text as written.
    const text = node.source ?? (node.value === null ? "" : String(node.value));
    fields[f] = text;
  }
  return fields;
}

function record(
  ctx: Ctx,
  text: string,
  path: string,
  line: number,
  read: (origin: { kind: "file"; file: string; line: number; path: string }) => ReferenceOutcome | undefined,
): void {
  if (isTemplated(text, ctx.neutralised)) {
    ctx.out.warnings.push(`${ctx.file}:${line} ${path}: templated, known only once rendered; skipped`);
    return;
  }
  const r = read({ kind: "file", file: ctx.file, line, path });
  if (r === undefined) {
    ctx.out.warnings.push(
      `${ctx.file}:${line} ${path}: no tag and no digest (the chart's appVersion applies); skipped`,
    );
    return;
  }
  if (!r.ok) {
    ctx.out.problems.push({ source: ctx.source, file: ctx.file, line, message: `${path}: ${r.message}` });
    return;
  }
  ctx.out.images.push(r.image);
  if (r.warning) ctx.out.warnings.push(`${ctx.file}:${line} ${path}: ${r.warning}`);
}
