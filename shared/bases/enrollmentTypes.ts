/**
 * An enrollment after validation: which images the team builds (managed: they have a Dockerfile) and which it
 * consumes as they are (external: mirrored like any sync entry). Code after the loader never looks at YAML again.
 */
import type { TagRule } from "../sync/configTypes";

/** Where a secret comes from; the enrollment never holds one. */
export type TokenSource = { kind: "env"; name: string } | { kind: "keyVault"; secretName: string };

export type DockerfileLocation =
  /** A file on disk; `path` is absolute (resolved against the enrollment file), `written` as in the enrollment. */
  | { kind: "file"; path: string; written: string }
  /** A raw file over https, e.g. `https://raw.githubusercontent.com/org/app/main/Dockerfile`. */
  | { kind: "url"; url: string; token?: TokenSource };

export interface DockerfileSpec {
  location: DockerfileLocation;
  /** `--build-arg` values the build passes; they decide FROM lines such as `FROM node:${NODE_VERSION}`. */
  buildArgs: Readonly<Record<string, string>>;
}

export type TriggerKind = "github" | "gitlab";

export interface TriggerSpec {
  /** `github`: a workflow_dispatch URL; `gitlab`: a pipeline trigger URL. */
  kind: TriggerKind;
  url: string;
  /** The branch or tag the pipeline runs on. */
  ref: string;
  /** Workflow inputs (GitHub) or pipeline variables (GitLab). */
  inputs: Readonly<Record<string, string>>;
  token: TokenSource;
  /** Off unless written `enabled: true`: a rebuild costs CI time and may deploy. */
  enabled: boolean;
}

interface EnrolledImageBase {
  /** Unique in the enrollment; the key of every record about the image. */
  name: string;
  index: number;
  line: number;
}

export interface ManagedImage extends EnrolledImageBase {
  kind: "managed";
  /** The built image and the tag that is inspected for what it was built from. */
  image: { registry: string; repository: string; tag: string };
  dockerfile: DockerfileSpec;
  /** A link for people: the pipeline that builds the image. */
  buildLink?: string;
  /** Defaults applied. */
  rebuildDelayMs: number;
  /** Base digests the current image was built from, by base watch key, when the image cannot tell itself. */
  builtFrom: Readonly<Record<string, string>>;
  trigger?: TriggerSpec;
}

export interface ExternalImage extends EnrolledImageBase {
  kind: "external";
  image: { registry: string; repository: string };
  rule: TagRule;
  /** Target repository path (before the sync prefix), when not the source path. */
  target?: string;
}

export type EnrolledImage = ManagedImage | ExternalImage;

/** A base marked critical: every tag of a repository, or one tag. */
export interface CriticalBase {
  registry: string;
  repository: string;
  tag?: string;
}

export interface Enrollment {
  file: string;
  defaults: { rebuildDelayMs: number };
  critical: readonly CriticalBase[];
  images: readonly EnrolledImage[];
}

export const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_REBUILD_DELAY_MS = 7 * DAY_MS;
