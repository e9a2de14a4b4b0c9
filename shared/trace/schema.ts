/**
 * Just enough JSON Schema navigation to answer "which config paths does the schema type as a container image?":
 * local `$ref`s, `allOf`/`anyOf`/`oneOf`, `properties`, `patternProperties`, `additionalProperties` and `items`.
 * Validation is not our job; the config's own pipeline does it.
 */

import { compileLinear, type LinearPattern } from "../linearRegex";

export type SchemaObject = Record<string, unknown>;

/** The fields an image entry may carry; a schema object whose properties stay within them is an image type. */
export const IMAGE_FIELDS: ReadonlySet<string> = new Set(["registry", "repository", "digest", "sha", "tag"]);
const PIN_FIELDS = ["digest", "sha", "tag"] as const;

// Refs can be recursive; this bounds a walk through a hostile or broken schema.
const MAX_REF_DEPTH = 32;

export class SchemaNavigator {
  private readonly patternCache = new Map<string, LinearPattern | null>();
  /** Patterns RE2 refused: they match nothing, and the caller may say so. */
  readonly refusedPatterns = new Set<string>();

  constructor(private readonly root: unknown) {}

  /** The root's subschemas, with references and combinators expanded. */
  rootNodes(): SchemaObject[] {
    return this.expand(this.root);
  }

  /** Subschemas that apply to the value under `key` of an object described by `nodes`. */
  child(nodes: readonly SchemaObject[], key: string): SchemaObject[] {
    const out: SchemaObject[] = [];
    for (const node of nodes) {
      const properties = asObject(node["properties"]);
      if (properties && Object.prototype.hasOwnProperty.call(properties, key)) {
        out.push(...this.expand(properties[key]));
        continue;
      }
      let matched = false;
      const patterns = asObject(node["patternProperties"]);
      for (const [pattern, schema] of Object.entries(patterns ?? {})) {
        if (this.regex(pattern)?.test(key)) {
          matched = true;
          out.push(...this.expand(schema));
        }
      }
      if (!matched) out.push(...this.expand(node["additionalProperties"]));
    }
    return out;
  }

  /** Subschemas for the elements of an array described by `nodes`. */
  items(nodes: readonly SchemaObject[]): SchemaObject[] {
    return nodes.flatMap((node) => this.expand(node["items"]));
  }

  /** True when any of `nodes` describes an image entry (e.g. ARO-HCP's containerImage, containerImageSha). */
  isImage(nodes: readonly SchemaObject[]): boolean {
    return nodes.some((node) => {
      const properties = asObject(node["properties"]);
      if (!properties) return false;
      const names = Object.keys(properties);
      return (
        names.includes("repository") &&
        PIN_FIELDS.some((f) => names.includes(f)) &&
        names.every((name) => IMAGE_FIELDS.has(name))
      );
    });
  }

  private expand(schema: unknown, depth = 0): SchemaObject[] {
    const node = asObject(schema);
    if (!node || depth > MAX_REF_DEPTH) return [];
    const out: SchemaObject[] = [node];
    const ref = node["$ref"];
    if (typeof ref === "string") out.push(...this.expand(this.lookup(ref), depth + 1));
    for (const combinator of ["allOf", "anyOf", "oneOf"]) {
      const list = node[combinator];
      if (Array.isArray(list)) for (const sub of list) out.push(...this.expand(sub, depth + 1));
    }
    return out;
  }

  // Only document-local JSON pointers: a config schema that points elsewhere is simply not followed.
  private lookup(ref: string): unknown {
    if (!ref.startsWith("#")) return undefined;
    let node: unknown = this.root;
    for (const raw of ref.slice(1).split("/").slice(1)) {
      const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      const obj = asObject(node);
      if (!obj || !Object.prototype.hasOwnProperty.call(obj, key)) return undefined;
      node = obj[key];
    }
    return node;
  }

  // The schema comes with the traced commit: untrusted. Its patterns run on RE2 (linear time); one RE2 cannot run
  // (a backreference, lookaround) or an over-long one matches nothing instead of running on a backtracking engine.
  private regex(pattern: string): LinearPattern | null {
    if (!this.patternCache.has(pattern)) {
      let compiled: LinearPattern | null = null;
      try {
        compiled = compileLinear(pattern);
      } catch {
        this.refusedPatterns.add(pattern.slice(0, 100));
      }
      this.patternCache.set(pattern, compiled);
    }
    return this.patternCache.get(pattern) ?? null;
  }
}

function asObject(value: unknown): SchemaObject | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as SchemaObject) : undefined;
}
