import { Document, isAlias, isMap, isNode, isScalar, isSeq, LineCounter, Node } from "yaml";
import { ConfigIssue } from "./configError";
import { ConfigWarning } from "./configTypes";

/** A value in the document together with where it is and how to name it in a message. */
export interface Field {
  node: Node | null;
  path: string;
  line: number;
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function describe(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    if (node.value === null) return "nothing";
    if (typeof node.value === "boolean") return `boolean ${String(node.value)}`;
    if (typeof node.value === "number") return `number ${node.source ?? String(node.value)}`;
    return `string "${String(node.value)}"`;
  }
  return "an unsupported value";
}

/**
 * Typed, positioned reads over a parsed YAML document. Each read that fails records an issue and returns undefined,
 * so the loader keeps going and reports every problem at once instead of stopping at the first.
 */
export class YamlReader {
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigWarning[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  root(): Field {
    return { node: this.resolve(this.doc.contents), path: "", line: this.lineOf(this.doc.contents, 1) };
  }

  lineAt(offset: number): number {
    // LineCounter reports 0 before the first newline it has seen.
    return Math.max(1, this.lines.linePos(offset).line);
  }

  lineOf(node: Node | null | undefined, fallback: number): number {
    const start = node?.range?.[0];
    return start === undefined ? fallback : this.lineAt(start);
  }

  fail(field: Pick<Field, "path" | "line">, detail: string): undefined {
    this.issues.push({ file: this.file, line: field.line, path: field.path, detail });
    return undefined;
  }

  warn(field: Pick<Field, "path" | "line">, message: string): void {
    this.warnings.push({ file: this.file, line: field.line, path: field.path, message });
  }

  /** Anchors and aliases are plain YAML; follow them so `*defaults` behaves like the text it points at. */
  private resolve(node: unknown): Node | null {
    if (isAlias(node)) return this.resolve(node.resolve(this.doc) ?? null);
    return isNode(node) ? node : null;
  }

  /**
   * A map whose keys must all be in `allowed` (any key when omitted); unknown keys are errors that list what is
   * allowed, which catches typos such as `semvar` that would otherwise silently change what gets mirrored.
   */
  map(field: Field, allowed?: readonly string[]): Map<string, Field> | undefined {
    const { node } = field;
    if (!isMap(node)) return this.fail(field, `expected a map, got ${describe(node)}`);
    const out = new Map<string, Field>();
    for (const pair of node.items) {
      const keyNode = this.resolve(pair.key);
      const keyLine = this.lineOf(keyNode, field.line);
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === "object") {
        this.fail({ path: field.path, line: keyLine }, `keys must be plain names, got ${describe(keyNode)}`);
        continue;
      }
      const key = keyNode.source ?? String(keyNode.value);
      const path = childPath(field.path, key);
      if (allowed && !allowed.includes(key)) {
        this.fail({ path, line: keyLine }, `unknown key; allowed: ${allowed.join(", ")}`);
        continue;
      }
      const value = this.resolve(pair.value);
      out.set(key, { node: value, path, line: this.lineOf(value, keyLine) });
    }
    return out;
  }

  list(field: Field): Field[] | undefined {
    const { node } = field;
    if (!isSeq(node)) return this.fail(field, `expected a list, got ${describe(node)}`);
    return node.items.map((item, index) => {
      const value = this.resolve(item);
      return { node: value, path: childPath(field.path, index), line: this.lineOf(value, field.line) };
    });
  }

  /**
   * A string exactly as written. Numbers count, using their source text, because tags such as `9`, `1.10` or
   * `20250106` must survive untouched (`1.10` would otherwise come back as "1.1"). Booleans and nulls are refused
   * rather than guessed at: the user should quote them.
   */
  string(field: Field): string | undefined {
    const text = this.text(field);
    if (text !== undefined) return text;
    const { node } = field;
    const hint = isScalar(node) && typeof node.value === "boolean" ? " (quote it if it is meant as text)" : "";
    return this.fail(field, `expected a string, got ${describe(node)}${hint}`);
  }

  /** What `string` would return, without recording an issue when the value is not text. */
  text(field: Field): string | undefined {
    const { node } = field;
    if (!isScalar(node)) return undefined;
    if (typeof node.value === "string") return node.value;
    if (typeof node.value === "number" || typeof node.value === "bigint") return node.source ?? String(node.value);
    return undefined;
  }

  bool(field: Field): boolean | undefined {
    const { node } = field;
    if (isScalar(node) && typeof node.value === "boolean") return node.value;
    return this.fail(field, `expected true or false, got ${describe(node)}`);
  }

  int(field: Field, min: number, max: number): number | undefined {
    const { node } = field;
    if (!isScalar(node) || typeof node.value !== "number" || !Number.isInteger(node.value)) {
      return this.fail(field, `expected a whole number, got ${describe(node)}`);
    }
    if (node.value < min || node.value > max) {
      return this.fail(field, `must be between ${min} and ${max}, got ${node.value}`);
    }
    return node.value;
  }
}
