/** Sources read from files: Kubernetes manifests and Helm values, each a local path or an https URL. */
import type { Transport } from "../registry/transport";
import { imagesFromHelmValues } from "./helmValues";
import { imagesFromManifests, type ExtractResult } from "./manifests";
import { displayName, readSourceText, SourceFileError } from "./text";
import type { ImageSource, SourceReadResult } from "./types";

export type FileSourceKind = "kubernetes" | "helmValues";

export interface FileSourceSpec {
  name: string;
  kind: FileSourceKind;
  /** Local paths (relative to the caller's directory) or https URLs; each is read on its own. */
  files: readonly string[];
}

/** Each file is read and parsed on its own: one unreadable or malformed file is a problem, the others still count. */
export class FileImageSource implements ImageSource {
  readonly name: string;

  constructor(
    private readonly spec: FileSourceSpec,
    private readonly transport?: Transport,
  ) {
    this.name = spec.name;
  }

  async read(): Promise<SourceReadResult> {
    const result: SourceReadResult = { source: this.name, images: [], problems: [], warnings: [] };
    const extract = this.spec.kind === "kubernetes" ? imagesFromManifests : imagesFromHelmValues;
    for (const location of this.spec.files) {
      const file = displayName(location);
      let part: ExtractResult;
      try {
        part = extract(await readSourceText(location, this.transport), file, this.name);
      } catch (err) {
        result.problems.push(
          err instanceof SourceFileError
            ? {
                source: this.name,
                file: err.file,
                ...(err.line !== undefined ? { line: err.line } : {}),
                message: err.message,
              }
            : { source: this.name, file, message: `${file}: ${err instanceof Error ? err.message : String(err)}` },
        );
        continue;
      }
      result.images.push(...part.images);
      result.problems.push(...part.problems);
      result.warnings.push(...part.warnings);
    }
    return result;
  }
}
