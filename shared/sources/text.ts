/**
 * The text of a local file or an https URL, bounded in size (and, for a URL, in time by the transport's policy), and
 * YAML documents parsed with `{{ }}` templates neutralised exactly as the tracer does (shared/trace/template.ts), so a
 * Helm template or an ARO-HCP style file parses and a templated value is recognisable as such.
 */
import { readFile, stat } from "node:fs/promises";
import { LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import type { ExtractResult } from "./manifests";
import { fileGet } from "../registry/fileGet";
import type { Transport } from "../registry/transport";
import { neutraliseTemplates, type NeutralisedText } from "../trace/template";

export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;
const MAX_DOCUMENTS = 10_000;

export class SourceFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    message: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${message}`);
    this.name = "SourceFileError";
  }
}

/** What a file is called in messages: a URL without its query (which may carry a token). */
export function displayName(location: string): string {
  if (!/^https:\/\//i.test(location)) return location;
  const url = new URL(location);
  return `${url.origin}${url.pathname}`;
}

export async function readSourceText(location: string, transport?: Transport): Promise<string> {
  const name = displayName(location);
  if (/^https:\/\//i.test(location)) {
    if (!transport) throw new SourceFileError(name, undefined, "no HTTP transport to read a URL with");
    const text = await fileGet(transport, new URL(location), { maxBytes: MAX_SOURCE_BYTES });
    if (text === null) throw new SourceFileError(name, undefined, "not found (404)");
    return text;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new SourceFileError(name, undefined, "only local files and https URLs are read");
  }
  let size: number;
  try {
    size = (await stat(location)).size;
  } catch {
    throw new SourceFileError(name, undefined, "no such file");
  }
  if (size > MAX_SOURCE_BYTES) throw new SourceFileError(name, undefined, `larger than ${MAX_SOURCE_BYTES} bytes`);
  return readFile(location, "utf8");
}

export interface ParsedYaml {
  documents: Document.Parsed[];
  lineCounter: LineCounter;
  neutralised: NeutralisedText;
}

/** Every document of a (multi-document) YAML text; the first syntax error is thrown with its file and line. */
export function parseYamlDocuments(text: string, file: string): ParsedYaml {
  const neutralised = neutraliseTemplates(text);
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(neutralised.text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  // parseAllDocuments answers an EmptyStream (no documents) for empty text.
  const list = Array.isArray(documents) ? documents : [];
  if (list.length > MAX_DOCUMENTS) throw new SourceFileError(file, undefined, `more than ${MAX_DOCUMENTS} documents`);
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      const line = lineCounter.linePos(error.pos[0]).line;
      throw new SourceFileError(file, line, `not valid YAML: ${error.message.split("\n")[0]}`);
    }
  }
  return { documents: list, lineCounter, neutralised };
}

/** Whether a scalar held a template before neutralising: such a value is only known once rendered. */
export function isTemplated(value: string, neutralised: NeutralisedText): boolean {
  return neutralised.templates.length > 0 && value.includes(neutralised.stem);
}

/** What a YAML walk over one source file carries: where it is, what it has found so far. */
export interface ExtractCtx {
  file: string;
  source: string;
  lineCounter: LineCounter;
  neutralised: NeutralisedText;
  out: ExtractResult;
}

/** The 1-based line of a node in that file (0 when the parser gave it no range). */
export function lineOf(ctx: ExtractCtx, node: Node | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 0 : ctx.lineCounter.linePos(offset).line;
}
