/**
 * Image sources: each turns something (Kubernetes manifests, Helm values, a layered service config at a commit)
 * into image references that keep their origin, so a plan, a status row or a mirror report can point back at the
 * file and line, or the config path, commit and environment, an image came from.
 */

/** Where an image reference was found. */
export type SourceOrigin =
  | {
      kind: "file";
      /** The file as the user named it (a path or an https URL without its query). */
      file: string;
      line: number;
      /** YAML path of the value, e.g. `spec.template.spec.containers[0].image`. */
      path: string;
    }
  | {
      kind: "config";
      /** The config repository as given (clone path or URL). */
      repo: string;
      commit: string;
      cloud: string;
      environment: string;
      region: string | null;
      /** Dotted config path of the entry, e.g. `clustersService.image`. */
      path: string;
    };

export interface SourcedImage {
  /** Registry host, Docker Hub normalised to `docker.io`. */
  registry: string;
  repository: string;
  tag: string | null;
  /** `sha256:<hex>`; null for a tag-only reference. */
  digest: string | null;
  origin: SourceOrigin;
}

/** Something a source could not read; it names the file and line where it can. */
export interface SourceProblem {
  source: string;
  message: string;
  file?: string;
  line?: number;
}

export interface SourceReadResult {
  /** The source's name, as declared. */
  source: string;
  images: SourcedImage[];
  problems: SourceProblem[];
  warnings: string[];
}

export interface ImageSource {
  readonly name: string;
  read(): Promise<SourceReadResult>;
}

/** One line for plans, status rows and reports. */
export function describeOrigin(origin: SourceOrigin): string {
  if (origin.kind === "file") return `${origin.file}:${origin.line} ${origin.path}`;
  const where = [origin.cloud, origin.environment, origin.region].filter((p) => p !== null).join("/");
  return `${origin.repo}@${origin.commit.slice(0, 12)} ${where} ${origin.path}`;
}

/**
 * Reads every source; a source that throws becomes a problem of its own and never stops the others.
 */
export async function readAllSources(sources: readonly ImageSource[]): Promise<SourceReadResult[]> {
  return Promise.all(
    sources.map(async (source) => {
      try {
        return await source.read();
      } catch (err) {
        return {
          source: source.name,
          images: [],
          problems: [{ source: source.name, message: err instanceof Error ? err.message : String(err) }],
          warnings: [],
        };
      }
    }),
  );
}
