/**
 * Image references as Docker and OCI tools write them: `nginx`, `library/nginx:1`, `ghcr.io/a/b:tag`,
 * `host:5000/a/b:tag`, `a/b@sha256:…`, `a/b:tag@sha256:…`.
 */

export const DOCKER_HUB = "docker.io";
/** Docker Hub's API host: `docker.io` is a name, not a server. */
export const DOCKER_HUB_API = "registry-1.docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

export interface ImageReference {
  /** Normalised registry host (and port), `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, with `library/` added for official Docker Hub images. */
  repository: string;
  tag?: string;
  digest?: string;
}

export class InvalidReferenceError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid image reference "${input}": ${reason}`);
    this.name = "InvalidReferenceError";
  }
}

// Grammar from the distribution reference package (reference/regexp.go), kept as separate pieces so errors can say
// which part is wrong.
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
export const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

const VERIFIABLE_DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/**
 * A digest we can verify: sha256 or sha512 in the OCI image spec's encoding (lowercase hex of the full length).
 * The distribution grammar admits any algorithm, but content we cannot check is content we do not copy.
 */
export function isDigest(value: string): boolean {
  return DIGEST.test(value) && VERIFIABLE_DIGEST.test(value);
}

export function assertDigest(value: string): string {
  if (!isDigest(value))
    throw new InvalidReferenceError(
      value.slice(0, 200),
      "not a valid digest (expected sha256:<64 hex> or sha512:<128 hex>)",
    );
  return value;
}

export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** The host to send HTTP requests to for a registry name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

export function looksLikeHost(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) throw new InvalidReferenceError(input, "empty");
  if (text.length > 1024) throw new InvalidReferenceError(input.slice(0, 64) + "…", "longer than 1024 characters");
  if (/\s/.test(text)) throw new InvalidReferenceError(input, "contains white space");

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new InvalidReferenceError(input, `"${digest}" is not a valid digest`);
  }

  let registry = DOCKER_HUB;
  const slash = rest.indexOf("/");
  if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw new InvalidReferenceError(input, `"${registry}" is not a valid registry host`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `"${tag}" is not a valid tag`);
  }

  if (!rest) throw new InvalidReferenceError(input, "no repository");
  for (const part of rest.split("/")) {
    if (!PATH_COMPONENT.test(part)) {
      throw new InvalidReferenceError(
        input,
        part === "" ? "empty path component" : `repository component "${part}" must be lower-case [a-z0-9._-]`,
      );
    }
  }
  registry = normaliseRegistry(registry);
  const repository = registry === DOCKER_HUB && !rest.includes("/") ? `library/${rest}` : rest;
  if (registry.length + repository.length + 1 > 255) throw new InvalidReferenceError(input, "name longer than 255");
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** A reference with no tag and no digest means `latest`, as docker pull does. */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: "latest" };
}

export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag) out += `:${ref.tag}`;
  if (ref.digest) out += `@${ref.digest}`;
  return out;
}
