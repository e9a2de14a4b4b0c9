/**
 * The sync config after validation: every default applied, every pattern compiled, every tag a string. Code after
 * the loader never looks at YAML again, so these types are the whole contract between config and planner.
 */

import type { LinearPattern } from "../linearRegex";
import type { SourceDeclaration } from "./sourceConfig";

/** A repository on one registry; `registry` is a host (and port), Docker Hub normalised to `docker.io`. */
export interface RepositoryRef {
  registry: string;
  repository: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** `all` copies the whole index byte for byte, keeping its digest; a list filters (and so rewrites) the index. */
export type Platforms = "all" | readonly Platform[];

/**
 * A user regex, anchored at load (`^(?:…)$`) so `main` never matches `main-latest` by accident; `source` keeps the
 * text as written for plans and messages.
 */
export interface TagPattern {
  source: string;
  /** RE2 (linear time), see shared/linearRegex.ts. */
  regex: LinearPattern;
}

/**
 * `version` is `sort -V`'s order (v prefixes, two-part versions, `1.9 < 1.10`); `semver` accepts strict
 * major.minor.patch only; `numeric` whole numbers; `lexical` code-unit order; `created` the image config's time.
 */
export type TagOrder = "version" | "semver" | "numeric" | "lexical" | "created";
export const TAG_ORDERS: readonly TagOrder[] = ["version", "semver", "numeric", "lexical", "created"];

/** The optional allow/deny pair; a tag passes when it matches `allow` (if set) and does not match `deny`. */
export interface TagFilter {
  allow?: TagPattern;
  deny?: TagPattern;
}

export type TagRule =
  /** Mirror exactly these tags; no tag listing needed. */
  | { kind: "tags"; tags: readonly string[] }
  /** Every strict semver tag (optionally `v`-prefixed) inside `range`; with `newest`, only that many, newest first. */
  | { kind: "semver"; range: string; prerelease: boolean; newest?: number }
  /** Every listed tag passing the allow/deny filter. */
  | ({ kind: "filter" } & TagFilter)
  /**
   * The `count` newest tags by `order`, after the optional filter. `expensive` is true for `created`, which needs the
   * image config of every candidate (a manifest and a blob GET each), so plans and logs can say why a run is slow.
   */
  | ({ kind: "newest"; count: number; order: TagOrder; expensive: boolean } & TagFilter)
  /**
   * RunWhen's rule: the immutable tag (matching `sibling`) that currently shares `tag`'s digest. With `platform`,
   * digests are compared per platform: the child of that platform in an index (the image itself when single-arch),
   * as RunWhen extracts the digest for one architecture; siblings rebuilt as another index still match.
   */
  | { kind: "follow"; tag: string; sibling: TagPattern; platform?: Platform }
  /** One manifest by digest, mirrored to the tag `<hex>` (ARO-HCP's ImageMirror convention). */
  | { kind: "digest"; digest: string }
  /** `rules:`: several rules on one source repository; a tag any of them selects is mirrored once. */
  | { kind: "any"; rules: readonly TagRule[] };

export type TagRuleKind = TagRule["kind"];

export type CredentialSource = { kind: "keyVault"; secretName: string } | { kind: "dockerConfig"; path: string };

/** Where an entry came from, so plans and errors can point back at the config. */
export interface ConfigOrigin {
  /**
   * `bases`: discovered from the Dockerfiles of an enrollment (shared/bases). `sources`: read from an image source
   * (shared/sources: Kubernetes manifests, Helm values, a layered service config).
   */
  list: "images" | "serviceConfigs" | "bases" | "sources";
  index: number;
  line: number;
  /** Where a source found it (file and line, or config path, commit and environment); shown instead of list/index. */
  described?: string;
}

/** `referrers:` on: the referrer graph (signatures, attestations, SBOMs) travels with the image. */
export interface ReferrerPolicy {
  /** Only these artifact types (cosign's tag-scheme artifacts count under COSIGN_TAG_TYPES). Absent: all. */
  artifactTypes?: readonly string[];
}

/** Where a public key or certificate comes from: inline or file PEM (read and checked at load), or a Key Vault secret. */
export type TrustSource = { kind: "pem"; pem: string } | { kind: "keyVault"; secretName: string };

/** `verify:`: an image is mirrored only when one of these verifies a signature of its digest (`require: signed`). */
export interface VerifyPolicy {
  require: "signed";
  cosignKey?: TrustSource;
  notationCert?: TrustSource;
}

export interface ImageEntry {
  origin: ConfigOrigin;
  source: RepositoryRef;
  /** Fully resolved: target registry, prefix applied. */
  target: RepositoryRef;
  platforms: Platforms;
  pinTag: boolean;
  rule: TagRule;
  /**
   * RunWhen's USE_DATE_TAG: when a moving tag (`latest`, `<ref>-latest`) is copied, also write the immutable tag
   * `<YYYYMMDDHHMMSS>` (UTC, the run's time) on the same digest, in place of the pin tag.
   */
  dateTag?: boolean;
  /** Absent: referrers are not copied (the default; see docs/supply-chain.md for why). */
  referrers?: ReferrerPolicy;
  /** Absent: no signature gate. */
  verify?: VerifyPolicy;
}

export interface SyncDefaults {
  platforms: Platforms;
  pinTag: boolean;
  referrers?: ReferrerPolicy;
  verify?: VerifyPolicy;
  /** Global cap on images copied at once (the registry client keeps its own per-host cap). */
  concurrency: number;
}

export interface SyncConfig {
  /** The name the config was loaded from, for messages. */
  file: string;
  target: { registry: string; prefix?: string };
  defaults: SyncDefaults;
  /** Keyed by normalised upstream registry host. */
  credentials: Readonly<Record<string, CredentialSource>>;
  images: readonly ImageEntry[];
  /** Digest pins from layered service configs; always `digest` rules. Kept apart so reports can tell them apart. */
  serviceConfigs: readonly ImageEntry[];
  /**
   * Image sources (Kubernetes manifests, Helm values, layered service configs) as declared; shared/sources reads them
   * when the config is loaded and appends their entries to `images` with `origin.list: "sources"`.
   */
  sources?: readonly SourceDeclaration[];
}

export interface ConfigWarning {
  file: string;
  line: number;
  path: string;
  message: string;
}
