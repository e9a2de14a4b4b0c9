/**
 * The trace's answer, in the shape of the ARO-HCP image tracer it replaces (`commit_sha`, `environment`,
 * `components[{name, registry, repository, digest, source_sha, source_repo_url, error}]`, `errors`), with extra fields
 * after those. Field names are snake_case because that is the published shape; HTTP, MCP and the CLI's `--json`
 * all return this object as is.
 */
import type { ImageStatus } from "./images";
import type { CommitSource, RepoSource } from "./labels";
import type { SkippedFile } from "./service";

/**
 * Why a component has no answer. `no-label`, `too-large` and `invalid-image` are facts about the digest and never
 * change; the others (credentials, a registry down, an image not mirrored yet) may pass, so a trace that has one is
 * not cached.
 */
export type ComponentErrorKind =
  | "unauthorized"
  | "not-found"
  | "unreachable"
  | "registry-error"
  | "no-label"
  | "too-large"
  | "invalid-image"
  /** The config names a registry the operator did not allow: nothing was asked. */
  | "not-allowed";

export const PERMANENT_ERROR_KINDS: ReadonlySet<ComponentErrorKind> = new Set([
  "no-label",
  "too-large",
  "invalid-image",
]);

/**
 * The entry's status as extracted, or `resolved-from-tag`: a tag-only entry whose tag was resolved to a digest with
 * one HEAD when the trace was made (the tag may have pointed elsewhere at the config's commit; `note` says so).
 */
export type ComponentStatus = ImageStatus | "resolved-from-tag";

/**
 * `no-label` is an answer about the image (it does not say its source commit), not a failure of the trace: it is
 * listed in `errors` but does not fail a command's exit code.
 */
export const NON_FAILING_ERROR_KINDS: ReadonlySet<ComponentErrorKind> = new Set(["no-label"]);

/** Components that really failed (unreadable, missing, refused...), for exit codes. */
export function realFailures(components: readonly TraceComponent[]): TraceComponent[] {
  return components.filter((c) => c.error_kind !== null && !NON_FAILING_ERROR_KINDS.has(c.error_kind));
}

export interface TraceComponent {
  /** Catalogue name, else the config path. */
  name: string;
  /** As the config names it (a registry map may have read it elsewhere: see `read_from`). */
  registry: string | null;
  repository: string | null;
  digest: string | null;
  source_sha: string | null;
  source_repo_url: string | null;
  error: string | null;
  /** Config path of the entry, e.g. `clustersService.image`. */
  path: string;
  status: ComponentStatus;
  tag: string | null;
  /** Why an entry was not read (not pinned, tag only, no registry); not an error. */
  note: string | null;
  error_kind: ComponentErrorKind | null;
  source_sha_from: CommitSource | null;
  source_repo_from: RepoSource | null;
  /** The source tree at `source_sha` (GitHub or GitLab form); null when either is unknown. */
  source_url: string | null;
  /** The index child whose labels were read, e.g. `linux/amd64`; null for a single image. */
  platform: string | null;
  /** The image config's `created` time. */
  created: string | null;
  /** The host asked when the registry map rewrote `registry`; null otherwise. */
  read_from: string | null;
  /** Whether the digest has a signature (cosign or Notation) at the registry it was read from; absent: not asked. */
  signed?: boolean;
  /** Only when the trace was asked to check a mirror: whether this digest is in the environment's registry. */
  mirror?: MirrorPresence;
}

/** Whether a component's digest is mirrored (tag `<hex>` in the target registry, the mirror's convention). */
export interface MirrorPresence {
  registry: string;
  repository: string;
  tag: string;
  present: boolean;
  /** `status`: the sync's stored image status said so (no request); `head`: one HEAD of the target tag. */
  from: "status" | "head";
  /** Set when the HEAD failed: presence unknown. */
  error?: string;
}

export interface TraceSummary {
  components: number;
  pinned: number;
  /** Components with a source commit. */
  traced: number;
  failed: number;
}

export interface TraceResponse {
  /** The full commit id when the source could resolve it, else the commit as given. */
  commit_sha: string;
  environment: string;
  components: TraceComponent[];
  /** One line per failed component, `<name> (<path>): <error>`. */
  errors: string[];
  /** The commit as asked, when it was a ref or an abbreviation; null otherwise. */
  ref: string | null;
  cloud: string;
  region: string | null;
  service: string;
  /**
   * False when this environment pins exactly the images every other environment of its cloud pins at this commit:
   * the public config then cannot tell environments apart (ARO-HCP since 2026-02-09), and which commit really runs
   * there is recorded elsewhere.
   */
  environment_specific: boolean;
  warnings: string[];
  summary: TraceSummary;
  /** True when this answer came from the Traces table. */
  cached: boolean;
  traced_at: string;
  config: { source: string; files: string[]; skipped_files: SkippedFile[]; schema_file: string | null };
}

export function isTraceResponse(value: unknown): value is TraceResponse {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.commit_sha === "string" &&
    typeof v.environment === "string" &&
    Array.isArray(v.components) &&
    Array.isArray(v.errors) &&
    typeof v.summary === "object" &&
    v.summary !== null
  );
}
